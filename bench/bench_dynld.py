"""dynld benchmark: dynld modules against shared libraries, in file size and in load time.

    python bench/bench_dynld.py [--funcs 20,200] [--arch amd64,386,arm] [-n 2000] [--rounds 5]
                                [--quick] [--keep DIR] [--json FILE]

For each arch and size it generates one C file of that many functions (internal
direct calls, calls through a function-pointer table, strings, a table of string
pointers, data arrays, and calls to / data of the host: ``host_add``,
``host_log``, ``host_counter``) with three exports (``mod_name``, ``mod_run``,
``mod_sum``), and builds it

- as a dynld module: ``python -m toolchain.cc.driver -a ARCH -c -O2`` (on 386 with
  ``-fPIC``, like the library, so that relocations stay out of text; ``--386-nopic`` for
  dyncc's default ``-fno-pic``) then ``python -m toolchain.linker.main -a ARCH -u -m MANIFEST``;
- as a shared library: ``python -m ziglang cc -target GNU -shared -fPIC -O2 -s``;
- that library further stripped with ``strip --strip-all`` (binutils; for arm,
  which this binutils cannot read, ``llvm-strip --strip-all``, else
  ``python -m ziglang objcopy --strip-all``);
- for reference, a library built with dyncc's own code-generation flags as well
  (``Arch.cc_flags`` without ``-fno-pic``/``-fno-pie``/``-fpie``: no unwind tables,
  freestanding, arm's ``-marm -mcpu``), also stripped with ``--strip-all``: the
  difference between that and the plain library is the flags', not the format's.

``bench/dynld_bench_host.c`` (built per arch with ``zig cc -target GNU -rdynamic``,
the dynld runtime and an ``_exporttab`` made by ``dynexport``) first calls
the exports of the module and of the library and prints what they compute; the
benchmark compares both with the value it works out itself from the generated
code and refuses to report numbers unless all three agree.  The host then, in
one process, ``ROUNDS`` times: loads the module ``N`` times (open, ``dynloadfd``,
close, three ``dynimport``, ``dynobjfree``) and the library ``N`` times
(``dlopen(RTLD_NOW|RTLD_LOCAL)``, three ``dlsym``, ``dlclose``), timing each loop
with ``clock_gettime(CLOCK_MONOTONIC)``.  The table shows the median over the
rounds of the mean microseconds per load.  arm runs under qemu-arm: its times are
emulated and say nothing about real arm hardware.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from toolchain.arch import get_arch  # noqa: E402
from toolchain.argparsing import ArgumentParser  # noqa: E402
from toolchain.dynld import config  # noqa: E402
from toolchain.dynld.cli import dynexport_main  # noqa: E402
from toolchain.dynld.module import decode  # noqa: E402
from toolchain.errors import DynError, UsageError, run_main, write_output  # noqa: E402

PROG = "bench_dynld"
HOST_C = os.path.join(HERE, "dynld_bench_host.c")
GNU_TARGETS = {n: get_arch(n).gnu_triple for n in ("386", "amd64", "arm")}  # zig targets linked against glibc
M32 = 0xFFFFFFFF
SUM_N = 1000  # the host checks mod_sum(SUM_N) and mod_run(RUN_X)
RUN_X = 12345
WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu")

HOST_MANIFEST = """\
exports:
  - unsigned host_add(unsigned, unsigned);
  - unsigned host_counter;
  - void host_log(char *);
"""
MODULE_MANIFEST = """\
exports:
  - char *mod_name;
  - unsigned mod_run(unsigned);
  - unsigned mod_sum(unsigned);
imports:
  - unsigned host_add(unsigned, unsigned);
  - unsigned host_counter;
  - void host_log(char *);
"""


# ------------------------------------------------------------- generator
@dataclass
class Func:
    """One generated function ``f_i`` (see ``c_source`` for what it does)."""

    k: int
    data: tuple[int, int, int, int]
    text: str
    callee: int | None
    via_table: int | None
    add: bool
    counter: bool
    log: bool


@dataclass
class Program:
    """A generated module: its functions, and the C text."""

    nfuncs: int
    funcs: list[Func] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"bench-{self.nfuncs}"


def generate(nfuncs: int, seed: int = 1) -> Program:
    """A module of ``nfuncs`` functions; every call goes to a lower-numbered function, so it ends."""
    rnd = random.Random(seed * 1_000_003 + nfuncs)
    prog = Program(nfuncs)
    cost: list[int] = []  # calls one f_i makes, itself included: keeps the call trees small
    for i in range(nfuncs):
        callee = rnd.randrange(i) if i > 0 and rnd.random() < 0.8 else None
        tab = rnd.randrange(i) if i > 1 and rnd.random() < 0.4 else None
        c = 1 + (cost[callee] if callee is not None else 0)
        if tab is not None and c + cost[tab] > 64:
            tab = None
        cost.append(c + (cost[tab] if tab is not None else 0))
        text = "-".join(rnd.choice(WORDS) for _ in range(rnd.randrange(1, 6))) + f"-{i}"
        prog.funcs.append(
            Func(
                k=rnd.getrandbits(32) | 1,
                data=tuple(rnd.getrandbits(32) for _ in range(4)),
                text=text,
                callee=callee,
                via_table=tab,
                add=i % 4 == 1,
                counter=i % 3 == 2,
                log=i % 5 == 0,
            )
        )
    return prog


def c_source(prog: Program) -> str:
    """The module's C text: the same file is built as a dynld module and as a shared library."""
    n = prog.nfuncs
    out = [
        f"/* bench_dynld: a generated module of {n} functions */",
        "extern unsigned host_add(unsigned, unsigned);",
        "extern unsigned host_counter;",
        "extern void host_log(char *);",
        "",
        "static unsigned shash(const char *s)",
        "{",
        "\tunsigned h = 5381;",
        "\twhile (*s)",
        "\t\th = h * 33u + (unsigned char)*s++;",
        "\treturn h;",
        "}",
        "",
        f"static unsigned (*ftab[{n}])(unsigned);",
        f"static const char *strs[{n}];",
        "",
    ]
    for i, f in enumerate(prog.funcs):
        out.append(f'static const char s_{i}[] = "{f.text}";')
        out.append(f"static unsigned d_{i}[4] = {{{', '.join(f'{v:#x}u' for v in f.data)}}};")
    out.append("")
    for i, f in enumerate(prog.funcs):
        body = [
            f"static unsigned f_{i}(unsigned x)",
            "{",
            f"\tunsigned r = x * {f.k:#x}u + d_{i}[x & 3u];",
            f"\tr += shash(s_{i});",
        ]
        if f.callee is not None:
            body.append(f"\tr ^= f_{f.callee}(r >> 3);")
        if f.via_table is not None:
            body.append(f"\tr += ftab[{f.via_table}](r & 0xffu);")
        if f.add:
            body.append(f"\tr = host_add(r, {i}u);")
        if f.counter:
            body.append("\thost_counter += r & 7u;")
        if f.log:
            body.append(f"\thost_log((char *)strs[r % {n}u]);")
        out += body + ["\treturn r;", "}", ""]
    out.append(f"static unsigned (*ftab[{n}])(unsigned) = {{{', '.join(f'f_{i}' for i in range(n))}}};")
    out.append(f"static const char *strs[{n}] = {{{', '.join(f's_{i}' for i in range(n))}}};")
    out += [
        "",
        f'char *mod_name = "{prog.name}";',
        "",
        "unsigned mod_run(unsigned x)",
        "{",
        f"\treturn ftab[x % {n}u](x);",
        "}",
        "",
        "unsigned mod_sum(unsigned n)",
        "{",
        "\tunsigned s = 0, i;",
        "\tfor (i = 0; i < n; i++)",
        f"\t\ts += ftab[i % {n}u](i);",
        "\treturn s;",
        "}",
        "",
    ]
    return "\n".join(out)


def _shash(s: str) -> int:
    h = 5381
    for c in s.encode():
        h = (h * 33 + c) & M32
    return h


def expected(prog: Program) -> str:
    """What the host's check line must say, worked out from the generated code (not from a run)."""
    state = {"counter": 0, "logsum": 0}
    n = prog.nfuncs

    def f(i: int, x: int) -> int:
        fn = prog.funcs[i]
        r = (x * fn.k + fn.data[x & 3]) & M32
        r = (r + _shash(fn.text)) & M32
        if fn.callee is not None:
            r ^= f(fn.callee, r >> 3)
        if fn.via_table is not None:
            r = (r + f(fn.via_table, r & 0xFF)) & M32
        if fn.add:
            r = (r * 31 + i) & M32
        if fn.counter:
            state["counter"] = (state["counter"] + (r & 7)) & M32
        if fn.log:
            state["logsum"] = (state["logsum"] * 31 + _shash(prog.funcs[r % n].text)) & M32
        return r

    total = 0
    for i in range(SUM_N):
        total = (total + f(i % n, i)) & M32
    run = f(RUN_X % n, RUN_X)
    return f"{prog.name} {total} {run} {state['counter']} {state['logsum']}"


# ------------------------------------------------------------------ build
def _run(cmd: list[str], what: str, cwd: str | None = None) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("DYNCC_CC", None)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        msg = (p.stderr or p.stdout).strip().splitlines()
        raise DynError(f"{what} failed (exit {p.returncode}): {msg[-1] if msg else ''}")


def build_host(arch: str, tmp: str) -> str:
    """The timing host for ``arch``: dynld_bench_host.c + the runtime + its _exporttab, linked -rdynamic."""
    manifest = os.path.join(tmp, "host.yaml")
    write_output(manifest, HOST_MANIFEST)
    tab = os.path.join(tmp, "exporttab.c")
    if dynexport_main([manifest, "-o", tab]) != 0:
        raise DynError("dynexport failed", manifest)
    host = os.path.join(tmp, f"host-{arch}")
    _run(
        [
            sys.executable,
            "-m",
            "ziglang",
            "cc",
            "-target",
            GNU_TARGETS[arch],
            "-O2",
            "-rdynamic",
            *config.cflags(),
            "-o",
            host,
            HOST_C,
            tab,
            *config.sources(),
            "-ldl",
        ],
        f"{arch}: building the host",
    )
    return host


def strip_all(src: str, out: str) -> str:
    """``strip --strip-all`` src into out; if binutils cannot (arm), llvm-strip, then zig objcopy. The tool used."""
    for tool in ("strip", "llvm-strip"):
        exe = shutil.which(tool)
        if exe and subprocess.run([exe, "--strip-all", "-o", out, src], capture_output=True).returncode == 0:
            return tool
    _run([sys.executable, "-m", "ziglang", "objcopy", "--strip-all", src, out], "zig objcopy --strip-all")
    return "zig objcopy"


@dataclass
class Built:
    """One size on one arch: the files and their sizes."""

    arch: str
    nfuncs: int
    dlm: str
    so: str
    so_strip: str
    so_flags: str
    strip_tool: str
    text: int
    data: int
    bss: int
    nimports: int
    nrelocs: int

    def size(self, path: str) -> int:
        return os.path.getsize(path)


def module_cflags(arch: str, pic386: bool = True) -> list[str]:
    """dyncc flags for the module beyond ``-O2``: ``-fPIC`` on 386 unless asked for the default."""
    return ["-fPIC"] if arch == "386" and pic386 else []


def build_case(arch: str, prog: Program, tmp: str, pic386: bool = True) -> Built:
    """Build the module, the .so and the stripped .so of ``prog``."""
    base = os.path.join(tmp, f"{arch}-{prog.nfuncs}")
    src = base + ".c"
    write_output(src, c_source(prog))
    mf = base + ".yaml"
    write_output(mf, MODULE_MANIFEST)
    obj, dlm = base + ".o", base + ".dlm"
    _run(
        [
            sys.executable,
            "-m",
            "toolchain.cc.driver",
            "-a",
            arch,
            "-c",
            src,
            "-o",
            obj,
            "-O2",
            *module_cflags(arch, pic386),
        ],
        f"{arch}/{prog.nfuncs}: dyncc",
    )
    _run(
        [sys.executable, "-m", "toolchain.linker.main", "-a", arch, "-u", "-m", mf, "-o", dlm, obj],
        f"{arch}/{prog.nfuncs}: dynlink -u",
    )
    so = base + ".so"
    _run(
        [
            sys.executable,
            "-m",
            "ziglang",
            "cc",
            "-target",
            GNU_TARGETS[arch],
            "-shared",
            "-fPIC",
            "-O2",
            "-s",
            "-o",
            so,
            src,
        ],
        f"{arch}/{prog.nfuncs}: zig cc -shared",
    )
    so_strip = base + ".strip.so"
    tool = strip_all(so, so_strip)
    flags = [f for f in get_arch(arch).cc_flags if f not in ("-fno-pic", "-fno-pie", "-fpie")]
    so_flags_s = base + ".flags-s.so"
    _run(
        [
            sys.executable,
            "-m",
            "ziglang",
            "cc",
            "-target",
            GNU_TARGETS[arch],
            *flags,
            "-shared",
            "-fPIC",
            "-O2",
            "-s",
            "-o",
            so_flags_s,
            src,
        ],
        f"{arch}/{prog.nfuncs}: zig cc -shared (dyncc flags)",
    )
    so_flags = base + ".flags.so"
    strip_all(so_flags_s, so_flags)
    with open(dlm, "rb") as fh:
        mod = decode(fh.read(), dlm)
    return Built(
        arch,
        prog.nfuncs,
        dlm,
        so,
        so_strip,
        so_flags,
        tool,
        len(mod.text),
        len(mod.data),
        mod.bss,
        len(mod.imports),
        len(mod.relocs),
    )


# ------------------------------------------------------------------- timing
@dataclass
class Timing:
    """Per-load microseconds of each round, (wall clock, process CPU time, its system part), for each kind."""

    dynld: list[tuple[float, float, float]] = field(default_factory=list)
    dlopen: list[tuple[float, float, float]] = field(default_factory=list)

    def median(self, kind: str, clock: int) -> float:
        """Median over the rounds; clock 0 is wall time, 1 CPU time, 2 system (kernel) CPU time."""
        return statistics.median(r[clock] for r in getattr(self, kind))

    def sys_share(self, kind: str) -> float:
        """The system-call (kernel) share of the CPU time: summed over the rounds."""
        rounds = getattr(self, kind)
        cpu = sum(r[1] for r in rounds)
        return sum(r[2] for r in rounds) / cpu if cpu > 0 else 0.0

    def ratio(self, clock: int) -> float:
        return self.median("dynld", clock) / self.median("dlopen", clock)


def run_host(arch: str, host: str, b: Built, prog: Program, n: int, rounds: int) -> Timing:
    """Check both builds compute the expected values, then time their loads."""
    cmd = [*get_arch(arch).runner(), host, os.path.abspath(b.dlm), os.path.abspath(b.so), str(n), str(rounds)]
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=3600)
    if p.returncode != 0:
        raise DynError(f"{arch}/{b.nfuncs}: host exited {p.returncode}: {p.stderr.strip()[:300]}; no numbers")
    want = expected(prog)
    t = Timing()
    checks: dict[str, str] = {}
    for line in p.stdout.splitlines():
        w = line.split()
        if w[0] == "check":
            checks[w[1]] = " ".join(w[2:])
        elif w[0] == "round":
            getattr(t, w[2]).append((float(w[3]), float(w[4]), float(w[5])))
    for kind in ("dynld", "dlopen"):
        if checks.get(kind) != want:
            raise DynError(
                f"{arch}/{b.nfuncs}: the {kind} build computes {checks.get(kind)!r}, "
                f"expected {want!r}; refusing to report numbers"
            )
    if len(t.dynld) != rounds or len(t.dlopen) != rounds:
        raise DynError(f"{arch}/{b.nfuncs}: host printed {len(t.dynld)}/{len(t.dlopen)} rounds, wanted {rounds}")
    return t


# ------------------------------------------------------------------ report
def size_table(builds: list[Built]) -> str:
    """Sizes (markdown)."""
    out = [
        "| arch | funcs | .dlm | .so -s | .so strip-all | .dlm/.so | .dlm/stripped | "
        ".so dyncc flags, strip-all | .dlm/that | .dlm text+data+bss | .dlm relocs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for b in builds:
        dlm, so, st, fl = b.size(b.dlm), b.size(b.so), b.size(b.so_strip), b.size(b.so_flags)
        out.append(
            f"| {b.arch} | {b.nfuncs} | {dlm} | {so} | {st} ({b.strip_tool}) | {dlm / so:.2f} | "
            f"{dlm / st:.2f} | {fl} | {dlm / fl:.2f} | {b.text}+{b.data}+{b.bss} | {b.nrelocs} |"
        )
    return "\n".join(out)


def time_table(rows: list[tuple[Built, Timing]]) -> str:
    """Load times (markdown): CPU time and wall clock, median of the rounds, the kernel's share, sizes."""
    out = [
        "| arch | funcs | .dlm bytes | .so bytes | dynld CPU | dlopen CPU | **dynld/dlopen CPU** | "
        "dynld sys share | dlopen sys share | dynld wall | dlopen wall | dynld/dlopen wall | "
        "wall range over rounds (dynld; dlopen) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for b, t in rows:
        arch = b.arch + " (qemu-arm, emulated)" * (b.arch == "arm")
        spread = "; ".join(f"{min(r[0] for r in rs):.1f}..{max(r[0] for r in rs):.1f}" for rs in (t.dynld, t.dlopen))
        out.append(
            f"| {arch} | {b.nfuncs} | {b.size(b.dlm)} | {b.size(b.so)} | {t.median('dynld', 1):.1f} | "
            f"{t.median('dlopen', 1):.1f} | **{t.ratio(1):.2f}** | {t.sys_share('dynld'):.0%} | "
            f"{t.sys_share('dlopen'):.0%} | {t.median('dynld', 0):.1f} | {t.median('dlopen', 0):.1f} | "
            f"{t.ratio(0):.2f} | {spread} |"
        )
    return "\n".join(out)


def _csv(text: str, what: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise UsageError(f"empty {what} list")
    return items


def _ints(text: str, what: str) -> list[int]:
    try:
        return [int(x) for x in _csv(text, what)]
    except ValueError:
        raise UsageError(f"{what}: not a comma-separated list of numbers: {text!r}") from None


def _body(argv: Sequence[str]) -> int:
    ap = ArgumentParser(prog=PROG, description="Benchmark dynld modules against shared libraries (size, load time).")
    ap.add_argument("--funcs", default="20,200", help="functions per generated module (comma-separated)")
    ap.add_argument("--arch", default="amd64,386,arm", help="arches (comma-separated)")
    ap.add_argument("-n", type=int, default=2000, help="loads per timed loop")
    ap.add_argument("--rounds", type=int, default=5, help="timed loops of each kind; the median is shown")
    ap.add_argument("--quick", action="store_true", help="a small run: 20 functions, 200 loads, 2 rounds")
    ap.add_argument("--keep", metavar="DIR", help="build in DIR and keep the files")
    ap.add_argument(
        "--386-nopic", dest="nopic386", action="store_true", help="386 modules with dyncc's -fno-pic, not -fPIC"
    )
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    a = ap.parse_args(list(argv))
    funcs = _ints("20" if a.quick else a.funcs, "--funcs")
    n, rounds = (200, 2) if a.quick else (a.n, a.rounds)
    if n < 1 or rounds < 1 or min(funcs) < 1:
        raise UsageError("-n, --rounds and --funcs must be positive")
    try:
        arches = [get_arch(x).name for x in _csv(a.arch, "--arch")]
    except DynError as e:
        raise UsageError(e.msg) from None
    tmp = a.keep or tempfile.mkdtemp(prefix="bench_dynld-")
    os.makedirs(tmp, exist_ok=True)
    try:
        builds: list[Built] = []
        rows: list[tuple[Built, Timing]] = []
        for arch in arches:
            host = build_host(arch, tmp)
            for nf in funcs:
                prog = generate(nf)
                b = build_case(arch, prog, tmp, pic386=not a.nopic386)
                builds.append(b)
                print(f"{arch}/{nf}: built; timing {rounds} x {n} loads", file=sys.stderr, flush=True)
                rows.append((b, run_host(arch, host, b, prog, n, rounds)))
        print("## Size (bytes)\n")
        print(size_table(builds))
        print(f"\n## Load + bind time: mean microseconds per load, median of {rounds} rounds of {n} loads\n")
        print(time_table(rows))
        print("\narm times are under qemu-arm (emulated), not real hardware.")
        if a.json:
            write_output(
                a.json,
                json.dumps(
                    [
                        {
                            "arch": b.arch,
                            "funcs": b.nfuncs,
                            "dlm": b.size(b.dlm),
                            "so": b.size(b.so),
                            "so_strip_all": b.size(b.so_strip),
                            "strip_tool": b.strip_tool,
                            "so_dyncc_flags": b.size(b.so_flags),
                            "dynld_us": t.dynld,
                            "dlopen_us": t.dlopen,
                            "loads_per_round": n,
                        }
                        for b, t in rows
                    ],
                    indent=1,
                )
                + "\n",
            )
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 when every case built, ran and agreed."""
    return run_main(PROG, _body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
