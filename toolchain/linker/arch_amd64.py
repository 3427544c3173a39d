"""amd64 (x86-64): relocation types, dynamic relocation numbers, PLT code and dynld module encodings."""

from __future__ import annotations

import struct

from ..dynld import module as dlm
from .reloc import S32, U32, WORD8, WORD16, WORD64, Field, Howto, Kind, Overflow
from .target import Target


class TargetAmd64(Target):
    name = "amd64"
    howtos = {
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
    tls_variant = 2
    r_abs_word, r_copy, r_glob_dat, r_jump_slot, r_relative = 1, 5, 6, 7, 8
    plt_header_size = plt_entry_size = plt_section_entsize = 16
    module_stub_size = 8
    module_import_limit = dlm.MAX_IMPORTS
    module_flag_hint = "compile with -fpie (dyncc's default for amd64)"

    def plt_header(self, plt: int, gotplt: int) -> bytes:
        """pushq GOT+8; jmp *GOT+16 (RIP-relative)."""
        return (
            b"\xff\x35"
            + struct.pack("<i", gotplt + 8 - (plt + 6))
            + b"\xff\x25"
            + struct.pack("<i", gotplt + 16 - (plt + 12))
            + b"\x0f\x1f\x40\x00"
        )

    def plt_entry(self, entry: int, slot: int, index: int, plt: int) -> bytes:
        """jmp *slot; pushq index; jmp PLT0."""
        return (
            b"\xff\x25"
            + struct.pack("<i", slot - (entry + 6))
            + b"\x68"
            + struct.pack("<I", index)
            + b"\xe9"
            + struct.pack("<i", plt - (entry + 16))
        )

    def plt_lazy_target(self, entry: int, plt: int) -> int:
        return entry + 6

    module_stub_needs_slot = True

    def module_stub(self, addr: int, slot: int, index: int) -> tuple[bytes, int | None]:
        """jmp *slot(%rip), padded with int3: the slot holds the import's address."""
        return b"\xff\x25" + struct.pack("<i", slot - (addr + 6)) + b"\xcc\xcc", None

    def module_import_use(self, howto: Howto) -> str | None:
        """Our amd64 extension: calls go through stubs, data through pointer slots or 64-bit words."""
        if howto.kind in (Kind.CALL, Kind.PC) and howto.field is not None and howto.field.size == 4:
            return "stub"
        if howto.kind is Kind.GOT_PC:
            return "got"
        if howto.kind is Kind.ABS and howto.field is WORD64:
            return "word"
        return None

    def module_import_word(self, index: int, addend: int) -> int:
        if not 0 <= addend < 1 << 48:
            raise Overflow(f"offset {addend:#x} from an import must be in [0, 2^48)")
        return (index << 48) | addend


TARGET = TargetAmd64
