"""amd64 (x86-64) relocation types, dynamic relocation numbers and PLT code."""

from __future__ import annotations

import struct

from toolchain.linker.reloc import S32, U32, WORD8, WORD16, WORD64, Field, Howto, Kind

R_ABS_WORD, R_COPY, R_GLOB_DAT, R_JUMP_SLOT, R_RELATIVE = 1, 5, 6, 7, 8

HOWTOS: dict[int, Howto] = {
    0: Howto("R_X86_64_NONE", Kind.NONE, None),
    1: Howto("R_X86_64_64", Kind.ABS, WORD64),
    2: Howto("R_X86_64_PC32", Kind.PC, S32),
    4: Howto("R_X86_64_PLT32", Kind.CALL, S32),
    9: Howto("R_X86_64_GOTPCREL", Kind.GOT_PC, S32),
    10: Howto("R_X86_64_32", Kind.ABS, U32),
    11: Howto("R_X86_64_32S", Kind.ABS, S32),
    12: Howto("R_X86_64_16", Kind.ABS, WORD16),
    13: Howto("R_X86_64_PC16", Kind.PC, Field(2, True)),
    14: Howto("R_X86_64_8", Kind.ABS, WORD8),
    15: Howto("R_X86_64_PC8", Kind.PC, Field(1, True)),
    24: Howto("R_X86_64_PC64", Kind.PC, WORD64),
    25: Howto("R_X86_64_GOTOFF64", Kind.GOT_OFF, WORD64),
    26: Howto("R_X86_64_GOTPC32", Kind.GOT_BASE_PC, S32),
    17: Howto("R_X86_64_DTPOFF64", Kind.DTP, WORD64),
    18: Howto("R_X86_64_TPOFF64", Kind.TP, WORD64),
    19: Howto("R_X86_64_TLSGD", Kind.TLS_GD, S32),
    20: Howto("R_X86_64_TLSLD", Kind.TLS_GD, S32),
    21: Howto("R_X86_64_DTPOFF32", Kind.DTP, S32),
    22: Howto("R_X86_64_GOTTPOFF", Kind.GOT_TP_PC, S32),
    23: Howto("R_X86_64_TPOFF32", Kind.TP, S32),
    41: Howto("R_X86_64_GOTPCRELX", Kind.GOT_PC, S32),
    42: Howto("R_X86_64_REX_GOTPCRELX", Kind.GOT_PC, S32),
}

TLS_VARIANT = 2  # the thread pointer is at the end of the TLS block

PLT_HEADER_SIZE = 16
PLT_ENTRY_SIZE = 16
PLT_SECTION_ENTSIZE = PLT_ENTRY_SIZE


def plt_header(plt: int, gotplt: int) -> bytes:
    """pushq GOT+8; jmp *GOT+16 (RIP-relative)."""
    return (
        b"\xff\x35"
        + struct.pack("<i", gotplt + 8 - (plt + 6))
        + b"\xff\x25"
        + struct.pack("<i", gotplt + 16 - (plt + 12))
        + b"\x0f\x1f\x40\x00"
    )


def plt_entry(entry: int, slot: int, index: int, plt: int) -> bytes:
    """jmp *slot; pushq index; jmp PLT0."""
    return (
        b"\xff\x25"
        + struct.pack("<i", slot - (entry + 6))
        + b"\x68"
        + struct.pack("<I", index)
        + b"\xe9"
        + struct.pack("<i", plt - (entry + 16))
    )


def plt_lazy_target(entry: int, plt: int) -> int:
    """What a jump slot holds before the loader binds it."""
    return entry + 6


STUB_SIZE = 8


def stub(addr: int, slot: int) -> bytes:
    """An indirect jump through a pointer slot (for dynld module imports): jmp *slot(%rip)."""
    return b"\xff\x25" + struct.pack("<i", slot - (addr + 6)) + b"\xcc\xcc"
