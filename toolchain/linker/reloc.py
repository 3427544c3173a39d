"""Relocation records, kinds and instruction fields shared by every arch.

A section's relocations are a ``Relocs`` record of columns (offsets, types, symbol
indexes, addends), read in bulk. An arch describes each relocation type it supports
as a ``Howto``: what is computed (the kind) and where it goes (the field);
``toolchain.linker.relocate`` computes every kind once for every arch.
"""

from __future__ import annotations

from ..errors import DynError
from ..records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import ClassVar, Protocol


class Kind:
    """What a relocation computes (S symbol, A addend, P place, G GOT slot, GOT GOT base).

    One instance per kind, compared with ``is`` (not an ``enum.Enum``: importing ``enum``
    costs a small link's command 2 ms, and its members hash in Python).
    """

    __slots__ = ("value",)
    NONE: ClassVar[Kind]
    ABS: ClassVar[Kind]
    PC: ClassVar[Kind]
    CALL: ClassVar[Kind]
    GOT_PC: ClassVar[Kind]
    GOT_BASE_PC: ClassVar[Kind]
    GOT_OFF: ClassVar[Kind]
    GOT_386: ClassVar[Kind]
    TP: ClassVar[Kind]
    TP_NEG: ClassVar[Kind]
    GOT_TP_PC: ClassVar[Kind]
    GOT_TP: ClassVar[Kind]
    GOT_TP_GOTREL: ClassVar[Kind]
    DTP: ClassVar[Kind]
    TLS_GD: ClassVar[Kind]

    def __init__(self, value: str) -> None:
        self.value = value

    @property
    def name(self) -> str:
        return self.value.upper()

    def __repr__(self) -> str:
        return f"<Kind.{self.name}>"

    def __reduce__(self) -> tuple[object, tuple[object, str]]:  # unpickled as the same instance
        return getattr, (Kind, self.name)


Kind.NONE = Kind("none")  # nothing to do
Kind.ABS = Kind("abs")  # S + A
Kind.PC = Kind("pc")  # S + A - P
Kind.CALL = Kind("call")  # S + A - P, a call or jump (may go through a PLT stub)
Kind.GOT_PC = Kind("got_pc")  # G + A - P
Kind.GOT_BASE_PC = Kind("got_base_pc")  # GOT + A - P
Kind.GOT_OFF = Kind("got_off")  # S + A - GOT
Kind.GOT_386 = Kind("got_386")  # G + A - GOT, or G + A without a base register
Kind.TP = Kind("tp")  # the thread-pointer offset of S, + A (local-exec TLS)
Kind.TP_NEG = Kind("tp_neg")  # minus that offset, + A (386 TLS_LE_32)
Kind.GOT_TP_PC = Kind("got_tp_pc")  # GOT slot holding S's thread-pointer offset, + A - P (initial-exec TLS)
Kind.GOT_TP = Kind("got_tp")  # that slot's address + A (386 non-PIC initial-exec)
Kind.GOT_TP_GOTREL = Kind("got_tp_gotrel")  # that slot's address + A - GOT (386 PIC initial-exec)
Kind.DTP = Kind("dtp")  # S's offset in its module's TLS block, + A (debug information)
Kind.TLS_GD = Kind("tls_gd")  # general/local-dynamic TLS: not supported in executables


# What a symbol's entry in a values table (``relocate._symbol_values``) holds when it is not
# simply its address.
VALUE_IMPORT = -1  # bound at load time: the output decides the value
VALUE_MERGED_PIECE = -2  # a section symbol of merged strings: the addend picks the piece
VALUE_DROPPED = -3  # (debug) in an allocated section that is not in the output


def entry_size(rela: bool, word: int) -> int:
    """The bytes of one relocation entry: offset, info and (SHT_RELA) addend, each a ``word``."""
    return (3 if rela else 2) * word


class Relocs(NamedTuple):
    """One section's relocations as parallel columns, in file order."""

    offsets: list[int]  # where, from the start of the section
    types: list[int]  # the ELF relocation type
    symbols: list[int]  # index into the object's symbol table
    addends: list[int]  # the explicit addend (SHT_RELA); 0 for SHT_REL, whose addend is in the field

    def __len__(self) -> int:  # the number of relocations (so an empty table is false)
        return len(self.offsets)


NO_RELOCS = Relocs([], [], [], [])


class Overflow(DynError):
    """A relocated value does not fit its field."""


class Field(NamedTuple):
    """A place a value is written: a little-endian integer of ``size`` bytes."""

    size: int
    signed: bool | None  # True: must fit signed; False: unsigned; None: either
    shift: int = 0

    def read_addend(self, buf: bytearray | memoryview, off: int) -> int:
        v = int.from_bytes(buf[off : off + self.size], "little", signed=True)
        return v << self.shift

    def write(self, buf: bytearray, off: int, value: int, thumb_target: bool = False) -> None:
        bits = self.size * 8
        if self.shift:
            if value & ((1 << self.shift) - 1):
                raise Overflow(f"value 0x{value & ((1 << 64) - 1):x} not aligned")
            value >>= self.shift
        check_range(value, bits, self.signed)
        buf[off : off + self.size] = (value & ((1 << bits) - 1)).to_bytes(self.size, "little")


def check_range(value: int, bits: int, signed: bool | None) -> None:
    """Raise Overflow unless value fits ``bits`` bits (signed, unsigned, or either)."""
    lo_s, hi_s, hi_u = -(1 << (bits - 1)), (1 << (bits - 1)) - 1, (1 << bits) - 1
    if signed is True:
        ok = lo_s <= value <= hi_s
    elif signed is False:
        ok = 0 <= value <= hi_u
    else:
        ok = lo_s <= value <= hi_u
    if not ok:
        raise Overflow(f"value {value:#x} does not fit in {bits} bits")


WORD32 = Field(4, None)
U32 = Field(4, False)
S32 = Field(4, True)
WORD64 = Field(8, None)
WORD16 = Field(2, None)
WORD8 = Field(1, None)


if TYPE_CHECKING:

    class FieldLike(Protocol):
        """Where a relocated value goes: a plain ``Field`` or an arch's instruction field."""

        @property
        def size(self) -> int: ...

        def read_addend(self, buf: bytearray | memoryview, off: int) -> int: ...

        def write(self, buf: bytearray, off: int, value: int, thumb_target: bool = False) -> None: ...


class Howto(NamedTuple):
    """How to apply one relocation type: its name, kind and field (None for Kind.NONE)."""

    name: str
    kind: Kind
    field: Field | FieldLike | None


_FAST_FORMATS = {1: ("<b", "<B"), 2: ("<h", "<H"), 4: ("<i", "<I"), 8: ("<q", "<Q")}


class FastField(NamedTuple):
    """A plain little-endian integer field, read and written with ``struct`` directly."""

    read: str  # struct format reading the (signed) addend
    write: str  # struct format writing the value
    lowest: int  # the range a value must be in
    highest: int
    mask: int


def fast_fields(howtos: dict[int, Howto]) -> dict[int, FastField]:
    """The relocation types whose field is a plain integer: type -> its FastField."""
    out = {}
    for rtype, h in howtos.items():
        fld = h.field
        if isinstance(fld, Field) and not fld.shift and fld.size in _FAST_FORMATS:
            bits = fld.size * 8
            lo = 0 if fld.signed is False else -(1 << (bits - 1))
            hi = (1 << (bits - 1)) - 1 if fld.signed is True else (1 << bits) - 1
            out[rtype] = FastField(*_FAST_FORMATS[fld.size], lo, hi, (1 << bits) - 1)
    return out


def sign_extend(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v
