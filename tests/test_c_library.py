"""The hermetic C library: zig's glibc stubs, start files and compiler-rt per arch, found like a libc6-dev.

Builds (once, then cached in dyntools' cache) with zig; symbols are checked with
binutils' ``nm``/``readelf``, not with dyntools' own readers.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from toolchain.arch import get_arch
from toolchain.linker import glibc, libsearch

ARCHES = ("386", "amd64", "arm")

# The helpers each arch's compiled C calls for 64-bit arithmetic and int64 <-> double.
HELPERS = {
    "386": {"__udivdi3", "__divdi3", "__moddi3", "__umoddi3", "__fixdfdi", "__floatdidf", "__floatundidf"},
    "amd64": {"__udivti3", "__divti3"},
    # GNU names (objects compiled for arm-linux-none) and EABI names (arm-linux-gnueabihf)
    "arm": {"__fixdfdi", "__floatdidf", "__floatundidf", "__aeabi_uldivmod", "__aeabi_ldivmod", "__aeabi_d2lz"},
}

needs_binutils = pytest.mark.skipif(shutil.which("nm") is None or shutil.which("readelf") is None, reason="binutils")


def nm_defined(path: str) -> set[str]:
    out = subprocess.run(["nm", "-g", "--defined-only", path], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if len(line.split()) == 3}


def nm_undefined(path: str) -> set[str]:
    out = subprocess.run(["nm", "-u", path], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


@needs_binutils
@pytest.mark.parametrize("arch", ARCHES)
def test_c_library_directory(arch):
    a = get_arch(arch)
    lib = glibc.c_library(a)
    assert lib.glibc_target == a.glibc_target
    assert lib.loader_soname == os.path.basename(a.interp)
    # start file: _start calls __libc_start_main with main
    assert "_start" in nm_defined(lib.crt1)
    assert {"__libc_start_main", "main"} <= nm_undefined(lib.crt1)
    # stubs carry glibc's versions, readable by readelf
    dyn = subprocess.run(["readelf", "--dyn-syms", "-W", lib.shared["libc.so.6"]], capture_output=True, text=True)
    assert " printf@@GLIBC_" in dyn.stdout and " __libc_start_main@@GLIBC_2.34" in dyn.stdout
    soname = subprocess.run(["readelf", "-d", lib.shared["libm.so.6"]], capture_output=True, text=True).stdout
    assert "Library soname: [libm.so.6]" in soname
    # compiler-rt: every helper the arch's code may call
    rt = set().union(*(nm_defined(p) for p in lib.compiler_rt))
    assert HELPERS[arch] <= rt


@pytest.mark.parametrize("arch", ARCHES)
def test_minus_l_finds_the_c_library(arch):
    a = get_arch(arch)
    lib = glibc.c_library(a)
    dirs = libsearch.search_dirs([], lib.directory, [])
    args = [libsearch.InputArg(n, True) for n in ("c", "m", "pthread", "dl")]
    found = libsearch.resolve_inputs(args, dirs)
    d = lib.directory
    assert [(os.path.relpath(f.path, d), f.kind, f.as_needed) for f in found] == [
        ("libc.so.6", "shared", True),
        ("libc_nonshared.a", "archive", True),
        (lib.loader_soname, "shared", True),
        ("libm.so.6", "shared", True),
        ("libpthread.a", "archive", True),
        ("libdl.a", "archive", True),
    ]


@pytest.mark.parametrize("arch", ARCHES)
def test_real_library_when_installed(arch):
    a = get_arch(arch)
    real = glibc.real_library(a, "libc.so.6")
    candidates = [os.path.join(d, "libc.so.6") for d in a.lib_dirs]
    if not any(os.path.isfile(c) for c in candidates):
        assert real is None
        pytest.skip(f"no {arch} libc.so.6 installed")
    assert real in candidates
    assert glibc.real_library(a, "libnothere.so.9") is None
