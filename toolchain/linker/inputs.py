"""Input files: ELF relocatable objects (read, or mapped when large) and ``ar`` archives, read as data."""

from __future__ import annotations

import struct
import sys
from sys import intern

from .. import elf
from ..arch import Arch, arch_for_machine
from ..errors import DynError, map_input
from ..records import TYPE_CHECKING
from .reloc import NO_RELOCS, Relocs, entry_size

if TYPE_CHECKING:
    import mmap
    from collections.abc import Iterator
    from typing import NoReturn

    from ..directives import Directives, DynImport
    from .context import OutputSection

MAX_ALIGN = 1 << 16  # larger section alignments are refused (a page is enough for anything here)
#: the merge map of a section whose pieces were not merged (shared: never changed, replaced when merged)
NOT_MERGED: tuple[list[int], list[int]] = ([], [])
NO_BYTES = memoryview(b"")  # the bytes of an object that has none (any more)
#: a symbol table entry as ``ElfFile.symbol_tuples`` reads it: (name, value, size, info, other, shndx)
SymbolEntry = tuple[str, int, int, int, int, int]


class Symbol:
    """A symbol: a global one shared by every file, or a file's local one.

    ``section`` is the InputSection that defines it (None for undefined, absolute or
    common symbols); ``value`` is its offset in that section (or its absolute value).
    Slots, not a dict each: a large link holds hundreds of thousands of symbols.
    """

    __slots__ = (
        "name",
        "is_global",
        "bind",
        "file",
        "section",
        "value",
        "size",
        "type",
        "shndx",
        "visibility",
        "referenced_by",
        "common_align",
        "dynimport",
        "dynexport",
        "dyn_index",
        "got_index",
        "plt_index",
        "import_index",
        "address_taken",
        "copy_reloc",
        "tls_got_index",
    )

    def __init__(
        self,
        name: str,
        is_global: bool,
        file: ObjectFile | None = None,
        value: int = 0,
        size: int = 0,
        bind: int | None = None,
        type_: int = elf.STT_NOTYPE,
        shndx: int = elf.SHN_UNDEF,
        section: InputSection | None = None,
        visibility: int = 0,
    ):
        self.name = name
        self.is_global = is_global
        self.bind = (elf.STB_GLOBAL if is_global else elf.STB_LOCAL) if bind is None else bind
        self.file = file
        self.section = section
        self.value = value
        self.size = size
        self.type = type_
        self.shndx = shndx
        self.visibility = visibility
        self.referenced_by: ObjectFile | None = None
        self.common_align = 0
        self.dynimport: DynImport | None = None  # set when the loader binds it from a shared library
        self.dynexport: str | None = None  # exported under this name
        self.dyn_index = -1
        self.got_index = -1
        self.plt_index = -1
        self.import_index = -1
        self.address_taken = False
        self.copy_reloc = False  # imported data copied into the executable (R_*_COPY)
        self.tls_got_index = -1

    @property
    def defined(self) -> bool:
        return self.shndx != elf.SHN_UNDEF and self.shndx != elf.SHN_COMMON or self.section is not None

    @property
    def is_common(self) -> bool:
        return self.shndx == elf.SHN_COMMON and self.section is None

    @property
    def weak(self) -> bool:
        return self.bind == elf.STB_WEAK

    def __repr__(self) -> str:
        return f"Symbol({self.name!r})"


class InputSection:
    """A section of an input object that may go into the output."""

    __slots__ = (
        "file",
        "index",
        "name",
        "type",
        "flags",
        "align",
        "size",
        "_data",
        "_start",
        "_relocs",
        "_rel_source",
        "_rel_size",
        "_rel_name",
        "live",
        "live_via",
        "out",
        "offset",
        "addr",
        "discarded",
        "rel_type",
        "entsize",
        "link",
        "info",
        "_live_reason",
        "merged",
        "merge_map",
    )

    def __init__(
        self,
        file: ObjectFile,
        index: int,
        name: str,
        type_: int,
        flags: int,
        align: int,
        size: int,
        entsize: int,
        link: int,
        info: int,
        start: int,
        data: bytes | None = None,
    ):
        self.file = file
        self.index = index
        self.name = intern(name)  # one string for every object's ".text"
        self.type = type_
        self.flags = flags
        self.align = align or 1
        self.size = size
        self.entsize = entsize
        self.link = link
        self.info = info
        self._data: bytes | bytearray | memoryview | None = data  # None: sliced from the file's when asked for
        self._start = start
        self._relocs: Relocs | None = NO_RELOCS
        self._rel_source: int | None = None  # where the relocation section is in the file, parsed on first use
        self._rel_size = 0  # and its size and name
        self._rel_name = ""
        self.rel_type = 0  # SHT_REL or SHT_RELA of the relocations
        self.live = False
        self._live_reason = ""
        #: (section, symbol): the live section whose relocation against the symbol made this one
        #: live, when that is why (``live_reason`` then says so)
        self.live_via: tuple[InputSection, Symbol] | None = None
        self.out: OutputSection | None = None
        self.offset = 0
        self.addr = 0
        self.discarded = False
        self.merged: InputSection | None = None  # the linker's merged section holding our pieces
        self.merge_map = NOT_MERGED  # piece starts here -> offsets there

    @property
    def live_reason(self) -> str:
        """Why the section is in the output."""
        via = self.live_via
        if via is None:
            return self._live_reason
        source, sym = via
        return f"{source.file.name}({source.name}) references {sym.name or self.name}"

    @live_reason.setter
    def live_reason(self, value: str) -> None:
        self._live_reason = value
        self.live_via = None

    @property
    def data(self) -> bytes | bytearray | memoryview:
        """The section's bytes: a slice of its file's bytes (made when asked for, not kept), or its own."""
        data = self._data
        if data is None:
            start = self._start
            return self.file.view[start : start + self.size]
        return data

    @data.setter
    def data(self, value: bytes | bytearray | memoryview) -> None:
        self._data = value

    @property
    def relocs(self) -> Relocs:
        """This section's relocations, read on first use."""
        if self._relocs is None:
            assert self._rel_source is not None, "relocations read after release_input"
            rela = self.rel_type == elf.SHT_RELA
            start = self._rel_source
            data = self.file.view[start : start + self._rel_size]
            self._relocs = relocs_from_bytes(data, rela, self.file.bits, self._rel_name, self.file.name)
        return self._relocs

    @relocs.setter
    def relocs(self, value: Relocs) -> None:
        self._relocs = value

    @property
    def has_relocs(self) -> bool:
        """Whether the section has relocations (without reading them)."""
        return self._rel_source is not None or bool(self._relocs)

    def relocation_bytes(self) -> memoryview | None:
        """The relocation section's entries as they are in the file (None if there is none, or
        the relocations are the linker's own)."""
        start = self._rel_source
        if start is None:
            return None
        return self.file.view[start : start + self._rel_size]

    def release_relocs(self) -> None:
        """Forget the parsed relocations (the next use reads them again): a pass done with them frees them."""
        if self._rel_source is not None:
            self._relocs = None

    def __repr__(self) -> str:
        return f"{self.file.name}({self.name})"


class ObjectFile:
    """One relocatable object: its sections, symbols and directives."""

    def __init__(
        self, name: str, elf_file: elf.ElfFile | None, bits: int = 64, order: int = 0, view: memoryview = NO_BYTES
    ) -> None:
        self.name = name
        #: the parsed file while it is loaded (directives, COMDAT groups); None after, when the
        #: sections keep only their bytes
        self.elf = elf_file
        self.bits = bits
        self.sections: list[InputSection | None] = []
        self.symbols: list[Symbol] = []
        #: the symbol entries from ``first_global`` on, from ``read_object`` until resolution
        #: reads them into ``symbols``
        self.unresolved: list[SymbolEntry] | None = None
        self.directives: Directives | None = None
        self.first_global = 0
        self.order = order
        self.exec_stack = False
        #: the file's bytes (sections' bytes are slices of them), and its pages when it is mapped
        #: rather than read (``open_object``), until ``release_input``
        self.view = view
        self.mapping: mmap.mmap | None = None
        #: each symbol's address for relocation (``relocate``), from the first relocation pass
        #: to need it until ``release_input``
        self.symbol_values: list[int] | None = None
        #: how many relocation entries the sections kept hold (``bulk.wanted``)
        self.relocation_entries = 0


_LITTLE_ENDIAN_HOST = sys.byteorder == "little"
_new_relocs = tuple.__new__  # Relocs(...) without the named tuple's Python-level __new__


def read_relocs(e: elf.ElfFile, sec: elf.Section) -> Relocs:
    """A SHT_REL/SHT_RELA section's entries as columns, read in bulk."""
    return relocs_from_bytes(e.section_data(sec), sec.type == elf.SHT_RELA, e.bits, sec.name, e.name)


def relocs_from_bytes(data: memoryview, rela: bool, bits: int, section_name: str, file_name: str) -> Relocs:
    """The entries of a relocation section's bytes (``rela``: SHT_RELA; ``bits``: the ELF class) as columns."""
    word = 4 if bits == 32 else 8
    fields = 3 if rela else 2
    if len(data) % (word * fields):
        raise DynError(f"relocation section {section_name}: bad size", file_name)
    shift, mask = (8, 0xFF) if word == 4 else (32, 0xFFFFFFFF)
    if _LITTLE_ENDIAN_HOST and word == 8:
        # r_info's halves are the type (low) and the symbol (high): read them as 32-bit columns.
        halves = data.cast("I")
        offsets = data.cast("Q")[0::fields].tolist()
        types = halves[2 :: 2 * fields].tolist()
        symbols = halves[3 :: 2 * fields].tolist()
        addends = data.cast("q")[2::3].tolist() if rela else [0] * len(offsets)
        return _new_relocs(Relocs, (offsets, types, symbols, addends))
    if _LITTLE_ENDIAN_HOST:
        unsigned = data.cast("I")
        offsets = unsigned[0::fields].tolist()
        info = unsigned[1::fields].tolist()
        addends = data.cast("i")[2::3].tolist() if rela else [0] * len(offsets)
    else:  # memoryview.cast reads in the host's byte order
        w = "I" if word == 4 else "Q"
        rows = list(struct.iter_unpack("<" + w + w + (w.lower() if rela else ""), data))
        offsets = [r[0] for r in rows]
        info = [r[1] for r in rows]
        addends = [r[2] for r in rows] if rela else [0] * len(rows)
    return Relocs(offsets, [i & mask for i in info], [i >> shift for i in info], addends)


def open_object(path: str, arch: Arch, order: int, data: mmap.mmap | bytes | None = None) -> ObjectFile:
    """Read (or map: ``map_input``) an object file, unless ``data`` holds its bytes already, and
    parse it (``read_object``: its globals await resolution); ``release_input`` lets them go."""
    if data is None:
        data = map_input(path)
    if isinstance(data, bytes):
        return read_object(data, path, arch, order)
    obj = read_object(memoryview(data), path, arch, order)
    obj.mapping = data
    return obj


def no_such_symbol(sec: InputSection, symbols: list[int]) -> DynError:
    """The error for a section with relocations against symbol indexes its file does not have."""
    return DynError(f"relocation in {sec.name} refers to symbol {max(symbols)}, which does not exist", sec.file.name)


def release_input(obj: ObjectFile) -> None:
    """Forget an object's section and relocation bytes and its file's (unmapping a mapped one), once
    the output holds them.

    Its sections keep their names, sizes and places; reading their bytes or relocations
    afterwards is an error.
    """
    for sec in obj.sections:
        if sec is not None:
            sec._data = b""
            sec._rel_source = None
    view, mapping = obj.view, obj.mapping
    obj.view, obj.mapping, obj.symbol_values = NO_BYTES, None, None
    try:
        if view is not NO_BYTES:
            view.release()
        if mapping is not None:
            mapping.close()
    except BufferError:  # a slice of it is still held: the pages go when the slice does
        pass


def load_object(data: bytes | memoryview, name: str, arch: Arch, order: int) -> ObjectFile:
    """Parse a relocatable object for ``arch``; symbols stay unresolved (each file's own, globals too)."""
    obj = read_object(data, name, arch, order)
    assert obj.unresolved is not None
    obj.symbols += unresolved_symbols(obj, obj.unresolved)
    obj.unresolved = None
    return obj


def read_object(data: bytes | memoryview, name: str, arch: Arch, order: int) -> ObjectFile:
    """Parse a relocatable object for ``arch``: ``symbols`` holds its local part (up to
    ``first_global``), ``unresolved`` the rest as columns, for resolution to turn into globals."""
    e = elf.ElfFile(data, name)
    if e.type != elf.ET_REL:
        raise DynError("not a relocatable object (ET_REL)", name)
    found = arch_for_machine(e.machine, e.bits)
    if found is None or found.name != arch.name:
        what = found.name if found else f"machine {e.machine}, ELFCLASS{e.bits}"
        raise DynError(f"object is for {what}, not {arch.name}", name)
    obj = ObjectFile(name, e, e.bits, order=order, view=e.data)
    h = e.section_headers()
    sections: list[InputSection | None] = [None] * len(h.names)
    obj.sections = sections
    symtab = -1
    rels = []
    NOBITS = elf.SHT_NOBITS  # a section with no bytes in the file: its data is b""
    ALLOC = elf.SHF_ALLOC
    for i, (sname, stype, flags, offset, size, link, info, align, entsize) in enumerate(
        zip(h.names, h.types, h.flags, h.offsets, h.sizes, h.links, h.infos, h.aligns, h.entsizes, strict=True)
    ):
        if stype in _NOT_INPUT_TYPES:
            if stype == elf.SHT_SYMTAB:
                symtab = i
            elif stype == elf.SHT_RELA or stype == elf.SHT_REL:
                rels.append(i)
        elif sname == ".note.GNU-stack":
            obj.exec_stack = bool(flags & elf.SHF_EXECINSTR)
        else:
            if align & (align - 1) or align > MAX_ALIGN:
                raise DynError(f"section {sname}: bad alignment {align:#x}", name)
            if not flags & ALLOC and not sname.startswith(".debug_"):
                continue  # never in the output (.comment, .llvm_addrsig, .dynpragma...): not an input section
            # ElfFile checked that every section's bytes are in the file.
            sections[i] = InputSection(
                obj, i, sname, stype, flags, align, size, entsize, link, info, offset, b"" if stype == NOBITS else None
            )
    for i in rels:
        target_index, rel_name = h.infos[i], h.names[i]
        if not 0 <= target_index < len(sections):
            raise DynError(f"relocation section {rel_name}: bad target section {target_index}", name)
        target = sections[target_index]
        if target is None:
            continue
        size = h.sizes[i]
        if size % (h.entsizes[i] or 1):
            raise DynError(f"relocation section {rel_name}: bad size", name)
        target._relocs, target._rel_source, target._rel_size, target._rel_name = None, h.offsets[i], size, rel_name
        target.rel_type = rel_type = h.types[i]
        obj.relocation_entries += size // entry_size(rel_type == elf.SHT_RELA, obj.bits // 8)
    if symtab < 0:
        obj.unresolved = []
        return obj
    symtab_header = e.section(symtab)
    entries = e.symbol_tuples(symtab_header)
    first_global = obj.first_global = symtab_header.info
    nsec = len(sections)
    symbols = obj.symbols
    append = symbols.append
    ABS, COMMON, TLS, IFUNC = elf.SHN_ABS, elf.SHN_COMMON, elf.STT_TLS, elf.STT.GNU_IFUNC
    tls_alloc = elf.SHF_TLS | elf.SHF_ALLOC
    # Every entry is checked in table order; the locals become symbols, the globals stay
    # entries until resolution merges them into the global table.
    for i, (sname, value, size, info, other, shndx) in enumerate(entries):
        sec = None
        if 0 < shndx < ABS:
            if shndx >= nsec:
                _symbol_error(sections, sname, value, info, shndx, name)
            sec = sections[shndx]
            if sec is not None and (
                value > sec.size or info & 0xF == TLS and sec.flags & tls_alloc != tls_alloc or info & 0xF == IFUNC
            ):
                _symbol_error(sections, sname, value, info, shndx, name)
        elif shndx == COMMON and (value & (value - 1) or value > MAX_ALIGN):
            _symbol_error(sections, sname, value, info, shndx, name)
        elif shndx > COMMON:  # SHN_XINDEX and the other reserved indexes above SHN_COMMON
            _symbol_error(sections, sname, value, info, shndx, name)
        if i < first_global:
            sym = Symbol(sname, False, obj, value, size, info >> 4, info & 0xF, shndx, sec, other & 3)
            if shndx == COMMON:
                sym.common_align, sym.value = max(value, 1), 0
            append(sym)
    obj.unresolved = entries[first_global:]
    return obj


#: section types whose sections are not input sections (symbol, string and relocation tables, groups)
_NOT_INPUT_TYPES = frozenset(
    (elf.SHT_SYMTAB, elf.SHT_GROUP, elf.SHT_REL, elf.SHT_RELA, elf.SHT_STRTAB, elf.SHT_NULL, elf.SHT_SYMTAB_SHNDX)
)


def _symbol_error(
    sections: list[InputSection | None], sname: str, value: int, info: int, shndx: int, name: str
) -> NoReturn:
    """Raise the error of a symbol entry with a bad or unsupported section index, an indirect function, a
    thread-local symbol outside thread-local storage, a value outside its section or a bad common alignment
    (the first that applies)."""
    if 0 < shndx < elf.SHN_ABS:
        if shndx >= len(sections):
            raise DynError(f"symbol {sname!r}: bad section index {shndx}", name)
        sec = sections[shndx]
        assert sec is not None
        tls_alloc = elf.SHF_TLS | elf.SHF_ALLOC
        if info & 0xF == elf.STT.GNU_IFUNC:
            raise DynError(
                f"symbol {sname} is an indirect function (STT_GNU_IFUNC, __attribute__((ifunc))): "
                "dynlink does not write the IRELATIVE relocations that would call its resolver",
                name,
            )
        if info & 0xF == elf.STT_TLS and sec.flags & tls_alloc != tls_alloc:
            raise DynError(
                f"symbol {sname} is thread-local but its section {sec.name} is not thread-local storage", name
            )
        raise DynError(
            f"symbol {sname!r}: value {value:#x} is outside its section {sec.name} (size {sec.size:#x})", name
        )
    if shndx == elf.SHN_XINDEX:
        raise DynError(
            f"{f'symbol {sname}' if sname else 'a section symbol'}: its section index is in an extended "
            "table (SHN_XINDEX): objects of 65,280 sections or more are not supported",
            name,
        )
    if shndx > elf.SHN_COMMON:
        raise DynError(f"symbol {sname}: unsupported special section index {shndx:#x}", name)
    # checked before anything is allocated for it
    what = "too large" if value > MAX_ALIGN else "not a power of 2"
    raise DynError(f"symbol {sname}: alignment {value:#x} {what}", name)


def unresolved_symbols(obj: ObjectFile, entries: list[SymbolEntry]) -> list[Symbol]:
    """Symbol table ``entries`` of ``obj`` from ``first_global`` on as its own Symbols, unresolved."""
    return [entry_symbol(obj, entry) for entry in entries]


def entry_symbol(obj: ObjectFile, entry: SymbolEntry) -> Symbol:
    """``obj``'s own Symbol for one of its global-part symbol table entries (global unless bound
    STB_LOCAL; ``read_object`` checked its section index)."""
    sname, value, size, info, other, shndx = entry
    bind = info >> 4
    sec = obj.sections[shndx] if 0 < shndx < elf.SHN_ABS else None
    sym = Symbol(sname, bind != elf.STB_LOCAL, obj, value, size, bind, info & 0xF, shndx, sec, other & 3)
    if shndx == elf.SHN_COMMON:
        sym.common_align, sym.value = max(value, 1), 0
    return sym


def _group_members(e: elf.ElfFile, s: elf.Section) -> list[int]:
    words = struct.unpack(f"<{s.size // 4}I", e.section_data(s)[: s.size - s.size % 4])
    count = len(e.section_headers().names)
    return [w for w in words[1:] if w < count]


def comdat_groups(obj: ObjectFile) -> list[tuple[str, list[int]]]:
    """(signature, member section indexes) of each COMDAT group of an object."""
    e = obj.elf
    assert e is not None, "read while the object is loaded"
    out: list[tuple[str, list[int]]] = []
    types = e.section_headers().types
    if elf.SHT_GROUP not in types or elf.SHT_SYMTAB not in types:
        return out
    names: list[str] | None = None  # every symbol's, made for the first group
    for i, section_type in enumerate(types):
        if section_type != elf.SHT_GROUP:
            continue
        s = e.section(i)
        data = e.section_data(s)
        if len(data) < 4:
            raise DynError(f"group section {s.name}: truncated", obj.name)
        flags = struct.unpack_from("<I", data, 0)[0]
        if not flags & elf.GRP_COMDAT:
            continue
        if names is None:
            names = [sym.name for sym in obj.symbols]
            if obj.unresolved is not None:
                names += [entry[0] for entry in obj.unresolved]
        if not 0 <= s.info < len(names):
            raise DynError(f"group section {s.name}: bad signature symbol", obj.name)
        out.append((names[s.info], _group_members(e, s)))
    return out


class Archive:
    """An ``ar`` archive: members are parsed only when needed."""

    def __init__(self, data: bytes, name: str):
        self.name = name
        self.data = memoryview(data)
        self.members: dict[int, tuple[str, int, int]] = {}  # header offset -> (name, data offset, size)
        self.index: list[tuple[str, int]] = []  # (symbol, member header offset)
        self.loaded: set[int] = set()
        self._parse(data)

    def _parse(self, data: bytes) -> None:
        if not data.startswith(b"!<arch>\n"):
            raise DynError("not an ar archive", self.name)
        off = 8
        longnames = b""
        symtab: bytes | None = None
        n = len(data)
        while off < n:
            if off + 60 > n:
                raise DynError("truncated archive member header", self.name)
            hdr = data[off : off + 60]
            if hdr[58:60] != b"`\n":
                raise DynError(f"bad archive member header at offset {off}", self.name)
            raw_name = hdr[0:16].rstrip(b" ")
            try:
                size = int(hdr[48:58].strip() or b"0")
            except ValueError:
                raise DynError(f"bad archive member size at offset {off}", self.name) from None
            body = off + 60
            if body + size > n:
                raise DynError(f"truncated archive member at offset {off}", self.name)
            if raw_name == b"/" or raw_name == b"/SYM64/":
                symtab = data[body : body + size]
                wide = raw_name == b"/SYM64/"
                self._parse_symtab(symtab, wide)
            elif raw_name == b"//":
                longnames = data[body : body + size]
            else:
                if raw_name.startswith(b"/") and raw_name[1:].isdigit():
                    start = int(raw_name[1:])
                    end = longnames.find(b"\n", start)
                    mname = longnames[start : end if end >= 0 else None].rstrip(b"/")
                elif raw_name.startswith(b"#1/"):
                    ln = int(raw_name[3:])
                    mname = data[body : body + ln].rstrip(b"\0")
                    body += ln
                    size -= ln
                else:
                    mname = raw_name.rstrip(b"/")
                self.members[off] = (mname.decode("utf-8", "replace"), body, size)
            off = body + size + (size & 1) if not raw_name.startswith(b"#1/") else body + size + ((body + size) & 1)
        if symtab is None:
            self.index = []  # no symbol index: every member is read to find definitions

    def _parse_symtab(self, tab: bytes, wide: bool) -> None:
        w = 8 if wide else 4
        if len(tab) < w:
            raise DynError("truncated archive symbol table", self.name)
        count = int.from_bytes(tab[:w], "big")
        if w + count * w > len(tab):
            raise DynError("truncated archive symbol table", self.name)
        offsets = [int.from_bytes(tab[w + i * w : w + (i + 1) * w], "big") for i in range(count)]
        names = tab[w + count * w :].split(b"\0")
        if len(names) < count:
            raise DynError("truncated archive symbol table names", self.name)
        self.index = [(names[i].decode("utf-8", "surrogateescape"), offsets[i]) for i in range(count)]
        self.has_index = True

    def object_members(self) -> Iterator[tuple[int, str, memoryview]]:
        """(header offset, name, bytes) of each member that is an ELF file, in the archive's order
        (text files kept in an archive are not objects)."""
        for off in sorted(self.members):
            mname, data = self.member_data(off)
            if bytes(data[:4]) == b"\x7fELF":
                yield off, mname, data

    def member_data(self, hdr_off: int) -> tuple[str, memoryview]:
        if hdr_off not in self.members:
            raise DynError(f"archive symbol table points at no member (offset {hdr_off})", self.name)
        mname, body, size = self.members[hdr_off]
        return f"{self.name}({mname})", self.data[body : body + size]
