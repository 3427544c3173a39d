"""Fast tests of the linker's passes, relocation formulas and arch targets, with no compiler or emulator.

Objects are written by ``elfbuild`` (from the ELF specification); outputs are read
back with pyelftools, an independent reader, and every relocated field is checked
against the psABI formula (S + A - P and friends) computed here.
"""

from __future__ import annotations

import io
import struct

import pytest
from conftest import RELOCATION_PATHS
from elftools.elf.elffile import ELFFile

from tests.unit import elfbuild as eb
from toolchain.arch import get_arch
from toolchain.errors import DynError
from toolchain.linker import inputs, outputs
from toolchain.linker.context import LinkOptions
from toolchain.linker.layout import align_up
from toolchain.linker.reloc import Overflow
from toolchain.linker.resolve import RANK_COMMON, RANK_STRONG, RANK_UNDEFINED, RANK_WEAK, rank
from toolchain.linker.target import get_target


def link(tmp_path, arch: str, *objs: eb.Obj, module: bool = False) -> ELFFile:
    paths = []
    for i, obj in enumerate(objs):
        p = tmp_path / f"o{i}.o"
        p.write_bytes(eb.build(obj))
        paths.append(str(p))
    opts = LinkOptions(arch=get_arch(arch), output=str(tmp_path / "out"), inputs=paths, module=module)
    data, _ctx = outputs.link(opts)
    return ELFFile(io.BytesIO(data))


def symbols(f: ELFFile) -> dict[str, int]:
    return {s.name: s["st_value"] for s in f.get_section_by_name(".symtab").iter_symbols() if s.name}


def read_at(f: ELFFile, addr: int, size: int) -> bytes:
    for seg in f.iter_segments():
        if seg["p_type"] == "PT_LOAD" and seg["p_vaddr"] <= addr < seg["p_vaddr"] + seg["p_filesz"]:
            f.stream.seek(seg["p_offset"] + addr - seg["p_vaddr"])
            return f.stream.read(size)
    raise AssertionError(f"{addr:#x} is not in the file")


def start_obj(arch: str, text: bytes, relocs: list[eb.Rel], data: bytes = b"\0" * 16) -> eb.Obj:
    return eb.Obj(
        arch,
        [eb.Sec(".text", text, eb.SHF_ALLOC | eb.SHF_EXECINSTR), eb.Sec(".data", data, eb.SHF_ALLOC | eb.SHF_WRITE)],
        [eb.Sym("_start", ".text", type=eb.STT_FUNC), eb.Sym("target", ".data", 4, 4, type=eb.STT_OBJECT)],
        relocs,
    )


@pytest.fixture(autouse=True, params=sorted(RELOCATION_PATHS))
def relocation_path(request, monkeypatch):
    """Every case runs on both relocation paths: section by section in Python, and in bulk by C
    (``toolchain.linker.bulk``)."""
    for name, value in RELOCATION_PATHS[request.param].items():
        monkeypatch.setenv(name, value)


# ------------------------------------------------------------------ relocation formulas
def test_amd64_formulas(tmp_path):
    relocs = [
        eb.Rel(".text", 0, 1, "target", 3),  # R_X86_64_64: S + A
        eb.Rel(".text", 8, 2, "target", -4),  # R_X86_64_PC32: S + A - P
        eb.Rel(".text", 12, 10, "target", 0),  # R_X86_64_32: S + A
        eb.Rel(".text", 16, 9, "target", -4),  # R_X86_64_GOTPCREL: G + A - P
        eb.Rel(".text", 20, 4, "_start", -4),  # R_X86_64_PLT32 to a local function: S + A - P
    ]
    f = link(tmp_path, "amd64", start_obj("amd64", bytes(24), relocs))
    sy = symbols(f)
    start, target = sy["_start"], sy["target"]
    text = read_at(f, start, 24)
    assert struct.unpack_from("<Q", text, 0)[0] == target + 3
    assert struct.unpack_from("<i", text, 8)[0] == target - 4 - (start + 8)
    assert struct.unpack_from("<I", text, 12)[0] == target
    slot = struct.unpack_from("<i", text, 16)[0] + start + 16 + 4
    assert struct.unpack("<Q", read_at(f, slot, 8))[0] == target  # the GOT slot holds S
    assert struct.unpack_from("<i", text, 20)[0] == start - 4 - (start + 20)


def test_got_slots_follow_the_first_references(tmp_path):
    """GOT slots go to symbols in the order of their first GOT reference (a section of GOT
    loads has its symbols picked out in bulk); each slot holds its symbol's address, read
    back with pyelftools."""
    names = ["c", "a", "c", "b", "a"]
    relocs = [eb.Rel(".text", 4 * i, 42, n, -4) for i, n in enumerate(names)]  # R_X86_64_REX_GOTPCRELX
    relocs.append(eb.Rel(".text", 4 * len(names), 4, "_start", -4))  # R_X86_64_PLT32
    obj = start_obj("amd64", bytes(4 * len(relocs)), relocs, data=bytes(24))
    obj.symbols += [eb.Sym(n, ".data", 8 * i, 8, type=eb.STT_OBJECT) for i, n in enumerate("abc")]
    f = link(tmp_path, "amd64", obj)
    sy = symbols(f)
    got = f.get_section_by_name(".got")
    slots = struct.unpack(f"<{got['sh_size'] // 8}Q", got.data())
    assert [s for s in slots if s] == [sy["c"], sy["a"], sy["b"]]
    text = read_at(f, sy["_start"], 4 * len(names))
    for i, n in enumerate(names):
        slot = struct.unpack_from("<i", text, 4 * i)[0] + sy["_start"] + 4 * i + 4
        assert struct.unpack("<Q", read_at(f, slot, 8))[0] == sy[n]


def test_386_formulas_read_addends_from_the_field(tmp_path):
    text = struct.pack("<iiii", 5, -4, 7, 2)
    relocs = [
        eb.Rel(".text", 0, 1, "target"),  # R_386_32: S + A (A = 5 in the field)
        eb.Rel(".text", 4, 2, "target"),  # R_386_PC32: S + A - P
        eb.Rel(".text", 8, 9, "target"),  # R_386_GOTOFF: S + A - GOT
        eb.Rel(".text", 12, 10, "target"),  # R_386_GOTPC: GOT + A - P
    ]
    f = link(tmp_path, "386", start_obj("386", text, relocs))
    sy = symbols(f)
    start, target = sy["_start"], sy["target"]
    got = f.get_section_by_name(".got")["sh_addr"]
    words = struct.unpack("<iiii", read_at(f, start, 16))
    assert words[0] == target + 5
    assert words[1] == target - 4 - (start + 4)
    assert words[2] == target + 7 - got
    assert words[3] == got + 2 - (start + 12)


def test_arm_formulas(tmp_path):
    bl = 0xEBFFFFFE  # BL with the REL addend -8 in its immediate
    movw, movt = 0xE3000000, 0xE3400000  # MOVW/MOVT r0, #0
    text = struct.pack("<IIIII", bl, movw, movt, 0, 0)
    relocs = [
        eb.Rel(".text", 0, 28, "_start"),  # R_ARM_CALL: S + A - P
        eb.Rel(".text", 4, 43, "target"),  # R_ARM_MOVW_ABS_NC: (S + A) & 0xffff
        eb.Rel(".text", 8, 44, "target"),  # R_ARM_MOVT_ABS: (S + A) >> 16
        eb.Rel(".text", 12, 2, "target"),  # R_ARM_ABS32
        eb.Rel(".text", 16, 3, "target"),  # R_ARM_REL32: S + A - P
    ]
    f = link(tmp_path, "arm", start_obj("arm", text, relocs))
    sy = symbols(f)
    start, target = sy["_start"], sy["target"]
    w = struct.unpack("<IIIII", read_at(f, start, 20))
    imm24 = w[0] & 0xFFFFFF
    offset = (imm24 - (1 << 24) if imm24 >> 23 else imm24) << 2
    assert w[0] >> 24 == 0xEB and start + 8 + offset == start  # the BL lands on _start
    assert ((w[1] >> 4) & 0xF000 | w[1] & 0xFFF) == target & 0xFFFF
    assert ((w[2] >> 4) & 0xF000 | w[2] & 0xFFF) == target >> 16
    assert w[3] == target
    assert w[4] == (target - (start + 16)) & 0xFFFFFFFF


def test_overflow_is_an_error_naming_the_relocation(tmp_path):
    obj = start_obj("amd64", bytes(8), [eb.Rel(".text", 0, 10, "far", 0)])
    obj.symbols.append(eb.Sym("far", "*ABS*", 1 << 33))
    with pytest.raises(DynError, match="R_X86_64_32 against far in section .text at offset 0x0 overflows"):
        link(tmp_path, "amd64", obj)


# ------------------------------------------------------------------ resolution
def test_rank_order():
    sym = inputs.Symbol("x", True)
    assert rank(sym) == RANK_UNDEFINED
    sym.shndx = eb.SHN_COMMON
    assert rank(sym) == RANK_COMMON
    sym.shndx = 1
    sym.bind = eb.STB_WEAK
    assert rank(sym) == RANK_WEAK
    sym.bind = eb.STB_GLOBAL
    assert rank(sym) == RANK_STRONG
    assert RANK_STRONG < RANK_WEAK < RANK_COMMON < RANK_UNDEFINED


def _definer(arch: str, name: str, value: int, bind: int) -> eb.Obj:
    return eb.Obj(
        arch,
        [eb.Sec(".data", struct.pack("<I", value), eb.SHF_ALLOC | eb.SHF_WRITE)],
        [eb.Sym(name, ".data", 0, 4, bind)],
    )


def _user(arch: str) -> eb.Obj:
    obj = start_obj(arch, bytes(4), [eb.Rel(".text", 0, 1, "x")])
    obj.symbols.append(eb.Sym("x", None))
    return obj


def test_strong_definition_beats_weak_whatever_the_order(tmp_path):
    for order in ((eb.STB_WEAK, eb.STB_GLOBAL), (eb.STB_GLOBAL, eb.STB_WEAK)):
        objs = [_definer("386", "x", 100 + b, b) for b in order]
        f = link(tmp_path, "386", _user("386"), *objs)
        x = symbols(f)["x"]
        assert struct.unpack("<I", read_at(f, x, 4))[0] == 100 + eb.STB_GLOBAL


def test_two_strong_definitions_are_an_error(tmp_path):
    with pytest.raises(DynError, match="duplicate definition of x"):
        link(tmp_path, "386", _user("386"), _definer("386", "x", 1, eb.STB_GLOBAL), _definer("386", "x", 2, 1))


def test_commons_merge_to_the_largest_and_lose_to_a_definition(tmp_path):
    def common(size: int) -> eb.Obj:
        return eb.Obj("386", [], [eb.Sym("x", "*COM*", 8, size)])

    f = link(tmp_path, "386", _user("386"), common(4), common(64))
    sym = next(s for s in f.get_section_by_name(".symtab").iter_symbols() if s.name == "x")
    assert sym["st_size"] == 64 and sym["st_value"] % 8 == 0
    f = link(tmp_path, "386", _user("386"), common(64), _definer("386", "x", 7, eb.STB_WEAK))
    assert struct.unpack("<I", read_at(f, symbols(f)["x"], 4))[0] == 7


def test_undefined_symbol_is_reported_with_its_object(tmp_path):
    with pytest.raises(DynError, match=r"o0.o: undefined symbol: x"):
        link(tmp_path, "386", _user("386"))


# ------------------------------------------------------------------ layout
def test_align_up():
    assert [align_up(v, 16) for v in (0, 1, 16, 17)] == [0, 16, 16, 32]


@pytest.mark.parametrize("arch", ["386", "amd64", "arm"])
def test_segments_are_page_congruent_and_start_at_the_base(tmp_path, arch):
    f = link(tmp_path, arch, start_obj(arch, bytes(8), []))
    loads = [s for s in f.iter_segments() if s["p_type"] == "PT_LOAD"]
    assert loads[0]["p_vaddr"] == get_arch(arch).base_addr
    for s in loads:
        assert s["p_vaddr"] % 4096 == s["p_offset"] % 4096


# ------------------------------------------------------------------ targets
def test_module_import_encodings():
    t386, tarm, t64 = (get_target(get_arch(a)) for a in ("386", "arm", "amd64"))
    assert t386.module_import_word(3, 0x10) == (3 << 22) | 0x10
    assert t64.module_import_word(2, 8) == (2 << 48) | 8
    with pytest.raises(Overflow):
        t386.module_import_word(1, 1 << 22)
    buf = bytearray(struct.pack("<I", 0xEBFFFFFE))
    tarm.module_import_call(buf, 0, 5, -8)
    assert struct.unpack("<I", buf)[0] == 0xEB000005
    with pytest.raises(Overflow):
        tarm.module_import_call(bytearray(struct.pack("<I", 0xFA000000)), 0, 5, -8)  # BLX
    buf = bytearray(4)
    t386.module_import_call(buf, 0, 7, -4)
    assert struct.unpack("<I", buf)[0] == 7 << 22


def test_x86_plt_entries_jump_through_their_slot():
    t64 = get_target(get_arch("amd64"))
    entry = t64.plt_entry(0x1000, 0x3018, 2, 0xFF0)
    assert entry[:2] == b"\xff\x25" and struct.unpack_from("<i", entry, 2)[0] == 0x3018 - (0x1000 + 6)
    t386 = get_target(get_arch("386"))
    assert struct.unpack_from("<I", t386.plt_entry(0x1000, 0x3018, 2, 0xFF0), 2)[0] == 0x3018


@pytest.mark.parametrize("little", [True, False])
def test_relocation_columns_equal_the_row_reader(tmp_path, little, monkeypatch):
    monkeypatch.setattr(inputs, "_LITTLE_ENDIAN_HOST", little)
    for arch in ("386", "amd64"):
        data = eb.build(
            start_obj(arch, bytes(16), [eb.Rel(".text", 4, 1, "target", 3), eb.Rel(".text", 8, 2, "_start", -4)])
        )
        e = inputs.elf.ElfFile(data, "x.o")
        rel = next(s for s in e.sections if s.type in (eb.SHT_REL, eb.SHT_RELA))
        assert list(zip(*inputs.read_relocs(e, rel), strict=True)) == e.relocations(rel)


@pytest.mark.parametrize(
    ("symbol", "section"),
    [
        ("__start_myreg", "myreg"),
        ("__stop_set_2", "set_2"),
        ("__start_.data", None),  # not a C identifier: no encapsulation symbol (GNU ld's rule)
        ("__start_", None),
        ("__start_caf\u00e9", None),
        ("start_myreg", None),
    ],
)
def test_encapsulation_symbols_name_c_identifier_sections(symbol, section):
    from toolchain.linker.gc import encapsulated_section

    assert encapsulated_section(symbol) == section


def test_wrap_renames_undefined_references_only():
    from toolchain.linker.resolve import _wrapped

    wrap = frozenset({"malloc"})
    undefined, defined = ("malloc", 0, 0, 0x10, 0, 0), ("malloc", 0, 8, 0x12, 0, 1)
    assert _wrapped(undefined, wrap)[0] == "__wrap_malloc"
    assert _wrapped(("__real_malloc", 0, 0, 0x10, 0, 0), wrap)[0] == "malloc"
    assert _wrapped(defined, wrap) == defined  # a definition keeps its name
    assert _wrapped(("__real_free", 0, 0, 0x10, 0, 0), wrap)[0] == "__real_free"
