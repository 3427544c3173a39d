"""Link time of Lua 5.5 (33 C files, real code) with dynlink, ld.lld and GNU ld, as a ratio.

Lua's interpreter files are compiled once per arch with dyncc (hosted: glibc's headers)
and cached under ``bench/.cache/lua-ARCH/``; then the same objects are linked against
the same C library (dyntools' hermetic glibc directory: zig's glibc stubs, ``crt1.o``,
``libc_nonshared.a``, compiler-rt) by:

- ``dynlink (in-process)``: ``toolchain.linker.main.link`` after one warm-up link;
- ``dynlink``: ``python -m toolchain.linker.command -a ARCH -o lua objs -lc -lm -E`` (the ``dynlink`` command's entry);
- ``ld.lld``: zig's, with the same start file, libraries and ``-E --as-needed -z relro``;
- ``GNU ld``: the same command (amd64 and 386: the installed binutils has no ARM target).

Best of ``--runs``; every output must then run ``lua -v`` (arm under qemu-arm). Ratios
are dynlink's time over each peer's.

    python bench/bench_lua_link.py                       # amd64 386 arm, best of 5
    python bench/bench_lua_link.py --arch amd64 --runs 3
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for path in (ROOT, os.path.join(ROOT, "tests")):
    if path not in sys.path:
        sys.path.insert(0, path)

import bench_link  # noqa: E402
from lua_build import build_objects, find_tarball, unpack  # noqa: E402

from toolchain.arch import get_arch  # noqa: E402
from toolchain.cc.driver import zig_command  # noqa: E402
from toolchain.linker import glibc  # noqa: E402
from toolchain.linker.main import link, parse_args  # noqa: E402

EMULATION = {"amd64": "elf_x86_64", "386": "elf_i386", "arm": "armelf_linux_eabi"}
CACHE = os.path.join(HERE, ".cache")


def peer_commands(arch: str, out: str, objs: list[str]) -> dict[str, list[str]]:
    """The ld.lld and GNU ld command lines that link what ``dynlink -lc -lm -E`` links (to ``out-NAME``)."""
    a = get_arch(arch)
    lib = glibc.c_library(a)
    common = [
        "-m",
        EMULATION[arch],
        "--dynamic-linker",
        a.interp,
        "-E",
        "--as-needed",
        "-z",
        "relro",
        "--hash-style=both",
        lib.crt1,
        *objs,
        "-L",
        lib.directory,
        "-lc",
        "-lm",
        *lib.compiler_rt,
    ]
    cmds = {"ld.lld": [*zig_command(), "ld.lld", "-o", f"{out}-lld", *common]}
    if arch != "arm" and shutil.which("ld"):
        cmds["GNU ld"] = ["ld", "-o", f"{out}-bfd", *common]
    return cmds


def best_of(runs: int, fn) -> float:
    """The shortest of ``runs`` timings of ``fn()``."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def run_checked(cmd: list[str]) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"bench_lua_link: {' '.join(cmd[:3])}...: {r.stderr.strip()[-500:]}")


def measure(arch: str, objs: list[str], runs: int, tmp: str, installed: str | None = None) -> dict[str, float]:
    """Seconds per linker (best of ``runs``); each output is checked by running ``lua -v``.

    ``installed``: a ``dynlink`` command to time as well (an installed ``dynlink`` script, for
    example in a fresh virtual environment), as it is, in the caller's environment.
    """
    env = bench_link.command_env()
    outs: dict[str, str] = {}
    times: dict[str, float] = {}
    out = outs["dynlink (in-process)"] = os.path.join(tmp, f"lua-{arch}-inproc")
    opts = parse_args(["-a", arch, "-o", out, *objs, "-lc", "-lm", "-E"])
    link(opts)  # warm-up: imports loaded, files cached, the C library directory built
    gc.collect()
    times["dynlink (in-process)"] = best_of(runs, lambda: link(opts))
    out = outs["dynlink"] = os.path.join(tmp, f"lua-{arch}-sub")
    cmd = [sys.executable, "-m", "toolchain.linker.command", "-a", arch, "-o", out, *objs, "-lc", "-lm", "-E"]
    subprocess.run(cmd, check=True, env=env)  # warm-up: modules byte-compiled, shared libraries cached
    times["dynlink"] = best_of(runs, lambda: subprocess.run(cmd, check=True, env=env))
    if installed:
        out = outs["dynlink (installed)"] = os.path.join(tmp, f"lua-{arch}-installed")
        cmd2 = [installed, "-a", arch, "-o", out, *objs, "-lc", "-lm", "-E"]
        subprocess.run(cmd2, check=True)
        times["dynlink (installed)"] = best_of(runs, lambda: subprocess.run(cmd2, check=True))
    for name, peer in peer_commands(arch, os.path.join(tmp, f"lua-{arch}"), objs).items():
        outs[name] = peer[peer.index("-o") + 1]
        run_checked(peer)
        times[name] = best_of(runs, lambda peer=peer: run_checked(peer))
    runner = get_arch(arch).runner()
    for name, exe in outs.items():
        r = subprocess.run([*runner, exe, "-v"], capture_output=True, text=True)
        if r.returncode != 0 or not r.stdout.startswith("Lua 5.5"):
            raise SystemExit(f"bench_lua_link: {name}'s {arch} lua does not run: {r.stdout}{r.stderr}")
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", default="amd64,386,arm", help="comma-separated arches (default: all three)")
    p.add_argument("--runs", type=int, default=5, help="timed links per linker (best is shown)")
    p.add_argument(
        "--installed",
        metavar="DYNLINK",
        help="also time this dynlink command, e.g. the dynlink script of a fresh venv (VENV/bin/dynlink)",
    )
    a = p.parse_args(argv)
    tarball = find_tarball()
    if tarball is None:
        print("bench_lua_link: lua-5.5.1.tar.gz not found (../shared/realworld or $DYNTOOLS_REALWORLD)")
        return 1
    src = unpack(tarball, os.path.join(CACHE, "lua-src"))
    print(f"{'arch':<6} {'linker':<22} {'seconds':>8} {'dynlink / this':>15}")
    with tempfile.TemporaryDirectory(prefix="bench-lua-") as tmp:
        for arch in a.arch.split(","):
            objs = build_objects(arch, src, os.path.join(CACHE, f"lua-{arch}"))
            times = measure(arch, objs, a.runs, tmp, a.installed)
            ours = times["dynlink"]
            for name, t in times.items():
                ratio = "" if name.startswith("dynlink") else f"{ours / t:14.1f}x"
                print(f"{arch:<6} {name:<22} {t:8.3f} {ratio:>15}")
            if a.installed:
                ratios = ", ".join(
                    f"{times['dynlink (installed)'] / times[n]:.1f}x {n}" for n in times if "ld" in n[:6]
                )
                print(f"{arch:<6} dynlink (installed) / peers: {ratios}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
