"""``dyninfo``: a summary of an ELF file or a dynld module.

    dyninfo FILE [--json] [--hash]

For an ELF file: the header, program headers, sections, the symbol table (count and
defined globals), the dynamic section and dynamic symbols (imports and exports), and
the directives of an object compiled by dyncc.  For a dynld module (recognised by its
magic): header, sizes, exports, imports and relocation counts per mode.  ``--hash``
adds figures about ``.hash`` and ``.gnu.hash``: buckets, symbols, chain lengths (max,
mean, histogram) and the Bloom filter.  ``--json`` prints the same data as one JSON
object whose keys always come in the same order.

ELF files are read with ``toolchain.elf`` (struct-based); every malformed input is a
one-line error and exit status 1.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from collections.abc import Sequence

from toolchain import elf
from toolchain.arch import ARCHES, EM_ARM, arch_for_machine
from toolchain.errors import ArgumentParser, DynError, read_input, run_main

PROG = "dyninfo"

MACHINES = {3: "Intel 80386", 40: "ARM", 62: "AMD x86-64"}
ELF_TYPES = {0: "NONE", 1: "REL", 2: "EXEC", 3: "DYN", 4: "CORE"}
SECTION_TYPES = {
    0: "NULL",
    1: "PROGBITS",
    2: "SYMTAB",
    3: "STRTAB",
    4: "RELA",
    5: "HASH",
    6: "DYNAMIC",
    7: "NOTE",
    8: "NOBITS",
    9: "REL",
    10: "SHLIB",
    11: "DYNSYM",
    14: "INIT_ARRAY",
    15: "FINI_ARRAY",
    16: "PREINIT_ARRAY",
    17: "GROUP",
    18: "SYMTAB_SHNDX",
    0x6FFFFFF6: "GNU_HASH",
    0x6FFFFFFD: "VERDEF",
    0x6FFFFFFE: "VERNEED",
    0x6FFFFFFF: "VERSYM",
    0x6FFF4C03: "LLVM_ADDRSIG",
    0x6FFF4C4C: "LLVM_CALL_GRAPH_PROFILE",
}
ARM_SECTION_TYPES = {0x70000001: "ARM_EXIDX", 0x70000003: "ARM_ATTRIBUTES"}
X86_SECTION_TYPES = {0x70000001: "X86_64_UNWIND"}
SEGMENT_TYPES = {
    0: "NULL",
    1: "LOAD",
    2: "DYNAMIC",
    3: "INTERP",
    4: "NOTE",
    5: "SHLIB",
    6: "PHDR",
    7: "TLS",
    0x6474E550: "GNU_EH_FRAME",
    0x6474E551: "GNU_STACK",
    0x6474E552: "GNU_RELRO",
    0x6474E553: "GNU_PROPERTY",
}
ARM_SEGMENT_TYPES = {0x70000001: "ARM_EXIDX"}
SYMBOL_TYPES = {0: "NOTYPE", 1: "OBJECT", 2: "FUNC", 3: "SECTION", 4: "FILE", 5: "COMMON", 6: "TLS", 10: "GNU_IFUNC"}
SYMBOL_BINDS = {0: "LOCAL", 1: "GLOBAL", 2: "WEAK", 10: "GNU_UNIQUE"}
DYNAMIC_TAGS = {
    0: "NULL",
    1: "NEEDED",
    2: "PLTRELSZ",
    3: "PLTGOT",
    4: "HASH",
    5: "STRTAB",
    6: "SYMTAB",
    7: "RELA",
    8: "RELASZ",
    9: "RELAENT",
    10: "STRSZ",
    11: "SYMENT",
    12: "INIT",
    13: "FINI",
    14: "SONAME",
    15: "RPATH",
    16: "SYMBOLIC",
    17: "REL",
    18: "RELSZ",
    19: "RELENT",
    20: "PLTREL",
    21: "DEBUG",
    22: "TEXTREL",
    23: "JMPREL",
    24: "BIND_NOW",
    25: "INIT_ARRAY",
    26: "FINI_ARRAY",
    27: "INIT_ARRAYSZ",
    28: "FINI_ARRAYSZ",
    29: "RUNPATH",
    30: "FLAGS",
    32: "PREINIT_ARRAY",
    33: "PREINIT_ARRAYSZ",
    0x6FFFFEF5: "GNU_HASH",
    0x6FFFFFF0: "VERSYM",
    0x6FFFFFF9: "RELACOUNT",
    0x6FFFFFFA: "RELCOUNT",
    0x6FFFFFFB: "FLAGS_1",
    0x6FFFFFFC: "VERDEF",
    0x6FFFFFFD: "VERDEFNUM",
    0x6FFFFFFE: "VERNEED",
    0x6FFFFFFF: "VERNEEDNUM",
}
DT_NULL, DT_NEEDED, DT_HASH, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 4, 5, 10, 14, 15, 29
DT_GNU_HASH = 0x6FFFFEF5
_STRING_TAGS = (DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH)
_SHF_LETTERS = (
    (elf.SHF_WRITE, "W"),
    (elf.SHF_ALLOC, "A"),
    (elf.SHF_EXECINSTR, "X"),
    (elf.SHF_MERGE, "M"),
    (elf.SHF_STRINGS, "S"),
    (elf.SHF_INFO_LINK, "I"),
    (elf.SHF_LINK_ORDER, "L"),
    (0x100, "O"),
    (elf.SHF_GROUP, "G"),
    (elf.SHF_TLS, "T"),
    (0x800, "C"),
    (elf.SHF_EXCLUDE, "E"),
)


def _name(table: dict[int, str], value: int) -> str:
    return table.get(value, f"0x{value:x}")


def section_flags(flags: int) -> str:
    """readelf-style letters for section flags (``WAX``...)."""
    out = "".join(ch for bit, ch in _SHF_LETTERS if flags & bit)
    rest = flags & ~sum(bit for bit, _ in _SHF_LETTERS)
    return out + (f"+0x{rest:x}" if rest else "")


def segment_flags(flags: int) -> str:
    """``RWX`` letters of a segment's permissions, ``-`` for a missing one."""
    return ("R" if flags & elf.PF_R else "-") + ("W" if flags & elf.PF_W else "-") + ("X" if flags & elf.PF_X else "-")


# ------------------------------------------------------------------- ELF
class _Elf:
    """An ELF file being summarised: the parsed file plus the helpers the summary needs."""

    def __init__(self, data: bytes, name: str):
        self.f = elf.ElfFile(data, name)
        self.name = name
        self.data = data
        self.phdrs = self.f.program_headers() if self.f.phoff or self.f.phnum else []
        if self.phdrs and self.f.phentsize != (32 if self.f.bits == 32 else 56):
            raise DynError("bad program header size", name)
        self.arch = arch_for_machine(self.f.machine, self.f.bits)

    def sec_type(self, t: int) -> str:
        if t in SECTION_TYPES:
            return SECTION_TYPES[t]
        extra = ARM_SECTION_TYPES if self.f.machine == EM_ARM else X86_SECTION_TYPES
        return _name(extra, t)

    def seg_type(self, t: int) -> str:
        if t in SEGMENT_TYPES:
            return SEGMENT_TYPES[t]
        return _name(ARM_SEGMENT_TYPES if self.f.machine == EM_ARM else {}, t)

    def section_name(self, shndx: int) -> str:
        if shndx == elf.SHN_UNDEF:
            return "UND"
        if shndx == elf.SHN_ABS:
            return "ABS"
        if shndx == elf.SHN_COMMON:
            return "COMMON"
        if shndx < len(self.f.sections):
            return self.f.sections[shndx].name
        return f"0x{shndx:x}"

    def vaddr_bytes(self, addr: int, size: int, what: str) -> bytes:
        """File bytes at a virtual address (through the PT_LOAD segments)."""
        for t, _fl, off, va, _pa, fs, _ms, _al in self.phdrs:
            if t == elf.PT_LOAD and va <= addr and addr + size <= va + fs:
                start = off + addr - va
                if start + size > len(self.data):
                    break
                return self.data[start : start + size]
        raise DynError(f"{what} at 0x{addr:x} (0x{size:x} bytes) is not in the file", self.name)

    def header(self) -> dict:
        f = self.f
        return {
            "class": f"ELF{f.bits}",
            "machine": f.machine,
            "machine_name": _name(MACHINES, f.machine),
            "arch": self.arch.name if self.arch else None,
            "type": _name(ELF_TYPES, f.type),
            "entry": f.entry,
            "flags": f.flags,
        }

    def segments(self) -> list[dict]:
        return [
            {
                "type": self.seg_type(t),
                "flags": segment_flags(fl),
                "offset": off,
                "vaddr": va,
                "paddr": pa,
                "filesz": fs,
                "memsz": ms,
                "align": al,
            }
            for t, fl, off, va, pa, fs, ms, al in self.phdrs
        ]

    def sections(self) -> list[dict]:
        return [
            {
                "index": s.index,
                "name": s.name,
                "type": self.sec_type(s.type),
                "flags": section_flags(s.flags),
                "addr": s.addr,
                "offset": s.offset,
                "size": s.size,
                "link": s.link,
                "info": s.info,
                "align": s.align,
                "entsize": s.entsize,
            }
            for s in self.f.sections
        ]

    def _sym(self, s: elf.Symbol) -> dict:
        return {
            "name": s.name,
            "value": s.value,
            "size": s.size,
            "type": _name(SYMBOL_TYPES, s.type),
            "bind": _name(SYMBOL_BINDS, s.bind),
            "section": self.section_name(s.shndx),
        }

    def symbols(self) -> dict | None:
        tab = next((s for s in self.f.sections if s.type == elf.SHT_SYMTAB), None)
        if tab is None:
            return None
        syms = self.f.symbols(tab)
        defined = [self._sym(s) for s in syms[1:] if s.bind != elf.STB_LOCAL and s.shndx != elf.SHN_UNDEF]
        undefined = sum(1 for s in syms[1:] if s.bind != elf.STB_LOCAL and s.shndx == elf.SHN_UNDEF)
        return {
            "count": len(syms),
            "locals": sum(1 for s in syms if s.bind == elf.STB_LOCAL),
            "undefined_globals": undefined,
            "defined_globals": defined,
        }

    # ---------------------------------------------------------- dynamic
    def dynamic_entries(self) -> list[tuple[int, int]] | None:
        """(tag, value) of each .dynamic entry up to DT_NULL, or None without a dynamic section."""
        sec = next((s for s in self.f.sections if s.type == elf.SHT_DYNAMIC), None)
        if sec is not None:
            raw = bytes(self.f.section_data(sec))
        else:
            ph = next((p for p in self.phdrs if p[0] == elf.PT_DYNAMIC), None)
            if ph is None:
                return None
            off, fs = ph[2], ph[5]
            if off + fs > len(self.data):
                raise DynError("truncated ELF file (PT_DYNAMIC)", self.name)
            raw = self.data[off : off + fs]
        fmt = "<iI" if self.f.bits == 32 else "<qQ"
        size = struct.calcsize(fmt)
        out = []
        for i in range(len(raw) // size):
            tag, val = struct.unpack_from(fmt, raw, i * size)
            out.append((tag, val))
            if tag == DT_NULL:
                break
        return out

    def dynstr(self, entries: list[tuple[int, int]]) -> bytes:
        sec = next((s for s in self.f.sections if s.type == elf.SHT_DYNSYM), None)
        if sec is not None:
            return bytes(self.f.section_data(self.f.link_section(sec)))
        tags = dict(entries)
        if DT_STRTAB in tags and DT_STRSZ in tags:
            return self.vaddr_bytes(tags[DT_STRTAB], tags[DT_STRSZ], "DT_STRTAB")
        return b""

    def dynamic(self) -> dict | None:
        entries = self.dynamic_entries()
        if entries is None:
            return None
        strtab = self.dynstr(entries)

        def string(off: int) -> str:
            if off >= len(strtab):
                raise DynError(f"dynamic string offset 0x{off:x} outside the string table", self.name)
            end = strtab.find(b"\0", off)
            if end < 0:
                raise DynError("unterminated dynamic string", self.name)
            return strtab[off:end].decode("utf-8", "surrogateescape")

        tags = []
        for tag, val in entries:
            e: dict = {"tag": _name(DYNAMIC_TAGS, tag), "value": val}
            if tag in _STRING_TAGS:
                e["string"] = string(val)
            tags.append(e)
        needed = [string(v) for t, v in entries if t == DT_NEEDED]
        interp = None
        for t, _fl, off, _va, _pa, fs, _ms, _al in self.phdrs:
            if t == elf.PT_INTERP:
                if off + fs > len(self.data):
                    raise DynError("truncated ELF file (PT_INTERP)", self.name)
                interp = self.data[off : off + fs].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        return {"interp": interp, "needed": needed, "entries": tags}

    def _versions(self) -> dict[int, str]:
        """Version index -> name, from .gnu.version_r (what the imports need)."""
        sec = next((s for s in self.f.sections if s.type == elf.SHT_GNU_VERNEED), None)
        if sec is None:
            return {}
        data = bytes(self.f.section_data(sec))
        strtab = bytes(self.f.section_data(self.f.link_section(sec)))
        out: dict[int, str] = {}
        off, seen = 0, 0
        while off + 16 <= len(data) and seen < 1000:
            _ver, cnt, _file, aux, nxt = struct.unpack_from("<HHIII", data, off)
            a = off + aux
            for _ in range(cnt):
                if a + 16 > len(data):
                    raise DynError("truncated .gnu.version_r", self.name)
                _h, _fl, other, name, anext = struct.unpack_from("<IHHII", data, a)
                end = strtab.find(b"\0", name)
                if name >= len(strtab) or end < 0:
                    raise DynError(".gnu.version_r: bad name offset", self.name)
                out[other] = strtab[name:end].decode("utf-8", "surrogateescape")
                if not anext:
                    break
                a += anext
            seen += 1
            if not nxt:
                break
            off += nxt
        return out

    def dynsyms(self) -> dict | None:
        sec = next((s for s in self.f.sections if s.type == elf.SHT_DYNSYM), None)
        if sec is None:
            return None
        syms = self.f.symbols(sec)
        versym_sec = next((s for s in self.f.sections if s.type == elf.SHT_GNU_VERSYM), None)
        versions = self._versions()
        versym: list[int] = []
        if versym_sec is not None:
            raw = bytes(self.f.section_data(versym_sec))
            versym = list(struct.unpack(f"<{len(raw) // 2}H", raw[: len(raw) // 2 * 2]))
        imports, exports = [], []
        for i, s in enumerate(syms[1:], start=1):
            if s.shndx == elf.SHN_UNDEF:
                v = versym[i] & 0x7FFF if i < len(versym) else 0
                imports.append(
                    {
                        "index": i,
                        "name": s.name,
                        "version": versions.get(v),
                        "type": _name(SYMBOL_TYPES, s.type),
                        "bind": _name(SYMBOL_BINDS, s.bind),
                        "value": s.value,
                    }
                )
            else:
                d = self._sym(s)
                exports.append({"index": i, **d})
        return {"count": len(syms), "imports": imports, "exports": exports}

    def directives(self) -> dict | None:
        from toolchain.directives import SECTION, parse_directives

        sec = self.f.section_by_name(SECTION)
        if sec is None:
            return None
        d = parse_directives(bytes(self.f.section_data(sec)), self.name)
        return {
            "arch": d.arch,
            "imports": [{"local": i.local, "remote": i.remote, "path": i.path} for i in d.imports],
            "exports": [{"local": e.local, "remote": e.remote} for e in d.exports],
        }

    # ------------------------------------------------------------- hash
    def hash_info(self) -> dict:
        return {"sysv": self.sysv_hash(), "gnu": self.gnu_hash()}

    def sysv_hash(self) -> dict | None:
        name, data = self._table(elf.SHT_HASH, DT_HASH)
        if name is None:
            return None
        if len(data) < 8:
            raise DynError(f"{name}: truncated hash table", self.name)
        nbucket, nchain = struct.unpack_from("<II", data, 0)
        if 8 + 4 * (nbucket + nchain) > len(data):
            raise DynError(f"{name}: truncated hash table ({nbucket} buckets, {nchain} chains)", self.name)
        buckets = struct.unpack_from(f"<{nbucket}I", data, 8)
        chain = struct.unpack_from(f"<{nchain}I", data, 8 + 4 * nbucket)
        lengths = []
        reached = 0
        for b in buckets:
            n, i = 0, b
            while i != 0:
                if i >= nchain or n > nchain:
                    raise DynError(f"{name}: bad chain (index {i}, {nchain} symbols)", self.name)
                n += 1
                i = chain[i]
            lengths.append(n)
            reached += n
        return {"section": name, "nbucket": nbucket, "nsyms": nchain, "hashed": reached, **_chain_figures(lengths)}

    def gnu_hash(self) -> dict | None:
        name, data = self._table(elf.SHT_GNU_HASH, DT_GNU_HASH)
        if name is None:
            return None
        w = self.f.bits // 8
        if len(data) < 16:
            raise DynError(f"{name}: truncated GNU hash table", self.name)
        nbucket, symoffset, maskwords, shift = struct.unpack_from("<4I", data, 0)
        chain_at = 16 + maskwords * w + 4 * nbucket
        if chain_at > len(data):
            raise DynError(f"{name}: truncated GNU hash table ({nbucket} buckets, {maskwords} Bloom words)", self.name)
        bloom = struct.unpack_from(f"<{maskwords}{'Q' if w == 8 else 'I'}", data, 16)
        buckets = struct.unpack_from(f"<{nbucket}I", data, 16 + maskwords * w)
        nchain = (len(data) - chain_at) // 4
        chain = struct.unpack_from(f"<{nchain}I", data, chain_at)
        lengths = []
        for b in buckets:
            n = 0
            if b:
                i = b - symoffset
                if b < symoffset:
                    raise DynError(f"{name}: bucket points at symbol {b}, below symoffset {symoffset}", self.name)
                while True:
                    if i >= nchain:
                        raise DynError(f"{name}: chain runs past the end of the table", self.name)
                    n += 1
                    if chain[i] & 1:
                        break
                    i += 1
            lengths.append(n)
        bits_set = sum(bin(word).count("1") for word in bloom)
        return {
            "section": name,
            "nbucket": nbucket,
            "symoffset": symoffset,
            "nsyms": symoffset + nchain,
            "hashed": nchain,
            "bloom_size": maskwords,
            "bloom_bits": maskwords * w * 8,
            "bloom_shift": shift,
            "bloom_bits_set": bits_set,
            **_chain_figures(lengths),
        }

    def _table(self, sht: int, dt: int) -> tuple[str | None, bytes]:
        sec = next((s for s in self.f.sections if s.type == sht), None)
        if sec is not None:
            return sec.name, bytes(self.f.section_data(sec))
        entries = dict(self.dynamic_entries() or [])
        if dt not in entries:
            return None, b""
        # No section header: the table runs to the end of its segment; the header sizes the rest.
        addr = entries[dt]
        for t, _fl, off, va, _pa, fs, _ms, _al in self.phdrs:
            if t == elf.PT_LOAD and va <= addr < va + fs:
                start = off + addr - va
                return _name(DYNAMIC_TAGS, dt), self.data[start : off + fs]
        raise DynError(f"{_name(DYNAMIC_TAGS, dt)} at 0x{addr:x} is not in the file", self.name)


def _chain_figures(lengths: list[int]) -> dict:
    """max, means and histogram (length -> number of buckets) of chain lengths."""
    total = sum(lengths)
    used = [n for n in lengths if n]
    hist: dict[str, int] = {}
    for n in sorted(set(lengths)):
        hist[str(n)] = lengths.count(n)
    return {
        "chain_max": max(lengths, default=0),
        "chain_mean": round(total / len(lengths), 4) if lengths else 0.0,
        "chain_mean_nonempty": round(total / len(used), 4) if used else 0.0,
        "empty_buckets": len(lengths) - len(used),
        "histogram": hist,
    }


def elf_info(data: bytes, name: str, with_hash: bool = False) -> dict:
    """The summary of an ELF file as a JSON-ready dict (stable key order)."""
    e = _Elf(data, name)
    out = {
        "file": name,
        "format": "elf",
        "header": e.header(),
        "segments": e.segments(),
        "sections": e.sections(),
        "symbols": e.symbols(),
        "dynamic": e.dynamic(),
        "dynsyms": e.dynsyms(),
    }
    if e.f.type == elf.ET_REL:
        out["directives"] = e.directives()
    if with_hash:
        out["hash"] = e.hash_info()
    return out


# ---------------------------------------------------------------- modules
def module_magics() -> dict[int, str]:
    """Module magic -> arch name."""
    from toolchain.dynld.module import dyn_magic

    return {dyn_magic(a): a.name for a in ARCHES.values()}


def module_info(data: bytes, name: str, with_hash: bool = False) -> dict:
    """The summary of a dynld module as a JSON-ready dict (stable key order)."""
    from toolchain.dynld import module as dlm

    mod = dlm.decode(data, name, check_pages=False)
    try:
        d = dlm.describe(mod)
    except DynError as e:
        raise DynError(e.msg, name) from None
    out = {"file": name, **d}
    out["text_page_aligned"] = len(mod.text) % dlm.PAGE == 0
    if with_hash:
        out["hash"] = None
    return out


def info(data: bytes, name: str, with_hash: bool = False) -> dict:
    """Summary of an ELF file or a dynld module (DynError if it is neither or is malformed)."""
    try:
        if data[:4] == b"\x7fELF":
            return elf_info(data, name, with_hash)
        if len(data) >= 4 and struct.unpack(">I", data[:4])[0] in module_magics():
            return module_info(data, name, with_hash)
    except (struct.error, IndexError, ValueError, OverflowError) as e:
        raise DynError(f"malformed file: {e}", name) from None
    raise DynError("not an ELF file or a dynld module", name)


# ------------------------------------------------------------------- text
def _hex(v: int | None) -> str:
    return "-" if v is None else f"0x{v:x}"


def format_text(d: dict) -> str:
    """The human-readable summary."""
    if d["format"] == "dynld":
        return _format_module(d)
    lines: list[str] = []
    h = d["header"]
    arch = f" ({h['arch']})" if h["arch"] else ""
    lines.append(
        f"{d['file']}: {h['class']} {h['type']}, {h['machine_name']}{arch}, entry {_hex(h['entry'])}, "
        f"flags {_hex(h['flags'])}"
    )
    segs = d["segments"]
    lines.append(f"Program headers ({len(segs)}):")
    for s in segs:
        lines.append(
            f"  {s['type']:<12} {s['flags']} off {_hex(s['offset']):>9} vaddr {_hex(s['vaddr']):>10} "
            f"filesz {_hex(s['filesz']):>8} memsz {_hex(s['memsz']):>8} align {_hex(s['align'])}"
        )
    secs = d["sections"]
    lines.append(f"Sections ({len(secs)}):")
    for s in secs[1:] if secs and secs[0]["type"] == "NULL" else secs:
        lines.append(
            f"  [{s['index']:2}] {s['name']:<20} {s['type']:<12} {s['flags']:<4} addr {_hex(s['addr']):>10} "
            f"off {_hex(s['offset']):>8} size {_hex(s['size']):>8}"
        )
    sy = d["symbols"]
    if sy is None:
        lines.append("Symbols: no symbol table")
    else:
        g = sy["defined_globals"]
        lines.append(
            f"Symbols: {sy['count']} ({sy['locals']} local, {sy['undefined_globals']} undefined global, "
            f"{len(g)} defined global):"
        )
        for s in g:
            lines.append(
                f"  {_hex(s['value']):>10} {s['size']:6} {s['type']:<7} {s['bind']:<6} {s['section']:<12} {s['name']}"
            )
    dy = d["dynamic"]
    if dy is not None:
        lines.append(f"Dynamic section ({len(dy['entries'])} entries):")
        if dy["interp"]:
            lines.append(f"  interpreter {dy['interp']}")
        for e in dy["entries"]:
            v = e.get("string", _hex(e["value"]))
            if e["tag"] == "PLTREL":
                v = _name(DYNAMIC_TAGS, e["value"])
            lines.append(f"  {e['tag']:<14} {v}")
    ds = d["dynsyms"]
    if ds is not None:
        lines.append(f"Dynamic symbols ({ds['count']}): {len(ds['imports'])} imports, {len(ds['exports'])} exports")
        for s in ds["imports"]:
            ver = f"@{s['version']}" if s["version"] else ""
            lines.append(f"  import {s['name']}{ver}")
        for s in ds["exports"]:
            lines.append(f"  export {s['name']:<24} {_hex(s['value']):>10} {s['size']:6} {s['type']:<7} {s['section']}")
    di = d.get("directives")
    if di is not None:
        lines.append(f"Directives (arch {di['arch']}): {len(di['imports'])} dynimport, {len(di['exports'])} dynexport")
        for i in di["imports"]:
            lines.append(f"  dynimport {i['local']} {i['remote']} {i['path']}")
        for x in di["exports"]:
            lines.append(f"  dynexport {x['local']} {x['remote']}")
    if "hash" in d:
        lines += _format_hash(d["hash"])
    return "\n".join(lines) + "\n"


def _hist(h: dict[str, int]) -> str:
    return " ".join(f"{k}:{v}" for k, v in h.items())


def _format_hash(h: dict) -> list[str]:
    lines = ["Hash tables:"]
    s, g = h["sysv"], h["gnu"]
    if s is None and g is None:
        lines.append("  none")
    if s is not None:
        lines.append(f"  {s['section']} (SysV): {s['nbucket']} buckets, {s['nsyms']} symbols, {s['hashed']} in chains")
        lines.append(
            f"    chain length max {s['chain_max']}, mean {s['chain_mean']:.2f} "
            f"({s['chain_mean_nonempty']:.2f} over non-empty buckets), {s['empty_buckets']} empty buckets"
        )
        lines.append(f"    histogram (length:buckets) {_hist(s['histogram'])}")
    if g is not None:
        lines.append(
            f"  {g['section']} (GNU): {g['nbucket']} buckets, {g['nsyms']} symbols, symoffset "
            f"{g['symoffset']}, {g['hashed']} hashed"
        )
        lines.append(
            f"    Bloom filter {g['bloom_size']} words ({g['bloom_bits']} bits, {g['bloom_bits_set']} set), "
            f"shift {g['bloom_shift']}"
        )
        lines.append(
            f"    chain length max {g['chain_max']}, mean {g['chain_mean']:.2f} "
            f"({g['chain_mean_nonempty']:.2f} over non-empty buckets), {g['empty_buckets']} empty buckets"
        )
        lines.append(f"    histogram (length:buckets) {_hist(g['histogram'])}")
    return lines


MODULE_LAYOUTS = {
    "file-mapped": "text ends on a page of the file: the runtime maps text and data from it",
    "page-aligned": "text is whole pages: the runtime copies the image",
    "inferno": "Inferno's linker: text and data share a page; the runtime loads it only after dynlegacy(1)",
}


def _format_module(d: dict) -> str:
    lines = [f"{d['file']}: dynld module, {d['arch']}, magic {_hex(d['magic'])}"]
    lines.append(
        f"Sizes: text {_hex(d['text'])}, data {_hex(d['data'])}, bss {_hex(d['bss'])}, "
        f"image {_hex(d['size'])}; export table at {_hex(d['entry'])}; skipped {d['skipped']} bytes"
    )
    lines.append(f"Layout: {d['layout']} ({MODULE_LAYOUTS[d['layout']]})")
    lines.append(f"Exports ({len(d['exports'])}):")
    for e in d["exports"]:
        lines.append(f"  {e['name']:<24} sig 0x{e['sig']:08x} addr {_hex(e['addr'])}")
    lines.append(f"Imports ({len(d['imports'])}):")
    for i in d["imports"]:
        lines.append(f"  {i['name']:<24} sig 0x{i['sig']:08x}")
    from toolchain.dynld.module import MODE_NAMES

    r = d["relocs"]
    modes = ", ".join(f"mode {m} ({MODE_NAMES.get(int(m), '?')}): {n}" for m, n in r["by_mode"].items())
    lines.append(f"Relocations: {r['total']} ({modes})")
    if "hash" in d:
        lines.append("Hash tables: none (dynld module)")
    return "\n".join(lines) + "\n"


def _body(argv: Sequence[str]) -> int:
    p = ArgumentParser(prog=PROG, description="Summarise an ELF file or a dynld module.")
    p.add_argument("file", help="ELF file (object, executable, shared library) or dynld module")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--hash", action="store_true", help="add .hash / .gnu.hash figures")
    a = p.parse_args(list(argv))
    data = read_input(a.file)
    d = info(data, a.file, a.hash)
    text = json.dumps(d, indent=2) + "\n" if a.json else format_text(d)
    _write_stdout(text)
    return 0


def _write_stdout(text: str) -> None:
    """Print text whose names may hold undecodable bytes (kept as surrogate escapes): write them back raw."""
    buf = getattr(sys.stdout, "buffer", None)
    if buf is None:
        sys.stdout.write(text)
        return
    try:
        sys.stdout.flush()
        buf.write(text.encode("utf-8", "surrogateescape"))
        buf.flush()
    except BrokenPipeError:  # dyninfo ... | head: the reader has gone; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``dyninfo``."""
    return run_main(PROG, _body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
