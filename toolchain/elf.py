"""The ELF vocabulary and reader shared by the linker, ``dyninfo`` and the tests.

Vocabulary: the constants as named tables (``SHT``, ``SHF``, ``SHN``, ``STB``, ``STT``,
``STV``, ``PT``, ``PF``, ``DT``, ``ET``, ``EM`` and the relocation types ``R_386``,
``R_X86_64``, ``R_ARM``), plus the flat names (``SHT_PROGBITS``, ``DT_NEEDED``...) as
plain ints for hot code, and ``*_name`` functions that spell a value as readelf does.

Reader: ``ElfFile`` parses the file header and the section headers at once (as columns,
``SectionHeaders``; a ``Section`` record is made for a header when it is first asked for)
and everything else on request, with ``struct`` over a ``memoryview``: program headers (``Segment``),
symbols (``Symbol``), relocations, the dynamic section (``DynamicEntry``), symbol
versions (``VersionNeed``, ``VersionDef``, versym), and the SysV and GNU hash tables
(``SysvHashTable``, ``GnuHashTable``).  Every read is bounds-checked; a malformed file
raises DynError naming it.  Only little-endian files are read (all three arches are).
"""

from __future__ import annotations

import struct
import sys
from operator import add

from .errors import DynError
from .records import NamedTuple, Record


class Table:
    """A named table of ELF numbers (``SHT``, ``DT``, ``R_X86_64``...): ``SHT.PROGBITS`` is a
    plain int, ``SHT.name_of(1)`` is ``"PROGBITS"``. Plain classes rather than ``IntEnum``s:
    building the enums cost every command 3 to 4 ms of start-up."""

    @classmethod
    def members(cls) -> dict[str, int]:
        """Every name of the table and its value, in the order they are written."""
        return {k: v for k, v in vars(cls).items() if k.isupper() and isinstance(v, int)}

    @classmethod
    def name_of(cls, value: int) -> str | None:
        """The name of ``value`` (the first written, when several share it), or None."""
        names: dict[int, str] | None = cls.__dict__.get("_names")
        if names is None:
            names = {}
            for name, v in cls.members().items():
                names.setdefault(v, name)
            cls._names = names  # type: ignore[attr-defined]
        return names.get(value)


# ------------------------------------------------------------------ tables
class ET(Table):
    """Object file type (``e_type``)."""

    NONE = 0
    REL = 1
    EXEC = 2
    DYN = 3
    CORE = 4


class EM(Table):
    """Machine (``e_machine``) of the arches we know."""

    NONE = 0
    I386 = 3
    ARM = 40
    X86_64 = 62


class SHT(Table):
    """Section type (``sh_type``), the generic and GNU/LLVM ones; see ``SHT_ARM_*``/``SHT_X86_64_*``."""

    NULL = 0
    PROGBITS = 1
    SYMTAB = 2
    STRTAB = 3
    RELA = 4
    HASH = 5
    DYNAMIC = 6
    NOTE = 7
    NOBITS = 8
    REL = 9
    SHLIB = 10
    DYNSYM = 11
    INIT_ARRAY = 14
    FINI_ARRAY = 15
    PREINIT_ARRAY = 16
    GROUP = 17
    SYMTAB_SHNDX = 18
    LLVM_ADDRSIG = 0x6FFF4C03
    LLVM_CALL_GRAPH_PROFILE = 0x6FFF4C09
    GNU_ATTRIBUTES = 0x6FFFFFF5
    GNU_HASH = 0x6FFFFFF6
    GNU_VERDEF = 0x6FFFFFFD
    GNU_VERNEED = 0x6FFFFFFE
    GNU_VERSYM = 0x6FFFFFFF


class SHF(Table):
    """Section flags (``sh_flags``)."""

    WRITE = 0x1
    ALLOC = 0x2
    EXECINSTR = 0x4
    MERGE = 0x10
    STRINGS = 0x20
    INFO_LINK = 0x40
    LINK_ORDER = 0x80
    OS_NONCONFORMING = 0x100
    GROUP = 0x200
    TLS = 0x400
    COMPRESSED = 0x800
    EXCLUDE = 0x80000000


class SHN(Table):
    """Reserved section indices (``st_shndx``)."""

    UNDEF = 0
    LORESERVE = 0xFF00
    ABS = 0xFFF1
    COMMON = 0xFFF2
    XINDEX = 0xFFFF


class STB(Table):
    """Symbol binding (high nibble of ``st_info``)."""

    LOCAL = 0
    GLOBAL = 1
    WEAK = 2
    GNU_UNIQUE = 10


class STT(Table):
    """Symbol type (low nibble of ``st_info``)."""

    NOTYPE = 0
    OBJECT = 1
    FUNC = 2
    SECTION = 3
    FILE = 4
    COMMON = 5
    TLS = 6
    GNU_IFUNC = 10


class STV(Table):
    """Symbol visibility (low two bits of ``st_other``)."""

    DEFAULT = 0
    INTERNAL = 1
    HIDDEN = 2
    PROTECTED = 3


class PT(Table):
    """Segment type (``p_type``), generic and GNU; see ``PT_ARM_EXIDX``."""

    NULL = 0
    LOAD = 1
    DYNAMIC = 2
    INTERP = 3
    NOTE = 4
    SHLIB = 5
    PHDR = 6
    TLS = 7
    GNU_EH_FRAME = 0x6474E550
    GNU_STACK = 0x6474E551
    GNU_RELRO = 0x6474E552
    GNU_PROPERTY = 0x6474E553


class PF(Table):
    """Segment permissions (``p_flags``)."""

    X = 1
    W = 2
    R = 4


class DT(Table):
    """Dynamic section tag (``d_tag``)."""

    NULL = 0
    NEEDED = 1
    PLTRELSZ = 2
    PLTGOT = 3
    HASH = 4
    STRTAB = 5
    SYMTAB = 6
    RELA = 7
    RELASZ = 8
    RELAENT = 9
    STRSZ = 10
    SYMENT = 11
    INIT = 12
    FINI = 13
    SONAME = 14
    RPATH = 15
    SYMBOLIC = 16
    REL = 17
    RELSZ = 18
    RELENT = 19
    PLTREL = 20
    DEBUG = 21
    TEXTREL = 22
    JMPREL = 23
    BIND_NOW = 24
    INIT_ARRAY = 25
    FINI_ARRAY = 26
    INIT_ARRAYSZ = 27
    FINI_ARRAYSZ = 28
    RUNPATH = 29
    FLAGS = 30
    PREINIT_ARRAY = 32
    PREINIT_ARRAYSZ = 33
    GNU_HASH = 0x6FFFFEF5
    VERSYM = 0x6FFFFFF0
    RELACOUNT = 0x6FFFFFF9
    RELCOUNT = 0x6FFFFFFA
    FLAGS_1 = 0x6FFFFFFB
    VERDEF = 0x6FFFFFFC
    VERDEFNUM = 0x6FFFFFFD
    VERNEED = 0x6FFFFFFE
    VERNEEDNUM = 0x6FFFFFFF


class R_386(Table):
    """i386 relocation types."""

    NONE = 0
    R32 = 1
    PC32 = 2
    GOT32 = 3
    PLT32 = 4
    COPY = 5
    GLOB_DAT = 6
    JUMP_SLOT = 7
    RELATIVE = 8
    GOTOFF = 9
    GOTPC = 10
    TLS_TPOFF = 14
    TLS_IE = 15
    TLS_GOTIE = 16
    TLS_LE = 17
    TLS_GD = 18
    TLS_LDM = 19
    R16 = 20
    PC16 = 21
    R8 = 22
    PC8 = 23
    TLS_LDO_32 = 32
    TLS_IE_32 = 33
    TLS_LE_32 = 34
    TLS_DTPMOD32 = 35
    TLS_DTPOFF32 = 36
    TLS_TPOFF32 = 37
    IRELATIVE = 42
    GOT32X = 43


class R_X86_64(Table):
    """x86-64 relocation types."""

    NONE = 0
    R64 = 1
    PC32 = 2
    GOT32 = 3
    PLT32 = 4
    COPY = 5
    GLOB_DAT = 6
    JUMP_SLOT = 7
    RELATIVE = 8
    GOTPCREL = 9
    R32 = 10
    R32S = 11
    R16 = 12
    PC16 = 13
    R8 = 14
    PC8 = 15
    DTPMOD64 = 16
    DTPOFF64 = 17
    TPOFF64 = 18
    TLSGD = 19
    TLSLD = 20
    DTPOFF32 = 21
    GOTTPOFF = 22
    TPOFF32 = 23
    PC64 = 24
    GOTOFF64 = 25
    GOTPC32 = 26
    IRELATIVE = 37
    GOTPCRELX = 41
    REX_GOTPCRELX = 42


class R_ARM(Table):
    """32-bit ARM relocation types."""

    NONE = 0
    PC24 = 1
    ABS32 = 2
    REL32 = 3
    THM_CALL = 10
    TLS_DTPMOD32 = 17
    TLS_DTPOFF32 = 18
    TLS_TPOFF32 = 19
    COPY = 20
    GLOB_DAT = 21
    JUMP_SLOT = 22
    RELATIVE = 23
    GOTOFF32 = 24
    BASE_PREL = 25
    GOT_BREL = 26
    PLT32 = 27
    CALL = 28
    JUMP24 = 29
    THM_JUMP24 = 30
    TARGET1 = 38
    V4BX = 40
    TARGET2 = 41
    PREL31 = 42
    MOVW_ABS_NC = 43
    MOVT_ABS = 44
    MOVW_PREL_NC = 45
    MOVT_PREL = 46
    THM_MOVW_ABS_NC = 47
    THM_MOVT_ABS = 48
    GOT_PREL = 96
    THM_JUMP11 = 102
    THM_JUMP8 = 103
    TLS_GD32 = 104
    TLS_LDM32 = 105
    TLS_LDO32 = 106
    TLS_IE32 = 107
    TLS_LE32 = 108
    IRELATIVE = 160


# Flat names: plain ints (the hot paths of the linker compare against these).
ET_NONE, ET_REL, ET_EXEC, ET_DYN, ET_CORE = ET.NONE, ET.REL, ET.EXEC, ET.DYN, ET.CORE
EM_386, EM_ARM, EM_X86_64 = EM.I386, EM.ARM, EM.X86_64

SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB = SHT.NULL, SHT.PROGBITS, SHT.SYMTAB, SHT.STRTAB
SHT_RELA, SHT_HASH, SHT_DYNAMIC, SHT_NOTE = SHT.RELA, SHT.HASH, SHT.DYNAMIC, SHT.NOTE
SHT_NOBITS, SHT_REL, SHT_DYNSYM = SHT.NOBITS, SHT.REL, SHT.DYNSYM
SHT_INIT_ARRAY, SHT_FINI_ARRAY = SHT.INIT_ARRAY, SHT.FINI_ARRAY
SHT_PREINIT_ARRAY, SHT_GROUP, SHT_SYMTAB_SHNDX = SHT.PREINIT_ARRAY, SHT.GROUP, SHT.SYMTAB_SHNDX
SHT_GNU_HASH = SHT.GNU_HASH
SHT_GNU_VERDEF, SHT_GNU_VERNEED, SHT_GNU_VERSYM = SHT.GNU_VERDEF, SHT.GNU_VERNEED, SHT.GNU_VERSYM
SHT_LLVM_ADDRSIG = SHT.LLVM_ADDRSIG
# Processor-specific section types share values across machines, so they live outside SHT.
SHT_ARM_EXIDX, SHT_ARM_ATTRIBUTES = 0x70000001, 0x70000003
SHT_X86_64_UNWIND = 0x70000001

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = SHF.WRITE, SHF.ALLOC, SHF.EXECINSTR
SHF_MERGE, SHF_STRINGS, SHF_INFO_LINK = SHF.MERGE, SHF.STRINGS, SHF.INFO_LINK
SHF_LINK_ORDER, SHF_GROUP, SHF_TLS = SHF.LINK_ORDER, SHF.GROUP, SHF.TLS
SHF_EXCLUDE = SHF.EXCLUDE

SHN_UNDEF, SHN_ABS, SHN_COMMON, SHN_XINDEX = SHN.UNDEF, SHN.ABS, SHN.COMMON, SHN.XINDEX

STB_LOCAL, STB_GLOBAL, STB_WEAK = STB.LOCAL, STB.GLOBAL, STB.WEAK
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION = STT.NOTYPE, STT.OBJECT, STT.FUNC, STT.SECTION
STT_FILE, STT_COMMON, STT_TLS = STT.FILE, STT.COMMON, STT.TLS
STV_DEFAULT, STV_HIDDEN = STV.DEFAULT, STV.HIDDEN

PT_NULL, PT_LOAD, PT_DYNAMIC, PT_INTERP = PT.NULL, PT.LOAD, PT.DYNAMIC, PT.INTERP
PT_NOTE, PT_PHDR, PT_TLS, PT_GNU_STACK = PT.NOTE, PT.PHDR, PT.TLS, PT.GNU_STACK
PT_ARM_EXIDX = 0x70000001
PF_X, PF_W, PF_R = PF.X, PF.W, PF.R

DT_NULL, DT_NEEDED, DT_PLTRELSZ, DT_PLTGOT = DT.NULL, DT.NEEDED, DT.PLTRELSZ, DT.PLTGOT
DT_HASH, DT_STRTAB, DT_SYMTAB, DT_RELA = DT.HASH, DT.STRTAB, DT.SYMTAB, DT.RELA
DT_RELASZ, DT_RELAENT, DT_STRSZ, DT_SYMENT = DT.RELASZ, DT.RELAENT, DT.STRSZ, DT.SYMENT
DT_SONAME, DT_RPATH, DT_RUNPATH = DT.SONAME, DT.RPATH, DT.RUNPATH
DT_REL, DT_RELSZ, DT_RELENT, DT_PLTREL = DT.REL, DT.RELSZ, DT.RELENT, DT.PLTREL
DT_DEBUG, DT_JMPREL, DT_GNU_HASH = DT.DEBUG, DT.JMPREL, DT.GNU_HASH
DT_VERSYM, DT_VERDEF, DT_VERDEFNUM = DT.VERSYM, DT.VERDEF, DT.VERDEFNUM
DT_VERNEED, DT_VERNEEDNUM = DT.VERNEED, DT.VERNEEDNUM

GRP_COMDAT = 1
VER_NDX_LOCAL, VER_NDX_GLOBAL = 0, 1
VERSYM_HIDDEN = 0x8000  # the symbol's version is not the default one (``name@ver``, not ``name@@ver``)
VER_FLG_BASE = 1  # the verdef entry naming the file itself

_R_TYPES: dict[int, type[Table]] = {EM_386: R_386, EM_X86_64: R_X86_64, EM_ARM: R_ARM}
_R_PREFIX = {EM_386: "R_386_", EM_X86_64: "R_X86_64_", EM_ARM: "R_ARM_"}
# Names cannot start with a digit: R_386_32 is R_386.R32 and so on.
_R_DIGIT_NAMES = {"R64": "64", "R32": "32", "R32S": "32S", "R16": "16", "R8": "8"}
_SHT_BY_MACHINE = {
    EM_ARM: {SHT_ARM_EXIDX: "ARM_EXIDX", SHT_ARM_ATTRIBUTES: "ARM_ATTRIBUTES"},
    EM_X86_64: {SHT_X86_64_UNWIND: "X86_64_UNWIND"},
}
_SHT_SHORT = {SHT_GNU_VERDEF: "VERDEF", SHT_GNU_VERNEED: "VERNEED", SHT_GNU_VERSYM: "VERSYM"}
_PT_BY_MACHINE = {EM_ARM: {PT_ARM_EXIDX: "ARM_EXIDX"}}
_MACHINE_NAMES = {EM_386: "Intel 80386", EM_ARM: "ARM", EM_X86_64: "AMD x86-64"}
# readelf's letters for section flags, in its order.
_SHF_LETTERS = (
    (SHF_WRITE, "W"),
    (SHF_ALLOC, "A"),
    (SHF_EXECINSTR, "X"),
    (SHF_MERGE, "M"),
    (SHF_STRINGS, "S"),
    (SHF_INFO_LINK, "I"),
    (SHF_LINK_ORDER, "L"),
    (SHF.OS_NONCONFORMING, "O"),
    (SHF_GROUP, "G"),
    (SHF_TLS, "T"),
    (SHF.COMPRESSED, "C"),
    (SHF_EXCLUDE, "E"),
)
_SHF_KNOWN = sum(bit for bit, _ in _SHF_LETTERS)


def _enum_name(table: type[Table], value: int) -> str:
    name = table.name_of(value)
    return f"0x{value:x}" if name is None else name


def elf_type_name(value: int) -> str:
    """``EXEC``, ``DYN``... for an ``e_type``."""
    return _enum_name(ET, value)


def machine_name(machine: int) -> str:
    """A readable name of an ``e_machine`` (``AMD x86-64``)."""
    return _MACHINE_NAMES.get(machine, f"0x{machine:x}")


def section_type_name(value: int, machine: int = EM.NONE) -> str:
    """readelf's name of a section type without ``SHT_`` (``PROGBITS``, ``VERNEED``, ``ARM_EXIDX``)."""
    if value in _SHT_SHORT:
        return _SHT_SHORT[value]
    if value in _SHT_BY_MACHINE.get(machine, {}):
        return _SHT_BY_MACHINE[machine][value]
    return _enum_name(SHT, value)


def segment_type_name(value: int, machine: int = EM.NONE) -> str:
    """The name of a segment type without ``PT_`` (``LOAD``, ``GNU_STACK``, ``ARM_EXIDX``)."""
    if value in _PT_BY_MACHINE.get(machine, {}):
        return _PT_BY_MACHINE[machine][value]
    return _enum_name(PT, value)


def dynamic_tag_name(tag: int) -> str:
    """The name of a dynamic tag without ``DT_`` (``NEEDED``)."""
    return _enum_name(DT, tag)


def symbol_type_name(value: int) -> str:
    """``FUNC``, ``OBJECT``... for a symbol type."""
    return _enum_name(STT, value)


def symbol_bind_name(value: int) -> str:
    """``GLOBAL``, ``WEAK``... for a symbol binding."""
    return _enum_name(STB, value)


def visibility_name(value: int) -> str:
    """``DEFAULT``, ``HIDDEN``... for a symbol visibility."""
    return _enum_name(STV, value)


def reloc_type_name(machine: int, rtype: int) -> str:
    """The full name of a relocation type (``R_X86_64_JUMP_SLOT``), ``0x..`` when unknown."""
    table = _R_TYPES.get(machine)
    if table is None:
        return f"0x{rtype:x}"
    name = table.name_of(rtype)
    if name is None:
        return f"0x{rtype:x}"
    return _R_PREFIX[machine] + _R_DIGIT_NAMES.get(name, name)


def section_flags_letters(flags: int) -> str:
    """readelf's letters for section flags (``WAX``...), ``+0x..`` for bits it has no letter for."""
    out = "".join(ch for bit, ch in _SHF_LETTERS if flags & bit)
    rest = flags & ~_SHF_KNOWN
    return out + (f"+0x{rest:x}" if rest else "")


def segment_flags_letters(flags: int) -> str:
    """``RWX`` letters of a segment's permissions, ``-`` for a missing one."""
    return ("R" if flags & PF_R else "-") + ("W" if flags & PF_W else "-") + ("X" if flags & PF_X else "-")


# ----------------------------------------------------------------- records
class FileHeader(NamedTuple):
    """The ELF file header (``Elf32_Ehdr``/``Elf64_Ehdr``), identification bytes decoded."""

    bits: int
    osabi: int
    abiversion: int
    type: int
    machine: int
    version: int
    entry: int
    phoff: int
    shoff: int
    flags: int
    ehsize: int
    phentsize: int
    phnum: int
    shentsize: int
    shnum: int
    shstrndx: int


class Section(Record):
    """One section header of an ELF file."""

    __slots__ = ("index", "name", "type", "flags", "addr", "offset", "size", "link", "info", "align", "entsize")

    def __init__(
        self,
        index: int,
        name: str,
        type: int,
        flags: int,
        addr: int,
        offset: int,
        size: int,
        link: int,
        info: int,
        align: int,
        entsize: int,
    ) -> None:
        self.index = index
        self.name = name
        self.type = type
        self.flags = flags
        self.addr = addr
        self.offset = offset
        self.size = size
        self.link = link
        self.info = info
        self.align = align
        self.entsize = entsize


class SectionHeaders(NamedTuple):
    """An ELF file's section headers as parallel columns, in header order (``ElfFile.section_headers``)."""

    names: list[str]
    types: list[int]
    flags: list[int]
    addrs: list[int]
    offsets: list[int]
    sizes: list[int]
    links: list[int]
    infos: list[int]
    aligns: list[int]
    entsizes: list[int]


_NO_SECTION_HEADERS = SectionHeaders([], [], [], [], [], [], [], [], [], [])
#: (index, size, step) of each ELF64 section header field, read as 4-byte or 8-byte words
_SHDR64_COLUMNS = (
    (0, 4, 16),
    (1, 4, 16),
    (1, 8, 8),
    (2, 8, 8),
    (3, 8, 8),
    (4, 8, 8),
    (10, 4, 16),
    (11, 4, 16),
    (6, 8, 8),
    (7, 8, 8),
)


class Segment(NamedTuple):
    """One program header (the 64-bit field order, for both classes)."""

    type: int
    flags: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int
    align: int


class Symbol(Record):
    """One symbol table entry."""

    __slots__ = ("name", "value", "size", "info", "other", "shndx")

    def __init__(self, name: str, value: int, size: int, info: int, other: int, shndx: int) -> None:
        self.name = name
        self.value = value
        self.size = size
        self.info = info
        self.other = other
        self.shndx = shndx

    @property
    def bind(self) -> int:
        return self.info >> 4

    @property
    def type(self) -> int:
        return self.info & 0xF

    @property
    def visibility(self) -> int:
        return self.other & 3


class Relocation(NamedTuple):
    """One relocation entry; ``addend`` is 0 for SHT_REL (the addend is in the field)."""

    offset: int
    type: int
    sym: int
    addend: int


class DynamicEntry(NamedTuple):
    """One ``.dynamic`` entry."""

    tag: int
    value: int


class VersionAux(NamedTuple):
    """One version a library must provide (a ``Vernaux``); ``ndx`` is what versym holds."""

    name: str
    hash: int
    flags: int
    ndx: int


class VersionNeed(NamedTuple):
    """The versions needed from one library (a ``Verneed`` and its ``Vernaux`` list)."""

    file: str
    versions: list[VersionAux]


class VersionDef(NamedTuple):
    """One version defined by the file (a ``Verdef``): its names, the first is the version's own."""

    ndx: int
    flags: int
    hash: int
    names: list[str]


class SysvHashTable(NamedTuple):
    """A SysV ``.hash`` table."""

    nbucket: int
    nchain: int
    buckets: tuple[int, ...]
    chains: tuple[int, ...]

    def chain_lengths(self, where: str = ".hash", fname: str | None = None) -> list[int]:
        """The number of symbols reached from each bucket; DynError on a looping or stray chain."""
        lengths = []
        for b in self.buckets:
            n, i = 0, b
            while i != 0:
                if i >= self.nchain or n > self.nchain:
                    raise DynError(f"{where}: bad chain (index {i}, {self.nchain} symbols)", fname)
                n += 1
                i = self.chains[i]
            lengths.append(n)
        return lengths


class GnuHashTable(NamedTuple):
    """A GNU ``.gnu.hash`` table; ``chains`` holds the hash values of symbols from ``symoffset`` on."""

    nbucket: int
    symoffset: int
    bloom_shift: int
    bloom: tuple[int, ...]
    buckets: tuple[int, ...]
    chains: tuple[int, ...]

    def chain_lengths(self, where: str = ".gnu.hash", fname: str | None = None) -> list[int]:
        """The number of symbols in each bucket's run; DynError on a run that leaves the table."""
        lengths = []
        for b in self.buckets:
            n = 0
            if b:
                if b < self.symoffset:
                    raise DynError(f"{where}: bucket points at symbol {b}, below symoffset {self.symoffset}", fname)
                i = b - self.symoffset
                while True:
                    if i >= len(self.chains):
                        raise DynError(f"{where}: chain runs past the end of the table", fname)
                    n += 1
                    if self.chains[i] & 1:
                        break
                    i += 1
            lengths.append(n)
        return lengths


def parse_sysv_hash(data: bytes | memoryview, where: str = ".hash", fname: str | None = None) -> SysvHashTable:
    """A SysV hash table from its bytes."""
    if len(data) < 8:
        raise DynError(f"{where}: truncated hash table", fname)
    nbucket, nchain = struct.unpack_from("<II", data, 0)
    if 8 + 4 * (nbucket + nchain) > len(data):
        raise DynError(f"{where}: truncated hash table ({nbucket} buckets, {nchain} chains)", fname)
    buckets = struct.unpack_from(f"<{nbucket}I", data, 8)
    chains = struct.unpack_from(f"<{nchain}I", data, 8 + 4 * nbucket)
    return SysvHashTable(nbucket, nchain, buckets, chains)


def parse_gnu_hash(
    data: bytes | memoryview, bits: int, where: str = ".gnu.hash", fname: str | None = None
) -> GnuHashTable:
    """A GNU hash table from its bytes (``bits``: the ELF class, the Bloom word size); the chain
    array runs to the end of ``data``."""
    w = bits // 8
    if len(data) < 16:
        raise DynError(f"{where}: truncated GNU hash table", fname)
    nbucket, symoffset, maskwords, shift = struct.unpack_from("<4I", data, 0)
    chain_at = 16 + maskwords * w + 4 * nbucket
    if chain_at > len(data):
        raise DynError(f"{where}: truncated GNU hash table ({nbucket} buckets, {maskwords} Bloom words)", fname)
    bloom = struct.unpack_from(f"<{maskwords}{'Q' if w == 8 else 'I'}", data, 16)
    buckets = struct.unpack_from(f"<{nbucket}I", data, 16 + maskwords * w)
    nchain = (len(data) - chain_at) // 4
    chains = struct.unpack_from(f"<{nchain}I", data, chain_at)
    return GnuHashTable(nbucket, symoffset, shift, bloom, buckets, chains)


def string_at(strtab: bytes, offset: int, what: str = "string", fname: str | None = None) -> str:
    """The NUL-terminated string at ``offset`` of a string table (undecodable bytes kept as surrogates)."""
    if offset == 0 and not strtab:
        return ""
    end = strtab.find(b"\0", offset) if 0 <= offset < len(strtab) else -2
    if end == -2:
        raise DynError(f"{what} offset 0x{offset:x} outside the string table", fname)
    if end < 0:
        raise DynError(f"unterminated {what}", fname)
    return strtab[offset:end].decode("utf-8", "surrogateescape")


# ------------------------------------------------------------------ reader
_LITTLE_ENDIAN_HOST = sys.byteorder == "little"
_new_tuple = tuple.__new__  # a named tuple from its fields without its Python-level __new__


#: what an object compiled with -flto starts with (no ELF reader of ours can take it)
LLVM_BITCODE_MAGIC = b"BC\xc0\xde"
LLVM_BITCODE_ERROR = "not an ELF file: LLVM bitcode (compiled with -flto?)"


class ElfFile:
    """A parsed ELF file: header, section headers, and readers for the rest."""

    def __init__(self, data: bytes | memoryview, name: str):
        self.name = name
        self.data = memoryview(data)
        if len(data) < 16 or bytes(self.data[:4]) != b"\x7fELF":
            if bytes(self.data[:4]) == LLVM_BITCODE_MAGIC:
                raise DynError(LLVM_BITCODE_ERROR, name)
            raise DynError("not an ELF file", name)
        ei_class, ei_data = self.data[4], self.data[5]
        if ei_class not in (1, 2) or ei_data not in (1, 2):
            raise DynError("bad ELF identification", name)
        if ei_data != 1:
            raise DynError("big-endian ELF is not supported", name)
        self.bits = 32 if ei_class == 1 else 64
        self.e = "<"
        self.osabi, self.abiversion = self.data[7], self.data[8]
        if self.bits == 32:
            hdr = self._unpack("<HHIIIIIHHHHHH", 16)
            self._shdr_fmt, self._sym_fmt = "<IIIIIIIIII", "<IIIBBH"
        else:
            hdr = self._unpack("<HHIQQQIHHHHHH", 16)
            self._shdr_fmt, self._sym_fmt = "<IIQQQQIIQQ", "<IBBHQQ"
        (
            self.type,
            self.machine,
            self.version,
            self.entry,
            self.phoff,
            self.shoff,
            self.flags,
            self.ehsize,
            self.phentsize,
            self.phnum,
            self.shentsize,
            self.shnum,
            shstrndx,
        ) = self._ehdr = hdr
        self._headers = _NO_SECTION_HEADERS
        self._sections: list[Section] | None = None
        self._made: dict[int, Section] = {}  # the records made before ``sections`` is
        self.shstrndx = shstrndx
        if self.shoff:
            self._read_sections(self.shnum, shstrndx)
        self._segments: list[Segment] | None = None

    def _unpack(self, fmt: str, off: int) -> tuple:
        size = struct.calcsize(fmt)
        if off < 0 or off + size > len(self.data):
            raise DynError("truncated ELF file", self.name)
        return struct.unpack_from(fmt, self.data, off)

    def _read_sections(self, shnum: int, shstrndx: int) -> None:
        entsize = 40 if self.bits == 32 else 64
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
        table = self.data[self.shoff : end]
        if _LITTLE_ENDIAN_HOST:  # memoryview.cast reads in the host's byte order
            words = table.cast("I")
            if self.bits == 32:
                columns = [words[i::10].tolist() for i in range(10)]
            else:
                doubles = table.cast("Q")
                columns = [(words if size == 4 else doubles)[i::step].tolist() for i, size, step in _SHDR64_COLUMNS]
        else:
            rows = list(struct.iter_unpack(self._shdr_fmt, table))
            columns = [[row[i] for row in rows] for i in range(10)]
        name_offsets, types, flags, addrs, offsets, sizes, links, infos, aligns, entsizes = columns
        if not 0 <= shstrndx < shnum:
            raise DynError("bad section name table index", self.name)
        names = bytes(self._bytes(offsets[shstrndx], sizes[shstrndx]))
        # An ASCII table's byte offsets are its text's: names are cut from the text decoded once.
        text = names.decode("ascii") if names.isascii() else ""
        file_size = len(self.data)
        truncated = max(map(add, offsets, sizes)) > file_size and self._truncated_sections(columns, file_size)
        if text[-1:] == "\0" and max(name_offsets) < len(text) and not truncated:
            find = text.find
            cut = [text[n : find("\0", n)] for n in name_offsets]
        else:  # one by one, for the first section's error
            cut = []
            find = text.find
            for i, (n, t, o, s) in enumerate(zip(name_offsets, types, offsets, sizes, strict=True)):
                if t != SHT_NOBITS and t != SHT_NULL and o + s > file_size:
                    raise DynError(f"truncated ELF file (section {i})", self.name)
                end = find("\0", n)
                cut.append(text[n:end] if end >= 0 else _cstr_bytes(names, n, self.name))
        self._headers = _new_tuple(
            SectionHeaders, (cut, types, flags, addrs, offsets, sizes, links, infos, aligns, entsizes)
        )

    @staticmethod
    def _truncated_sections(columns: list[list[int]], file_size: int) -> bool:
        """Does any section header (other than SHT_NOBITS and SHT_NULL) say bytes past the file's end?"""
        types, offsets, sizes = columns[1], columns[4], columns[5]
        ends = map(add, offsets, sizes)
        return any(end > file_size and t != SHT_NOBITS and t != SHT_NULL for end, t in zip(ends, types, strict=True))

    def section_headers(self) -> SectionHeaders:
        """The section headers as columns (what ``sections`` makes its records from)."""
        return self._headers

    @property
    def sections(self) -> list[Section]:
        """The section headers as records, in header order (made on first use)."""
        made = self._sections
        if made is None:
            made = self._sections = [self.section(i) for i in range(len(self._headers.names))]
        return made

    def section(self, index: int) -> Section:
        """Section header ``index`` as a record (made once; IndexError past the table; a
        negative index counts from its end, as in ``sections``)."""
        if self._sections is not None:
            return self._sections[index]
        sec = self._made.get(index)
        if sec is None:
            h = self._headers
            index = range(len(h.names))[index]  # the IndexError, and a negative index made positive
            if index in self._made:
                return self._made[index]
            sec = self._made[index] = Section(
                index,
                h.names[index],
                h.types[index],
                h.flags[index],
                h.addrs[index],
                h.offsets[index],
                h.sizes[index],
                h.links[index],
                h.infos[index],
                h.aligns[index],
                h.entsizes[index],
            )
        return sec

    def _bytes(self, off: int, size: int) -> memoryview:
        if off < 0 or size < 0 or off + size > len(self.data):
            raise DynError("truncated ELF file", self.name)
        return self.data[off : off + size]

    # ---------------------------------------------------------- headers
    def header(self) -> FileHeader:
        """The file header as one record (``e_shstrndx`` as read through ``SHN_XINDEX``)."""
        return FileHeader._make((self.bits, self.osabi, self.abiversion, *self._ehdr[:-1], self.shstrndx))

    def segments(self) -> list[Segment]:
        """The program headers (read once); DynError on a bad entry size or a truncated table."""
        if self._segments is None:
            self._segments = self.program_headers() if self.phoff or self.phnum else []
        return self._segments

    def program_headers(self) -> list[Segment]:
        """(type, flags, offset, vaddr, paddr, filesz, memsz, align) of each program header."""
        if self.phnum and self.phentsize != (32 if self.bits == 32 else 56):
            raise DynError("bad program header size", self.name)
        out = []
        for i in range(self.phnum):
            off = self.phoff + i * self.phentsize
            if self.bits == 32:
                t, o, va, pa, fs, ms, fl, al = self._unpack("<IIIIIIII", off)
            else:
                t, fl, o, va, pa, fs, ms, al = self._unpack("<IIQQQQQQ", off)
            out.append(Segment(t, fl, o, va, pa, fs, ms, al))
        return out

    def segment_data(self, seg: Segment) -> memoryview:
        """The file bytes of a segment (``p_filesz`` of them)."""
        if seg.offset + seg.filesz > len(self.data):
            raise DynError(f"truncated ELF file ({segment_type_name(seg.type, self.machine)} segment)", self.name)
        return self.data[seg.offset : seg.offset + seg.filesz]

    def vaddr_bytes(self, addr: int, size: int, what: str) -> memoryview:
        """File bytes at a virtual address (through the PT_LOAD segments)."""
        for seg in self.segments():
            if seg.type == PT_LOAD and seg.vaddr <= addr and addr + size <= seg.vaddr + seg.filesz:
                start = seg.offset + addr - seg.vaddr
                if start + size > len(self.data):
                    break
                return self.data[start : start + size]
        raise DynError(f"{what} at 0x{addr:x} (0x{size:x} bytes) is not in the file", self.name)

    def interpreter(self) -> str | None:
        """The program interpreter named by PT_INTERP, or None."""
        for seg in self.segments():
            if seg.type == PT_INTERP:
                raw = bytes(self.segment_data(seg))
                return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        return None

    # --------------------------------------------------------- sections
    def section_data(self, sec: Section) -> memoryview:
        """The bytes of a section (empty for SHT_NOBITS)."""
        if sec.type == SHT_NOBITS:
            return memoryview(b"")
        return self._bytes(sec.offset, sec.size)

    def section_by_name(self, name: str) -> Section | None:
        """The first section called ``name``, or None."""
        names = self._headers.names
        return self.section(names.index(name)) if name in names else None

    def sections_of_type(self, sh_type: int) -> list[Section]:
        """Every section of type ``sh_type``, in header order."""
        return [self.section(i) for i, t in enumerate(self._headers.types) if t == sh_type]

    def first_section(self, sh_type: int) -> Section | None:
        """The first section of type ``sh_type`` (the symbol table, the dynamic section...), or None."""
        types = self._headers.types
        return self.section(types.index(sh_type)) if sh_type in types else None

    def link_section(self, sec: Section) -> Section:
        """The section ``sec.sh_link`` names; DynError when it names none."""
        if not 0 < sec.link < len(self._headers.names):
            raise DynError(f"section {sec.name}: bad link {sec.link}", self.name)
        return self.section(sec.link)

    def section_name(self, shndx: int) -> str:
        """A symbol's section as readelf's ``Ndx`` column shows it by name: ``UND``, ``ABS``, ``COMMON`` or the name."""
        if shndx == SHN_UNDEF:
            return "UND"
        if shndx == SHN_ABS:
            return "ABS"
        if shndx == SHN_COMMON:
            return "COMMON"
        if shndx < len(self._headers.names):
            return self._headers.names[shndx]
        return f"0x{shndx:x}"

    # ---------------------------------------------------------- symbols
    def symbol_tuples(self, symtab: Section) -> list[tuple[str, int, int, int, int, int]]:
        """(name, value, size, info, other, shndx) of every entry of a symbol table section."""
        h = self._headers
        link = symtab.link
        if not 0 < link < len(h.names):  # link_section's test, without making the record
            raise DynError(f"section {symtab.name}: bad link {link}", self.name)
        strtab = bytes(self._bytes(h.offsets[link], h.sizes[link])) if h.types[link] != SHT_NOBITS else b""
        data = self.section_data(symtab)
        if len(data) % (16 if self.bits == 32 else 24):
            raise DynError(f"symbol table {symtab.name}: bad size", self.name)
        rows = list(struct.iter_unpack(self._sym_fmt, data))
        # Every offset inside an ASCII table ending in NUL names a string: cut them from its text.
        # (The greatest row is one with the greatest name offset, its first field.)
        if rows and strtab[:1] == b"\0" and strtab[-1:] == b"\0" and strtab.isascii() and max(rows)[0] < len(strtab):
            text = strtab.decode("ascii")
            find = text.find
            if self.bits == 32:
                return [(text[n : find("\0", n)], v, sz, info, other, shndx) for n, v, sz, info, other, shndx in rows]
            return [(text[n : find("\0", n)], v, sz, info, other, shndx) for n, info, other, shndx, v, sz in rows]
        cache: dict[int, str] = {0: ""}

        def name(n: int) -> str:
            end = strtab.find(b"\0", n)
            if end < 0 or n >= len(strtab):
                raise DynError("symbol name outside the string table", self.name)
            s = cache[n] = strtab[n:end].decode("utf-8", "surrogateescape")
            return s

        known = cache.get
        if self.bits == 32:
            return [
                (s if (s := known(n)) is not None else name(n), v, sz, info, other, shndx)
                for n, v, sz, info, other, shndx in rows
            ]
        return [
            (s if (s := known(n)) is not None else name(n), v, sz, info, other, shndx)
            for n, info, other, shndx, v, sz in rows
        ]

    def symbols(self, symtab: Section) -> list[Symbol]:
        """Every entry of a symbol table section, names resolved."""
        return [Symbol(*t) for t in self.symbol_tuples(symtab)]

    # ------------------------------------------------------ relocations
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

    def relocation_records(self, sec: Section) -> list[Relocation]:
        """The relocations of a SHT_REL/SHT_RELA section as named records."""
        return [Relocation._make(t) for t in self.relocations(sec)]

    # ---------------------------------------------------------- dynamic
    def dynamic_entries(self) -> list[DynamicEntry] | None:
        """The ``.dynamic`` entries up to DT_NULL (from the section, else PT_DYNAMIC); None without one."""
        sec = self.first_section(SHT_DYNAMIC)
        if sec is not None:
            raw = self.section_data(sec)
        else:
            seg = next((p for p in self.segments() if p.type == PT_DYNAMIC), None)
            if seg is None:
                return None
            raw = self.segment_data(seg)
        out = []
        for tag, value in struct.iter_unpack(
            "<iI" if self.bits == 32 else "<qQ", raw[: len(raw) - len(raw) % (self.bits // 4)]
        ):
            out.append(DynamicEntry(tag, value))
            if tag == DT_NULL:
                break
        return out

    def dynamic_strings(self) -> bytes:
        """The dynamic string table: ``.dynsym``'s linked section, else what DT_STRTAB/DT_STRSZ point at."""
        sec = self.first_section(SHT_DYNSYM)
        if sec is not None:
            return bytes(self.section_data(self.link_section(sec)))
        tags = {e.tag: e.value for e in self.dynamic_entries() or []}
        if DT_STRTAB in tags and DT_STRSZ in tags:
            return bytes(self.vaddr_bytes(tags[DT_STRTAB], tags[DT_STRSZ], "DT_STRTAB"))
        return b""

    # --------------------------------------------------------- versions
    def versym(self, sec: Section | None = None) -> list[int]:
        """The version index of each dynamic symbol (``.gnu.version``); empty without one."""
        sec = sec or self.first_section(SHT_GNU_VERSYM)
        if sec is None:
            return []
        raw = self.section_data(sec)
        return list(struct.unpack(f"<{len(raw) // 2}H", raw[: len(raw) // 2 * 2]))

    def version_needs(self, sec: Section | None = None) -> list[VersionNeed]:
        """The versions needed per library (``.gnu.version_r``); empty without one."""
        sec = sec or self.first_section(SHT_GNU_VERNEED)
        if sec is None:
            return []
        data = self.section_data(sec)
        strtab = bytes(self.section_data(self.link_section(sec)))
        out: list[VersionNeed] = []
        off = 0
        while len(out) < 1000:
            if off + 16 > len(data):
                raise DynError(f"{sec.name}: truncated", self.name)
            _ver, cnt, file, aux, nxt = struct.unpack_from("<HHIII", data, off)
            need = VersionNeed(string_at(strtab, file, f"{sec.name} file name", self.name), [])
            a = off + aux
            for _ in range(cnt):
                if a + 16 > len(data):
                    raise DynError(f"{sec.name}: truncated", self.name)
                h, flags, other, name, anext = struct.unpack_from("<IHHII", data, a)
                need.versions.append(
                    VersionAux(string_at(strtab, name, f"{sec.name} name", self.name), h, flags, other)
                )
                if not anext:
                    break
                a += anext
            out.append(need)
            if not nxt:
                break
            off += nxt
        return out

    def version_defs(self, sec: Section | None = None) -> list[VersionDef]:
        """The versions the file defines (``.gnu.version_d``); empty without one."""
        sec = sec or self.first_section(SHT_GNU_VERDEF)
        if sec is None:
            return []
        data = self.section_data(sec)
        strtab = bytes(self.section_data(self.link_section(sec)))
        out: list[VersionDef] = []
        off = 0
        while len(out) < 1000:
            if off + 20 > len(data):
                raise DynError(f"{sec.name}: truncated", self.name)
            _ver, flags, index, cnt, h, aux, nxt = struct.unpack_from("<HHHHIII", data, off)
            names = []
            a = off + aux
            for _ in range(cnt):
                if a + 8 > len(data):
                    raise DynError(f"{sec.name}: truncated", self.name)
                name, anext = struct.unpack_from("<II", data, a)
                names.append(string_at(strtab, name, f"{sec.name} name", self.name))
                if not anext:
                    break
                a += anext
            out.append(VersionDef(index, flags, h, names))
            if not nxt:
                break
            off += nxt
        return out

    def version_names(self) -> dict[int, str]:
        """Version index -> version name, over what the file needs and defines."""
        out = {aux.ndx: aux.name for need in self.version_needs() for aux in need.versions}
        for d in self.version_defs():
            if d.names and not d.flags & VER_FLG_BASE:
                out[d.ndx] = d.names[0]
        return out

    # ----------------------------------------------------------- hashes
    def hash_table_bytes(self, sh_type: int, tag: int) -> tuple[str | None, memoryview]:
        """(name, bytes) of the hash table of section type ``sh_type``, else the one dynamic ``tag``
        points at (then it runs to the end of its segment); (None, empty) when there is none."""
        sec = self.first_section(sh_type)
        if sec is not None:
            return sec.name, self.section_data(sec)
        entries = {e.tag: e.value for e in self.dynamic_entries() or []}
        if tag not in entries:
            return None, memoryview(b"")
        addr = entries[tag]
        for seg in self.segments():
            if seg.type == PT_LOAD and seg.vaddr <= addr < seg.vaddr + seg.filesz:
                start = seg.offset + addr - seg.vaddr
                return dynamic_tag_name(tag), self._bytes(start, seg.offset + seg.filesz - start)
        raise DynError(f"{dynamic_tag_name(tag)} at 0x{addr:x} is not in the file", self.name)

    def sysv_hash_table(self) -> tuple[str, SysvHashTable] | None:
        """(where, table) of the SysV hash table, or None."""
        name, data = self.hash_table_bytes(SHT_HASH, DT_HASH)
        if name is None:
            return None
        return name, parse_sysv_hash(data, name, self.name)

    def gnu_hash_table(self) -> tuple[str, GnuHashTable] | None:
        """(where, table) of the GNU hash table, or None."""
        name, data = self.hash_table_bytes(SHT_GNU_HASH, DT_GNU_HASH)
        if name is None:
            return None
        return name, parse_gnu_hash(data, self.bits, name, self.name)


def _cstr_bytes(buf: bytes, off: int, fname: str) -> str:
    """The NUL-terminated string at ``off`` of a string table held as bytes."""
    if off >= len(buf) and off != 0:
        raise DynError("string table index out of range", fname)
    end = buf.find(b"\0", off)
    if end < 0:
        raise DynError("unterminated string in string table", fname)
    return buf[off:end].decode("utf-8", "surrogateescape")


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
