"""Imported data that non-PIC code uses directly: copy relocations, under glibc's real loader.

The executable reads ``lib_counter`` (an int the library defines and updates) straight from
its own ``.dynbss`` copy; after the library bumps it, both sides must see the same value,
which only holds if the loader bound the library's references to the executable's copy."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import dynlink, run_dyncc, run_program
from elftools.elf.elffile import ELFFile

from toolchain.arch import get_arch

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dynprogs")
GNU = {n: get_arch(n).gnu_triple for n in ("386", "amd64", "arm")}  # zig targets linked against glibc
COPY = {"386": "R_386_COPY", "amd64": "R_X86_64_COPY", "arm": "R_ARM_COPY"}


@pytest.mark.parametrize("arch,flags", [("386", []), ("arm", []), ("amd64", ["-fno-pic", "-fno-pie"])])
def test_copy_relocations(tmp_path, arch, flags):
    lib = tmp_path / "libcpy.so"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ziglang",
            "cc",
            "-target",
            GNU[arch],
            "-shared",
            "-fPIC",
            "-O2",
            "-o",
            str(lib),
            os.path.join(SRC, "libcpy.c"),
        ],
        check=True,
        capture_output=True,
    )
    obj = str(tmp_path / "copyreloc.o")
    r = run_dyncc(["-a", arch, "-c", os.path.join(SRC, "copyreloc.c"), "-o", obj, "-O2", *flags])
    assert r.returncode == 0, r.stderr
    prog = str(tmp_path / "prog")
    r = dynlink(arch, prog, [obj], "-L", str(tmp_path))
    assert r.returncode == 0, r.stderr
    for bind_now in ("", "1"):
        env = {**os.environ, "LD_LIBRARY_PATH": str(tmp_path), "LD_BIND_NOW": bind_now}
        res = run_program(arch, prog, env=env)
        assert res.stdout == b"copied library\nshared counter ok\n" and res.returncode == 0, res.stderr
    relocs = subprocess.run(["readelf", "-rW", prog], capture_output=True, text=True).stdout
    assert relocs.count(COPY[arch]) == 2
    with open(prog, "rb") as f:
        e = ELFFile(f)
        dyn = {s.name: s for s in e.get_section_by_name(".dynsym").iter_symbols()}
        for name, size in (("lib_counter", 4), ("lib_name", 16)):
            assert dyn[name]["st_shndx"] != "SHN_UNDEF" and dyn[name]["st_size"] == size
            assert dyn[name]["st_info"]["type"] == "STT_OBJECT"
            assert e.get_section(dyn[name]["st_shndx"]).name == ".dynbss"
            assert e.get_section_by_name(".gnu.hash").get_symbol(name) is not None
    lint = subprocess.run(["eu-elflint", "--gnu-ld", prog], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


@pytest.mark.parametrize("arch", ["386", "arm"])  # amd64 code is -fpie by default: data goes through the GOT
def test_data_import_without_library_is_a_clear_error(tmp_path, arch):
    """When the library cannot be found at link time, direct data use from code is refused."""
    obj = str(tmp_path / "copyreloc.o")
    assert run_dyncc(["-a", arch, "-c", os.path.join(SRC, "copyreloc.c"), "-o", obj, "-O2"]).returncode == 0
    r = dynlink(arch, str(tmp_path / "prog"), [obj])
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "lib_counter" in r.stderr and "libcpy.so (not found; give -L DIR)" in r.stderr
    assert not os.path.exists(tmp_path / "prog")
