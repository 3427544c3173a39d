"""toolchain.elf on tiny ELF files built here with struct: headers, sections, symbols,
relocations, dynamic entries, symbol versions and hash tables, for both ELF classes.

No compiler, linker or emulator: the files are written field by field from the ELF
specification's layouts, and hash values are checked against pyelftools' functions.
"""

from __future__ import annotations

import struct

import pytest
from elftools.elf.hash import ELFHashTable, GNUHashTable

from toolchain import elf
from toolchain.errors import DynError


def _strtab(names: list[str]) -> tuple[bytes, dict[str, int]]:
    data, offsets = b"\0", {"": 0}
    for n in names:
        if n not in offsets:
            offsets[n] = len(data)
            data += n.encode() + b"\0"
    return data, offsets


class Sec:
    """One section to write: header fields and contents."""

    def __init__(self, name, type_, data=b"", flags=0, link=0, info=0, entsize=0, addr=0, align=8):
        self.name, self.type, self.data, self.flags = name, type_, data, flags
        self.link, self.info, self.entsize, self.addr, self.align = link, info, entsize, addr, align
        self.offset = 0


def build_elf(bits: int, machine: int, etype: int, sections: list[Sec], phdrs=(), entry=0) -> bytes:
    """An ELF file: header, program headers, section contents, .shstrtab, section headers."""
    ehsize, phentsize, shentsize = (52, 32, 40) if bits == 32 else (64, 56, 64)
    out = bytearray(ehsize + phentsize * len(phdrs))
    shstr, shoff_of = _strtab([s.name for s in sections] + [".shstrtab"])
    all_secs = [Sec("", 0, align=0), *sections, Sec(".shstrtab", elf.SHT_STRTAB, shstr, align=1)]
    for s in all_secs[1:]:
        out += b"\0" * (-len(out) % 8)
        s.offset = len(out)
        if s.type != elf.SHT_NOBITS:
            out += s.data
    out += b"\0" * (-len(out) % 8)
    shoff = len(out)
    for s in all_secs:
        size = len(s.data)
        fields = (shoff_of[s.name], s.type, s.flags, s.addr, s.offset, size, s.link, s.info, s.align, s.entsize)
        out += struct.pack("<IIIIIIIIII" if bits == 32 else "<IIQQQQIIQQ", *fields)
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1, 1, 0]) + bytes(8)
    hdr_fmt = "<HHIIIIIHHHHHH" if bits == 32 else "<HHIQQQIHHHHHH"
    phoff = ehsize if phdrs else 0
    hdr = struct.pack(
        hdr_fmt, etype, machine, 1, entry, phoff, shoff, 0, ehsize, phentsize, len(phdrs), shentsize,
        len(all_secs), len(all_secs) - 1,
    )  # fmt: skip
    out[: len(ident) + len(hdr)] = ident + hdr
    for i, (t, fl, off, va, fs, ms, al) in enumerate(phdrs):
        at = ehsize + i * phentsize
        if bits == 32:
            struct.pack_into("<IIIIIIII", out, at, t, off, va, va, fs, ms, fl, al)
        else:
            struct.pack_into("<IIQQQQQQ", out, at, t, fl, off, va, va, fs, ms, al)
    return bytes(out)


def _sym(bits: int, name: int, value: int, size: int, info: int, shndx: int, other: int = 0) -> bytes:
    if bits == 32:
        return struct.pack("<IIIBBH", name, value, size, info, other, shndx)
    return struct.pack("<IBBHQQ", name, info, other, shndx, value, size)


DYN_NAMES = ["libc.so.6", "libtest.so", "GLIBC_2.0", "TEST_1", "foo", "bar", "baz", "qux"]
TEXT_ADDR = 0x1000


def dynamic_file(bits: int) -> bytes:
    """A small dynamic ET_DYN file: 4 dynamic symbols (foo, baz defined; bar, qux imported), versions, hashes."""
    machine = elf.EM_X86_64 if bits == 64 else elf.EM_386
    dynstr, off = _strtab(DYN_NAMES)
    # sections are numbered in this order from 1
    text_idx, dynstr_idx, dynsym_idx = 1, 2, 3
    g, f, o = elf.STB_GLOBAL << 4, elf.STT_FUNC, elf.STT_OBJECT
    syms = [
        _sym(bits, 0, 0, 0, 0, 0),
        _sym(bits, off["foo"], TEXT_ADDR + 4, 8, g | f, text_idx),
        _sym(bits, off["bar"], 0, 0, g | f, elf.SHN_UNDEF),
        _sym(bits, off["baz"], TEXT_ADDR + 12, 4, g | o, text_idx, other=elf.STV_HIDDEN),
        _sym(bits, off["qux"], 0, 0, (elf.STB_WEAK << 4) | o, elf.SHN_UNDEF),
    ]
    names = [b"", b"foo", b"bar", b"baz", b"qux"]
    nbucket = 3
    buckets, chain = [0] * nbucket, [0] * len(names)
    for i in range(1, len(names)):
        b = elf.sysv_hash(names[i]) % nbucket
        chain[i], buckets[b] = buckets[b], i
    sysv = struct.pack(f"<{2 + nbucket + len(names)}I", nbucket, len(names), *buckets, *chain)
    # GNU hash over symbols 1.. with one bucket: every symbol in one run, the last one marked
    w = bits // 8
    hashes = [elf.gnu_hash(n) for n in names[1:]]
    chains = [(h & ~1) | (1 if i == len(hashes) - 1 else 0) for i, h in enumerate(hashes)]
    gnu = struct.pack("<4I", 1, 1, 1, 6) + struct.pack("<Q" if w == 8 else "<I", 0b1011) + struct.pack("<I", 1)
    gnu += struct.pack(f"<{len(chains)}I", *chains)
    # versions: bar needs GLIBC_2.0 (index 2) from libc.so.6; the file defines TEST_1 (index 3)
    verneed = struct.pack("<HHIII", 1, 1, off["libc.so.6"], 16, 0)
    verneed += struct.pack("<IHHII", elf.sysv_hash(b"GLIBC_2.0"), 0, 2, off["GLIBC_2.0"], 0)
    verdef = struct.pack("<HHHHIII", 1, elf.VER_FLG_BASE, 1, 1, elf.sysv_hash(b"libtest.so"), 20, 28)
    verdef += struct.pack("<II", off["libtest.so"], 0)
    verdef += struct.pack("<HHHHIII", 1, 0, 3, 1, elf.sysv_hash(b"TEST_1"), 20, 0)
    verdef += struct.pack("<II", off["TEST_1"], 0)
    versym = struct.pack("<5H", 0, 3, 2, 3 | elf.VERSYM_HIDDEN, 1)
    dyn_fmt = "<iI" if bits == 32 else "<qQ"
    dynamic = b"".join(
        struct.pack(dyn_fmt, t, v)
        for t, v in ((elf.DT_NEEDED, off["libc.so.6"]), (elf.DT_SONAME, off["libtest.so"]), (elf.DT_NULL, 0))
    )
    rel_slot = TEXT_ADDR + 0x20
    if bits == 64:
        rel = Sec(".rela.dyn", elf.SHT_RELA, struct.pack("<QQq", rel_slot, (2 << 32) | 6, -8), elf.SHF_ALLOC, 3, 0, 24)
    else:
        rel = Sec(".rel.dyn", elf.SHT_REL, struct.pack("<II", rel_slot, (2 << 8) | 6), elf.SHF_ALLOC, 3, 0, 8)
    sections = [
        Sec(".text", elf.SHT_PROGBITS, bytes(0x30), elf.SHF_ALLOC | elf.SHF_EXECINSTR, addr=TEXT_ADDR, align=16),
        Sec(".dynstr", elf.SHT_STRTAB, dynstr, elf.SHF_ALLOC, align=1),
        Sec(".dynsym", elf.SHT_DYNSYM, b"".join(syms), elf.SHF_ALLOC, dynstr_idx, 1, len(syms[0])),
        rel,
        Sec(
            ".dynamic", elf.SHT_DYNAMIC, dynamic, elf.SHF_ALLOC | elf.SHF_WRITE, dynstr_idx, 0, struct.calcsize(dyn_fmt)
        ),
        Sec(".hash", elf.SHT_HASH, sysv, elf.SHF_ALLOC, dynsym_idx, 0, 4),
        Sec(".gnu.hash", elf.SHT_GNU_HASH, gnu, elf.SHF_ALLOC, dynsym_idx),
        Sec(".gnu.version", elf.SHT_GNU_VERSYM, versym, elf.SHF_ALLOC, dynsym_idx, 0, 2, align=2),
        Sec(".gnu.version_r", elf.SHT_GNU_VERNEED, verneed, elf.SHF_ALLOC, dynstr_idx, 1),
        Sec(".gnu.version_d", elf.SHT_GNU_VERDEF, verdef, elf.SHF_ALLOC, dynstr_idx, 2),
        Sec(".bss", elf.SHT_NOBITS, bytes(0x40), elf.SHF_ALLOC | elf.SHF_WRITE, addr=0x3000),
    ]
    phdrs = [
        (elf.PT_LOAD, elf.PF_R | elf.PF_X, 0, 0, 0x200, 0x200, 0x1000),
        (elf.PT_GNU_STACK, elf.PF_R | elf.PF_W, 0, 0, 0, 0, 16),
    ]
    return build_elf(bits, machine, elf.ET_DYN, sections, phdrs, entry=TEXT_ADDR)


@pytest.fixture(params=[32, 64])
def dyn(request) -> elf.ElfFile:
    return elf.ElfFile(dynamic_file(request.param), f"test{request.param}.so")


# -------------------------------------------------------------- vocabulary
def test_flat_names_are_plain_ints_equal_to_the_tables():
    pairs = [
        (elf.SHT_PROGBITS, elf.SHT.PROGBITS),
        (elf.SHT_NOBITS, elf.SHT.NOBITS),
        (elf.SHT_GNU_VERSYM, elf.SHT.GNU_VERSYM),
        (elf.SHF_ALLOC, elf.SHF.ALLOC),
        (elf.SHF_EXCLUDE, elf.SHF.EXCLUDE),
        (elf.SHN_COMMON, elf.SHN.COMMON),
        (elf.STB_WEAK, elf.STB.WEAK),
        (elf.STT_TLS, elf.STT.TLS),
        (elf.PT_GNU_STACK, elf.PT.GNU_STACK),
        (elf.PF_R, elf.PF.R),
        (elf.DT_GNU_HASH, elf.DT.GNU_HASH),
        (elf.DT_VERNEEDNUM, elf.DT.VERNEEDNUM),
        (elf.ET_EXEC, elf.ET.EXEC),
        (elf.EM_X86_64, elf.EM.X86_64),
    ]
    for flat, member in pairs:
        assert type(flat) is int and flat == member
    # values from the ELF specification and the GNU extensions
    assert (elf.SHT_RELA, elf.SHT_DYNSYM, elf.SHT_GNU_HASH) == (4, 11, 0x6FFFFFF6)
    assert (elf.DT_NEEDED, elf.DT_JMPREL, elf.DT_VERSYM) == (1, 23, 0x6FFFFFF0)
    assert (elf.SHN_UNDEF, elf.SHN_ABS, elf.SHN_XINDEX) == (0, 0xFFF1, 0xFFFF)


def test_names():
    assert elf.reloc_type_name(elf.EM_X86_64, 7) == "R_X86_64_JUMP_SLOT"
    assert elf.reloc_type_name(elf.EM_X86_64, 1) == "R_X86_64_64"
    assert elf.reloc_type_name(elf.EM_X86_64, 11) == "R_X86_64_32S"
    assert elf.reloc_type_name(elf.EM_386, 1) == "R_386_32"
    assert elf.reloc_type_name(elf.EM_386, 43) == "R_386_GOT32X"
    assert elf.reloc_type_name(elf.EM_ARM, 28) == "R_ARM_CALL"
    assert elf.reloc_type_name(elf.EM_ARM, 250) == "0xfa"
    assert elf.section_type_name(0x70000001, elf.EM_ARM) == "ARM_EXIDX"
    assert elf.section_type_name(0x70000001, elf.EM_X86_64) == "X86_64_UNWIND"
    assert elf.section_type_name(elf.SHT_GNU_VERNEED) == "VERNEED"
    assert elf.section_type_name(0x12345) == "0x12345"
    assert elf.segment_type_name(0x70000001, elf.EM_ARM) == "ARM_EXIDX"
    assert elf.dynamic_tag_name(elf.DT_GNU_HASH) == "GNU_HASH"
    assert elf.section_flags_letters(elf.SHF_ALLOC | elf.SHF_EXECINSTR | 0x100000) == "AX+0x100000"
    assert elf.segment_flags_letters(elf.PF_R | elf.PF_W) == "RW-"
    # every relocation table names each value once
    for table in (elf.R_386, elf.R_X86_64, elf.R_ARM):
        members = table.members()
        assert len(members) > 20 and len(set(members.values())) == len(members)
    assert elf.SHT.name_of(elf.SHT_NOBITS) == "NOBITS" and elf.SHT.name_of(0x6FFFFFFE) == "GNU_VERNEED"


@pytest.mark.parametrize("name", [b"", b"printf", b"_start", b"a_rather_long_symbol_name_0123456789", b"\xff\x80x"])
def test_hash_functions_match_pyelftools(name):
    assert elf.sysv_hash(name) == ELFHashTable.elf_hash(name)
    assert elf.gnu_hash(name) == GNUHashTable.gnu_hash(name)


# ------------------------------------------------------------------ reader
def test_header_and_sections(dyn):
    h = dyn.header()
    assert h.type == elf.ET_DYN and h.entry == TEXT_ADDR and h.shnum == len(dyn.sections) == 13
    assert h.machine == (elf.EM_386 if dyn.bits == 32 else elf.EM_X86_64)
    names = [s.name for s in dyn.sections]
    assert names[:4] == ["", ".text", ".dynstr", ".dynsym"] and names[-1] == ".shstrtab"
    assert dyn.first_section(elf.SHT_DYNSYM) is dyn.sections[3]
    assert [s.name for s in dyn.sections_of_type(elf.SHT_STRTAB)] == [".dynstr", ".shstrtab"]
    assert dyn.first_section(elf.SHT_SYMTAB) is None and dyn.sections_of_type(elf.SHT_GROUP) == []
    assert len(dyn.section_data(dyn.section_by_name(".bss"))) == 0
    assert dyn.section_name(elf.SHN_UNDEF) == "UND" and dyn.section_name(1) == ".text"


def test_segments(dyn):
    segs = dyn.segments()
    assert [s.type for s in segs] == [elf.PT_LOAD, elf.PT_GNU_STACK]
    load = segs[0]
    assert (load.flags, load.offset, load.vaddr, load.filesz, load.memsz, load.align) == (5, 0, 0, 0x200, 0x200, 0x1000)
    assert bytes(dyn.vaddr_bytes(0, 4, "x")) == b"\x7fELF"
    with pytest.raises(DynError, match="not in the file"):
        dyn.vaddr_bytes(0x1FF, 8, "table")
    assert dyn.interpreter() is None


def test_symbols(dyn):
    syms = dyn.symbols(dyn.first_section(elf.SHT_DYNSYM))
    assert [s.name for s in syms] == ["", "foo", "bar", "baz", "qux"]
    foo, bar, baz, qux = syms[1:]
    assert (foo.value, foo.size, foo.type, foo.bind, foo.shndx) == (TEXT_ADDR + 4, 8, elf.STT_FUNC, elf.STB_GLOBAL, 1)
    assert bar.shndx == elf.SHN_UNDEF and qux.bind == elf.STB_WEAK and qux.type == elf.STT_OBJECT
    assert baz.visibility == elf.STV_HIDDEN


def test_relocations(dyn):
    sec = dyn.first_section(elf.SHT_RELA if dyn.bits == 64 else elf.SHT_REL)
    (r,) = dyn.relocation_records(sec)
    assert (r.offset, r.type, r.sym) == (TEXT_ADDR + 0x20, 6, 2)
    assert r.addend == (-8 if dyn.bits == 64 else 0)
    assert dyn.relocations(sec) == [tuple(r)]


def test_dynamic(dyn):
    entries = dyn.dynamic_entries()
    assert [e.tag for e in entries] == [elf.DT_NEEDED, elf.DT_SONAME, elf.DT_NULL]
    strtab = dyn.dynamic_strings()
    assert elf.string_at(strtab, entries[0].value) == "libc.so.6"
    assert elf.string_at(strtab, entries[1].value) == "libtest.so"
    with pytest.raises(DynError, match="outside the string table"):
        elf.string_at(strtab, len(strtab) + 3)


def test_versions(dyn):
    assert dyn.versym() == [0, 3, 2, 3 | elf.VERSYM_HIDDEN, 1]
    (need,) = dyn.version_needs()
    assert need.file == "libc.so.6"
    assert need.versions == [elf.VersionAux("GLIBC_2.0", elf.sysv_hash(b"GLIBC_2.0"), 0, 2)]
    base, test1 = dyn.version_defs()
    assert (base.ndx, base.flags, base.names) == (1, elf.VER_FLG_BASE, ["libtest.so"])
    assert (test1.ndx, test1.names, test1.hash) == (3, ["TEST_1"], elf.sysv_hash(b"TEST_1"))
    assert dyn.version_names() == {2: "GLIBC_2.0", 3: "TEST_1"}


def test_hash_tables(dyn):
    where, sysv = dyn.sysv_hash_table()
    assert where == ".hash" and (sysv.nbucket, sysv.nchain) == (3, 5)
    names = [b"foo", b"bar", b"baz", b"qux"]
    expected = [sum(1 for n in names if ELFHashTable.elf_hash(n) % 3 == b) for b in range(3)]
    assert sysv.chain_lengths() == expected
    where, gnu = dyn.gnu_hash_table()
    assert where == ".gnu.hash" and (gnu.nbucket, gnu.symoffset, gnu.bloom_shift) == (1, 1, 6)
    assert gnu.bloom == (0b1011,) and gnu.chain_lengths() == [4]
    assert [c | 1 for c in gnu.chains] == [GNUHashTable.gnu_hash(n) | 1 for n in names]


def test_bad_hash_chains():
    looping = elf.SysvHashTable(1, 3, (1,), (0, 2, 1))
    with pytest.raises(DynError, match="bad chain"):
        looping.chain_lengths()
    runaway = elf.GnuHashTable(1, 1, 6, (0,), (1,), (2, 4))
    with pytest.raises(DynError, match="past the end"):
        runaway.chain_lengths()
    with pytest.raises(DynError, match="truncated"):
        elf.parse_sysv_hash(struct.pack("<II", 100, 100))
    with pytest.raises(DynError, match="truncated"):
        elf.parse_gnu_hash(struct.pack("<4I", 1, 1, 50, 6), 64)


@pytest.mark.parametrize("bits", [32, 64])
def test_malformed_files(bits):
    good = dynamic_file(bits)
    with pytest.raises(DynError, match="not an ELF file"):
        elf.ElfFile(b"\x7fELG" + good[4:], "x")
    with pytest.raises(DynError, match="truncated"):
        elf.ElfFile(good[: len(good) - 8], "x")  # the section header table is cut
    bad = bytearray(good)
    struct.pack_into("<H", bad, 42 if bits == 32 else 54, 17)  # e_phentsize
    with pytest.raises(DynError, match="bad program header size"):
        elf.ElfFile(bytes(bad), "x").segments()
    big_endian = bytearray(good)
    big_endian[5] = 2
    with pytest.raises(DynError, match="big-endian"):
        elf.ElfFile(bytes(big_endian), "x")


def test_add_section_keeps_the_rest():
    data = dynamic_file(64)
    out = elf.add_section(data, ".note.extra", b"payload!")
    e = elf.ElfFile(out, "x")
    sec = e.section_by_name(".note.extra")
    assert sec is not None and bytes(e.section_data(sec)) == b"payload!" and sec.flags == elf.SHF_EXCLUDE
    before = elf.ElfFile(data, "x")
    assert [s.name for s in e.sections[:-1]] == [s.name for s in before.sections]
    assert out[64 : before.shoff] == data[64 : before.shoff]  # nothing already there moved


def test_arch_table_machines_are_the_elf_ones():
    """arch.py writes its e_machine numbers out (so it need not import the ELF reader): they must agree."""
    from toolchain import arch

    assert (arch.EM_386, arch.EM_ARM, arch.EM_X86_64) == (elf.EM.I386, elf.EM.ARM, elf.EM.X86_64)
    assert {a.name: a.machine for a in arch.ARCHES.values()} == {"386": 3, "amd64": 62, "arm": 40}


def test_reading_the_arch_table_does_not_import_the_elf_reader():
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = "import sys, toolchain.arch; print('toolchain.elf' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root).stdout
    assert out.strip() == "False"
