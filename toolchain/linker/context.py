"""The one declared state of a link, shared by every pass (like mold's ``Context``).

``LinkOptions`` is what the command line asked for; ``LinkState`` holds everything the
passes decide, each field declared here with the pass that fills it. The passes are
functions over a ``LinkState`` (``toolchain.linker.pipeline`` lists them in order);
nothing is added to the state halfway through a link.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import elf
from ..arch import Arch
from ..errors import DynError
from .inputs import Archive, InputSection, ObjectFile, Symbol
from .libsearch import InputArg
from .reloc import NO_RELOCS, Overflow
from .target import Target, get_target

if TYPE_CHECKING:
    from ..directives import DynImport
    from .autoimport import SharedInput, SharedSet
    from .glibc import CLibrary


@dataclass
class LinkOptions:
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
    #: every input (files and -l NAME) in command-line order, with -Bstatic/--as-needed in force there
    input_args: list[InputArg] = field(default_factory=list)
    start_files: bool = True  # crt1.o when linking against libc (-nostartfiles: off)
    export_dynamic: bool = False  # -E: export every global definition
    dynamic_list: str | None = None  # --dynamic-list FILE: export what the file names
    relro: bool = True  # -z relro (the default) / -z norelro: PT_GNU_RELRO in dynamic executables
    bind_now: bool = False  # -z now: DF_BIND_NOW, and .got.plt read-only after start-up too
    rpath: list[str] = field(default_factory=list)  # -rpath DIR: DT_RUNPATH
    build_id: str = "none"  # --build-id[=sha1|md5|uuid|0xHEX]

    def __post_init__(self) -> None:
        if not self.input_args:  # callers that list files and library names (the API before input_args)
            self.input_args = [InputArg(p) for p in self.inputs] + [InputArg(n, True) for n in self.libs]


class SyntheticSection(InputSection):
    """A section the linker makes itself (GOT, PLT, dynamic tables, export table, merged strings)."""

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
        self.relocs = NO_RELOCS
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
        self.entsize = 0
        self.index = 0

    @property
    def filesize(self) -> int:
        return 0 if self.type == elf.SHT_NOBITS else self.size


@dataclass
class LinkState:
    """Everything one link decides, field by field, with the pass that decides it."""

    opts: LinkOptions
    arch: Arch
    target: Target

    # load_inputs (resolve.py): the objects in load order, the archives, and the global
    # symbol table (one Symbol per name, shared by every object that names it).
    objects: list[ObjectFile] = field(default_factory=list)
    archives: list[Archive] = field(default_factory=list)
    globals: dict[str, Symbol] = field(default_factory=dict)
    #: archive members not loaded yet, by a symbol they define
    lazy: dict[str, tuple[Archive, int]] = field(default_factory=dict)
    #: COMDAT group signature -> the object whose copy of the group is kept
    comdat_seen: dict[str, ObjectFile] = field(default_factory=dict)
    #: names that pull archive members though nothing references them (entry, module exports)
    wanted: set[str] = field(default_factory=set)
    #: locals that the directives say the loader binds: never pulled from archives
    dynimported: set[str] = field(default_factory=set)
    #: the shared libraries among the inputs (autoimport.SharedInput), in command-line order
    shared: list[SharedInput] = field(default_factory=list)
    #: the C library directory (glibc.CLibrary) when -lc & co. come from it
    c_library: CLibrary | None = None
    #: archives searched only for what nothing else defines (compiler-rt), and whether a
    #: member of one is being added (its definitions never replace a shared library's)
    fallback_archives: list[Archive] = field(default_factory=list)
    loading_fallback: bool = False

    # bind_shared (hosted.py): who provides each symbol among the shared inputs, and the
    # directives made for the symbols they define
    shared_set: SharedSet | None = None
    auto_imports: list[DynImport] = field(default_factory=list)

    # apply_directives (resolve.py): the symbols exported to the dynamic loader, and the
    # object whose pragma exports each.
    dynexports: list[Symbol] = field(default_factory=list)
    dynexport_origin: dict[str, ObjectFile] = field(default_factory=dict)

    # mark_live (gc.py): for each global symbol that no section defines, the live objects
    # that refer to it (first reference first); and the entry symbol.
    external_refs: dict[str, list[ObjectFile]] = field(default_factory=dict)
    entry_sym: Symbol | None = None

    # assign_output_sections (sections.py): output sections in creation order, by name;
    # the linker's own sections; live-less input sections (for the map).
    outputs: list[OutputSection] = field(default_factory=list)
    by_name: dict[str, OutputSection] = field(default_factory=dict)
    synthetic: dict[str, SyntheticSection] = field(default_factory=dict)
    discarded: list[InputSection] = field(default_factory=list)

    # scan_relocations (relocate.py): GOT slots for addresses and for TLS offsets, whether
    # the GOT's own address is used, and the interworking thunks ((id(sym), kind) -> entry).
    got: list[Symbol] = field(default_factory=list)
    tls_got: list[Symbol] = field(default_factory=list)
    got_base_needed: bool = False
    thunks: dict[tuple[int, str], tuple[Symbol, str, int]] = field(default_factory=dict)

    # layout (layout.py): the load address of the first byte, the segments (flags, output
    # sections), where memory ends, and the TLS template (start address, memory size, alignment).
    base: int = 0
    segments: list[tuple[int, list[OutputSection]]] = field(default_factory=list)
    end_addr: int = 0
    tls: tuple[int, int, int] | None = None
    #: -z relro: the output sections that go first in the writable segment, which is padded to
    #: a page after them (set by the output before layout); and the range PT_GNU_RELRO covers
    #: (the segment's start, the page-aligned end of those sections)
    relro_sections: tuple[str, ...] = ()
    relro_range: tuple[int, int] | None = None

    # copy_contents (relocate.py) onwards: the loaded image, from ``base`` to the end of
    # the file-backed part of the last segment.
    image: bytearray = field(default_factory=bytearray)

    # every pass: errors collected so that one run reports several
    errors: list[str] = field(default_factory=list)

    @classmethod
    def for_options(cls, opts: LinkOptions) -> LinkState:
        return cls(opts=opts, arch=opts.arch, target=get_target(opts.arch))

    # -------------------------------------------------------------- queries
    def global_symbol(self, name: str) -> Symbol:
        """The global symbol ``name``, made (undefined) if nothing has named it yet."""
        g = self.globals.get(name)
        if g is None:
            g = self.globals[name] = Symbol(name, True)
        return g

    def flush_errors(self) -> None:
        """Raise the collected errors as one DynError (the first, and how many more)."""
        if self.errors:
            first = self.errors[0]
            more = len(self.errors) - 1
            raise DynError(first + (f" (and {more} more error{'s' if more > 1 else ''})" if more else ""))

    def live_sections(self) -> Iterator[InputSection]:
        """Every allocated input section that goes into the output."""
        for obj in self.objects:
            for sec in obj.sections:
                if sec is not None and sec.live and not sec.discarded and sec.flags & elf.SHF_ALLOC:
                    yield sec

    @staticmethod
    def is_import(sym: Symbol) -> bool:
        """Is this symbol bound at load time (a dynimport, or a module's import)?"""
        return sym.import_index >= 0 or sym.dynimport is not None and not sym.defined

    def sym_addr(self, sym: Symbol) -> int:
        """A defined symbol's address once laid out (0 for undefined weak symbols)."""
        if sym.section is not None:
            if sym.section.merged is not None:
                return merged_addr(sym.section, sym.value)
            return sym.section.addr + sym.value
        if sym.shndx == elf.SHN_ABS:
            return sym.value
        return 0

    def got_base(self) -> int:
        """``_GLOBAL_OFFSET_TABLE_``: where ``.got.plt`` starts when there is a PLT (as psABIs say), else ``.got``."""
        base = self.synthetic.get(".got.plt") or self.synthetic.get(".got")
        return base.addr if base is not None else 0

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
        if self.target.tls_variant == 2:
            return addr - start - (memsz + align - 1) // align * align
        return addr - start + (2 * self.arch.word + align - 1) // align * align

    def data_end(self) -> int:
        """Where the file's image of the segments ends (a bss-only segment still starts inside it)."""
        ends = [o.addr + (o.size if o.type != elf.SHT_NOBITS else 0) for o in self.outputs]
        return max(ends) if ends else self.base


def merged_addr(sec: InputSection, offset: int) -> int:
    """Where byte ``offset`` of a merged input section ended up."""
    starts, outs = sec.merge_map
    assert sec.merged is not None
    if not starts:  # an empty input section: nothing of it was merged
        return sec.merged.addr + offset
    i = bisect.bisect_right(starts, offset) - 1
    if i < 0:
        i = 0
    return sec.merged.addr + outs[i] + (offset - starts[i])
