"""The one declared state of a link, shared by every pass (like mold's ``Context``).

``LinkOptions`` is what the command line asked for; ``LinkState`` holds everything the
passes decide, each field declared here with the pass that fills it. The passes are
functions over a ``LinkState`` (``toolchain.linker.pipeline`` lists them in order);
nothing is added to the state halfway through a link.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from .. import elf
from ..arch import Arch
from ..errors import DynError
from ..records import TYPE_CHECKING
from .inputs import Archive, InputSection, ObjectFile, Symbol
from .libsearch import InputArg
from .reloc import NO_RELOCS, Overflow
from .target import Target, get_target

if TYPE_CHECKING:
    from ..directives import DynImport
    from .autoimport import SharedInput, SharedSet
    from .glibc import CLibrary


class LinkOptions:
    """What the command line asked for."""

    def __init__(
        self,
        arch: Arch,
        output: str,
        inputs: list[str],
        entry: str | None = None,
        lib_dirs: list[str] | None = None,
        libs: list[str] | None = None,
        map_file: str | None = None,
        interp: str | None = None,
        hash_style: str = "both",
        module: bool = False,
        manifest: str | None = None,
        strip_debug: bool = False,
        strip_all: bool = False,
        exec_stack: bool | None = None,
        input_args: list[InputArg] | None = None,
        start_files: bool = True,
        export_dynamic: bool = False,
        dynamic_list: str | None = None,
        relro: bool = True,
        bind_now: bool = False,
        rpath: list[str] | None = None,
        build_id: str = "none",
        wrap: list[str] | None = None,
        new_dtags: bool = True,
        export_symbols: list[str] | None = None,
        sort_common: bool = False,
    ) -> None:
        self.arch = arch
        self.output = output
        self.inputs = inputs
        self.entry = entry
        self.lib_dirs = lib_dirs if lib_dirs is not None else []
        self.libs = libs if libs is not None else []
        self.map_file = map_file
        self.interp = interp
        self.hash_style = hash_style
        self.module = module
        self.manifest = manifest
        self.strip_debug = strip_debug
        self.strip_all = strip_all  # -s: no .symtab/.strtab either
        self.exec_stack = exec_stack  # -z execstack/noexecstack; None: executable if an object asks
        # every input (files and -l NAME) in command-line order, with -Bstatic/--as-needed in force
        # there; callers that list files and library names (the API before input_args) get it made
        self.input_args = input_args or [InputArg(p) for p in inputs] + [InputArg(n, True) for n in self.libs]
        self.start_files = start_files  # crt1.o when linking against libc (-nostartfiles: off)
        self.export_dynamic = export_dynamic  # -E: export every global definition
        self.dynamic_list = dynamic_list  # --dynamic-list FILE: export what the file names
        self.relro = relro  # -z relro (the default) / -z norelro: PT_GNU_RELRO in dynamic executables
        self.bind_now = bind_now  # -z now: DF_BIND_NOW, and .got.plt read-only after start-up too
        self.rpath = rpath if rpath is not None else []  # -rpath DIR: DT_RUNPATH (or DT_RPATH)
        self.build_id = build_id  # --build-id[=sha1|md5|uuid|0xHEX]
        self.wrap = frozenset(wrap or ())  # --wrap=S: references to S go to __wrap_S, to __real_S to S
        self.new_dtags = new_dtags  # -rpath as DT_RUNPATH (--disable-new-dtags: DT_RPATH)
        self.export_symbols = export_symbols or []  # --export-dynamic-symbol: names or patterns to export
        self.sort_common = sort_common  # --sort-common: commons by alignment, largest first


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


class LinkState:
    """Everything one link decides, field by field, with the pass that decides it."""

    def __init__(self, opts: LinkOptions, arch: Arch, target: Target) -> None:
        self.opts = opts
        self.arch = arch
        self.target = target

        # load_inputs (resolve.py): the objects in load order, the archives, and the global
        # symbol table (one Symbol per name, shared by every object that names it).
        self.objects: list[ObjectFile] = []
        self.archives: list[Archive] = []
        self.globals: dict[str, Symbol] = {}
        # archive members not loaded yet, by a symbol they define
        self.lazy: dict[str, tuple[Archive, int]] = {}
        # COMDAT group signature -> the object whose copy of the group is kept
        self.comdat_seen: dict[str, ObjectFile] = {}
        # names that pull archive members though nothing references them (entry, module exports)
        self.wanted: set[str] = set()
        # locals that the directives say the loader binds: never pulled from archives
        self.dynimported: set[str] = set()
        # the shared libraries among the inputs (autoimport.SharedInput), in command-line order
        self.shared: list[SharedInput] = []
        # the C library directory (glibc.CLibrary) when -lc & co. come from it
        self.c_library: CLibrary | None = None
        # archives searched only for what nothing else defines (compiler-rt), and whether a
        # member of one is being added (its definitions never replace a shared library's)
        self.fallback_archives: list[Archive] = []
        self.loading_fallback: bool = False

        # bind_shared (hosted.py): who provides each symbol among the shared inputs, and the
        # directives made for the symbols they define
        self.shared_set: SharedSet | None = None
        self.auto_imports: list[DynImport] = []

        # apply_directives (resolve.py): the symbols exported to the dynamic loader, and the
        # object whose pragma exports each.
        self.dynexports: list[Symbol] = []
        self.dynexport_origin: dict[str, ObjectFile] = {}

        # mark_live (gc.py): for each global symbol that no section defines, the live objects
        # that refer to it (first reference first); and the entry symbol.
        self.external_refs: dict[str, list[ObjectFile]] = {}
        self.entry_sym: Symbol | None = None
        #: the X of each __start_X/__stop_X referenced for which live sections named X exist
        self.encapsulated: set[str] = set()

        # assign_output_sections (sections.py): output sections in creation order, by name;
        # the linker's own sections; live-less input sections (for the map).
        self.outputs: list[OutputSection] = []
        self.by_name: dict[str, OutputSection] = {}
        self.synthetic: dict[str, SyntheticSection] = {}
        self.discarded: list[InputSection] = []

        # scan_relocations (relocate.py): GOT slots for addresses and for TLS offsets, whether
        # the GOT's own address is used, and the interworking thunks ((id(sym), kind) -> entry).
        self.got: list[Symbol] = []
        self.tls_got: list[Symbol] = []
        self.got_base_needed: bool = False
        self.thunks: dict[tuple[int, str], tuple[Symbol, str, int]] = {}

        # layout (layout.py): the load address of the first byte, the segments (flags, output
        # sections), where memory ends, and the TLS template (start address, memory size, alignment).
        self.base: int = 0
        self.segments: list[tuple[int, list[OutputSection]]] = []
        self.end_addr: int = 0
        self.tls: tuple[int, int, int] | None = None
        # -z relro: the output sections that go first in the writable segment, which is padded to
        # a page after them (set by the output before layout); and the range PT_GNU_RELRO covers
        # (the segment's start, the page-aligned end of those sections)
        self.relro_sections: tuple[str, ...] = ()
        self.relro_range: tuple[int, int] | None = None

        # copy_contents (relocate.py) onwards: the loaded image, from ``base`` to the end of
        # the file-backed part of the last segment.
        self.image: bytearray = bytearray()

        # every pass: errors collected so that one run reports several
        self.errors: list[str] = []

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


def merged_piece_base(sym: Symbol, addend: int) -> int:
    """S for a relocation against ``sym``, a section symbol of merged strings or constants:
    the addend picks the piece, so S is where that piece went, less the addend."""
    assert sym.section is not None
    return merged_addr(sym.section, sym.value + addend) - addend


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
