"""``dyninfo``: a summary of an ELF file or a dynld module, readelf-style views, pictures.

    dyninfo FILE [--json] [--hash]
    dyninfo FILE [-h] [-l] [-S] [-s] [--dyn-syms] [-d] [-r] [-V] [-a] [--json]
    dyninfo --svg FILE|MAPFILE

Without switches, for an ELF file: the header, program headers, sections, the symbol
table (count and defined globals), the dynamic section and dynamic symbols (imports and
exports), and the directives of an object compiled by dyncc.  For a dynld module
(recognised by its magic): header, sizes, exports, imports and relocation counts per
mode.  ``--hash`` adds figures about ``.hash`` and ``.gnu.hash``: buckets, symbols,
chain lengths (max, mean, histogram) and the Bloom filter.

The readelf-style switches print only what they name, in readelf's order, combinable:
the file header, program headers (with the sections in each), section headers, every
symbol table (undefined symbols included; ``.dynsym`` with versions), the dynamic
section, relocations, version sections.  ``--json`` prints the same data as one JSON
object whose keys always come in the same order.  ``--svg`` draws the memory map of an
executable or dynld module, or a size treemap of a ``dynlink --map`` file
(``toolchain.svgmap``).

This module is formatting: every ELF fact comes from ``toolchain.elf``'s readers.
Every malformed input is a one-line error and exit status 1.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from collections.abc import Sequence

from . import elf
from .arch import ARCHES, arch_for_machine
from .argparsing import ArgumentParser
from .errors import DynError, UsageError, read_input, run_main

PROG = "dyninfo"

# The readelf-style views, in the order they are printed: (option dest, JSON key).
VIEWS = (
    ("file_header", "header"),
    ("program_headers", "segments"),
    ("section_headers", "sections"),
    ("syms", "symbol_tables"),
    ("dyn_syms", "dynamic_symbols"),
    ("dynamic", "dynamic"),
    ("relocs", "relocations"),
    ("version_info", "versions"),
)


# ------------------------------------------------------------------- ELF
class _Summary:
    """The JSON-ready views of one ELF file, each built from ``toolchain.elf``'s readers."""

    def __init__(self, data: bytes, name: str):
        self.f = elf.ElfFile(data, name)
        self.name = name
        self.segs = self.f.segments()
        self.arch = arch_for_machine(self.f.machine, self.f.bits)

    # ------------------------------------------------------- the summary
    def header(self) -> dict:
        f = self.f
        return {
            "class": f"ELF{f.bits}",
            "machine": f.machine,
            "machine_name": elf.machine_name(f.machine),
            "arch": self.arch.name if self.arch else None,
            "type": elf.elf_type_name(f.type),
            "entry": f.entry,
            "flags": f.flags,
        }

    def segments(self) -> list[dict]:
        m = self.f.machine
        return [
            {
                "type": elf.segment_type_name(p.type, m),
                "flags": elf.segment_flags_letters(p.flags),
                "offset": p.offset,
                "vaddr": p.vaddr,
                "paddr": p.paddr,
                "filesz": p.filesz,
                "memsz": p.memsz,
                "align": p.align,
            }
            for p in self.segs
        ]

    def sections(self) -> list[dict]:
        m = self.f.machine
        return [
            {
                "index": s.index,
                "name": s.name,
                "type": elf.section_type_name(s.type, m),
                "flags": elf.section_flags_letters(s.flags),
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
            "type": elf.symbol_type_name(s.type),
            "bind": elf.symbol_bind_name(s.bind),
            "section": self.f.section_name(s.shndx),
        }

    def symbols(self) -> dict | None:
        tab = self.f.first_section(elf.SHT_SYMTAB)
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

    def dynamic(self) -> dict | None:
        entries = self.f.dynamic_entries()
        if entries is None:
            return None
        strtab = self.f.dynamic_strings()
        string_tags = (elf.DT_NEEDED, elf.DT_SONAME, elf.DT_RPATH, elf.DT_RUNPATH)
        tags = []
        for tag, val in entries:
            e: dict = {"tag": elf.dynamic_tag_name(tag), "value": val}
            if tag in string_tags:
                e["string"] = elf.string_at(strtab, val, "dynamic string", self.name)
            tags.append(e)
        needed = [t["string"] for t, (tag, _v) in zip(tags, entries, strict=True) if tag == elf.DT_NEEDED]
        return {"interp": self.f.interpreter(), "needed": needed, "entries": tags}

    def _dynsym_versions(self, count: int) -> list[str | None]:
        """The version name of each dynamic symbol (None for local/global or without versions)."""
        versym = self.f.versym()
        names = self.f.version_names()
        out: list[str | None] = []
        for i in range(count):
            v = versym[i] & 0x7FFF if i < len(versym) else 0
            out.append(names.get(v) if v > elf.VER_NDX_GLOBAL else None)
        return out

    def dynsyms(self) -> dict | None:
        sec = self.f.first_section(elf.SHT_DYNSYM)
        if sec is None:
            return None
        syms = self.f.symbols(sec)
        versions = self._dynsym_versions(len(syms))
        imports, exports = [], []
        for i, s in enumerate(syms[1:], start=1):
            if s.shndx == elf.SHN_UNDEF:
                imports.append(
                    {
                        "index": i,
                        "name": s.name,
                        "version": versions[i],
                        "type": elf.symbol_type_name(s.type),
                        "bind": elf.symbol_bind_name(s.bind),
                        "value": s.value,
                    }
                )
            else:
                exports.append({"index": i, **self._sym(s)})
        return {"count": len(syms), "imports": imports, "exports": exports}

    def directives(self) -> dict | None:
        from .directives import SECTION, parse_directives

        sec = self.f.section_by_name(SECTION)
        if sec is None:
            return None
        d = parse_directives(bytes(self.f.section_data(sec)), self.name)
        return {
            "arch": d.arch,
            "imports": [{"local": i.local, "remote": i.remote, "path": i.path} for i in d.imports],
            "exports": [{"local": e.local, "remote": e.remote} for e in d.exports],
        }

    def hash_info(self) -> dict:
        return {"sysv": self.sysv_hash(), "gnu": self.gnu_hash()}

    def sysv_hash(self) -> dict | None:
        found = self.f.sysv_hash_table()
        if found is None:
            return None
        where, t = found
        lengths = t.chain_lengths(where, self.name)
        return {
            "section": where,
            "nbucket": t.nbucket,
            "nsyms": t.nchain,
            "hashed": sum(lengths),
            **_chain_figures(lengths),
        }

    def gnu_hash(self) -> dict | None:
        found = self.f.gnu_hash_table()
        if found is None:
            return None
        where, t = found
        lengths = t.chain_lengths(where, self.name)
        return {
            "section": where,
            "nbucket": t.nbucket,
            "symoffset": t.symoffset,
            "nsyms": t.symoffset + len(t.chains),
            "hashed": len(t.chains),
            "bloom_size": len(t.bloom),
            "bloom_bits": len(t.bloom) * self.f.bits,
            "bloom_shift": t.bloom_shift,
            "bloom_bits_set": sum(bin(word).count("1") for word in t.bloom),
            **_chain_figures(lengths),
        }

    # ------------------------------------------------ readelf-style views
    def file_header(self) -> dict:
        h = self.f.header()
        return {
            "class": f"ELF{h.bits}",
            "data": "little-endian",
            "osabi": h.osabi,
            "abiversion": h.abiversion,
            "type": elf.elf_type_name(h.type),
            "machine": h.machine,
            "machine_name": elf.machine_name(h.machine),
            "arch": self.arch.name if self.arch else None,
            "version": h.version,
            "entry": h.entry,
            "phoff": h.phoff,
            "shoff": h.shoff,
            "flags": h.flags,
            "ehsize": h.ehsize,
            "phentsize": h.phentsize,
            "phnum": h.phnum,
            "shentsize": h.shentsize,
            "shnum": len(self.f.sections),
            "shstrndx": self.f.shstrndx,
        }

    def program_headers(self) -> list[dict]:
        """The segments, each with the names of the sections it holds."""
        out = self.segments()
        for seg, d in zip(self.segs, out, strict=True):
            d["sections"] = [s.name for s in self.f.sections if _in_segment(s, seg)]
        return out

    def symbol_table(self, sec: elf.Section) -> dict:
        """Every entry of one symbol table, undefined ones included; versions for ``.dynsym``."""
        syms = self.f.symbols(sec)
        versions = self._dynsym_versions(len(syms)) if sec.type == elf.SHT_DYNSYM else [None] * len(syms)
        rows = []
        for i, s in enumerate(syms):
            row = {
                "index": i,
                "name": s.name,
                "value": s.value,
                "size": s.size,
                "type": elf.symbol_type_name(s.type),
                "bind": elf.symbol_bind_name(s.bind),
                "visibility": elf.visibility_name(s.visibility),
                "shndx": s.shndx,
                "section": self.f.section_name(s.shndx),
            }
            if sec.type == elf.SHT_DYNSYM:
                row["version"] = versions[i]
            rows.append(row)
        return {"section": sec.name, "symbols": rows}

    def symbol_tables(self) -> list[dict]:
        tabs = [s for s in self.f.sections if s.type in (elf.SHT_DYNSYM, elf.SHT_SYMTAB)]
        return [self.symbol_table(s) for s in tabs]

    def dynamic_symbols(self) -> dict | None:
        sec = self.f.first_section(elf.SHT_DYNSYM)
        return None if sec is None else self.symbol_table(sec)

    def relocations(self) -> list[dict]:
        """Every SHT_REL/SHT_RELA section with its entries, symbol names resolved."""
        out = []
        machine = self.f.machine
        sym_cache: dict[int, list[elf.Symbol]] = {}
        for sec in self.f.sections:
            if sec.type not in (elf.SHT_REL, elf.SHT_RELA):
                continue
            syms: list[elf.Symbol] = []
            symtab = None
            if 0 < sec.link < len(self.f.sections):
                symtab = self.f.sections[sec.link]
                if symtab.type in (elf.SHT_SYMTAB, elf.SHT_DYNSYM):
                    if sec.link not in sym_cache:
                        sym_cache[sec.link] = self.f.symbols(symtab)
                    syms = sym_cache[sec.link]
            applies = self.f.sections[sec.info].name if 0 < sec.info < len(self.f.sections) else None
            entries = []
            for r in self.f.relocation_records(sec):
                if r.sym and r.sym >= len(syms):
                    raise DynError(f"{sec.name}: relocation names symbol {r.sym}, past the symbol table", self.name)
                s = syms[r.sym] if r.sym else None
                name = s.name if s else ""
                if s is not None and not name and s.type == elf.STT_SECTION:
                    name = self.f.section_name(s.shndx)
                entries.append(
                    {
                        "offset": r.offset,
                        "type": elf.reloc_type_name(machine, r.type),
                        "type_value": r.type,
                        "sym": r.sym,
                        "symbol": name,
                        "symbol_value": s.value if s else 0,
                        "addend": r.addend,
                    }
                )
            out.append(
                {
                    "section": sec.name,
                    "kind": "RELA" if sec.type == elf.SHT_RELA else "REL",
                    "offset": sec.offset,
                    "applies_to": applies,
                    "symtab": symtab.name if symtab is not None else None,
                    "entries": entries,
                }
            )
        return out

    def versions(self) -> dict:
        """``.gnu.version`` (as names), ``.gnu.version_r`` and ``.gnu.version_d``."""
        return {
            "versym": self.f.versym(),
            "needs": [
                {
                    "file": n.file,
                    "versions": [{"name": a.name, "hash": a.hash, "flags": a.flags, "ndx": a.ndx} for a in n.versions],
                }
                for n in self.f.version_needs()
            ],
            "defs": [{"ndx": d.ndx, "flags": d.flags, "hash": d.hash, "names": d.names} for d in self.f.version_defs()],
        }


def _in_segment(sec: elf.Section, seg: elf.Segment) -> bool:
    """Whether an allocated section lies in a segment's memory (``.tbss`` only in PT_TLS)."""
    if not sec.flags & elf.SHF_ALLOC or sec.type == elf.SHT_NULL:
        return False
    if sec.flags & elf.SHF_TLS and sec.type == elf.SHT_NOBITS and seg.type != elf.PT_TLS:
        return False
    end = sec.addr + (sec.size or 1)
    return seg.vaddr <= sec.addr and end <= seg.vaddr + max(seg.memsz, 1) and seg.memsz > 0


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
    e = _Summary(data, name)
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
    from .dynld.module import dyn_magic

    return {dyn_magic(a): a.name for a in ARCHES.values()}


def module_info(data: bytes, name: str, with_hash: bool = False) -> dict:
    """The summary of a dynld module as a JSON-ready dict (stable key order)."""
    from .dynld import module as dlm

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
        if _is_module(data):
            return module_info(data, name, with_hash)
    except (struct.error, IndexError, ValueError, OverflowError) as e:
        raise DynError(f"malformed file: {e}", name) from None
    if data[:8] == b"!<arch>\n":
        raise DynError("an ar archive, not an ELF file or a dynld module: extract a member (ar x) to read it", name)
    if data[:4] == elf.LLVM_BITCODE_MAGIC:
        raise DynError(elf.LLVM_BITCODE_ERROR, name)
    raise DynError("not an ELF file or a dynld module", name)


# ------------------------------------------------------------------- text
def _hex(v: int | None) -> str:
    if v is None:
        return "-"
    return f"-0x{-v:x}" if v < 0 else f"0x{v:x}"


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
                v = elf.dynamic_tag_name(e["value"])
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
    from .dynld.module import MODE_NAMES

    r = d["relocs"]
    modes = ", ".join(f"mode {m} ({MODE_NAMES.get(int(m), '?')}): {n}" for m, n in r["by_mode"].items())
    lines.append(f"Relocations: {r['total']} ({modes})")
    if "hash" in d:
        lines.append("Hash tables: none (dynld module)")
    return "\n".join(lines) + "\n"


def elf_views(data: bytes, name: str, views: Sequence[str]) -> dict:
    """The readelf-style views named in ``views`` (option dests of ``VIEWS``) as a JSON-ready dict."""
    e = _Summary(data, name)
    build = {
        "file_header": e.file_header,
        "program_headers": e.program_headers,
        "section_headers": e.sections,
        "syms": e.symbol_tables,
        "dyn_syms": e.dynamic_symbols,
        "dynamic": e.dynamic,
        "relocs": e.relocations,
        "version_info": e.versions,
    }
    out: dict = {"file": name, "format": "elf"}
    for dest, key in VIEWS:
        if dest in views:
            out[key] = build[dest]()
    return out


def _symbol_index(shndx: int) -> str:
    return {elf.SHN_UNDEF: "UND", elf.SHN_ABS: "ABS", elf.SHN_COMMON: "COM"}.get(shndx, str(shndx))


def format_views(d: dict) -> str:
    """The readelf-style views as text."""
    lines: list[str] = []
    if "header" in d:
        h = d["header"]
        arch = f", {h['arch']}" if h["arch"] else ""
        lines += [
            "ELF header:",
            f"  Class:                 {h['class']}, {h['data']}",
            f"  OS/ABI, ABI version:   {h['osabi']}, {h['abiversion']}",
            f"  Type:                  {h['type']}",
            f"  Machine:               {h['machine_name']} ({h['machine']}{arch})",
            f"  Version:               {h['version']}",
            f"  Entry point:           {_hex(h['entry'])}",
            f"  Flags:                 {_hex(h['flags'])}",
            f"  Header size:           {h['ehsize']} bytes",
            f"  Program headers:       {h['phnum']} of {h['phentsize']} bytes at offset {h['phoff']}",
            f"  Section headers:       {h['shnum']} of {h['shentsize']} bytes at offset {h['shoff']}",
            f"  Section names:         section {h['shstrndx']}",
        ]
    if "segments" in d:
        segs = d["segments"]
        lines.append(f"Program headers ({len(segs)}):")
        lines.append(
            f"  {'Type':<14} {'Offset':>10} {'VirtAddr':>10} {'PhysAddr':>10} {'FileSiz':>9} {'MemSiz':>9} Flg Align"
        )
        for s in segs:
            lines.append(
                f"  {s['type']:<14} {_hex(s['offset']):>10} {_hex(s['vaddr']):>10} {_hex(s['paddr']):>10} "
                f"{_hex(s['filesz']):>9} {_hex(s['memsz']):>9} {s['flags']} {_hex(s['align'])}"
            )
        lines.append("  Sections in each segment:")
        for i, s in enumerate(segs):
            lines.append(f"   {i:02} {' '.join(s['sections'])}".rstrip())
    if "sections" in d:
        secs = d["sections"]
        lines.append(f"Section headers ({len(secs)}):")
        lines.append(
            f"  [Nr] {'Name':<20} {'Type':<14} {'Address':>10} {'Off':>8} {'Size':>8} {'ES':>4} Flg  Lk Inf Al"
        )
        for s in secs:
            lines.append(
                f"  [{s['index']:2}] {s['name']:<20} {s['type']:<14} {_hex(s['addr']):>10} {_hex(s['offset']):>8} "
                f"{_hex(s['size']):>8} {_hex(s['entsize']):>4} {s['flags']:<4} {s['link']:2} {s['info']:3} {s['align']}"
            )
    tables = list(d.get("symbol_tables", []))
    if d.get("dynamic_symbols") and not any(t["section"] == d["dynamic_symbols"]["section"] for t in tables):
        tables.insert(0, d["dynamic_symbols"])
    for t in tables:
        lines += _format_symbol_table(t)
    if "symbol_tables" in d and not tables:
        lines.append("Symbol tables: none")
    if "dynamic_symbols" in d and d["dynamic_symbols"] is None:
        lines.append("Dynamic symbols: none")
    if "dynamic" in d:
        dy = d["dynamic"]
        if dy is None:
            lines.append("Dynamic section: none")
        else:
            lines.append(f"Dynamic section ({len(dy['entries'])} entries):")
            for e in dy["entries"]:
                v = e.get("string", _hex(e["value"]))
                if e["tag"] == "PLTREL":
                    v = elf.dynamic_tag_name(e["value"])
                lines.append(f"  {e['tag']:<16} {v}")
    if "relocations" in d:
        if not d["relocations"]:
            lines.append("Relocations: none")
        for r in d["relocations"]:
            to = f" (for {r['applies_to']})" if r["applies_to"] else ""
            lines.append(f"Relocation section {r['section']}{to}: {len(r['entries'])} entries")
            lines.append(f"  {'Offset':>10} {'Type':<24} {'Sym':>5} {'Value':>10} Name + Addend")
            for x in r["entries"]:
                add = f" + {_hex(x['addend'])}" if r["kind"] == "RELA" else ""
                lines.append(
                    f"  {_hex(x['offset']):>10} {x['type']:<24} {x['sym']:5} {_hex(x['symbol_value']):>10} "
                    f"{x['symbol']}{add}"
                )
    if "versions" in d:
        v = d["versions"]
        if not (v["versym"] or v["needs"] or v["defs"]):
            lines.append("Version sections: none")
        if v["versym"]:
            lines.append(f"Version symbols ({len(v['versym'])}): " + " ".join(f"{x:x}" for x in v["versym"]))
        for need in v["needs"]:
            lines.append(f"Version needs from {need['file']}:")
            for a in need["versions"]:
                lines.append(f"  {a['ndx']:3} {a['name']} (hash {_hex(a['hash'])}, flags {_hex(a['flags'])})")
        if v["defs"]:
            lines.append("Version definitions:")
            for df in v["defs"]:
                base = " (the file itself)" if df["flags"] & elf.VER_FLG_BASE else ""
                lines.append(f"  {df['ndx']:3} {' '.join(df['names'])}{base}")
    return "\n".join(lines) + "\n"


def _format_symbol_table(t: dict) -> list[str]:
    syms = t["symbols"]
    lines = [f"Symbol table {t['section']} ({len(syms)} entries):"]
    lines.append(f"  {'Num':>5} {'Value':>10} {'Size':>6} {'Type':<8} {'Bind':<7} {'Vis':<9} {'Ndx':>5} Name")
    for s in syms:
        ver = f"@{s['version']}" if s.get("version") else ""
        lines.append(
            f"  {s['index']:5} {_hex(s['value']):>10} {s['size']:6} {s['type']:<8} {s['bind']:<7} "
            f"{s['visibility']:<9} {_symbol_index(s['shndx']):>5} {s['name']}{ver}".rstrip()
        )
    return lines


def build_parser() -> ArgumentParser:
    """dyninfo's command line (also read by the man page generator)."""
    p = ArgumentParser(
        prog=PROG,
        add_help=False,
        description="Summarise an ELF file or a dynld module; readelf-style views; draw a memory map or link map.",
    )
    p.add_argument("file", help="ELF file (object, executable, shared library), dynld module, or dynlink --map file")
    p.add_argument("--help", action="help", help="show this help and exit")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--hash", action="store_true", help="add .hash / .gnu.hash figures to the summary")
    v = p.add_argument_group("readelf-style views (ELF files; combinable; only what is named is printed)")
    v.add_argument("-h", "--file-header", dest="file_header", action="store_true", help="the ELF file header")
    v.add_argument(
        "-l", "--program-headers", "--segments", dest="program_headers", action="store_true", help="program headers"
    )
    v.add_argument(
        "-S", "--section-headers", "--sections", dest="section_headers", action="store_true", help="section headers"
    )
    v.add_argument(
        "-s", "--syms", "--symbols", dest="syms", action="store_true", help="every symbol table, undefined included"
    )
    v.add_argument("--dyn-syms", dest="dyn_syms", action="store_true", help="the dynamic symbol table")
    v.add_argument("-d", "--dynamic", dest="dynamic", action="store_true", help="the dynamic section")
    v.add_argument("-r", "--relocs", dest="relocs", action="store_true", help="relocation sections")
    v.add_argument("-V", "--version-info", dest="version_info", action="store_true", help="symbol version sections")
    v.add_argument("-a", "--all", dest="all", action="store_true", help="all of the views above")
    p.add_argument(
        "--svg",
        action="store_true",
        help="draw FILE as SVG: the memory map of an executable or dynld module, or a size treemap of a link map",
    )
    return p


def _body(argv: Sequence[str]) -> int:
    a = build_parser().parse_args(list(argv))
    views = [dest for dest, _key in VIEWS if a.all or getattr(a, dest)]
    if a.svg and (views or a.json or a.hash):
        raise UsageError("--svg draws a picture; it does not combine with --json, --hash or the views")
    if views and a.hash:
        raise UsageError("--hash belongs to the summary; it does not combine with the views")
    data = read_input(a.file)
    if a.svg:
        from . import svgmap

        _write_stdout(svgmap.draw(data, a.file))
        return 0
    if views:
        if data[:4] != b"\x7fELF":
            kind = "a dynld module" if _is_module(data) else "not an ELF file"
            raise DynError(f"{kind}: the readelf-style views read ELF files (run dyninfo without them)", a.file)
        try:
            d = elf_views(data, a.file, views)
        except (struct.error, IndexError, ValueError, OverflowError) as e:
            raise DynError(f"malformed file: {e}", a.file) from None
        text = json.dumps(d, indent=2) + "\n" if a.json else format_views(d)
    else:
        d = info(data, a.file, a.hash)
        text = json.dumps(d, indent=2) + "\n" if a.json else format_text(d)
    _write_stdout(text)
    return 0


def _is_module(data: bytes) -> bool:
    return len(data) >= 4 and struct.unpack(">I", data[:4])[0] in module_magics()


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
