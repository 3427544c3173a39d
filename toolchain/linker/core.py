"""The generic linker core: load, resolve, collect garbage, lay out, relocate.

One core serves every arch and every output: a static or dynamic ELF executable
(``toolchain.linker.elfout``) and a dynld module (``toolchain.linker.dlmout``).
Arch modules only describe relocation types and PLT code.
"""

from __future__ import annotations

import bisect
import os
import struct
from dataclasses import dataclass, field

from toolchain import elf
from toolchain.arch import Arch
from toolchain.errors import DynError, read_input
from toolchain.linker.inputs import Archive, InputSection, ObjectFile, Symbol, comdat_groups, load_object
from toolchain.linker.reloc import Field, Howto, Kind, Overflow

LINKER_SYMBOLS = (
    "__init_array_start",
    "__init_array_end",
    "__fini_array_start",
    "__fini_array_end",
    "__preinit_array_start",
    "__preinit_array_end",
    "__bss_start",
    "_edata",
    "_end",
    "end",
    "_etext",
    "etext",
    "edata",
    "__executable_start",
    "_GLOBAL_OFFSET_TABLE_",
    "_DYNAMIC",
)


@dataclass
class Options:
    """What the command line asked for."""

    arch: Arch
    output: str
    inputs: list[str]
    entry: str | None = None
    lib_dirs: list[str] = field(default_factory=list)
    libs: list[str] = field(default_factory=list)
    map_file: str | None = None
    interp: str | None = None
    hash_style: str = "both"
    module: bool = False
    manifest: str | None = None
    strip_debug: bool = False


class SyntheticSection(InputSection):
    """A section the linker makes itself (GOT, PLT, dynamic tables, export table)."""

    def __init__(self, name: str, type_: int, flags: int, align: int, entsize: int = 0):
        self.file = None  # type: ignore[assignment]
        self.index = 0
        self.name = name
        self.type = type_
        self.flags = flags
        self.align = align
        self.size = 0
        self.entsize = entsize
        self.link = 0
        self.info = 0
        self.data = b""
        self.relocs = []
        self.rel_type = 0
        self.live = True
        self.live_reason = "made by the linker"
        self.out = None
        self.offset = 0
        self.addr = 0
        self.discarded = False
        self.merged = None
        self.merge_map = ([], [])

    def __repr__(self) -> str:
        return f"<linker>({self.name})"


class OutputSection:
    """Input sections of one kind, laid out together."""

    def __init__(self, name: str, type_: int, flags: int):
        self.name = name
        self.type = type_
        self.flags = flags
        self.align = 1
        self.inputs: list[InputSection] = []
        self.addr = 0
        self.offset = 0
        self.size = 0
        self.link = 0
        self.info = 0
        self.entsize = 0
        self.index = 0

    @property
    def filesize(self) -> int:
        return 0 if self.type == elf.SHT_NOBITS else self.size


# Output sections in address order, grouped by segment permissions.
SEGMENT_ORDER: list[tuple[int, tuple[str, ...]]] = [
    (
        elf.PF_R,
        (
            ".interp",
            ".hash",
            ".gnu.hash",
            ".dynsym",
            ".dynstr",
            ".gnu.version",
            ".gnu.version_r",
            ".rela.dyn",
            ".rel.dyn",
            ".rela.plt",
            ".rel.plt",
            ".rodata",
        ),
    ),
    (elf.PF_R | elf.PF_X, (".plt", ".text", ".stubs")),
    (
        elf.PF_R | elf.PF_W,
        (
            ".tdata",
            ".tbss",
            ".preinit_array",
            ".init_array",
            ".fini_array",
            ".data",
            ".dynamic",
            ".got",
            ".got.plt",
            ".exporttab",
            ".dynbss",
            ".bss",
        ),
    ),
]


def output_section_name(sec: InputSection) -> str | None:
    """Which output section an allocated input section belongs to (None: drop it)."""
    n = sec.name
    for prefix in (".text", ".rodata", ".data", ".bss", ".init_array", ".fini_array", ".preinit_array"):
        if n == prefix or n.startswith(prefix + "."):
            if prefix == ".data" and n.startswith(".data.rel.ro"):
                return ".data"
            return prefix
    if n.startswith((".tdata", ".tbss")) or sec.flags & elf.SHF_TLS:
        return ".tbss" if sec.type == elf.SHT_NOBITS else ".tdata"
    if sec.type == elf.SHT_INIT_ARRAY:
        return ".init_array"
    if sec.type == elf.SHT_FINI_ARRAY:
        return ".fini_array"
    if sec.type == elf.SHT_PREINIT_ARRAY:
        return ".preinit_array"
    if sec.flags & elf.SHF_EXECINSTR:
        return ".text"
    if sec.flags & elf.SHF_WRITE:
        return ".bss" if sec.type == elf.SHT_NOBITS else ".data"
    return ".rodata"


# Relocation kinds scan_relocations acts on (besides imports and thunks).
_SCAN_KINDS = frozenset(
    {
        Kind.GOT_PC,
        Kind.GOT_386,
        Kind.GOT_TP_PC,
        Kind.GOT_TP,
        Kind.GOT_TP_GOTREL,
        Kind.TLS_GD,
        Kind.GOT_BASE_PC,
        Kind.GOT_OFF,
    }
)

_FAST_FORMATS = {1: ("<b", "<B"), 2: ("<h", "<H"), 4: ("<i", "<I"), 8: ("<q", "<Q")}


def _fast_fields(howtos: dict[int, Howto]) -> dict[int, tuple[str, str, int, int, int]]:
    """For plain little-endian integer fields: (read format, write format, lowest, highest, mask) by type."""
    out = {}
    for rtype, h in howtos.items():
        fld = h.field
        if isinstance(fld, Field) and not fld.shift and fld.size in _FAST_FORMATS:
            bits = fld.size * 8
            lo = 0 if fld.signed is False else -(1 << (bits - 1))
            hi = (1 << (bits - 1)) - 1 if fld.signed is True else (1 << bits) - 1
            out[rtype] = (*_FAST_FORMATS[fld.size], lo, hi, (1 << bits) - 1)
    return out


def _mergeable(sec: InputSection) -> bool:
    """Can this section's strings or constants be deduplicated?

    Only sections nothing in them relocates, whose pieces are whole.
    """
    if not sec.flags & elf.SHF_MERGE or sec.type != elf.SHT_PROGBITS or sec.rel_type or sec.entsize <= 0:
        return False
    if sec.flags & elf.SHF_STRINGS:
        return sec.entsize == 1
    return sec.size % sec.entsize == 0 and sec.align <= sec.entsize


def merged_addr(sec: InputSection, offset: int) -> int:
    """Where byte ``offset`` of a merged input section ended up."""
    starts, outs = sec.merge_map
    i = bisect.bisect_right(starts, offset) - 1
    if i < 0:
        i = 0
    return sec.merged.addr + outs[i] + (offset - starts[i])


def _array_priority(sec: InputSection) -> int:
    tail = sec.name.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else 1 << 20


class Linker:
    """One link: call ``link()`` and get the output bytes."""

    def __init__(self, opts: Options):
        self.opts = opts
        self.arch = opts.arch
        self.rel = opts.arch.reloc
        self.howtos: dict[int, Howto] = self.rel.HOWTOS
        self.objects: list[ObjectFile] = []
        self.globals: dict[str, Symbol] = {}
        self.archives: list[Archive] = []
        self.lazy: dict[str, tuple[Archive, int]] = {}
        self.comdat_seen: dict[str, ObjectFile] = {}
        self.errors: list[str] = []
        self.got: list[Symbol] = []
        self.outputs: list[OutputSection] = []
        self.by_name: dict[str, OutputSection] = {}
        self.synthetic: dict[str, SyntheticSection] = {}
        self.segments: list[tuple[int, list[OutputSection]]] = []
        self.image = bytearray()
        self.base = 0
        self.entry_sym: Symbol | None = None
        self.got_base_needed = False
        self.dynexports: list[Symbol] = []
        self.dynexport_origin: dict[str, ObjectFile] = {}
        self.wanted: set[str] = set()  # names that pull archive members though nothing references them
        self.dynimported: set[str] = set()  # locals bound by the loader: never pulled from archives
        self.discarded: list[InputSection] = []
        self.thunks: dict[tuple[int, str], tuple[Symbol, str, int]] = {}  # (id(sym), kind) -> (sym, kind, offset)
        self.tls_got: list[Symbol] = []  # GOT slots holding thread-pointer offsets (initial-exec TLS)
        self.tls: tuple[int, int, int] | None = None  # TLS template: start address, memory size, alignment

    # ---------------------------------------------------------------- loading
    def load_inputs(self, wanted: tuple[str, ...] = ()) -> None:
        """Load every input; archive members are pulled for undefined references and ``wanted`` names."""
        for name in wanted:
            self._global(name).bind = elf.STB_GLOBAL
            self.wanted.add(name)
        files: list[str] = list(self.opts.inputs)
        for lib in self.opts.libs:
            files.append(self._find_lib(lib))
        if not files:
            raise DynError("no input files")
        for path in files:
            data = read_input(path)
            if data.startswith(b"!<arch>\n"):
                ar = Archive(data, path)
                self.archives.append(ar)
                self._add_archive(ar)
            else:
                self._add_object(load_object(data, path, self.arch, len(self.objects)))

    def _find_lib(self, name: str) -> str:
        for d in self.opts.lib_dirs:
            p = os.path.join(d, f"lib{name}.a")
            if os.path.isfile(p):
                return p
        raise DynError(f"cannot find -l{name} (lib{name}.a) in -L directories")

    def _add_archive(self, ar: Archive) -> None:
        index = ar.index
        if not index:
            index = []
            for off in sorted(ar.members):
                mname, data = ar.member_data(off)
                if not bytes(data[:4]) == b"\x7fELF":
                    continue  # not an object (a text file kept in the archive): nothing to index
                obj = load_object(data, mname, self.arch, 0)
                index.extend((s.name, off) for s in obj.symbols[obj.first_global :] if s.defined or s.is_common)
        for name, off in index:
            g = self.globals.get(name)
            if name in self.dynimported:
                continue
            if (
                g is not None
                and not g.defined
                and not g.is_common
                and g.bind != elf.STB_WEAK
                and (g.referenced_by or name in self.wanted)
            ):
                self._load_member(ar, off)
            elif name not in self.lazy:
                self.lazy[name] = (ar, off)

    def _load_member(self, ar: Archive, off: int) -> None:
        if off in ar.loaded:
            return
        ar.loaded.add(off)
        mname, data = ar.member_data(off)
        self._add_object(load_object(data, mname, self.arch, len(self.objects)))

    def _add_object(self, obj: ObjectFile) -> None:
        self.objects.append(obj)
        from toolchain.directives import read_object_directives

        obj.directives = read_object_directives(obj.elf)
        if obj.directives is not None and obj.directives.arch not in ("", self.arch.name):
            raise DynError(f"directives are for {obj.directives.arch}, not {self.arch.name}", obj.name)
        if obj.directives is not None:
            self.dynimported.update(imp.local for imp in obj.directives.imports)
        for sig, members in comdat_groups(obj):
            if sig in self.comdat_seen:
                for i in members:
                    sec = obj.sections[i]
                    if sec is not None:
                        sec.discarded = True
            else:
                self.comdat_seen[sig] = obj
        pending: list[str] = []
        for i in range(obj.first_global, len(obj.symbols)):
            sym = obj.symbols[i]
            if sym.bind == elf.STB_LOCAL:
                continue
            if sym.section is not None and sym.section.discarded:
                sym.section, sym.shndx = None, elf.SHN_UNDEF
            obj.symbols[i] = self._merge_global(obj, sym, pending)
        for name in pending:
            if name in self.dynimported:
                continue
            lz = self.lazy.pop(name, None)
            if lz is not None:
                self._load_member(*lz)

    def _merge_global(self, obj: ObjectFile, s: Symbol, pending: list[str]) -> Symbol:
        g = self.globals.get(s.name)
        if g is None:
            g = Symbol(s.name, True)
            g.bind = s.bind
            self.globals[s.name] = g
            if not s.defined and not s.is_common:
                g.referenced_by = obj
                if s.bind != elf.STB_WEAK:
                    pending.append(s.name)
                return g
            self._take_definition(g, s)
            return g
        if s.defined:
            if g.defined:
                if g.weak and not s.weak:
                    self._take_definition(g, s)
                elif not s.weak and not g.weak:
                    self.errors.append(
                        f"{obj.name}: duplicate definition of {s.name} (first defined in "
                        f"{g.file.name if g.file else '?'})"
                    )
            else:
                ref = g.referenced_by
                self._take_definition(g, s)
                g.referenced_by = ref
        elif s.is_common:
            if g.is_common:
                g.size = max(g.size, s.size)
                g.common_align = max(g.common_align, s.common_align)
            elif not g.defined:
                ref = g.referenced_by
                self._take_definition(g, s)
                g.referenced_by = ref
        else:
            if g.referenced_by is None:
                g.referenced_by = obj
            if not g.defined and not g.is_common:
                if s.bind != elf.STB_WEAK:
                    g.bind = elf.STB_GLOBAL
                    pending.append(s.name)
        return g

    @staticmethod
    def _take_definition(g: Symbol, s: Symbol) -> None:
        g.file, g.section, g.value, g.size = s.file, s.section, s.value, s.size
        g.bind, g.type, g.shndx, g.visibility, g.common_align = s.bind, s.type, s.shndx, s.visibility, s.common_align

    # ------------------------------------------------------------ directives
    def apply_directives(self) -> None:
        imported: dict[str, tuple[str, str, str]] = {}
        for obj in self.objects:
            d = obj.directives
            if d is None:
                continue
            for imp in d.imports:
                prev = imported.get(imp.local)
                if prev is not None and prev[:2] != (imp.remote, imp.path):
                    self.errors.append(
                        f"{obj.name}: {imp.local} imported as {imp.remote} from {imp.path}, "
                        f"but as {prev[0]} from {prev[1]} in {prev[2]}"
                    )
                    continue
                imported[imp.local] = (imp.remote, imp.path, obj.name)
                sym = self._global(imp.local)
                sym.dynimport = imp
            for exp in d.exports:
                sym = self._global(exp.local)
                if sym.dynexport is not None and sym.dynexport != exp.remote:
                    self.errors.append(f"{obj.name}: {exp.local} exported as both {sym.dynexport} and {exp.remote}")
                if sym.dynexport is None:
                    sym.dynexport = exp.remote
                    sym.referenced_by = sym.referenced_by or obj
                    self.dynexports.append(sym)
                    self.dynexport_origin[sym.name] = obj
        for name, (_remote, _path, fname) in imported.items():
            sym = self.globals[name]
            if sym.dynexport is not None:
                self.errors.append(f"{fname}: symbol is both dynimport and dynexport {name}")
        remotes = {remote: fname for remote, _path, fname in imported.values()}
        for sym in self.dynexports:
            origin = self.dynexport_origin[sym.name].name
            if not sym.defined and not sym.is_common:
                self.errors.append(f"{origin}: dynexport of undefined symbol {sym.name}")
            elif sym.dynexport.partition("#")[0] in {r.partition("#")[0] for r in remotes}:
                self.errors.append(
                    f"{origin}: {sym.dynexport} is both dynexported (by {sym.name}) and "
                    f"dynimported (in {remotes.get(sym.dynexport) or 'a directive'})"
                )
        self._flush_errors()

    def _global(self, name: str) -> Symbol:
        g = self.globals.get(name)
        if g is None:
            g = self.globals[name] = Symbol(name, True)
        return g

    def _flush_errors(self) -> None:
        if self.errors:
            first = self.errors[0]
            more = len(self.errors) - 1
            raise DynError(first + (f" (and {more} more error{'s' if more > 1 else ''})" if more else ""))

    # ------------------------------------------------------------------- gc
    def is_import(self, sym: Symbol) -> bool:
        """Is this symbol bound at load time (a dynimport, or a module's import)?"""
        return sym.import_index >= 0 or sym.dynimport is not None and not sym.defined

    def gc(self, roots: list[tuple[Symbol, str]]) -> None:
        """Mark every section reachable from the roots; report undefined references."""
        work: list[InputSection] = []

        def mark(sec: InputSection | None, why: str) -> None:
            if sec is not None and not sec.live and not sec.discarded:
                sec.live = True
                sec.live_reason = why
                work.append(sec)

        for sym, why in roots:
            mark(sym.section, why)
        for obj in self.objects:
            for sec in obj.sections:
                if sec is None or sec.discarded or not sec.flags & elf.SHF_ALLOC:
                    continue
                if sec.type in (elf.SHT_INIT_ARRAY, elf.SHT_FINI_ARRAY, elf.SHT_PREINIT_ARRAY) or output_section_name(
                    sec
                ) in (".init_array", ".fini_array", ".preinit_array"):
                    mark(sec, "an init/fini array is always kept")
                elif sec.flags & 0x200000:  # SHF_GNU_RETAIN
                    mark(sec, "SHF_GNU_RETAIN")
        undefined: dict[str, ObjectFile] = {}
        while work:
            sec = work.pop()
            syms = sec.file.symbols
            for _off, _rtype, symi, _add in sec.relocs:
                if symi >= len(syms):
                    raise DynError(
                        f"relocation in {sec.name} refers to symbol {symi}, which does not exist", sec.file.name
                    )
                if symi == 0:
                    continue
                sym = syms[symi]
                if sym.section is not None:
                    if not sym.section.live:
                        mark(sym.section, f"{sec.file.name}({sec.name}) references {sym.name or sym.section.name}")
                elif (
                    sym.is_global
                    and not sym.defined
                    and not sym.is_common
                    and not sym.weak
                    and sym.dynimport is None
                    and sym.name not in undefined
                    and sym.name not in LINKER_SYMBOLS
                ):
                    undefined[sym.name] = sec.file
        self.undefined = undefined

    # --------------------------------------------------------------- layout
    def collect_sections(self) -> None:
        """Put every live allocated input section into its output section."""
        commons = [g for g in self.globals.values() if g.is_common]
        if commons:
            csec = self.synthetic_section("COMMON", elf.SHT_NOBITS, elf.SHF_ALLOC | elf.SHF_WRITE, 1)
            off = 0
            for g in sorted(commons, key=lambda s: s.name):
                align = max(g.common_align, 1)
                off = (off + align - 1) // align * align
                csec.align = max(csec.align, align)
                g.section, g.value, g.shndx = csec, off, 1
                off += g.size
            csec.size = off
        merge_groups: dict[tuple, list[InputSection]] = {}
        for obj in self.objects:
            for sec in obj.sections:
                if sec is None or not sec.flags & elf.SHF_ALLOC:
                    continue
                if not sec.live or sec.discarded:
                    self.discarded.append(sec)
                    continue
                name = output_section_name(sec)
                if _mergeable(sec):
                    key = (
                        name,
                        sec.flags & (elf.SHF_WRITE | elf.SHF_EXECINSTR | elf.SHF_STRINGS),
                        sec.entsize,
                        sec.align,
                    )
                    merge_groups.setdefault(key, []).append(sec)
                    continue
                self._output(name, sec).inputs.append(sec)
        for key, group in merge_groups.items():
            self._merge(key[0], group)
        for sec in self.synthetic.values():
            if sec.name == "COMMON":
                self._output(".bss", sec).inputs.append(sec)
        for out in self.outputs:
            if out.name in (".init_array", ".fini_array", ".preinit_array"):
                out.inputs.sort(key=_array_priority)

    def _merge(self, out_name: str, group: list[InputSection]) -> None:
        """Deduplicate the strings or constants of mergeable sections into one section."""
        first = group[0]
        msec = self.synthetic_section(
            f"{first.name} (merged {len(self.synthetic)})",
            elf.SHT_PROGBITS,
            first.flags,
            first.align,
            first.entsize,
            output=out_name,
        )
        strings = bool(first.flags & elf.SHF_STRINGS)
        align, size = first.align, first.entsize
        seen: dict[bytes, int] = {}
        data = bytearray()
        for sec in group:
            raw = bytes(sec.data)
            starts: list[int] = []
            outs: list[int] = []
            off = 0
            while off < len(raw):
                if strings:
                    end = raw.find(b"\0", off)
                    end = len(raw) if end < 0 else end + 1
                else:
                    end = min(off + size, len(raw))
                piece = raw[off:end]
                at = seen.get(piece)
                if at is None:
                    data.extend(b"\0" * (-len(data) % align))
                    at = seen[piece] = len(data)
                    data.extend(piece)
                starts.append(off)
                outs.append(at)
                off = end
            sec.merged, sec.merge_map = msec, (starts, outs)
        msec.data = bytes(data)
        msec.size = len(data)
        msec.live_reason = f"{len(group)} mergeable section{'s' if len(group) > 1 else ''} deduplicated"

    def synthetic_section(
        self, name: str, type_: int, flags: int, align: int, entsize: int = 0, output: str | None = None
    ) -> SyntheticSection:
        sec = SyntheticSection(name, type_, flags, align, entsize)
        self.synthetic[name] = sec
        if name != "COMMON":
            self._output(output or name, sec).inputs.append(sec)
        return sec

    def _output(self, name: str, sec: InputSection) -> OutputSection:
        out = self.by_name.get(name)
        if out is None:
            type_ = sec.type if sec.type != elf.SHT_NOTE else elf.SHT_PROGBITS
            flags = sec.flags & (elf.SHF_ALLOC | elf.SHF_WRITE | elf.SHF_EXECINSTR | elf.SHF_TLS)
            if name in (".text", ".plt", ".stubs"):
                type_, flags = elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_EXECINSTR
            elif name == ".rodata":
                type_, flags = elf.SHT_PROGBITS, elf.SHF_ALLOC
            elif name == ".data":
                type_, flags = elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_WRITE
            elif name == ".bss":
                type_, flags = elf.SHT_NOBITS, elf.SHF_ALLOC | elf.SHF_WRITE
            out = OutputSection(name, type_, flags)
            self.by_name[name] = out
            self.outputs.append(out)
        if isinstance(sec, SyntheticSection):
            out.entsize = sec.entsize
            out.flags |= sec.flags & elf.SHF_INFO_LINK
        if sec.type != elf.SHT_NOBITS and out.type == elf.SHT_NOBITS:
            # initialised data in a .bss-named section: the output carries bytes
            out.type = elf.SHT_PROGBITS
        return out

    def layout(self, base: int, header_size: int, page: int, pack_segments: bool = False) -> None:
        """Assign addresses: segments in SEGMENT_ORDER, each starting on a new page.

        With ``pack_segments`` (dynld modules) the read-only segments are packed
        together as text, and the writable one starts on the next page.
        """
        order = {n: (i, j) for i, (_f, names) in enumerate(SEGMENT_ORDER) for j, n in enumerate(names)}
        unknown = [o.name for o in self.outputs if o.name not in order]
        if unknown:
            raise DynError(f"internal: no place for output sections {unknown}")
        self.outputs.sort(key=lambda o: order[o.name])
        self.outputs = [o for o in self.outputs if o.inputs]
        for i, o in enumerate(self.outputs, start=1):
            o.index = i
        addr = base + header_size
        self.segments = []
        for segno, (flags, _names) in enumerate(SEGMENT_ORDER):
            outs = [o for o in self.outputs if order[o.name][0] == segno]
            if not outs:
                continue
            if self.segments and (not pack_segments or flags & elf.PF_W):
                addr = (addr + page - 1) // page * page
            for out in outs:
                off = 0
                for sec in out.inputs:
                    off = (off + sec.align - 1) // sec.align * sec.align
                    sec.offset = off
                    off += sec.size
                    out.align = max(out.align, sec.align)
                addr = (addr + out.align - 1) // out.align * out.align
                out.addr = addr
                out.size = off
                for sec in out.inputs:
                    sec.addr = addr + sec.offset
                    sec.out = out
                if out.name != ".tbss":  # the TLS template's bss occupies no memory of its own
                    addr += off
            self.segments.append((flags, outs))
        self.end_addr = addr
        tls = [self.by_name[n] for n in (".tdata", ".tbss") if n in self.by_name and self.by_name[n].inputs]
        if tls:
            start = tls[0].addr
            self.tls = (start, tls[-1].addr + tls[-1].size - start, max(o.align for o in tls))
        if addr >= 1 << self.arch.bits:
            raise DynError(f"output does not fit the {self.arch.bits}-bit address space (ends at {addr:#x})")

    def define_linker_symbols(self) -> None:
        """Give values to ``__bss_start``, ``_end``, ``__init_array_start`` ... when referenced."""

        def bounds(name: str) -> tuple[int, int]:
            o = self.by_name.get(name)
            if o is None or not o.inputs:
                return self.data_end(), self.data_end()
            return o.addr, o.addr + o.size

        bss = self.by_name.get(".bss")
        text = self.by_name.get(".text")
        values = {
            "__executable_start": self.base,
            "_etext": text.addr + text.size if text else self.base,
            "__bss_start": bss.addr if bss and bss.inputs else self.data_end(),
            "_end": self.end_addr,
        }
        values["etext"] = values["_etext"]
        values["end"] = values["_end"]
        values["_edata"] = values["edata"] = values["__bss_start"]
        for arr in ("init_array", "fini_array", "preinit_array"):
            lo, hi = bounds("." + arr)
            values[f"__{arr}_start"], values[f"__{arr}_end"] = lo, hi
        got = self.synthetic.get(".got")
        if got is not None:
            values["_GLOBAL_OFFSET_TABLE_"] = got.addr
        dyn = self.synthetic.get(".dynamic")
        if dyn is not None:
            values["_DYNAMIC"] = dyn.addr
        for name, v in values.items():
            g = self.globals.get(name)
            if g is not None and not g.defined:
                g.shndx, g.value, g.section, g.bind = elf.SHN_ABS, v, None, elf.STB_GLOBAL
                g.type = elf.STT_NOTYPE

    def data_end(self) -> int:
        """Where the file's image of the segments ends (a bss-only segment still starts inside it)."""
        ends = [o.addr + (o.size if o.type != elf.SHT_NOBITS else 0) for o in self.outputs]
        return max(ends) if ends else self.base

    # ----------------------------------------------------------- relocation
    def sym_addr(self, sym: Symbol) -> int:
        if sym.section is not None:
            if sym.section.merged is not None:
                return merged_addr(sym.section, sym.value)
            return sym.section.addr + sym.value
        if sym.shndx == elf.SHN_ABS:
            return sym.value
        return 0

    def got_addr(self, sym: Symbol) -> int:
        return self.synthetic[".got"].addr + sym.got_index * self.arch.word

    def tls_got_addr(self, sym: Symbol) -> int:
        return self.synthetic[".got"].addr + (len(self.got) + sym.tls_got_index) * self.arch.word

    def got_size(self) -> int:
        return (len(self.got) + len(self.tls_got)) * self.arch.word

    def tp_offset(self, addr: int) -> int:
        """A TLS address's offset from the thread pointer (the executable's block comes first)."""
        if self.tls is None:
            raise Overflow("TLS relocation, but the output has no TLS sections")
        start, memsz, align = self.tls
        if self.rel.TLS_VARIANT == 2:
            return addr - start - (memsz + align - 1) // align * align
        return addr - start + (2 * self.arch.word + align - 1) // align * align

    def scan_relocations(self, on_import) -> None:
        """Find GOT needs and import references before layout; ``on_import(sec, rel, sym, howto)``."""
        howtos = self.howtos
        thunks = hasattr(self.rel, "thunk_kind")
        # the relocation types that need anything here besides import handling
        special = {rt: h.kind for rt, h in howtos.items() if h.kind in _SCAN_KINDS or (thunks and h.kind is Kind.CALL)}
        none = {rt for rt, h in howtos.items() if h.kind is Kind.NONE}
        for sec in self.live_sections():
            syms = sec.file.symbols
            for r in sec.relocs:
                rtype = r[1]
                if rtype in none:
                    continue
                howto = howtos.get(rtype)
                if howto is None:
                    raise DynError(
                        f"unsupported relocation type {rtype} in section {sec.name} at offset {r[0]:#x}", sec.file.name
                    )
                sym = syms[r[2]]
                if (sym.dynimport is not None or sym.import_index >= 0) and sym.is_global and not sym.defined:
                    on_import(sec, r, sym, howto)
                    continue
                kind = special.get(rtype)
                if kind is None:
                    continue
                if kind is Kind.CALL:
                    if sym.section is not None:
                        self._maybe_thunk(howto, sym)
                    continue
                if kind in (Kind.GOT_PC, Kind.GOT_386):
                    self.need_got(sym)
                elif kind in (Kind.GOT_TP_PC, Kind.GOT_TP, Kind.GOT_TP_GOTREL):
                    if sym.tls_got_index < 0:
                        sym.tls_got_index = len(self.tls_got)
                        self.tls_got.append(sym)
                elif kind is Kind.TLS_GD:
                    raise DynError(
                        f"{howto.name} against {sym.name}: the general/local-dynamic TLS models need "
                        f"__tls_get_addr: compile with -ftls-model=initial-exec (dyncc's default)",
                        sec.file.name,
                    )
                if kind in (
                    Kind.GOT_BASE_PC,
                    Kind.GOT_OFF,
                    Kind.GOT_386,
                    Kind.GOT_PC,
                    Kind.GOT_TP_GOTREL,
                    Kind.GOT_TP,
                    Kind.GOT_TP_PC,
                ):
                    self.got_base_needed = True

    def _maybe_thunk(self, howto: Howto, sym: Symbol) -> None:
        is_thumb = sym.type == elf.STT_FUNC and bool(sym.value & 1)
        kind = self.rel.thunk_kind(howto, is_thumb)
        if kind is None or (id(sym), kind) in self.thunks:
            return
        sec = self.synthetic.get(".text.thunks")
        if sec is None:
            sec = self.synthetic_section(
                ".text.thunks", elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_EXECINSTR, 4, output=".text"
            )
        self.thunks[(id(sym), kind)] = (sym, kind, sec.size)
        sec.size += self.rel.THUNK_SIZE

    def fill_thunks(self) -> None:
        """Write the interworking thunks once addresses are known."""
        if not self.thunks:
            return
        sec = self.synthetic[".text.thunks"]
        for sym, kind, off in self.thunks.values():
            at = sec.addr + off
            code = self.rel.thunk_code(kind, at, self.sym_addr(sym))
            self.image[at - self.base : at - self.base + len(code)] = code

    def thunk_target(self, howto: Howto, sym: Symbol) -> int | None:
        """The thunk a branch goes through instead of its symbol, if it needs one."""
        if not self.thunks:
            return None
        kind = self.rel.thunk_kind(howto, sym.type == elf.STT_FUNC and bool(sym.value & 1))
        t = self.thunks.get((id(sym), kind)) if kind else None
        return None if t is None else self.rel.thunk_entry(kind, self.synthetic[".text.thunks"].addr + t[2])

    def need_got(self, sym: Symbol) -> None:
        if sym.got_index < 0:
            sym.got_index = len(self.got)
            self.got.append(sym)

    def live_sections(self):
        for obj in self.objects:
            for sec in obj.sections:
                if sec is not None and sec.live and not sec.discarded and sec.flags & elf.SHF_ALLOC:
                    yield sec

    def copy_contents(self) -> None:
        """Copy every input section's bytes into the image (at address - base)."""
        size = self.data_end() - self.base
        self.image = bytearray(size)
        for out in self.outputs:
            if out.type == elf.SHT_NOBITS:
                continue
            for sec in out.inputs:
                if sec.type == elf.SHT_NOBITS or not sec.size or len(sec.data) != sec.size:
                    continue  # synthetic sections are filled in place later
                start = sec.addr - self.base
                self.image[start : start + sec.size] = sec.data

    def apply_relocations(self, import_value) -> None:
        """Apply every relocation; ``import_value(sec, rel, sym, howto, P, A)`` handles imports.

        It returns the value to write, or None when the output strategy has written it.
        """
        img, base = self.image, self.base
        got_base = self.synthetic[".got"].addr if ".got" in self.synthetic else 0
        howtos, ABS, CALL, PC = self.howtos, Kind.ABS, Kind.CALL, Kind.PC
        fast = _fast_fields(howtos)
        on_abs = self.on_absolute if type(self).on_absolute is not Linker.on_absolute else None
        for sec in self.live_sections():
            if not sec.relocs or sec.type == elf.SHT_NOBITS:
                continue
            syms = sec.file.symbols
            is_rel = sec.rel_type == elf.SHT_REL
            sec_addr, size = sec.addr, sec.size
            for off, rtype, symi, addend in sec.relocs:
                howto = howtos[rtype]
                kind = howto.kind
                if kind is Kind.NONE:
                    continue
                fld = howto.field
                if off + fld.size > size:
                    raise DynError(
                        f"relocation {howto.name} at offset {off:#x} is outside section {sec.name}", sec.file.name
                    )
                pos = sec_addr - base + off
                f = fast.get(rtype)
                if is_rel:
                    A = struct.unpack_from(f[0], img, pos)[0] if f else fld.read_addend(img, pos)
                else:
                    A = addend
                P = sec_addr + off
                sym = syms[symi]
                S = 0
                try:
                    if (sym.import_index >= 0 or sym.dynimport is not None) and sym.is_global and not sym.defined:
                        v = import_value(sec, (off, rtype, symi, addend), sym, howto, P, A)
                        if v is None:
                            continue
                    else:
                        tsec = sym.section
                        if tsec is not None and tsec.merged is None:
                            S = tsec.addr + sym.value
                        else:
                            S = self.sym_addr(sym)
                            if sym.type == elf.STT_SECTION and tsec is not None and tsec.merged:
                                S = merged_addr(tsec, sym.value + A) - A  # the addend picks the piece
                        if kind is ABS:
                            v = S + A
                            if on_abs is not None:
                                on_abs(sec, P, sym, howto, S, A)
                        elif kind is CALL and self.thunks and self.thunk_target(howto, sym) is not None:
                            S = self.thunk_target(howto, sym)
                            v = S + A - P
                        elif kind is PC or kind is CALL:
                            v = S + A - P
                        elif kind is Kind.GOT_PC:
                            v = self.got_addr(sym) + A - P
                        elif kind is Kind.GOT_BASE_PC:
                            v = got_base + A - P
                        elif kind is Kind.GOT_OFF:
                            v = S + A - got_base
                        elif kind is Kind.GOT_386:
                            v = self.got_addr(sym) + A
                            if self.rel.got_has_base_register(img, pos):
                                v -= got_base
                        elif kind is Kind.TP:
                            v = self.tp_offset(S) + A
                        elif kind is Kind.TP_NEG:
                            v = A - self.tp_offset(S)
                        elif kind is Kind.GOT_TP_PC:
                            v = self.tls_got_addr(sym) + A - P
                        elif kind is Kind.GOT_TP:
                            v = self.tls_got_addr(sym) + A
                        elif kind is Kind.GOT_TP_GOTREL:
                            v = self.tls_got_addr(sym) + A - got_base
                        else:  # DTP
                            v = S - self.tls[0] + A if self.tls else A
                    if f is not None:
                        if not f[2] <= v <= f[3]:
                            raise Overflow(f"value {v:#x} does not fit in {fld.size * 8} bits")
                        struct.pack_into(f[1], img, pos, v & f[4])
                    elif isinstance(fld, Field):
                        fld.write(img, pos, v)
                    else:
                        fld.write(img, pos, v, thumb_target=bool((S if kind is CALL else 0) & 1))
                except Overflow as e:
                    raise DynError(
                        f"relocation {howto.name} against {sym.name or sec.name} in section "
                        f"{sec.name} at offset {off:#x} overflows: {e.msg}",
                        sec.file.name,
                    ) from None

    # ------------------------------------------------------------ debug info
    def collect_debug(self) -> list[OutputSection]:
        """Gather the objects' ``.debug_*`` sections into non-allocated output sections.

        Addresses in them are offsets within their output section (DWARF's convention).
        """
        outs: dict[str, OutputSection] = {}
        for obj in self.objects:
            for sec in obj.sections:
                if (
                    sec is None
                    or sec.flags & elf.SHF_ALLOC
                    or sec.discarded
                    or sec.type == elf.SHT_NOBITS
                    or not sec.name.startswith(".debug_")
                ):
                    continue
                out = outs.get(sec.name)
                if out is None:
                    out = outs[sec.name] = OutputSection(
                        sec.name, elf.SHT_PROGBITS, sec.flags & (elf.SHF_MERGE | elf.SHF_STRINGS)
                    )
                    out.entsize = sec.entsize
                out.size = (out.size + sec.align - 1) // sec.align * sec.align
                out.align = max(out.align, sec.align)
                sec.addr = sec.offset = out.size
                sec.out = out
                out.size += sec.size
                out.inputs.append(sec)
        return list(outs.values())

    def debug_contents(self, out: OutputSection) -> bytes:
        """One debug output section's bytes, relocated; references to dropped code read 0."""
        buf = bytearray(out.size)
        howtos = self.howtos
        fast = _fast_fields(howtos)
        NONE, ABS, PC, DTP = Kind.NONE, Kind.ABS, Kind.PC, Kind.DTP
        for sec in out.inputs:
            buf[sec.offset : sec.offset + sec.size] = sec.data
        for sec in out.inputs:
            syms, is_rel = sec.file.symbols, sec.rel_type == elf.SHT_REL
            # a dropped function's range must not end a range or location list: 1, as lld does
            tomb = 1 if sec.name in (".debug_ranges", ".debug_loc") else 0
            for off, rtype, symi, addend in sec.relocs:
                howto = howtos.get(rtype)
                if howto is None:
                    continue
                kind = howto.kind
                if kind is NONE:
                    continue
                if (kind is not ABS and kind is not PC and kind is not DTP) or off + howto.field.size > sec.size:
                    raise DynError(f"unsupported relocation {howto.name} in debug section {sec.name}", sec.file.name)
                pos = sec.offset + off
                f = fast.get(rtype)
                if is_rel:
                    A = struct.unpack_from(f[0], buf, pos)[0] if f else howto.field.read_addend(buf, pos)
                else:
                    A = addend
                if symi >= len(syms):
                    raise DynError(
                        f"relocation in {sec.name} refers to symbol {symi}, which does not exist", sec.file.name
                    )
                sym = syms[symi]
                target = sym.section
                if target is not None and target.flags & elf.SHF_ALLOC and (not target.live or target.discarded):
                    v = tomb
                elif target is not None and target.merged is None and kind is ABS:
                    v = target.addr + sym.value + A  # the common case: a plain address or debug offset
                else:
                    S = self.sym_addr(sym)
                    if sym.type == elf.STT_SECTION and target is not None and target.merged:
                        S = merged_addr(target, sym.value + A) - A
                    if kind is DTP:
                        S -= self.tls[0] if self.tls else 0
                    v = S + A - (sec.addr + off if kind is PC else 0)
                try:
                    if f is not None:
                        if not f[2] <= v <= f[3]:
                            raise Overflow(f"value {v:#x} does not fit in {howto.field.size * 8} bits")
                        struct.pack_into(f[1], buf, pos, v & f[4])
                    elif isinstance(howto.field, Field):
                        howto.field.write(buf, pos, v)
                    else:
                        howto.field.write(buf, pos, v, thumb_target=False)
                except Overflow as e:
                    raise DynError(
                        f"relocation {howto.name} in {sec.name} at offset {off:#x} overflows: {e.msg}", sec.file.name
                    ) from None
        return bytes(buf)

    def on_absolute(self, sec: InputSection, P: int, sym: Symbol, howto: Howto, S: int, A: int) -> None:
        """Hook for absolute relocations of defined symbols (dynld modules record them)."""

    def fill_got(self) -> None:
        got = self.synthetic.get(".got")
        if got is None:
            return
        w = self.arch.word
        start = got.addr - self.base
        for sym in self.got:
            if self.is_import(sym):
                continue
            v = self.sym_addr(sym)
            self.image[start + sym.got_index * w : start + (sym.got_index + 1) * w] = v.to_bytes(w, "little")
        for sym in self.tls_got:
            at = start + (len(self.got) + sym.tls_got_index) * w
            self.image[at : at + w] = (self.tp_offset(self.sym_addr(sym)) & ((1 << (8 * w)) - 1)).to_bytes(w, "little")

    # -------------------------------------------------------------- driver
    def resolve_all(self, wanted: tuple[str, ...] = ()) -> None:
        self.load_inputs(wanted)
        self._flush_errors()
        self.apply_directives()
        self._supply_functions()

    def _supply_functions(self) -> None:
        """Define the arch's helper functions (e.g. arm's __aeabi_read_tp) nothing else defines."""
        for name, code in getattr(self.rel, "LINKER_FUNCTIONS", {}).items():
            g = self.globals.get(name)
            if g is None or g.defined or g.is_common or g.dynimport is not None or g.referenced_by is None:
                continue
            sec = self.synthetic_section(
                f".text.{name}", elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_EXECINSTR, 4, output=".text"
            )
            sec.data, sec.size = code, len(code)
            g.section, g.value, g.shndx, g.type, g.size = sec, 0, 1, elf.STT_FUNC, len(code)
            g.bind = elf.STB_GLOBAL

    def roots(self) -> list[tuple[Symbol, str]]:
        out = []
        entry = self.opts.entry or "_start"
        if not self.opts.module:
            sym = self.globals.get(entry)
            if sym is None or not sym.defined:
                raise DynError(f"entry symbol {entry} is not defined")
            self.entry_sym = sym
            out.append((sym, f"entry point {entry}"))
        for sym in self.dynexports:
            out.append((sym, f"dynexport {sym.name}"))
        return out

    def report_undefined(self) -> None:
        for name, obj in sorted(self.undefined.items(), key=lambda kv: (kv[1].order, kv[0])):
            hint = (
                " (code for the general/local-dynamic TLS models: compile with -ftls-model=initial-exec, "
                "dyncc's default)"
                if name == "__tls_get_addr"
                else ""
            )
            self.errors.append(f"{obj.name}: undefined symbol: {name}{hint}")
        self._flush_errors()

    def write_map(self) -> str:
        """A text map: output sections, the input sections in each and why each was kept."""
        lines = ["# dynlink map", "", "Output sections:"]
        for out in self.outputs:
            lines.append(f"{out.name:<16} {out.addr:#010x} {out.size:#8x} align {out.align}")
            for sec in out.inputs:
                lines.append(f"    {sec.addr:#010x} {sec.size:#8x} {sec!r}  <- {sec.live_reason}")
        lines += ["", "Discarded sections:"]
        for sec in self.discarded:
            why = "duplicate COMDAT group" if sec.discarded else "unreferenced"
            lines.append(f"    {sec!r} {sec.size:#x} ({why})")
        lines += ["", "Symbols:"]
        for name in sorted(self.globals):
            g = self.globals[name]
            if g.defined:
                lines.append(f"    {self.sym_addr(g):#010x} {name}  ({g.file.name if g.file else 'linker'})")
            elif g.dynimport is not None:
                lines.append(f"    {'import':>10} {name}  ({g.dynimport.remote} from {g.dynimport.path})")
        return "\n".join(lines) + "\n"
