"""Reading ELF files as data (struct + memoryview), and the constants we use.

Every read is bounds-checked; a malformed file raises DynError naming it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from toolchain.errors import DynError

ET_REL, ET_EXEC, ET_DYN = 1, 2, 3

SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA = 0, 1, 2, 3, 4
SHT_HASH, SHT_DYNAMIC, SHT_NOTE, SHT_NOBITS, SHT_REL, SHT_DYNSYM = 5, 6, 7, 8, 9, 11
SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY, SHT_GROUP = 14, 15, 16, 17
SHT_SYMTAB_SHNDX = 18
SHT_GNU_HASH = 0x6FFFFFF6
SHT_GNU_VERDEF, SHT_GNU_VERNEED, SHT_GNU_VERSYM = 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF
SHT_ARM_EXIDX, SHT_ARM_ATTRIBUTES = 0x70000001, 0x70000003
SHT_LLVM_ADDRSIG = 0x6FFF4C03
SHT_X86_64_UNWIND = 0x70000001

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR, SHF_MERGE, SHF_STRINGS = 1, 2, 4, 0x10, 0x20
SHF_INFO_LINK, SHF_LINK_ORDER, SHF_GROUP, SHF_TLS = 0x40, 0x80, 0x200, 0x400
SHF_EXCLUDE = 0x80000000

SHN_UNDEF, SHN_ABS, SHN_COMMON, SHN_XINDEX = 0, 0xFFF1, 0xFFF2, 0xFFFF

STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE, STT_COMMON, STT_TLS = 0, 1, 2, 3, 4, 5, 6
STV_DEFAULT, STV_HIDDEN = 0, 2

PT_NULL, PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE, PT_PHDR, PT_TLS = 0, 1, 2, 3, 4, 6, 7
PT_GNU_STACK, PT_ARM_EXIDX = 0x6474E551, 0x70000001
PF_X, PF_W, PF_R = 1, 2, 4

GRP_COMDAT = 1


@dataclass
class Section:
    """One section header of an ELF file."""

    index: int
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    align: int
    entsize: int


@dataclass
class Symbol:
    """One symbol table entry."""

    name: str
    value: int
    size: int
    info: int
    other: int
    shndx: int

    @property
    def bind(self) -> int:
        return self.info >> 4

    @property
    def type(self) -> int:
        return self.info & 0xF

    @property
    def visibility(self) -> int:
        return self.other & 3


class ElfFile:
    """A parsed ELF file: header, section headers, and lazy access to tables."""

    def __init__(self, data: bytes | memoryview, name: str):
        self.name = name
        self.data = memoryview(data)
        if len(data) < 16 or bytes(self.data[:4]) != b"\x7fELF":
            raise DynError("not an ELF file", name)
        ei_class, ei_data = self.data[4], self.data[5]
        if ei_class not in (1, 2) or ei_data not in (1, 2):
            raise DynError("bad ELF identification", name)
        if ei_data != 1:
            raise DynError("big-endian ELF is not supported", name)
        self.bits = 32 if ei_class == 1 else 64
        self.e = "<"
        if self.bits == 32:
            hdr = self._unpack("<HHIIIIIHHHHHH", 16)
            self._shdr_fmt, self._sym_fmt = "<IIIIIIIIII", "<IIIBBH"
        else:
            hdr = self._unpack("<HHIQQQIHHHHHH", 16)
            self._shdr_fmt, self._sym_fmt = "<IIQQQQIIQQ", "<IBBHQQ"
        (
            self.type,
            self.machine,
            _version,
            self.entry,
            self.phoff,
            self.shoff,
            self.flags,
            _ehsize,
            self.phentsize,
            self.phnum,
            self.shentsize,
            shnum,
            shstrndx,
        ) = hdr
        self.sections: list[Section] = []
        self.shstrndx = shstrndx
        if self.shoff:
            self._read_sections(shnum, shstrndx)

    def _unpack(self, fmt: str, off: int) -> tuple:
        size = struct.calcsize(fmt)
        if off < 0 or off + size > len(self.data):
            raise DynError("truncated ELF file", self.name)
        return struct.unpack_from(fmt, self.data, off)

    def _read_sections(self, shnum: int, shstrndx: int) -> None:
        entsize = struct.calcsize(self._shdr_fmt)
        if self.shentsize != entsize:
            raise DynError("bad section header size", self.name)
        if shnum == 0 or shstrndx == SHN_XINDEX:
            first = self._unpack(self._shdr_fmt, self.shoff)
            shnum = shnum or first[5]
            if shstrndx == SHN_XINDEX:
                shstrndx = first[6]
        self.shstrndx = shstrndx
        end = self.shoff + shnum * entsize
        if end > len(self.data):
            raise DynError("truncated ELF file (section headers)", self.name)
        raw = [struct.unpack_from(self._shdr_fmt, self.data, self.shoff + i * entsize) for i in range(shnum)]
        if self.bits == 32:
            fields = [(n, t, f, a, o, s, lk, inf, al, es) for (n, t, f, a, o, s, lk, inf, al, es) in raw]
        else:
            fields = raw
        if not 0 <= shstrndx < shnum:
            raise DynError("bad section name table index", self.name)
        strtab = fields[shstrndx]
        names = self._bytes(strtab[4], strtab[5])
        for i, (n, t, f, a, o, s, lk, inf, al, es) in enumerate(fields):
            if t != SHT_NOBITS and t != SHT_NULL and o + s > len(self.data):
                raise DynError(f"truncated ELF file (section {i})", self.name)
            self.sections.append(Section(i, _cstr(names, n, self.name), t, f, a, o, s, lk, inf, al, es))

    def _bytes(self, off: int, size: int) -> memoryview:
        if off < 0 or size < 0 or off + size > len(self.data):
            raise DynError("truncated ELF file", self.name)
        return self.data[off : off + size]

    def section_data(self, sec: Section) -> memoryview:
        """The bytes of a section (empty for SHT_NOBITS)."""
        if sec.type == SHT_NOBITS:
            return memoryview(b"")
        return self._bytes(sec.offset, sec.size)

    def section_by_name(self, name: str) -> Section | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def link_section(self, sec: Section) -> Section:
        if not 0 < sec.link < len(self.sections):
            raise DynError(f"section {sec.name}: bad link {sec.link}", self.name)
        return self.sections[sec.link]

    def symbol_tuples(self, symtab: Section) -> list[tuple[str, int, int, int, int, int]]:
        """(name, value, size, info, other, shndx) of every entry of a symbol table section."""
        strtab = bytes(self.section_data(self.link_section(symtab)))
        data = self.section_data(symtab)
        entsize = struct.calcsize(self._sym_fmt)
        if len(data) % entsize:
            raise DynError(f"symbol table {symtab.name}: bad size", self.name)
        cache: dict[int, str] = {0: ""}

        def name(n: int) -> str:
            end = strtab.find(b"\0", n)
            if end < 0 or n >= len(strtab):
                raise DynError("symbol name outside the string table", self.name)
            s = cache[n] = strtab[n:end].decode("utf-8", "surrogateescape")
            return s

        if self.bits == 32:
            return [
                (cache.get(n) or name(n), v, sz, info, other, shndx)
                for n, v, sz, info, other, shndx in struct.iter_unpack(self._sym_fmt, data)
            ]
        return [
            (cache.get(n) or name(n), v, sz, info, other, shndx)
            for n, info, other, shndx, v, sz in struct.iter_unpack(self._sym_fmt, data)
        ]

    def symbols(self, symtab: Section) -> list[Symbol]:
        """Every entry of a symbol table section, names resolved."""
        return [Symbol(*t) for t in self.symbol_tuples(symtab)]

    def relocations(self, sec: Section) -> list[tuple[int, int, int, int]]:
        """(offset, type, symbol index, addend) of a SHT_REL/SHT_RELA section; addend 0 for REL."""
        data = self.section_data(sec)
        rela = sec.type == SHT_RELA
        if self.bits == 32:
            fmt = "<IIi" if rela else "<II"
        else:
            fmt = "<QQq" if rela else "<QQ"
        if len(data) % struct.calcsize(fmt):
            raise DynError(f"relocation section {sec.name}: bad size", self.name)
        shift, mask = (8, 0xFF) if self.bits == 32 else (32, 0xFFFFFFFF)
        if rela:
            return [(o, i & mask, i >> shift, a) for o, i, a in struct.iter_unpack(fmt, data)]
        return [(o, i & mask, i >> shift, 0) for o, i in struct.iter_unpack(fmt, data)]

    def program_headers(self) -> list[tuple[int, ...]]:
        """(type, flags, offset, vaddr, paddr, filesz, memsz, align) of each program header."""
        out = []
        for i in range(self.phnum):
            off = self.phoff + i * self.phentsize
            if self.bits == 32:
                t, o, va, pa, fs, ms, fl, al = self._unpack("<IIIIIIII", off)
            else:
                t, fl, o, va, pa, fs, ms, al = self._unpack("<IIQQQQQQ", off)
            out.append((t, fl, o, va, pa, fs, ms, al))
        return out


def _cstr(buf: memoryview, off: int, fname: str) -> str:
    if off >= len(buf) and off != 0:
        raise DynError("string table index out of range", fname)
    b = bytes(buf[off : off + 4096]) if len(buf) - off > 4096 else bytes(buf[off:])
    end = b.find(b"\0")
    if end < 0:
        whole = bytes(buf[off:])
        end = whole.find(b"\0")
        if end < 0:
            raise DynError("unterminated string in string table", fname)
        b = whole
    return b[:end].decode("utf-8", "surrogateescape")


# (e_shoff offset, e_shnum offset, section header format) per ELF class
_EHDR_FIELDS = {32: (0x20, 0x30, "<IIIIIIIIII"), 64: (0x28, 0x3C, "<IIQQQQIIQQ")}


def add_section(data: bytes, name: str, payload: bytes, flags: int = SHF_EXCLUDE, fname: str = "") -> bytes:
    """A copy of a relocatable ELF file with one more ``SHT_PROGBITS`` section ``name``.

    The new section's data, a new section name table and a new section header table
    are appended; the header of the old name table is pointed at the new one. Nothing
    already in the file moves, so every offset stays valid.
    """
    f = ElfFile(data, fname)
    if not f.sections:
        raise DynError("ELF file has no section headers", fname)
    shoff_at, shnum_at, fmt = _EHDR_FIELDS[f.bits]
    shstrndx, nsec = f.shstrndx, len(f.sections)
    if nsec >= 0xFF00 or not 0 < shstrndx < nsec:
        raise DynError("unsupported section header layout (extended numbering)", fname)
    old_names = bytes(f.section_data(f.sections[shstrndx]))
    new_names = old_names + name.encode() + b"\0"
    out = bytearray(data)
    out += b"\0" * (-len(out) % 8)
    payload_off = len(out)
    out += payload
    names_off = len(out)
    out += new_names
    out += b"\0" * (-len(out) % 8)
    shoff = len(out)
    for i in range(nsec):
        hdr = list(struct.unpack_from(fmt, data, f.shoff + i * f.shentsize))
        if i == shstrndx:
            hdr[4], hdr[5] = names_off, len(new_names)
        out += struct.pack(fmt, *hdr)
    out += struct.pack(fmt, len(old_names), SHT_PROGBITS, flags, 0, payload_off, len(payload), 0, 0, 1, 0)
    struct.pack_into("<Q" if f.bits == 64 else "<I", out, shoff_at, shoff)
    struct.pack_into("<H", out, shnum_at, nsec + 1)
    return bytes(out)


def sysv_hash(name: bytes) -> int:
    """The SysV ELF hash of a symbol name (the seed's ``elfdynhash``)."""
    h = 0
    for c in name:
        h = ((h << 4) + c) & 0xFFFFFFFF
        g = h & 0xF0000000
        h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h


def gnu_hash(name: bytes) -> int:
    """The GNU hash (djb2, 32-bit) of a symbol name."""
    h = 5381
    for c in name:
        h = (h * 33 + c) & 0xFFFFFFFF
    return h
