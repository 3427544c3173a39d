"""Linker benchmark: dynlink against ld.lld and GNU ld on the same synthetic programs.

    python bench/bench_link.py [--files 100,1000] [--arch amd64,386,arm] [--runs 5]
                               [--jobs 2] [--cflags "-O2 -g"] [--profile] [--json FILE]

For each size and arch it generates a freestanding C program of that many files
(calls across files, tables of function pointers and of string pointers, strings,
switch jump tables, data shared between files) and compiles it once with
``python -m toolchain.cc.driver`` in a process pool.  The objects are cached in
``bench/.cache`` under a hash of this generator, the run-time, the flags and the
arch's compiler settings.  Then it links the same objects with:

- ``dynlink`` in this process (``toolchain.linker.main.link``),
- ``dynlink`` as a subprocess (``python -m toolchain.linker.command``, the ``dynlink`` command's entry),
- ``python -m ziglang ld.lld -static -e _start``,
- GNU ``ld -m elf_x86_64|elf_i386 -static -e _start`` (amd64 and 386 only),

best of ``--runs`` for each.  Every linked program is run (arm under qemu-arm) and
must exit 0 and print the same lines as every other linker's: otherwise the
benchmark reports no numbers and exits 1.  Peak memory is tracemalloc's peak for
the in-process link (a separate, untimed run) and, for subprocesses, the child's
maximum resident set measured with GNU time.  ``--profile`` runs cProfile on the
in-process link of the largest case and prints the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from toolchain.arch import get_arch  # noqa: E402
from toolchain.cc.runtime import RT_DIR, rt_sources  # noqa: E402

CACHE = os.path.join(HERE, ".cache")
FUNCS = 4  # functions per generated file
NAMES = ("alpha", "beta", "gamma", "delta", "epsilon")
CFLAGS = ("-O2", "-g")  # with DWARF: the linker keeps and relocates it, like ld.lld and GNU ld
GNU_EMULATION = {"amd64": "elf_x86_64", "386": "elf_i386"}


# ------------------------------------------------------------- generator
def generate(nfiles: int, seed: int = 1) -> dict[str, str]:
    """The sources of a program of ``nfiles`` files plus ``main.c``: {file name: C text}."""
    rnd = random.Random(seed * 1_000_003 + nfiles)
    srcs: dict[str, str] = {}
    for i in range(nfiles):
        callees = [(rnd.randrange(nfiles), rnd.randrange(FUNCS)) for _ in range(FUNCS)]
        tab = [(i if k % 2 == 0 else rnd.randrange(nfiles), k) for k in range(FUNCS)]
        datas = sorted({rnd.randrange(nfiles) for _ in range(2)})
        lines = [
            f"/* bench program: file {i} of {nfiles} (generated) */",
            "void print_str(const char *s);",
            "void print_char(int c);",
            "unsigned long strlen(const char *s);",
        ]
        decls = sorted({c for c in callees} | {t for t in tab})
        for f, j in decls:
            lines.append(f"unsigned f{f}_{j}(unsigned x, int d);")
        for d in datas:
            if d != i:
                lines.append(f"extern unsigned counter_{d};")
        lines.append(f"unsigned counter_{i} = {i * 3 + 1}u;")
        names = ", ".join(f'"{NAMES[(i + k) % len(NAMES)]}-{i}-{"x" * (k + i % 3)}"' for k in range(FUNCS))
        lines.append(f"const char *names_{i}[{FUNCS}] = {{{names}}};")
        ftab = ", ".join(f"f{f}_{j}" for f, j in tab)
        lines.append(f"unsigned (*ftab_{i}[{FUNCS}])(unsigned, int) = {{{ftab}}};")
        lines.append(f"static unsigned helper_{i}(unsigned x)\n{{\n\tswitch (x & 7) {{")
        for c in range(7):
            lines.append(f"\tcase {c}: return x * {rnd.randrange(2, 50)}u + {rnd.randrange(1000)}u;")
        lines.append(f"\tdefault: return x ^ {i}u;\n\t}}\n}}")
        for j in range(FUNCS):
            cf, cj = callees[j]
            lines.append(f"unsigned f{i}_{j}(unsigned x, int d)\n{{\n\tunsigned r = helper_{i}(x + {j}u);")
            lines.append(f"\tif (d > 0)\n\t\tr += f{cf}_{cj}(x + {j + 1}u, d - 1);")
            for d in datas:
                lines.append(f"\tr += counter_{d};")
            lines.append("\treturn r;\n}")
        lines.append(f"unsigned run_{i}(void)\n{{\n\tunsigned sum = 0;\n\tint k;")
        lines.append(f"\tfor (k = 0; k < {FUNCS}; k++)\n\t\tsum += ftab_{i}[k]((unsigned)k + {i}u, 2);")
        lines.append(f"\tfor (k = 0; k < {FUNCS}; k++)\n\t\tsum += (unsigned)strlen(names_{i}[k]);")
        lines.append(f"\tprint_str(names_{i}[{i % FUNCS}]);\n\tprint_char(' ');")
        lines.append(f"\tcounter_{i} += sum & 0xff;\n\treturn sum;\n}}")
        srcs[f"m{i:04d}.c"] = "\n".join(lines) + "\n"
    main = ["/* bench program: main (generated) */", '#include "rt.h"']
    for i in range(nfiles):
        main.append(f"unsigned run_{i}(void);")
    main.append(f"static unsigned (*const runs[{nfiles}])(void) = {{")
    main += [f"\trun_{i}," for i in range(nfiles)]
    main.append("};")
    main.append("int main(int argc, char **argv)\n{\n\tunsigned total = 0, v;\n\tint i;")
    main.append(
        f"\tfor (i = 0; i < {nfiles}; i++) {{\n\t\tv = runs[i]();\n\t\ttotal += v;\n"
        "\t\tprint_uint(v);\n\t\tprint_nl();\n\t}"
    )
    main.append('\tprint_str("total ");\n\tprint_uint(total);\n\tprint_nl();\n\treturn 0;\n}')
    srcs["main.c"] = "\n".join(main) + "\n"
    return srcs


# --------------------------------------------------------------- objects
def _digest(arch: str, nfiles: int, cflags: tuple[str, ...], srcs: dict[str, str]) -> str:
    """The cache key: the generated sources, the arch and its compiler flags, the rt sources.

    dyncc's own code is not part of the key: after changing it, delete bench/.cache.
    """
    a = get_arch(arch)
    h = hashlib.sha256()
    h.update(f"{arch} {nfiles} {cflags} {a.cc_target} {a.cc_flags}\n".encode())
    for name in sorted(srcs):
        h.update(hashlib.sha256(f"{name}\0{srcs[name]}".encode()).digest())
    for p in (os.path.join(RT_DIR, "rt.h"), *rt_sources()):
        with open(p, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:16]


def command_env() -> dict[str, str]:
    """The environment dyntools' commands run in here: this tree importable, and its modules
    byte-compiled once and then loaded from a cache, as an installed package's are (pip
    compiles them at install). Some environments set ``PYTHONDONTWRITEBYTECODE``, which would
    make every command compile the toolchain from source again."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(CACHE, "pycache")
    return env


def _compile_one(job: tuple[str, str, str, str, tuple[str, ...]]) -> str | None:
    """Compile one source with dyncc; None on success, else the error text."""
    arch, src, out, cwd, cflags = job
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "toolchain.cc.driver", "-a", arch, "-c", src, "-o", out, "-I", RT_DIR, *cflags]
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return None if r.returncode == 0 else f"{src}: {r.stderr.strip()}"


def build_objects(arch: str, nfiles: int, jobs: int, cflags: tuple[str, ...] = CFLAGS) -> tuple[str, list[str]]:
    """Generate and compile the program (or reuse the cache): (object dir, object names in link order)."""
    srcs = generate(nfiles)
    key = f"{arch}-{nfiles}-{_digest(arch, nfiles, cflags, srcs)}"
    final = os.path.join(CACHE, key)
    rt_names = [f"rt_{os.path.basename(s)[:-2]}.o" for s in rt_sources()]
    objs = ["main.o"] + [n[:-2] + ".o" for n in sorted(srcs) if n != "main.c"] + rt_names
    if os.path.isfile(os.path.join(final, "complete")):
        return final, objs
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "src"))
    for name, text in srcs.items():
        with open(os.path.join(tmp, "src", name), "w") as f:
            f.write(text)
    work = [(arch, os.path.join("src", n), n[:-2] + ".o", tmp, cflags) for n in sorted(srcs)]
    work += [(arch, s, f"rt_{os.path.basename(s)[:-2]}.o", tmp, cflags) for s in rt_sources()]
    t0 = time.perf_counter()
    print(f"compiling {len(work)} files for {arch} with {jobs} processes ...", file=sys.stderr, flush=True)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        errors = [e for e in pool.map(_compile_one, work, chunksize=4) if e]
    if errors:
        raise SystemExit(f"bench: compile failed ({len(errors)} files): {errors[0]}")
    print(f"  done in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    with open(os.path.join(tmp, "complete"), "w") as f:
        f.write("ok\n")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for stale in os.listdir(CACHE):  # builds of this case that were interrupted
        if stale.startswith(f"{arch}-{nfiles}-") and stale.endswith(".tmp"):
            shutil.rmtree(os.path.join(CACHE, stale), ignore_errors=True)
    return final, objs


# --------------------------------------------------------------- linking
@dataclass
class Result:
    """The measurements of one linker on one case."""

    linker: str
    times: list[float] = field(default_factory=list)
    peak_kib: int = 0  # maximum resident set (subprocess) or tracemalloc peak (in-process)
    peak_kind: str = "rss"
    size: int = 0
    loaded: int = 0  # bytes of the PT_LOAD segments in the file (without debug info, symbols, headers)
    output: str = ""

    @property
    def best(self) -> float:
        return min(self.times)


TIME = "/usr/bin/time"  # GNU time (Debian package "time"): the linker's own maximum resident set


def _run_timed(cmd: list[str], cwd: str, env: dict[str, str] | None = None) -> tuple[float, int, bytes]:
    """(seconds, the linker's max RSS in KiB, stderr) of one command; SystemExit if it fails.

    A child forked from this (large) process keeps our resident set as its high-water mark
    even across exec, so the linker runs under GNU time, forked from that small process.
    Without GNU time the figure is the child's from ``os.wait4`` (an upper bound).
    """
    rss_file = None
    launch = cmd
    if os.access(TIME, os.X_OK):
        fd, rss_file = tempfile.mkstemp(prefix="bench-rss-")
        os.close(fd)
        launch = [TIME, "-f", "%M", "-o", rss_file, *cmd]
    t0 = time.perf_counter()
    p = subprocess.Popen(launch, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read() if p.stderr else b""
    _pid, status, usage = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss
    if rss_file is not None:
        with open(rss_file) as f:
            text = f.read().split()
        os.unlink(rss_file)
        rss = int(text[-1]) if text and text[-1].isdigit() else rss
    if p.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:6])} ... failed ({p.returncode}): {err.decode(errors='replace')}")
    return dt, rss, err


def peer_commands(arch: str, out: str, objs: list[str]) -> dict[str, list[str]]:
    """The command line of each external linker for this arch."""
    cmds = {
        "dynlink (subprocess)": [
            sys.executable,
            "-m",
            "toolchain.linker.command",
            "-a",
            arch,
            "-o",
            out + ".dyn",
            *objs,
        ],
        "ld.lld": [sys.executable, "-m", "ziglang", "ld.lld", "-static", "-e", "_start", "-o", out + ".lld", *objs],
    }
    if arch in GNU_EMULATION and shutil.which("ld"):
        cmds["GNU ld"] = ["ld", "-m", GNU_EMULATION[arch], "-static", "-e", "_start", "-o", out + ".gnu", *objs]
    return cmds


def link_inprocess(arch: str, objdir: str, objs: list[str], out: str) -> None:
    """One in-process link with dynlink's own entry point."""
    from toolchain.errors import DynError
    from toolchain.linker.main import link, parse_args

    try:
        link(parse_args(["-a", arch, "-o", out, *[os.path.join(objdir, o) for o in objs]]))
    except DynError as e:
        raise SystemExit(f"bench: dynlink failed: {e}") from None


def _measure_inprocess(name: str, native: str, arch: str, objdir: str, objs: list[str], runs: int, tmp: str) -> Result:
    """The in-process link with ``DYNTOOLS_NATIVE`` set to ``native``: "0" relocates with Python
    only, "1" in bulk with the C library at every size."""
    r = Result(name, peak_kind="tracemalloc", output=os.path.join(tmp, "prog.inproc" + native))
    saved = os.environ.get("DYNTOOLS_NATIVE")
    os.environ["DYNTOOLS_NATIVE"] = native
    try:
        link_inprocess(arch, objdir, objs, r.output)  # warm up: imports, page cache, the C library built
        for _ in range(runs):
            gc.collect()
            t0 = time.perf_counter()
            link_inprocess(arch, objdir, objs, r.output)
            r.times.append(time.perf_counter() - t0)
        gc.collect()
        tracemalloc.start()
        link_inprocess(arch, objdir, objs, r.output)
        r.peak_kib = tracemalloc.get_traced_memory()[1] // 1024
        tracemalloc.stop()
    finally:
        os.environ.pop("DYNTOOLS_NATIVE", None)
        if saved is not None:
            os.environ["DYNTOOLS_NATIVE"] = saved
    return r


def measure(arch: str, objdir: str, objs: list[str], runs: int, tmp: str) -> list[Result]:
    """Time every linker ``runs`` times on the same objects; returns results with outputs."""
    env = command_env()
    results = [
        _measure_inprocess("dynlink (in-process, Python)", "0", arch, objdir, objs, runs, tmp),
        _measure_inprocess("dynlink (in-process, C)", "1", arch, objdir, objs, runs, tmp),
    ]
    base = os.path.join(tmp, "prog")
    for name, cmd in peer_commands(arch, base, objs).items():
        r = Result(name, output=cmd[cmd.index("-o") + 1])
        for _ in range(runs):
            dt, rss, _err = _run_timed(cmd, objdir, env)
            r.times.append(dt)
            r.peak_kib = max(r.peak_kib, rss)
        results.append(r)
    for r in results:
        r.size = os.path.getsize(r.output)
        r.loaded = loaded_bytes(r.output)
    return results


def loaded_bytes(path: str) -> int:
    """Sum of the PT_LOAD segments' file sizes: what the program maps (debug info and symbols excluded)."""
    from toolchain.elf import PT_LOAD, ElfFile

    with open(path, "rb") as f:
        e = ElfFile(f.read(), path)
    return sum(ph[5] for ph in e.program_headers() if ph[0] == PT_LOAD)


def verify(arch: str, results: list[Result], nfiles: int) -> str:
    """Run every output; all must exit 0 and print the same text. Returns that text."""
    runner = get_arch(arch).runner()
    outputs: dict[str, str] = {}
    for r in results:
        p = subprocess.run([*runner, r.output], capture_output=True, timeout=120)
        if p.returncode != 0:
            raise SystemExit(
                f"bench: {arch}/{nfiles}: the program linked by {r.linker} exited {p.returncode}: "
                f"{p.stderr.decode(errors='replace')[:300]}; refusing to report numbers"
            )
        outputs[r.linker] = p.stdout.decode(errors="replace")
    ref_name, ref = next(iter(outputs.items()))
    for name, text in outputs.items():
        if text != ref:
            raise SystemExit(
                f"bench: {arch}/{nfiles}: the program linked by {name} prints something else than "
                f"the one linked by {ref_name}; refusing to report numbers"
            )
    lines = ref.splitlines()
    if len(lines) != nfiles + 1 or not lines[-1].startswith("total "):
        raise SystemExit(f"bench: {arch}/{nfiles}: unexpected program output ({len(lines)} lines)")
    return ref


def profile(arch: str, objdir: str, objs: list[str], tmp: str, top: int) -> str:
    """cProfile of one in-process link: the top functions by own time, then by cumulative time."""
    link_inprocess(arch, objdir, objs, os.path.join(tmp, "prog.prof"))
    prof = cProfile.Profile()
    prof.enable()
    link_inprocess(arch, objdir, objs, os.path.join(tmp, "prog.prof"))
    prof.disable()
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.strip_dirs().sort_stats("tottime").print_stats(top)
    st.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


# ------------------------------------------------------------------ report
def table(rows: list[tuple[str, int, list[Result]]]) -> str:
    """The results table (markdown)."""
    out = [
        "| arch | files | linker | best (s) | vs ld.lld | vs GNU ld | peak memory (MiB) | file bytes | PT_LOAD bytes |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arch, n, results in rows:
        by = {r.linker: r for r in results}
        for r in results:

            def ratio(peer: str, r: Result = r, by: dict[str, Result] = by) -> str:
                p = by.get(peer)
                return f"{r.best / p.best:.1f}x" if p and p is not r else "-"

            mem = f"{r.peak_kib / 1024:.1f}" + (" (tracemalloc)" if r.peak_kind == "tracemalloc" else "")
            out.append(
                f"| {arch} | {n} | {r.linker} | {r.best:.3f} | {ratio('ld.lld')} | {ratio('GNU ld')} | "
                f"{mem} | {r.size} | {r.loaded} |"
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every case linked, ran and agreed."""
    p = argparse.ArgumentParser(description="Benchmark dynlink against ld.lld and GNU ld.")
    p.add_argument("--files", default="100,1000", help="program sizes (comma-separated)")
    p.add_argument("--arch", default="amd64,386,arm", help="arches (comma-separated)")
    p.add_argument("--runs", type=int, default=5, help="runs per linker; the best is reported")
    p.add_argument("--jobs", type=int, default=2, help="compiler processes")
    p.add_argument("--profile", action="store_true", help="cProfile the in-process link of the largest case")
    p.add_argument("--top", type=int, default=25, help="functions to show with --profile")
    p.add_argument("--json", help="also write the results as JSON to this file")
    p.add_argument("--cflags", default=" ".join(CFLAGS), help=f"dyncc flags (default: {' '.join(CFLAGS)})")
    a = p.parse_args(argv)
    sizes = [int(s) for s in a.files.split(",") if s]
    arches = [get_arch(x).name for x in a.arch.split(",") if x]
    rows: list[tuple[str, int, list[Result]]] = []
    prof_text = ""
    with tempfile.TemporaryDirectory(prefix="bench-link-") as tmp:
        for arch in arches:
            for n in sizes:
                objdir, objs = build_objects(arch, n, a.jobs, tuple(a.cflags.split()))
                print(
                    f"linking {arch} x {n} files ({len(objs)} objects), best of {a.runs} ...",
                    file=sys.stderr,
                    flush=True,
                )
                results = measure(arch, objdir, objs, a.runs, tmp)
                verify(arch, results, n)
                rows.append((arch, n, results))
                if a.profile and n == max(sizes) and arch == arches[0]:
                    prof_text = profile(arch, objdir, objs, tmp, a.top)
    print(table(rows))
    if prof_text:
        print(f"\ncProfile of dynlink, {arches[0]}, {max(sizes)} files:\n{prof_text}")
    if a.json:
        data = [
            {
                "arch": arch,
                "files": n,
                "linker": r.linker,
                "times": r.times,
                "best": r.best,
                "peak_kib": r.peak_kib,
                "peak_kind": r.peak_kind,
                "size": r.size,
                "loaded": r.loaded,
            }
            for arch, n, rs in rows
            for r in rs
        ]
        with open(a.json, "w") as f:
            json.dump(data, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
