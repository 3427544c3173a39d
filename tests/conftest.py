"""Shared test fixtures: the repository on sys.path, running programs per arch, and the cprogs set.

``cprogs`` (session) compiles tests/cprogs/*.c plus dyntools' rt with dyncc for an
(arch, optimisation, variant) on first use and hands back the object paths.  Under
pytest-xdist the objects are built once for all workers (a shared directory and a
file lock).  ``cprogs_expected(args)`` computes, in Python, what the program must
print, independently of any compiler or linker.
"""

from __future__ import annotations

import fcntl
import functools
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from toolchain.arch import get_arch  # noqa: E402
from toolchain.cc import runtime  # noqa: E402
from toolchain.cc.driver import compile_c  # noqa: E402

# dyncc honours $DYNCC_CC; one set in the environment running the tests must not change what they build.
os.environ.pop("DYNCC_CC", None)

ARCHES = ("386", "amd64", "arm")
OPTS = ("-O0", "-O2")
VARIANTS = {"plain": (), "sections": ("-ffunction-sections", "-fdata-sections")}

CPROGS_DIR = os.path.join(ROOT, "tests", "cprogs")
CPROGS_SOURCES = (
    "main.c",
    "ops.c",
    "switch.c",
    "data.c",
    "common1.c",
    "common2.c",
    "weak.c",
    "strong.c",
    "recur.c",
    "bss.c",
    "arith.c",
)
CPROGS_FILE_FLAGS = {"common1.c": ("-fcommon",), "common2.c": ("-fcommon",)}
CPROGS_ARGS = ("alpha", "beta")
CPROGS_STATUS = 42


def run_program(arch: str, path: str, args=(), timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    """Run an executable for ``arch`` here (natively or under qemu), capturing its output as bytes."""
    cmd = [*get_arch(arch).runner(), path, *args]
    return subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, **kwargs)


def tool_env(**extra: str) -> dict[str, str]:
    """An environment for running the tools as ``python -m ...`` from the repository."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("DYNCC_CC", None)
    env.update(extra)
    return env


def run_dyncc(args, cwd: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``dyncc`` as a separate process (text output)."""
    return subprocess.run(
        [sys.executable, "-m", "toolchain.cc.driver", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or tool_env(),
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def lld_link(arch: str, out: str, objs) -> subprocess.CompletedProcess:
    """Link a freestanding static program with zig's ld.lld (the reference linker)."""
    del arch  # ld.lld picks the emulation from the objects
    cmd = [sys.executable, "-m", "ziglang", "ld.lld", "-static", "-e", "_start", "-o", out, *objs]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def dynlink(arch: str, out: str, objs, *flags: str) -> subprocess.CompletedProcess:
    """Link with dyntools' linker."""
    cmd = [sys.executable, "-m", "toolchain.linker.main", "-a", arch, "-o", out, *flags, *objs]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=tool_env())


class CProgs:
    """The cprogs object sets, compiled on first use."""

    def __init__(self, root: str):
        self.root = root
        self._done: dict[tuple[str, str, str], list[str]] = {}

    def objects(self, arch: str, opt: str = "-O2", variant: str = "plain") -> list[str]:
        """Object paths of the cprogs program (rt included) for ``arch`` at ``opt``."""
        key = (arch, opt, variant)
        if key in self._done:
            return self._done[key]
        outdir = os.path.join(self.root, f"{arch}{opt}-{variant}")
        os.makedirs(outdir, exist_ok=True)
        with open(os.path.join(self.root, f".{arch}{opt}-{variant}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            objs = self._build(arch, opt, variant, outdir)
        self._done[key] = objs
        return objs

    def _build(self, arch: str, opt: str, variant: str, outdir: str) -> list[str]:
        jobs = []
        for src in runtime.rt_sources():
            jobs.append((src, os.path.join(outdir, "rt_" + os.path.basename(src)[:-2] + ".o"), ()))
        for name in CPROGS_SOURCES:
            jobs.append(
                (
                    os.path.join(CPROGS_DIR, name),
                    os.path.join(outdir, name[:-2] + ".o"),
                    CPROGS_FILE_FLAGS.get(name, ()),
                )
            )
        marker = os.path.join(outdir, ".complete")
        if not os.path.exists(marker):
            # freestanding programs (dyntools' rt, no C library): dyncc compiles hosted unless told
            base = ["-ffreestanding", opt, *VARIANTS[variant], "-I", runtime.rt_include_dir(), "-I", CPROGS_DIR]

            def one(job):
                src, out, extra = job
                compile_c(arch, src, out, [*base, *extra])

            with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
                list(pool.map(one, jobs))
            with open(marker, "w") as f:
                f.write("ok\n")
        return [out for _src, out, _extra in jobs]


#: environment for each way of applying relocations: section by section in Python, or in bulk by C
RELOCATION_PATHS = {"python": {"DYNTOOLS_NATIVE": "0"}, "native": {"DYNTOOLS_NATIVE": "1"}}


@pytest.fixture
def applied(monkeypatch):
    """Links relocate in bulk with the C library (``DYNTOOLS_NATIVE=1``): the names of the
    sections it applied itself ("taken"), and of those it handed back ("back")."""
    from toolchain.linker import native

    monkeypatch.setenv("DYNTOOLS_NATIVE", "1")
    seen: dict[str, list[str]] = {"taken": [], "back": []}
    apply = native.apply

    def spy(batch) -> list[int]:
        back = apply(batch)
        for i, sec in enumerate(batch.sections):
            seen["back" if i in back else "taken"].append(sec.name)
        return back

    monkeypatch.setattr(native, "apply", spy)
    return seen


@pytest.fixture(scope="session")
def cprogs(tmp_path_factory, worker_id) -> CProgs:
    """The cprogs object sets (``cprogs.objects(arch, opt, variant)``), shared by xdist workers."""
    if worker_id == "master":
        root = str(tmp_path_factory.mktemp("cprogs"))
    else:
        root = os.path.join(str(tmp_path_factory.getbasetemp().parent), "cprogs-shared")
        os.makedirs(root, exist_ok=True)
    return CProgs(root)


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    """xdist's worker id, or "master" without xdist (pytest-xdist provides this fixture too)."""
    wi = getattr(request.config, "workerinput", None)
    return wi["workerid"] if wi else "master"


def _c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _c_mod(a: int, b: int) -> int:
    return a - b * _c_div(a, b)


def _s64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


@functools.lru_cache(maxsize=8)
def cprogs_expected(args=CPROGS_ARGS) -> str:
    """What the cprogs program prints when run with ``args``, computed here from its source's meaning."""
    M64 = (1 << 64) - 1
    k = 1 + len(args)
    out = ["cprogs: hello from dyntools", f"argc={k}", *[f"arg {a}" for a in args]]
    a, b = 100 + k, k
    ops = [
        ("add", a + b),
        ("sub", a - b),
        ("mul", a * b),
        ("and", a & b),
        ("or", a | b),
        ("xor", a ^ b),
        ("shl", _s64(a << (b & 63))),
        ("max", max(a, b)),
    ]
    out += [f"op {n} {v}" for n, v in ops]
    out += ["shape rect area=12", "shape tri area=15", "shape square area=49"]
    out += [f"vt.first={a * 2}", "vt.shape=50", f"vt.table={1 << k}"]
    A, B = 1000 + k, k
    sw = [
        A + B,
        A - B,
        A * B,
        A ^ (B << 3),
        (A << 2) + B,
        A - 7 * B,
        (A | B) + 6,
        (A & B) - 7,
        A * A + B,
        B * B - A,
        -A,
        ~B,
        A + 1000,
        B - 1000,
        (A >> 1) + (B >> 2),
        A * 3 + B * 5,
        -1,
    ]
    out += [f"sw {i} {v}" for i, v in enumerate(sw)]
    days = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "never"]
    out += [f"day {days[d % 8]}" for d in range(k, k + 8)]
    numbers = "zero one two three four five six seven eight nine".split()
    out += [f"node {n}" for n in ("first", "second", "third", "fourth")]
    out += [
        "node_sum=10",
        f"number {numbers[k]}",
        "word alpha",
        "word beta",
        "word gamma",
        "tail " + "initialised char array"[12:],
        f"table_sum={sum([1, 1, 2, 3, 5, 8, 13, 21])}",
        "anything1=3",
        f"blob0={0xDE}",
        "anything2 nine",
        f"big_init {hex(0x123456789ABCDEF)}",
        "big.v4=5",
        f"big.v39={k}",
        "big.name template",
    ]
    out += [f"common_counter={5 + 37 + k}", f"common_array={37 + k}", "common_only_here=0", f"common_only_here={-k}"]
    out += [
        f"hook={k * 100}",
        f"weak_default={k * 2}",
        "weak_data=77",
        "weak_kept=6",
        "missing_func_null=1",
        "missing_data_null=1",
    ]

    def fib(n: int) -> int:
        x, y = 0, 1
        for _ in range(n):
            x, y = y, x + y
        return x

    out += [
        f"fib={fib(20 + k)}",
        f"ack={2 * k + 3}",
        f"is_even={int((100 + k) % 2 == 0)}",
        f"gcd={math.gcd(1234567890123 * k, 9876543210 * k)}",
        f"hanoi={2 ** (10 + k) - 1}",
        "counter=111213",
        "static local pointer",
        "local pointer",
    ]
    n = 1 << 20
    out += [
        "bss_zero=1",
        f"bss_sum={sum((i * k) & 0xFF for i in range(256)) * (n // 256)}",
        f"table_sum={sum((i ^ k) * i for i in range(65536)) & M64}",
        f"last={((n - 1) * k) & 0xFF}",
    ]
    ua = (0x0123456789ABCDEF * k) & M64
    ub = 1000000007 + k
    s = _s64(-ua)
    u = (0xDEADBEEF + k) & 0xFFFFFFFF
    i32 = -1000 - k
    out += [
        f"mul={ua}",
        f"div={ua // ub}",
        f"mod={ua % ub}",
        f"sdiv={_c_div(s, 12345)}",
        f"smod={_c_mod(s, 12345)}",
        f"sdiv2={_c_div(s, -ub)}",
        f"shr={ua >> (k + 30)}",
        f"shl={(ua << (k + 20)) & M64}",
        f"sar={s >> 17}",
        f"divbig={M64 // ((1 << 32) + k)}",
        f"mul32={0xFFFFFFFF * ((0xFFFFFFF0 + k) & 0xFFFFFFFF)}",
        f"udiv32={u // (k + 7)}",
        f"umod32={u % (k + 7)}",
        f"idiv32={_c_div(i32, k)}",
        f"imod32={_c_mod(i32, k)}",
        f"double={int(k * 1.25 * 1000.0 + 0.5)}",
        f"double_div={int(1000000.0 / k)}",
        "failures=0",
    ]
    return "\n".join(out) + "\n"
