"""386: relocation types, dynamic relocation numbers, PLT code and dynld module encodings."""

from __future__ import annotations

import struct

from .reloc import S32, WORD8, WORD16, WORD32, Field, Howto, Kind, Overflow
from .target import Target


class Target386(Target):
    name = "386"
    howtos = {
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
    tls_variant = 2
    r_abs_word, r_copy, r_glob_dat, r_jump_slot, r_relative = 1, 5, 6, 7, 8
    plt_header_size = plt_entry_size = plt_section_entsize = 16
    module_flag_hint = "compile with -fno-pic (dyncc's default for 386)"

    def plt_header(self, plt: int, gotplt: int) -> bytes:
        """pushl GOT+4; jmp *GOT+8 (absolute: the executable is not position independent)."""
        return b"\xff\x35" + struct.pack("<I", gotplt + 4) + b"\xff\x25" + struct.pack("<I", gotplt + 8) + b"\x90" * 4

    def plt_entry(self, entry: int, slot: int, index: int, plt: int) -> bytes:
        """jmp *slot; pushl reloc offset; jmp PLT0."""
        return (
            b"\xff\x25"
            + struct.pack("<I", slot)
            + b"\x68"
            + struct.pack("<I", index * 8)
            + b"\xe9"
            + struct.pack("<i", plt - (entry + 16))
        )

    def plt_lazy_target(self, entry: int, plt: int) -> int:
        return entry + 6

    def got_has_base_register(self, buf: bytearray | memoryview, off: int) -> bool:
        """GOT32/GOT32X: the ModR/M byte precedes the displacement; mod 0 with r/m 5 is a plain disp32."""
        if off < 1:
            return True
        modrm = buf[off - 1]
        return not (modrm >> 6 == 0 and modrm & 7 == 5)

    module_stub_size = 8

    def module_import_use(self, howto: Howto) -> str | None:
        """Calls go through one stub per import, so call sites and text pages stay unrelocated;
        -fPIC GOT loads use a slot holding the import's mode-1 word; plain PC32 calls are patched."""
        if howto.kind is Kind.ABS and howto.field is WORD32:
            return "word"
        if howto.kind is Kind.CALL and howto.field is not None and howto.field.size == 4:
            return "stub"
        if howto.kind is Kind.GOT_386:
            return "got"
        if howto.kind is Kind.PC and howto.field is not None and howto.field.size == 4:
            return "call"
        return None

    def module_stub(self, addr: int, slot: int, index: int) -> tuple[bytes, int | None]:
        """jmp rel32 whose word holds the import index (mode 2), padded with int3."""
        return b"\xe9" + struct.pack("<I", index << 22) + b"\xcc" * 3, 1

    def module_import_word(self, index: int, addend: int) -> int:
        if not 0 <= addend < 1 << 22:
            raise Overflow(f"offset {addend:#x} from an import must be in [0, 4 MiB)")
        return (index << 22) | addend

    def module_import_call(self, buf: bytearray, pos: int, index: int, addend: int) -> None:
        """call rel32: the word holds the import index; the loader makes it PC-relative."""
        if addend != -4:
            raise Overflow(f"call to an import with addend {addend} (only -4 can be expressed)")
        struct.pack_into("<I", buf, pos, index << 22)


TARGET = Target386
