"""arm (ARMv7, ARM state, EABI hard-float): relocation types and fields, PLT code, interworking thunks,
and dynld module encodings."""

from __future__ import annotations

import struct

from ..records import NamedTuple
from .reloc import WORD32, Howto, Kind, Overflow, check_range, sign_extend
from .target import Target

R_ABS_WORD, R_COPY, R_GLOB_DAT, R_JUMP_SLOT, R_RELATIVE = 2, 20, 21, 22, 23


def _u32(buf, off: int) -> int:
    return struct.unpack_from("<I", buf, off)[0]


def _put(buf, off: int, v: int) -> None:
    struct.pack_into("<I", buf, off, v & 0xFFFFFFFF)


class Branch24(NamedTuple):
    """B/BL imm24 (words); a BL to a Thumb target becomes BLX."""

    call: bool
    size: int = 4

    def read_addend(self, buf, off: int) -> int:
        return sign_extend(_u32(buf, off) & 0xFFFFFF, 24) << 2

    def write(self, buf, off: int, value: int, thumb_target: bool = False) -> None:
        insn = _u32(buf, off)
        if thumb_target:
            if not self.call or (insn >> 28) != 0xE:
                raise Overflow("branch to a Thumb function needs interworking (not supported for B)")
            check_range(value, 26, True)
            insn = 0xFA000000 | ((value & 2) << 23) | ((value >> 2) & 0xFFFFFF)
        else:
            if value & 3:
                raise Overflow(f"branch target offset {value:#x} not word-aligned")
            check_range(value, 26, True)
            if (insn >> 28) == 0xF:  # a BLX to an ARM target becomes BL
                insn = 0xEB000000
            insn = (insn & 0xFF000000) | ((value >> 2) & 0xFFFFFF)
        _put(buf, off, insn)


class MovImm16(NamedTuple):
    """MOVW/MOVT imm16 = imm4:imm12; MOVT takes the high half."""

    high: bool
    size: int = 4

    def read_addend(self, buf, off: int) -> int:
        insn = _u32(buf, off)
        return sign_extend(((insn >> 4) & 0xF000) | (insn & 0xFFF), 16)

    def write(self, buf, off: int, value: int, thumb_target: bool = False) -> None:
        imm = (value >> 16) & 0xFFFF if self.high else value & 0xFFFF
        insn = _u32(buf, off) & 0xFFF0F000
        _put(buf, off, insn | ((imm & 0xF000) << 4) | (imm & 0xFFF))


class Prel31(NamedTuple):
    """A 31-bit place-relative word (exception index tables); bit 31 is kept."""

    size: int = 4

    def read_addend(self, buf, off: int) -> int:
        return sign_extend(_u32(buf, off) & 0x7FFFFFFF, 31)

    def write(self, buf, off: int, value: int, thumb_target: bool = False) -> None:
        check_range(value, 31, True)
        _put(buf, off, (_u32(buf, off) & 0x80000000) | (value & 0x7FFFFFFF))


class ThumbBranch(NamedTuple):
    """Thumb-2 BL/B.W (imm25 halfword offset) as two little-endian halfwords."""

    call: bool
    size: int = 4

    def read_addend(self, buf, off: int) -> int:
        hi, lo = struct.unpack_from("<HH", buf, off)
        s = (hi >> 10) & 1
        i1 = 1 - (((lo >> 13) & 1) ^ s)
        i2 = 1 - (((lo >> 11) & 1) ^ s)
        imm = (s << 24) | (i1 << 23) | (i2 << 22) | ((hi & 0x3FF) << 12) | ((lo & 0x7FF) << 1)
        return sign_extend(imm, 25)

    def write(self, buf, off: int, value: int, thumb_target: bool = True) -> None:
        hi, lo = struct.unpack_from("<HH", buf, off)
        if self.call and not thumb_target:
            value = (value + 2) & ~3 if value & 2 else value  # BLX: target word-aligned
            lo &= ~0x1000
        elif self.call:
            lo |= 0x1000
        elif not thumb_target:
            raise Overflow("Thumb B.W to an ARM function needs interworking (not supported)")
        check_range(value, 25, True)
        s = (value >> 24) & 1
        j1 = (1 - ((value >> 23) & 1)) ^ s
        j2 = (1 - ((value >> 22) & 1)) ^ s
        hi = (hi & 0xF800) | (s << 10) | ((value >> 12) & 0x3FF)
        lo = (lo & 0xD000) | (j1 << 13) | (j2 << 11) | ((value >> 1) & 0x7FF)
        struct.pack_into("<HH", buf, off, hi, lo)


class ThumbMovImm16(NamedTuple):
    """Thumb-2 MOVW/MOVT: imm16 = imm4:i:imm3:imm8."""

    high: bool
    size: int = 4

    def read_addend(self, buf, off: int) -> int:
        hi, lo = struct.unpack_from("<HH", buf, off)
        imm = ((hi & 0xF) << 12) | (((hi >> 10) & 1) << 11) | (((lo >> 12) & 7) << 8) | (lo & 0xFF)
        return sign_extend(imm, 16)

    def write(self, buf, off: int, value: int, thumb_target: bool = False) -> None:
        imm = (value >> 16) & 0xFFFF if self.high else value & 0xFFFF
        hi, lo = struct.unpack_from("<HH", buf, off)
        hi = (hi & 0xFBF0) | ((imm >> 12) & 0xF) | (((imm >> 11) & 1) << 10)
        lo = (lo & 0x8F00) | (((imm >> 8) & 7) << 12) | (imm & 0xFF)
        struct.pack_into("<HH", buf, off, hi, lo)


class TargetArm(Target):
    name = "arm"
    howtos = {
        0: Howto("R_ARM_NONE", Kind.NONE, None),
        2: Howto("R_ARM_ABS32", Kind.ABS, WORD32),
        3: Howto("R_ARM_REL32", Kind.PC, WORD32),
        10: Howto("R_ARM_THM_CALL", Kind.CALL, ThumbBranch(True)),
        24: Howto("R_ARM_GOTOFF32", Kind.GOT_OFF, WORD32),
        25: Howto("R_ARM_BASE_PREL", Kind.GOT_BASE_PC, WORD32),
        26: Howto("R_ARM_GOT_BREL", Kind.GOT_386, WORD32),  # G + A - GOT (glibc's crt1.o)
        28: Howto("R_ARM_CALL", Kind.CALL, Branch24(True)),
        29: Howto("R_ARM_JUMP24", Kind.CALL, Branch24(False)),
        30: Howto("R_ARM_THM_JUMP24", Kind.CALL, ThumbBranch(False)),
        38: Howto("R_ARM_TARGET1", Kind.ABS, WORD32),  # init/fini array entries: ABS32 on Linux
        40: Howto("R_ARM_V4BX", Kind.NONE, None),
        42: Howto("R_ARM_PREL31", Kind.PC, Prel31()),
        43: Howto("R_ARM_MOVW_ABS_NC", Kind.ABS, MovImm16(False)),
        44: Howto("R_ARM_MOVT_ABS", Kind.ABS, MovImm16(True)),
        47: Howto("R_ARM_THM_MOVW_ABS_NC", Kind.ABS, ThumbMovImm16(False)),
        48: Howto("R_ARM_THM_MOVT_ABS", Kind.ABS, ThumbMovImm16(True)),
        96: Howto("R_ARM_GOT_PREL", Kind.GOT_PC, WORD32),
        104: Howto("R_ARM_TLS_GD32", Kind.TLS_GD, WORD32),
        105: Howto("R_ARM_TLS_LDM32", Kind.TLS_GD, WORD32),
        106: Howto("R_ARM_TLS_LDO32", Kind.DTP, WORD32),
        107: Howto("R_ARM_TLS_IE32", Kind.GOT_TP_PC, WORD32),
        108: Howto("R_ARM_TLS_LE32", Kind.TP, WORD32),
    }
    tls_variant = 1
    r_abs_word, r_copy, r_glob_dat, r_jump_slot, r_relative = 2, 20, 21, 22, 23
    plt_header_size = 20
    plt_entry_size = 12
    plt_section_entsize = 4  # the header is not a whole number of entries (GNU ld also says 4)
    linker_functions = {
        "__aeabi_read_tp": struct.pack("<II", 0xEE1D0F70, 0xE12FFF1E),  # mrc p15, 0, r0, c13, c0, 3; bx lr
    }
    # Interworking thunks: a B (no link) cannot switch between ARM and Thumb state, so a
    # branch to a function of the other state goes through a small stub of the linker's.
    thunk_size = 12
    module_flag_hint = "compile with -marm -mcpu=cortex_a7+no_movt (dyncc's default for arm)"

    def plt_header(self, plt: int, gotplt: int) -> bytes:
        """str lr,[sp,#-4]!; ldr lr,[pc,#4]; add lr,pc,lr; ldr pc,[lr,#8]!; .word GOT-."""
        return struct.pack("<5I", 0xE52DE004, 0xE59FE004, 0xE08FE00E, 0xE5BEF008, (gotplt - (plt + 16)) & 0xFFFFFFFF)

    def plt_entry(self, entry: int, slot: int, index: int, plt: int) -> bytes:
        """add ip,pc,#hi; add ip,ip,#mid; ldr pc,[ip,#lo]! (ip ends at the slot)."""
        off = slot - (entry + 8)
        if not 0 <= off < 1 << 28:
            raise Overflow("PLT entry too far from its GOT slot")
        return struct.pack(
            "<3I", 0xE28FC600 | ((off >> 20) & 0xFF), 0xE28CCA00 | ((off >> 12) & 0xFF), 0xE5BCF000 | (off & 0xFFF)
        )

    def plt_lazy_target(self, entry: int, plt: int) -> int:
        return plt

    def thunk_kind(self, howto: Howto, target_is_thumb: bool) -> str | None:
        if howto.name == "R_ARM_THM_JUMP24" and not target_is_thumb:
            return "thumb-to-arm"
        if howto.name == "R_ARM_JUMP24" and target_is_thumb:
            return "arm-to-thumb"
        return None

    def thunk_code(self, kind: str, at: int, target: int) -> bytes:
        if kind == "thumb-to-arm":  # Thumb: bx pc; nop -- then ARM: b target
            off = target - (at + 4 + 8)
            check_range(off, 26, True)
            return struct.pack("<HHI", 0x4778, 0x46C0, 0xEA000000 | ((off >> 2) & 0xFFFFFF)) + b"\0" * 4
        # ARM: ldr ip, [pc, #0]; bx ip; .word target (with the Thumb bit)
        return struct.pack("<III", 0xE59FC000, 0xE12FFF1C, target & 0xFFFFFFFF)

    def thunk_entry(self, kind: str, at: int) -> int:
        """Odd for a Thumb entry."""
        return at | 1 if kind == "thumb-to-arm" else at

    def thunk_absolute_word(self, kind: str) -> int | None:
        return 8 if kind == "arm-to-thumb" else None

    def module_import_use(self, howto: Howto) -> str | None:
        if howto.kind is Kind.ABS and howto.field is WORD32:
            return "word"
        if howto.kind is Kind.CALL and howto.name in ("R_ARM_CALL", "R_ARM_JUMP24"):
            return "call"
        return None

    def module_import_word(self, index: int, addend: int) -> int:
        if not 0 <= addend < 1 << 22:
            raise Overflow(f"offset {addend:#x} from an import must be in [0, 4 MiB)")
        return (index << 22) | addend

    def module_import_call(self, buf: bytearray, pos: int, index: int, addend: int) -> None:
        """BL/B: the immediate holds the import index; the loader makes it PC-relative."""
        if addend != -8:
            raise Overflow(f"branch to an import with addend {addend} (only -8 can be expressed)")
        insn = struct.unpack_from("<I", buf, pos)[0]
        if (insn >> 28) == 0xF:
            raise Overflow("BLX to an import cannot be expressed")
        struct.pack_into("<I", buf, pos, (insn & 0xFF000000) | index)


TARGET = TargetArm
