"""386 relocation types, dynamic relocation numbers and PLT code."""

from __future__ import annotations

import struct

from toolchain.linker.reloc import S32, WORD8, WORD16, WORD32, Field, Howto, Kind

R_ABS_WORD, R_COPY, R_GLOB_DAT, R_JUMP_SLOT, R_RELATIVE = 1, 5, 6, 7, 8

HOWTOS: dict[int, Howto] = {
    0: Howto("R_386_NONE", Kind.NONE, None),
    1: Howto("R_386_32", Kind.ABS, WORD32),
    2: Howto("R_386_PC32", Kind.PC, S32),
    3: Howto("R_386_GOT32", Kind.GOT_386, WORD32),
    4: Howto("R_386_PLT32", Kind.CALL, S32),
    9: Howto("R_386_GOTOFF", Kind.GOT_OFF, WORD32),
    10: Howto("R_386_GOTPC", Kind.GOT_BASE_PC, WORD32),
    15: Howto("R_386_TLS_IE", Kind.GOT_TP, WORD32),
    16: Howto("R_386_TLS_GOTIE", Kind.GOT_TP_GOTREL, WORD32),
    17: Howto("R_386_TLS_LE", Kind.TP, WORD32),
    18: Howto("R_386_TLS_GD", Kind.TLS_GD, WORD32),
    19: Howto("R_386_TLS_LDM", Kind.TLS_GD, WORD32),
    20: Howto("R_386_16", Kind.ABS, WORD16),
    21: Howto("R_386_PC16", Kind.PC, Field(2, True)),
    22: Howto("R_386_8", Kind.ABS, WORD8),
    23: Howto("R_386_PC8", Kind.PC, Field(1, True)),
    32: Howto("R_386_TLS_LDO_32", Kind.DTP, WORD32),
    34: Howto("R_386_TLS_LE_32", Kind.TP_NEG, WORD32),
    43: Howto("R_386_GOT32X", Kind.GOT_386, WORD32),
}

TLS_VARIANT = 2  # the thread pointer is at the end of the TLS block

PLT_HEADER_SIZE = 16
PLT_ENTRY_SIZE = 16
PLT_SECTION_ENTSIZE = PLT_ENTRY_SIZE


def plt_header(plt: int, gotplt: int) -> bytes:
    """pushl GOT+4; jmp *GOT+8 (absolute: the executable is not position independent)."""
    return b"\xff\x35" + struct.pack("<I", gotplt + 4) + b"\xff\x25" + struct.pack("<I", gotplt + 8) + b"\x90" * 4


def plt_entry(entry: int, slot: int, index: int, plt: int) -> bytes:
    """jmp *slot; pushl reloc offset; jmp PLT0."""
    return (
        b"\xff\x25"
        + struct.pack("<I", slot)
        + b"\x68"
        + struct.pack("<I", index * 8)
        + b"\xe9"
        + struct.pack("<i", plt - (entry + 16))
    )


def plt_lazy_target(entry: int, plt: int) -> int:
    return entry + 6


def got_has_base_register(buf: bytearray | memoryview, off: int) -> bool:
    """For GOT32/GOT32X: does the instruction address the GOT through a base register?

    The ModR/M byte precedes the displacement; mod 0 with r/m 5 is a plain disp32.
    """
    if off < 1:
        return True
    modrm = buf[off - 1]
    return not (modrm >> 6 == 0 and modrm & 7 == 5)
