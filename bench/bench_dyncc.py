"""dyncc against the bare compiler: Lua's 33 C files, and start-up on a small file.

    python bench/bench_dyncc.py [--lua PATH] [--arch amd64] [--rounds 3]
                                [--cflags "-O2 -std=c99 -DLUA_USE_LINUX"] [--json FILE]

Lua (``lua-5.5.1.tar.gz`` of the shared real-world directory: ``--lua``, or
``$DYNTOOLS_REALWORLD``, or a ``shared/realworld`` directory above this checkout)
is unpacked into a temporary directory, and each of its 33 interpreter and library
files (every ``.c`` but ``onelua.c`` and ``ltests.c``) is compiled to an object, one
process after the other, by

- ``python -m ziglang cc -c`` with exactly the flags dyncc gives zig (the arch's
  target and defaults, glibc's headers, the user's ``--cflags``), and
- ``python -m toolchain.cc.driver -a ARCH -c`` (dyncc) with ``--cflags``.

The two alternate file by file (which goes first alternates by round), so the
machine's load drifts over both alike.  Every round starts both with empty zig
caches (``ZIG_GLOBAL_CACHE_DIR``/``ZIG_LOCAL_CACHE_DIR``): zig caches a ``-c``
compile without dependency file and would then skip the compiler, which dyncc
(always with one) never does; Python writes byte code under the work directory
(``PYTHONPYCACHEPREFIX``), as an installed package has it.  Each dyncc object's allocated sections must equal
those of the bare compiler's object made with a dependency file as well (with one,
zig orders mergeable constants differently), else no numbers and exit status 1.  Printed: the best round's
total per tool and their ratio (the target is at most 1.2), then the same for a
small file (start-up: the median of 7 runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from toolchain.arch import get_arch  # noqa: E402
from toolchain.cc.driver import compiler_command  # noqa: E402
from toolchain.elf import SHF_ALLOC, ElfFile  # noqa: E402

LUA_TARBALL = "lua-5.5.1.tar.gz"
NOT_IN_THE_INTERPRETER = ("onelua.c", "ltests.c")
SMALL_SOURCE = "#include <stdio.h>\nint twice(int x) { return 2 * x; }\n"


def find_lua(given: str | None) -> str | None:
    """The Lua tarball: ``given``, ``$DYNTOOLS_REALWORLD/…``, or ``shared/realworld/…`` above the checkout."""
    if given:
        return given
    candidates = []
    if os.environ.get("DYNTOOLS_REALWORLD"):
        candidates.append(os.path.join(os.environ["DYNTOOLS_REALWORLD"], LUA_TARBALL))
    d = ROOT
    while True:
        candidates.append(os.path.join(d, "shared", "realworld", LUA_TARBALL))
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    return next((c for c in candidates if os.path.exists(c)), None)


def unpack(tarball: str, into: str) -> str:
    """Unpack Lua into ``into``; return the directory holding its sources."""
    with tarfile.open(tarball) as t:
        t.extractall(into, filter="data")
    return os.path.join(into, "lua")


def lua_sources(src_dir: str) -> list[str]:
    """The interpreter's and libraries' C files."""
    return sorted(f for f in os.listdir(src_dir) if f.endswith(".c") and f not in NOT_IN_THE_INTERPRETER)


def _run(cmd: list[str], cwd: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode("utf-8", "replace"))
        raise SystemExit(f"bench_dyncc: failed: {shlex.join(cmd)}")
    return elapsed


def _fresh_caches(base: str, tag: str) -> dict[str, str]:
    d = tempfile.mkdtemp(prefix=f"zigcache-{tag}-", dir=base)
    env = dict(os.environ)
    env["ZIG_GLOBAL_CACHE_DIR"] = os.path.join(d, "global")
    env["ZIG_LOCAL_CACHE_DIR"] = os.path.join(d, "local")
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # byte-compiled modules, as an installed package has them (some environments turn that off)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(base, "pycache")
    env.pop("DYNCC_CC", None)
    return env


def commands(arch: str, cflags: list[str], src: str, out_zig: str, out_dyncc: str) -> tuple[list[str], list[str]]:
    """(bare compiler command, dyncc command) for one file."""
    zig_cc = compiler_command(get_arch(arch), cflags)
    cc_at = zig_cc.index("cc")
    bare = [sys.executable, "-m", "ziglang", *zig_cc[cc_at:], "-c", src, "-o", out_zig]
    dyncc = [sys.executable, "-m", "toolchain.cc.driver", "-a", arch, *cflags, "-c", src, "-o", out_dyncc]
    return bare, dyncc


def allocated_sections(path: str) -> dict[str, bytes]:
    """Name -> bytes of the object's allocated sections (what ends up in a program)."""
    with open(path, "rb") as f:
        elf = ElfFile(f.read(), path)
    return {s.name: bytes(elf.section_data(s)) for s in elf.sections if s.flags & SHF_ALLOC}


def bench_files(
    arch: str, cflags: list[str], src_dir: str, files: list[str], rounds: int, work: str
) -> tuple[float, float]:
    """Best round's (bare total, dyncc total) over ``files`` in seconds."""
    totals: list[tuple[float, float]] = []
    for r in range(rounds):
        env_bare, env_dyncc = _fresh_caches(work, "bare"), _fresh_caches(work, "dyncc")
        bare_t = dyncc_t = 0.0
        for name in files:
            src = os.path.join(src_dir, name)
            out_bare = os.path.join(work, f"bare-{name}.o")
            out_dyncc = os.path.join(work, f"dyncc-{name}.o")
            bare, dyncc = commands(arch, cflags, src, out_bare, out_dyncc)
            if r % 2 == 0:
                bare_t += _run(bare, src_dir, env_bare)
                dyncc_t += _run(dyncc, src_dir, env_dyncc)
            else:
                dyncc_t += _run(dyncc, src_dir, env_dyncc)
                bare_t += _run(bare, src_dir, env_bare)
            if r == 0:
                # the reference: the bare compiler writing a dependency file too, as dyncc has it do
                # (zig then orders mergeable constants differently than in its cached path)
                ref = os.path.join(work, f"ref-{name}.o")
                _run([*bare[:-2], "-MD", "-MF", ref + ".d", "-o", ref], src_dir, env_bare)
                if allocated_sections(ref) != allocated_sections(out_dyncc):
                    raise SystemExit(f"bench_dyncc: {name}: dyncc's object differs from the bare compiler's")
        totals.append((bare_t, dyncc_t))
    return min(t[0] for t in totals), min(t[1] for t in totals)


def bench_small(arch: str, cflags: list[str], work: str, runs: int = 7) -> tuple[float, float]:
    """Median (bare, dyncc) seconds for one small file, fresh caches each run."""
    src = os.path.join(work, "small.c")
    with open(src, "w") as f:
        f.write(SMALL_SOURCE)
    bare_ts, dyncc_ts = [], []
    for _ in range(runs):
        bare, dyncc = commands(arch, cflags, src, src + ".bare.o", src + ".dyncc.o")
        bare_ts.append(_run(bare, work, _fresh_caches(work, "sb")))
        dyncc_ts.append(_run(dyncc, work, _fresh_caches(work, "sd")))
    return statistics.median(bare_ts), statistics.median(dyncc_ts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="dyncc vs the bare compiler on Lua's C files")
    p.add_argument("--lua", help=f"{LUA_TARBALL} or an unpacked lua/ directory")
    p.add_argument("--arch", default="amd64", help="comma-separated arches (default amd64)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--cflags", default="-O2 -std=c99 -DLUA_USE_LINUX")
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args(argv)
    lua = find_lua(a.lua)
    if lua is None:
        print(f"bench_dyncc: {LUA_TARBALL} not found (use --lua or $DYNTOOLS_REALWORLD)", file=sys.stderr)
        return 1
    cflags = shlex.split(a.cflags)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-dyncc-") as work:
        src_dir = lua if os.path.isdir(lua) else unpack(lua, work)
        files = lua_sources(src_dir)
        print(f"Lua: {len(files)} files, flags {a.cflags!r}, best of {a.rounds} rounds, fresh zig caches")
        for arch in a.arch.split(","):
            bare, dyncc = bench_files(arch, cflags, src_dir, files, a.rounds, work)
            sb, sd = bench_small(arch, cflags, work)
            results.append(
                {"arch": arch, "files": len(files), "zig_cc_s": bare, "dyncc_s": dyncc, "ratio": dyncc / bare,
                 "small_zig_cc_s": sb, "small_dyncc_s": sd, "small_ratio": sd / sb}
            )  # fmt: skip
            for what, zt, dt in (("lua", bare, dyncc), ("small", sb, sd)):
                print(f"{arch:6} {what:6} python -m ziglang cc {zt:7.3f} s   dyncc {dt:7.3f} s   ratio {dt / zt:.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
