"""A tiny ELF relocatable-object writer for unit tests: no compiler needed.

Written from the ELF specification (System V gABI), independently of the linker's
reader: sections with bytes, symbols, and REL or RELA relocations.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

MACHINES = {"386": (3, 32, False), "amd64": (62, 64, True), "arm": (40, 32, False)}  # e_machine, class, rela
SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_REL = 1, 2, 3, 4, 8, 9
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION = 0, 1, 2, 3
SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2


@dataclass
class Sec:
    name: str
    data: bytes
    flags: int = SHF_ALLOC
    align: int = 4
    type: int = SHT_PROGBITS
    size: int | None = None  # for SHT_NOBITS


@dataclass
class Sym:
    name: str
    section: str | None  # section name; None for undefined; "*ABS*"/"*COM*" for those
    value: int = 0
    size: int = 0
    bind: int = STB_GLOBAL
    type: int = STT_NOTYPE


@dataclass
class Rel:
    section: str
    offset: int
    type: int
    symbol: str
    addend: int = 0  # RELA: in the entry; REL: written into the field by the caller


@dataclass
class Obj:
    arch: str
    sections: list[Sec] = field(default_factory=list)
    symbols: list[Sym] = field(default_factory=list)
    relocs: list[Rel] = field(default_factory=list)


def build(obj: Obj) -> bytes:
    """The ET_REL file's bytes."""
    machine, bits, rela = MACHINES[obj.arch]
    is64 = bits == 64
    shstr = bytearray(b"\0")

    def name_off(table: bytearray, n: str) -> int:
        off = len(table)
        table.extend(n.encode() + b"\0")
        return off

    # section list: null, user sections, relocation sections, .symtab, .strtab, .shstrtab
    index = {s.name: i + 1 for i, s in enumerate(obj.sections)}
    locals_ = [s for s in obj.symbols if s.bind == STB_LOCAL]
    globals_ = [s for s in obj.symbols if s.bind != STB_LOCAL]
    ordered = locals_ + globals_
    strtab = bytearray(b"\0")
    symidx = {s.name: i + 1 for i, s in enumerate(ordered)}
    symbytes = bytearray(24 if is64 else 16)
    for s in ordered:
        shndx = {None: SHN_UNDEF, "*ABS*": SHN_ABS, "*COM*": SHN_COMMON}.get(s.section)
        if shndx is None:
            shndx = index[s.section]  # type: ignore[index]
        info = (s.bind << 4) | s.type
        if is64:
            symbytes += struct.pack("<IBBHQQ", name_off(strtab, s.name), info, 0, shndx, s.value, s.size)
        else:
            symbytes += struct.pack("<IIIBBH", name_off(strtab, s.name), s.value, s.size, info, 0, shndx)
    relsecs: list[tuple[str, int, bytes]] = []
    for sec in obj.sections:
        rs = [r for r in obj.relocs if r.section == sec.name]
        if not rs:
            continue
        body = bytearray()
        for r in rs:
            si = symidx[r.symbol]
            if is64:
                body += struct.pack("<QQq", r.offset, (si << 32) | r.type, r.addend)
            elif rela:
                body += struct.pack("<IIi", r.offset, (si << 8) | r.type, r.addend)
            else:
                body += struct.pack("<II", r.offset, (si << 8) | r.type)
        relsecs.append(((".rela" if rela else ".rel") + sec.name, index[sec.name], bytes(body)))
    nsec = 1 + len(obj.sections) + len(relsecs) + 3
    symtab_i = 1 + len(obj.sections) + len(relsecs)
    ehsize, shentsize = (64, 64) if is64 else (52, 40)
    out = bytearray(ehsize)
    headers = [bytes(shentsize)]

    def shdr(name: int, type_: int, flags: int, off: int, size: int, link: int, info: int, align: int, ent: int):
        if is64:
            return struct.pack("<IIQQQQIIQQ", name, type_, flags, 0, off, size, link, info, align, ent)
        return struct.pack("<IIIIIIIIII", name, type_, flags, 0, off, size, link, info, align, ent)

    def place(data: bytes, align: int) -> int:
        out.extend(b"\0" * (-len(out) % align))
        off = len(out)
        out.extend(data)
        return off

    for s in obj.sections:
        if s.type == SHT_NOBITS:
            size = s.size if s.size is not None else len(s.data)
            headers.append(shdr(name_off(shstr, s.name), s.type, s.flags, len(out), size, 0, 0, s.align, 0))
        else:
            off = place(s.data, s.align)
            headers.append(shdr(name_off(shstr, s.name), s.type, s.flags, off, len(s.data), 0, 0, s.align, 0))
    for name, target, body in relsecs:
        ent = (24 if is64 else 12) if rela else 8
        off = place(body, 8 if is64 else 4)
        headers.append(
            shdr(
                name_off(shstr, name),
                SHT_RELA if rela else SHT_REL,
                0,
                off,
                len(body),
                symtab_i,
                target,
                8 if is64 else 4,
                ent,
            )
        )
    off = place(bytes(symbytes), 8 if is64 else 4)
    headers.append(
        shdr(
            name_off(shstr, ".symtab"),
            SHT_SYMTAB,
            0,
            off,
            len(symbytes),
            symtab_i + 1,
            1 + len(locals_),
            8 if is64 else 4,
            24 if is64 else 16,
        )
    )
    off = place(bytes(strtab), 1)
    headers.append(shdr(name_off(shstr, ".strtab"), SHT_STRTAB, 0, off, len(strtab), 0, 0, 1, 0))
    shstr_name = name_off(shstr, ".shstrtab")
    off = place(bytes(shstr), 1)
    headers.append(shdr(shstr_name, SHT_STRTAB, 0, off, len(shstr), 0, 0, 1, 0))
    shoff = place(b"".join(headers), 8)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1, 1, 0]) + bytes(8)
    if is64:
        hdr = struct.pack("<HHIQQQIHHHHHH", 1, machine, 1, 0, 0, shoff, 0, ehsize, 0, 0, shentsize, nsec, nsec - 1)
    else:
        hdr = struct.pack("<HHIIIIIHHHHHH", 1, machine, 1, 0, 0, shoff, 0, ehsize, 0, 0, shentsize, nsec, nsec - 1)
    out[:ehsize] = ident + hdr
    return bytes(out)
