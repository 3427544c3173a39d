"""shlib: the dynamic symbols, versions, soname and needed list of a shared object.

A tiny 64-bit shared object is built here byte by byte (the layout written out from
the ELF and symbol-versioning specifications, not produced by the code under test);
the machine's own C libraries, when installed, are checked against ``readelf``.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess

import pytest

from toolchain import elf
from toolchain.errors import DynError
from toolchain.linker import shlib

STT_FUNC, STT_OBJECT = 2, 1
GLOBAL, WEAK, LOCAL = 1, 2, 0


def build_shared_object(
    symbols: list[tuple[str, int, int, int, int, int]],  # (name, bind, type, shndx, versym, visibility)
    versions: list[str],  # version names; index 1 is the file (VER_FLG_BASE), these get 2, 3, ...
    soname: str = "libdemo.so.1",
    needed: tuple[str, ...] = (),
    e_type: int = 3,
) -> bytes:
    """An ELF64 little-endian x86-64 file with .dynsym, .dynstr, .gnu.version, .gnu.version_d, .dynamic."""
    dynstr = bytearray(b"\0")

    def s(text: str) -> int:
        off = len(dynstr)
        dynstr.extend(text.encode() + b"\0")
        return off

    dynsym = bytearray(24)
    versym = bytearray(2)
    for name, bind, typ, shndx, ver, vis in symbols:
        dynsym += struct.pack("<IBBHQQ", s(name), (bind << 4) | typ, vis, shndx, 0x1000, 8)
        versym += struct.pack("<H", ver)
    verdef = bytearray()
    names = [soname, *versions]
    for i, vname in enumerate(names):
        last = i == len(names) - 1
        verdef += struct.pack(
            "<HHHHIII", 1, 1 if i == 0 else 0, i + 1, 1, elf.sysv_hash(vname.encode()), 20, 0 if last else 28
        )
        verdef += struct.pack("<II", s(vname), 0)
    dynamic = bytearray()
    for lib in needed:
        dynamic += struct.pack("<qQ", 1, s(lib))
    dynamic += struct.pack("<qQ", 14, s(soname)) + struct.pack("<qQ", 0, 0)
    shstr = b"\0.dynsym\0.dynstr\0.gnu.version\0.gnu.version_d\0.dynamic\0.shstrtab\0"
    # (name offset, type, link, info, entsize, data)
    secs = [
        (1, elf.SHT_DYNSYM, 2, 1, 24, bytes(dynsym)),
        (9, elf.SHT_STRTAB, 0, 0, 0, bytes(dynstr)),
        (17, elf.SHT_GNU_VERSYM, 1, 0, 2, bytes(versym)),
        (30, elf.SHT_GNU_VERDEF, 2, len(names), 0, bytes(verdef)),
        (45, elf.SHT_DYNAMIC, 2, 0, 16, bytes(dynamic)),
        (54, elf.SHT_STRTAB, 0, 0, 0, shstr),
    ]
    body = bytearray(64)
    headers = bytearray(64)  # the null section
    for name, typ, link, info, entsize, data in secs:
        body += b"\0" * (-len(body) % 8)
        headers += struct.pack("<IIQQQQIIQQ", name, typ, 2, 0, len(body), len(data), link, info, 8, entsize)
        body += data
    body += b"\0" * (-len(body) % 8)
    shoff = len(body)
    ident = b"\x7fELF" + bytes([2, 1, 1]) + b"\0" * 9
    hdr = ident + struct.pack("<HHIQQQIHHHHHH", e_type, 62, 1, 0, 0, shoff, 0, 64, 56, 0, 64, len(secs) + 1, len(secs))
    body[:64] = hdr
    return bytes(body + headers)


DEMO = [
    ("puts", GLOBAL, STT_FUNC, 7, 2, 0),  # puts@@V1
    ("memcpy", GLOBAL, STT_FUNC, 7, 2 | 0x8000, 0),  # memcpy@V1 (hidden)
    ("memcpy", GLOBAL, STT_FUNC, 7, 3, 0),  # memcpy@@V2
    ("old", GLOBAL, STT_FUNC, 7, 2 | 0x8000, 0),  # old@V1 only
    ("environ", WEAK, STT_OBJECT, 9, 2, 0),
    ("plain", GLOBAL, STT_FUNC, 7, 1, 0),  # unversioned (the base version)
    ("undef", GLOBAL, STT_FUNC, 0, 0, 0),  # undefined: not offered
    ("secret", GLOBAL, STT_FUNC, 7, 2, 2),  # STV_HIDDEN: not offered
]


def test_reads_soname_needed_and_versions():
    lib = shlib.parse_shared_library(build_shared_object(DEMO, ["V1", "V2"], needed=("libdep.so.2",)), "demo.so")
    assert lib.soname == "libdemo.so.1"
    assert lib.needed == ("libdep.so.2",)
    assert lib.versions == {"V1", "V2"}
    assert (lib.machine, lib.bits) == (elf_machine_x86_64(), 64)
    assert set(lib.symbols) == {"puts", "memcpy", "old", "environ", "plain"}


def elf_machine_x86_64() -> int:
    return 62


def test_default_and_hidden_versions():
    lib = shlib.parse_shared_library(build_shared_object(DEMO, ["V1", "V2"]), "demo.so")
    assert lib.default_definition("puts").version == "V1"
    memcpy = lib.default_definition("memcpy")
    assert (memcpy.version, memcpy.default) == ("V2", True)
    assert lib.definition("memcpy", "V1").default is False
    assert lib.default_definition("old") is None
    assert lib.definition("old", "V1") is not None
    plain = lib.default_definition("plain")
    assert (plain.version, plain.default) == ("", True)
    env = lib.default_definition("environ")
    assert (env.is_data, env.is_function, env.bind) == (True, False, WEAK)


def test_missing_says_why():
    lib = shlib.parse_shared_library(build_shared_object(DEMO, ["V1", "V2"]), "demo.so")
    assert lib.missing("puts") is None
    assert lib.missing("memcpy", "V1") is None
    assert "does not define nothere" in lib.missing("nothere")
    msg = lib.missing("memcpy", "V9")
    assert "no memcpy at version V9" in msg and "V1, V2" in msg
    assert "only at old versions" in lib.missing("old")


def test_not_a_shared_object():
    with pytest.raises(DynError, match="not a shared library"):
        shlib.parse_shared_library(build_shared_object(DEMO, ["V1"], e_type=1), "x.o")
    with pytest.raises(DynError, match="not an ELF file"):
        shlib.parse_shared_library(b"GROUP ( libc.so.6 )", "libc.so")


def test_bad_version_index_is_an_error():
    bad = [("f", GLOBAL, STT_FUNC, 7, 9, 0)]
    with pytest.raises(DynError, match="version index 9"):
        shlib.parse_shared_library(build_shared_object(bad, ["V1"]), "bad.so")


def test_read_is_memoised(tmp_path):
    p = tmp_path / "libdemo.so.1"
    p.write_bytes(build_shared_object(DEMO, ["V1", "V2"]))
    assert shlib.read_shared_library(str(p)) is shlib.read_shared_library(str(p))
    with pytest.raises(DynError, match="No such file"):
        shlib.read_shared_library(str(tmp_path / "nothere.so"))


def test_is_shared_library_header():
    assert shlib.is_shared_library(build_shared_object(DEMO, ["V1", "V2"])[:64])
    assert not shlib.is_shared_library(build_shared_object(DEMO, ["V1"], e_type=1)[:64])


_READELF_SYM = re.compile(r"^\s*\d+:\s+[0-9a-f]+\s+\d+\s+(\w+)\s+(\w+)\s+(\w+)\s+(\w+)\s+(\S+)(?:\s+\(\d+\))?$")

SYSTEM_LIBS = [
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/lib/x86_64-linux-gnu/libm.so.6",
    "/lib32/libc.so.6",
    "/usr/arm-linux-gnueabihf/lib/libc.so.6",
]


@pytest.mark.parametrize("path", SYSTEM_LIBS)
def test_agrees_with_readelf_on_system_libraries(path):
    if not os.path.isfile(path) or shutil.which("readelf") is None:
        pytest.skip(f"{path} or readelf not installed")
    out = subprocess.run(["readelf", "--dyn-syms", "-W", path], capture_output=True, text=True, check=True).stdout
    expected: set[tuple[str, str, bool]] = set()
    for line in out.splitlines():
        m = _READELF_SYM.match(line)
        if not m:
            continue
        _type, bind, vis, ndx, name = m.groups()
        if ndx == "UND" or bind == "LOCAL" or vis in ("HIDDEN", "INTERNAL"):
            continue
        if "@@" in name:
            sym, ver = name.split("@@")
            expected.add((sym, ver, True))
        elif "@" in name:
            sym, ver = name.split("@")
            expected.add((sym, ver, False))
        else:  # readelf leaves the version off the symbols that name a version (GLIBC_2.7@@GLIBC_2.7)
            expected.add((name, name if ndx == "ABS" and name.startswith(("GLIBC_", "GCC_")) else "", True))
    lib = shlib.read_shared_library(path)
    got = {(d.name, d.version, d.default) for defs in lib.symbols.values() for d in defs}
    assert got == expected
    assert lib.soname == os.path.basename(path)
    assert lib.default_definition("printf" if "libc" in path else "sqrt") is not None


# --- the cache between processes ---------------------------------------------------------


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache directory and no memo: what a new process on a new machine sees."""
    monkeypatch.setenv("DYNTOOLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(shlib, "_MEMO", {})
    monkeypatch.setattr(shlib, "CACHE_MIN_SIZE", 0)  # the test libraries are small
    return tmp_path / "cache"


def _as_set(lib: shlib.SharedLibrary) -> set:
    return {tuple(d) for defs in lib.symbols.values() for d in defs}


def _new_process(monkeypatch) -> None:
    """Forget the memo and make parsing fail, so only the cache can answer."""
    monkeypatch.setattr(shlib, "_MEMO", {})

    def no_parse(data, path):
        raise AssertionError(f"{path} was parsed, not read from the cache")

    monkeypatch.setattr(shlib, "parse_shared_library", no_parse)


def test_cache_answers_the_next_process(fresh_cache, tmp_path, monkeypatch):
    p = tmp_path / "libdemo.so.1"
    p.write_bytes(build_shared_object(DEMO, ["V1", "V2"], needed=("libdep.so.2",)))
    first = shlib.read_shared_library(str(p))
    assert len(list((fresh_cache / "shlib").glob(f"*.{shlib.CACHE_FORMAT}"))) == 1
    _new_process(monkeypatch)
    again = shlib.read_shared_library(str(p))
    assert _as_set(again) == _as_set(first) and again.needed == ("libdep.so.2",)
    assert (again.soname, again.versions, again.undefined) == (first.soname, first.versions, first.undefined)
    assert again.default_definition("memcpy").version == "V2"
    assert again.missing("old") is not None and again.missing("old", "V1") is None


def test_cache_is_keyed_by_content(fresh_cache, tmp_path, monkeypatch):
    p = tmp_path / "libdemo.so.1"
    p.write_bytes(build_shared_object(DEMO, ["V1", "V2"]))
    shlib.read_shared_library(str(p))
    monkeypatch.setattr(shlib, "_MEMO", {})
    p.write_bytes(build_shared_object([*DEMO, ("added", GLOBAL, STT_FUNC, 7, 2, 0)], ["V1", "V2"]))
    assert shlib.read_shared_library(str(p)).default_definition("added") is not None
    # the same bytes under another name: read from the cache, with that name's own base name
    copy = tmp_path / "libcopy.so"
    shutil.copyfile(p, copy)
    _new_process(monkeypatch)
    assert shlib.read_shared_library(str(copy)).default_definition("added") is not None


def test_same_bytes_without_soname_take_each_file_name(fresh_cache, tmp_path, monkeypatch):
    data = shlib.parse_shared_library(build_shared_object(DEMO, ["V1", "V2"]), "x")  # has a DT_SONAME
    assert data.soname == "libdemo.so.1"
    one, two = tmp_path / "libone.so", tmp_path / "libtwo.so"
    for p in (one, two):
        p.write_bytes(build_shared_object(DEMO, ["V1", "V2"], soname=""))
    assert shlib.read_shared_library(str(one)).soname == "libone.so"
    _new_process(monkeypatch)  # libtwo.so has libone.so's bytes: its record is libone.so's
    two_lib = shlib.read_shared_library(str(two))
    assert (two_lib.soname, two_lib.path) == ("libtwo.so", str(two))


def test_damaged_record_is_parsed_again(fresh_cache, tmp_path, monkeypatch):
    p = tmp_path / "libdemo.so.1"
    p.write_bytes(build_shared_object(DEMO, ["V1", "V2"]))
    want = _as_set(shlib.read_shared_library(str(p)))
    (record,) = (fresh_cache / "shlib").glob(f"*.{shlib.CACHE_FORMAT}")
    for damage in (record.read_bytes()[:-7], b"", b"\0" * 40, record.read_bytes()[:40] + b"x" * 100):
        record.write_bytes(damage)
        monkeypatch.setattr(shlib, "_MEMO", {})
        assert _as_set(shlib.read_shared_library(str(p))) == want
        assert record.read_bytes() != damage  # rewritten whole


def test_small_libraries_are_not_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("DYNTOOLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(shlib, "_MEMO", {})
    p = tmp_path / "libdemo.so.1"
    p.write_bytes(build_shared_object(DEMO, ["V1", "V2"]))
    assert p.stat().st_size < shlib.CACHE_MIN_SIZE
    assert shlib.read_shared_library(str(p)).default_definition("puts") is not None
    assert not (tmp_path / "cache").exists()


def test_unwritable_cache_costs_only_the_parse(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory would go")
    monkeypatch.setenv("DYNTOOLS_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(shlib, "_MEMO", {})
    monkeypatch.setattr(shlib, "CACHE_MIN_SIZE", 0)
    p = tmp_path / "libdemo.so.1"
    p.write_bytes(build_shared_object(DEMO, ["V1", "V2"]))
    assert shlib.read_shared_library(str(p)).default_definition("puts") is not None
