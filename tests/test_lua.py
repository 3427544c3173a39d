"""Lua 5.5, code nobody here wrote: every .c file built with dyncc, linked with ``dynlink -lc -lm -E``.

No pragma is written by hand: libc and libm come from ``-lc -lm`` (zig's glibc), the
start files and compiler-rt are added by the linker, and ``-E`` exports the API for C
modules. ``lua -v`` and the official test suite's basic run (``testes/all.lua`` with
``-e "_U=true"``) must end with ``final OK``. amd64 runs in the default suite; 386 and
arm (under QEMU) take longer and are marked ``slow``.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys

import pytest
from conftest import RELOCATION_PATHS, run_program, tool_env
from hosted_build import dynlink
from lua_build import build_objects, find_tarball, unpack

from toolchain.arch import get_arch

TARBALL = find_tarball()
pytestmark = pytest.mark.skipif(TARBALL is None, reason="../shared/realworld/lua-5.5.1.tar.gz not found")


@pytest.fixture(scope="session")
def lua_root(tmp_path_factory, worker_id) -> str:
    """Where Lua is unpacked and built, shared by xdist workers."""
    base = tmp_path_factory.getbasetemp()
    root = os.path.join(str(base if worker_id == "master" else base.parent), "lua-shared")
    assert TARBALL is not None
    unpack(TARBALL, root)
    return root


def _small_stack() -> None:
    # the test suite's own setting (ulimit -S -s 1100): its stack-overflow tests end sooner
    _soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    resource.setrlimit(resource.RLIMIT_STACK, (1100 * 1024, hard))


@pytest.mark.parametrize(
    "arch", ["amd64", pytest.param("386", marks=pytest.mark.slow), pytest.param("arm", marks=pytest.mark.slow)]
)
def test_lua_links_and_passes_its_test_suite(lua_root, tmp_path, arch):
    objs = build_objects(arch, os.path.join(lua_root, "lua"), os.path.join(lua_root, f"obj-{arch}"))
    exe = str(tmp_path / "lua")
    r = dynlink(arch, exe, [*objs, "-lc", "-lm", "-E"], env=RELOCATION_PATHS["python"])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    if shutil.which("eu-elflint"):
        lint = subprocess.run(["eu-elflint", "--gnu-ld", exe], capture_output=True, text=True)
        assert lint.stdout.strip() == "No errors", lint.stdout
    version = run_program(arch, exe, ["-v"])
    assert version.returncode == 0 and version.stdout.startswith(b"Lua 5.5"), version
    testes = os.path.join(lua_root, "lua", "testes")
    cmd = [*get_arch(arch).runner(), exe, "-W", "-e", "_U=true", "all.lua"]
    p = subprocess.run(
        cmd, cwd=testes, capture_output=True, timeout=600, stdin=subprocess.DEVNULL, preexec_fn=_small_stack
    )
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0 and "final OK" in out, out[-2000:] + p.stderr.decode(errors="replace")[-2000:]
    # The same link with its relocations applied in bulk by C (too small a link to use it by
    # default) is the same program, byte for byte.
    with open(exe, "rb") as f:
        passed = f.read()
    bulk = str(tmp_path / "lua-native")
    r = dynlink(arch, bulk, [*objs, "-lc", "-lm", "-E"], env=RELOCATION_PATHS["native"])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    with open(bulk, "rb") as f:
        assert f.read() == passed


def test_lua_builds_with_its_own_makefile_and_cc_dyncc(lua_root, tmp_path):
    """What a user does first: Lua's own makefile, ``make CC=dyncc``: its compile rules, ``ar`` and
    ``ranlib``, and its link line (``-Wl,-E ... -lm -ldl``), with nothing of ours in it."""
    if shutil.which("make") is None:
        pytest.fail("make is needed (.ci/setup installs it)")
    src = tmp_path / "lua"
    shutil.copytree(os.path.join(lua_root, "lua"), src, ignore=shutil.ignore_patterns("*.o", "*.a", "lua", "all"))
    dyncc = f"{sys.executable} -m toolchain.cc.driver"
    r = subprocess.run(
        ["make", "-j2", f"CC={dyncc}"], cwd=src, env=tool_env(), capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    exe = str(src / "lua")
    script = "print(string.format('%5.2f', math.pi), #table.concat({1, 2, 3}, ','), utf8.char(233))"
    p = run_program("amd64", exe, ["-e", script])
    assert (p.returncode, p.stdout) == (0, " 3.14\t5\t\u00e9\n".encode())  # %5.2f: five wide
    dynsyms = subprocess.run(["readelf", "-W", "--dyn-syms", exe], capture_output=True, text=True).stdout
    assert " lua_pushnumber" in dynsyms  # -Wl,-E: the API exported for C modules
