"""The linker's bulk paths: whole-column relocation, bulk symbol and section name reading.

Each case is checked against the relocation formulas or pyelftools, not against the
linker's own slower paths.
"""

from __future__ import annotations

import io
import struct

import pytest
from elftools.elf.elffile import ELFFile

from tests.unit import elfbuild as eb
from tests.unit.test_linker_passes import link, read_at, relocation_path, start_obj, symbols  # noqa: F401
from toolchain import elf
from toolchain.errors import DynError
from toolchain.linker import relocate
from toolchain.linker.relocate import _indexes

R_X86_64_64, R_X86_64_PC32, R_X86_64_32 = 1, 2, 10
KEEP_DATA = eb.Rel(".text", 0, R_X86_64_64, "target")  # .text refers to .data: both stay in the output


def test_mixed_absolute_types_in_one_section(tmp_path):
    relocs = []
    for i in range(8):  # alternating 8- and 4-byte fields, many addends
        relocs.append(eb.Rel(".data", 12 * i, R_X86_64_64, "target", i * 3))
        relocs.append(eb.Rel(".data", 12 * i + 8, R_X86_64_32, "_start", i))
    obj = start_obj("amd64", bytes(8), [KEEP_DATA, *relocs], data=bytes(104))
    f = link(tmp_path, "amd64", obj)
    sy = symbols(f)
    data = read_at(f, f.get_section_by_name(".data")["sh_addr"], 96)
    for i in range(8):
        assert struct.unpack_from("<Q", data, 12 * i)[0] == sy["target"] + i * 3
        assert struct.unpack_from("<I", data, 12 * i + 8)[0] == sy["_start"] + i


def test_negative_pc_relative_values_in_one_section(tmp_path):
    # .data lies after .text: S + A - P is negative for every entry, written as 32-bit two's complement.
    relocs = [eb.Rel(".data", 4 * i, R_X86_64_PC32, "_start", -i) for i in range(6)]
    f = link(tmp_path, "amd64", start_obj("amd64", bytes(8), [KEEP_DATA, *relocs], data=bytes(24)))
    sy = symbols(f)
    base = f.get_section_by_name(".data")["sh_addr"]
    values = struct.unpack("<6i", read_at(f, base, 24))
    assert list(values) == [sy["_start"] - i - (base + 4 * i) for i in range(6)]
    assert all(v < 0 for v in values)


def test_got_relative_loads_among_pc_relative_ones(tmp_path):
    # R_X86_64_GOTPCREL (G + A - P) in a section of PC-relative relocations; _start's
    # references are backwards, so some values are negative.
    R_X86_64_GOTPCREL, R_X86_64_PLT32 = 9, 4
    relocs = [
        eb.Rel(".text", 0, R_X86_64_GOTPCREL, "target", -4),
        eb.Rel(".text", 4, R_X86_64_PC32, "_start", -4),
        eb.Rel(".text", 8, R_X86_64_PLT32, "_start", -4),
        eb.Rel(".text", 12, R_X86_64_GOTPCREL, "target", -4),
    ]
    f = link(tmp_path, "amd64", start_obj("amd64", bytes(20), relocs))
    sy = symbols(f)
    start, target = sy["_start"], sy["target"]
    words = struct.unpack("<4i", read_at(f, start, 16))
    slots = {words[k] + start + 4 * k + 4 for k in (0, 3)}
    assert len(slots) == 1  # one GOT slot for target, holding its address
    assert struct.unpack("<Q", read_at(f, slots.pop(), 8))[0] == target
    assert words[1] == start - 4 - (start + 4) and words[2] == start - 4 - (start + 8)


def test_overflow_among_many_names_the_first_that_overflows(tmp_path):
    relocs = [eb.Rel(".data", 0, R_X86_64_64, "far"), eb.Rel(".data", 8, R_X86_64_32, "far", 0)]
    relocs += [eb.Rel(".data", 12, R_X86_64_32, "target")]
    obj = start_obj("amd64", bytes(8), [KEEP_DATA, *relocs], data=bytes(24))
    obj.symbols.append(eb.Sym("far", "*ABS*", 1 << 33))
    with pytest.raises(DynError, match="R_X86_64_32 against far in section .data at offset 0x8 overflows"):
        link(tmp_path, "amd64", obj)


def test_relocation_past_the_end_of_its_section(tmp_path):
    relocs = [eb.Rel(".data", 0, R_X86_64_32, "target"), eb.Rel(".data", 12, R_X86_64_64, "target")]
    with pytest.raises(DynError, match="R_X86_64_64 at offset 0xc is outside section .data"):
        link(tmp_path, "amd64", start_obj("amd64", bytes(8), [KEEP_DATA, *relocs], data=bytes(16)))


@pytest.mark.parametrize("name", ["plain_ascii", "n\u00e4me_\u00fc"])
def test_symbol_and_section_names_match_pyelftools(name):
    obj = start_obj("amd64", bytes(8), [])
    obj.symbols.append(eb.Sym(name, ".text", 4))
    obj.symbols.append(eb.Sym("", ".data", bind=eb.STB_LOCAL, type=eb.STT_SECTION))
    data = eb.build(obj)
    e = elf.ElfFile(data, "x.o")
    theirs = ELFFile(io.BytesIO(data))
    symtab = e.first_section(elf.SHT_SYMTAB)
    assert symtab is not None
    ours = [(t[0], t[1]) for t in e.symbol_tuples(symtab)]
    assert ours == [(s.name, s["st_value"]) for s in theirs.get_section_by_name(".symtab").iter_symbols()]
    assert (name, 4) in ours
    assert [s.name for s in e.sections] == [s.name for s in theirs.iter_sections()]


def test_symbol_name_outside_the_string_table_is_an_error():
    data = bytearray(eb.build(start_obj("amd64", bytes(8), [])))
    e = elf.ElfFile(bytes(data), "x.o")
    symtab = e.first_section(elf.SHT_SYMTAB)
    assert symtab is not None
    struct.pack_into("<I", data, symtab.offset + symtab.entsize, 0xFFFFFF)  # entry 1's st_name
    with pytest.raises(DynError, match="outside the string table"):
        elf.ElfFile(bytes(data), "x.o").symbol_tuples(symtab)


def test_indexes_finds_every_occurrence_in_order():
    assert _indexes([5, -3, 0, -3, -3, 7], -3) == [1, 3, 4]
    assert _indexes([1, 2], -3) == []


R_386_32, R_386_PC32 = 1, 2


def test_implicit_addends_of_rel_sections_in_columns(tmp_path, monkeypatch):
    """386 (SHT_REL): the addend is the field's content; a section of S + A and S + A - P
    fields is applied by the column path (a mix of kinds: per type), each with its own addend."""
    monkeypatch.setenv("DYNTOOLS_NATIVE", "0")  # the Python path's columns
    applied: list[bool] = []
    whole_columns = relocate._relocate_columns

    def spy(*args):
        applied.append(whole_columns(*args))
        return applied[-1]

    monkeypatch.setattr(relocate, "_relocate_columns", spy)
    data = bytearray(64)
    abs_relocs = []
    for i in range(8):
        struct.pack_into("<i", data, 4 * i, 5 * i - 7)  # S + A, A = 5i - 7
        abs_relocs.append(eb.Rel(".data", 4 * i, R_386_32, "target"))
    text = bytearray(32)
    pc_relocs = []
    for i in range(8):
        struct.pack_into("<i", text, 4 * i, -i)  # S + A - P, A = -i
        pc_relocs.append(eb.Rel(".text", 4 * i, R_386_PC32, "target"))
    keep = eb.Rel(".data", 32, R_386_32, "_start")
    f = link(tmp_path, "386", start_obj("386", bytes(text), [keep, *abs_relocs, *pc_relocs], data=bytes(data)))
    assert applied == [True, True]
    sy = symbols(f)
    base = f.get_section_by_name(".data")["sh_addr"]
    got = struct.unpack("<8I", read_at(f, base, 32))
    assert list(got) == [(sy["target"] + 5 * i - 7) & 0xFFFFFFFF for i in range(8)]
    text_base = f.get_section_by_name(".text")["sh_addr"]
    got = struct.unpack("<8I", read_at(f, text_base, 32))
    assert list(got) == [(sy["target"] - i - (text_base + 4 * i)) & 0xFFFFFFFF for i in range(8)]
