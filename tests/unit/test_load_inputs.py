"""Loading objects: section headers read as columns, symbol entries checked in table order,
global entries resolved straight from the table, and mark_live's errors and reasons.

Objects are written by ``elfbuild`` and patched with ``struct`` at offsets found here from
the ELF headers, not through the linker's reader; messages are spelled from the values
written.
"""

from __future__ import annotations

import struct

import pytest

from tests.unit import elfbuild as eb
from tests.unit.test_linker_passes import start_obj
from toolchain import elf
from toolchain.arch import get_arch
from toolchain.errors import DynError
from toolchain.linker import inputs, outputs
from toolchain.linker.context import LinkOptions

R_X86_64_64 = 1


def _section_headers(data: bytes) -> dict[str, tuple[int, int, int, int]]:
    """name -> (header offset, sh_offset, sh_size, sh_entsize) of an ELF64 file's sections."""
    shoff, shentsize, shnum, shstrndx = struct.unpack_from("<Q10xHHH", data, 0x28)
    rows = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = rows[shstrndx]
    out = {}
    for i, row in enumerate(rows):
        start = names[4] + row[0]
        name = data[start : data.index(b"\0", start)].decode()
        out[name] = (shoff + i * shentsize, row[4], row[5], row[9])
    return out


def _patch_symbol(data: bytes, index: int, fmt: str, at: int, value: int) -> bytes:
    """``data`` with field ``fmt`` at byte ``at`` of ELF64 symbol entry ``index`` set to ``value``."""
    out = bytearray(data)
    _, offset, _, entsize = _section_headers(data)[".symtab"]
    struct.pack_into(fmt, out, offset + index * entsize + at, value)
    return bytes(out)


def _symbol_index(obj: eb.Obj, name: str) -> int:
    """A symbol's index in the table elfbuild writes (null entry, locals, then the rest)."""
    ordered = [s for s in obj.symbols if s.bind == eb.STB_LOCAL] + [s for s in obj.symbols if s.bind != eb.STB_LOCAL]
    return 1 + [s.name for s in ordered].index(name)


def _link(tmp_path, *datas: bytes):
    paths = []
    for i, data in enumerate(datas):
        p = tmp_path / f"o{i}.o"
        p.write_bytes(data)
        paths.append(str(p))
    return outputs.link(LinkOptions(arch=get_arch("amd64"), output=str(tmp_path / "out"), inputs=paths))


def _error(tmp_path, data: bytes) -> str:
    with pytest.raises(DynError) as e:
        _link(tmp_path, data)
    return str(e.value)


def test_each_symbol_entry_error_names_the_symbol(tmp_path):
    obj = start_obj("amd64", bytes(8), [])
    obj.symbols.append(eb.Sym("near", ".data", 16))  # at the end of .data (16 bytes): allowed
    data = eb.build(obj)
    _link(tmp_path, data)
    at = _symbol_index(obj, "target")
    p = str(tmp_path / "o0.o")
    assert _error(tmp_path, _patch_symbol(data, at, "<H", 6, 50)) == f"{p}: symbol 'target': bad section index 50"
    assert (
        _error(tmp_path, _patch_symbol(data, at, "<Q", 8, 17))
        == f"{p}: symbol 'target': value 0x11 is outside its section .data (size 0x10)"
    )
    obj.symbols.append(eb.Sym("common24", "*COM*", 24, 8))
    assert _error(tmp_path, eb.build(obj)) == f"{p}: symbol common24: alignment 0x18 not a power of 2"


def test_special_section_indexes_other_than_abs_and_common_are_refused(tmp_path):
    """SHN_XINDEX (the index is in an SHT_SYMTAB_SHNDX table: objects of 65,280 sections or more,
    which gcc -ffunction-sections writes for 70,000 functions) and the other reserved indexes
    above SHN_COMMON were taken for defined symbols at address 0: refused by name."""
    obj = start_obj("amd64", bytes(8), [eb.Rel(".text", 0, R_X86_64_64, "target")])
    data = eb.build(obj)
    at = _symbol_index(obj, "target")
    p = str(tmp_path / "o0.o")
    assert _error(tmp_path, _patch_symbol(data, at, "<H", 6, 0xFFFF)) == (
        f"{p}: symbol target: its section index is in an extended table (SHN_XINDEX): "
        "objects of 65,280 sections or more are not supported"
    )
    assert _error(tmp_path, _patch_symbol(data, at, "<H", 6, 0xFFF5)) == (
        f"{p}: symbol target: unsupported special section index 0xfff5"
    )
    assert (
        _error(tmp_path, _patch_symbol(data, at, "<H", 6, 0xFF02)) == f"{p}: symbol 'target': bad section index 65282"
    )


def test_the_first_bad_entry_in_table_order_is_reported(tmp_path):
    obj = start_obj("amd64", bytes(8), [])
    obj.symbols.append(eb.Sym("bad_global", ".data", 0x40))
    obj.symbols.append(eb.Sym("bad_local", ".data", 0x20, bind=eb.STB_LOCAL))  # written before the globals
    p = str(tmp_path / "o0.o")
    data = eb.build(obj)
    assert _error(tmp_path, data) == f"{p}: symbol 'bad_local': value 0x20 is outside its section .data (size 0x10)"
    obj.symbols.pop()
    data = _patch_symbol(eb.build(obj), _symbol_index(obj, "_start"), "<H", 6, 99)  # _start comes first
    assert _error(tmp_path, data) == f"{p}: symbol '_start': bad section index 99"


def test_a_local_entry_among_the_globals_stays_the_files_own(tmp_path):
    obj = start_obj("amd64", bytes(8), [eb.Rel(".text", 0, R_X86_64_64, "target")])
    obj.symbols.insert(0, eb.Sym("hidden_here", ".data", 8, bind=eb.STB_LOCAL))
    data = bytearray(eb.build(obj))
    header = _section_headers(bytes(data))[".symtab"][0]
    struct.pack_into("<I", data, header + 44, 1)  # sh_info: the first global is entry 1, a local
    first = inputs.load_object(bytes(data), "x.o", get_arch("amd64"), 0)
    assert [(s.name, s.is_global) for s in first.symbols] == [
        ("", False),
        ("hidden_here", False),
        ("_start", True),
        ("target", True),
    ]
    _, ctx = _link(tmp_path, bytes(data))
    linked = ctx.objects[0]
    assert "hidden_here" not in ctx.globals
    assert linked.symbols[1] is not ctx.globals.get("hidden_here") and not linked.symbols[1].is_global
    assert linked.symbols[2] is ctx.globals["_start"] and linked.symbols[3] is ctx.globals["target"]
    assert linked.symbols[1].value == 8 and linked.symbols[1].section is linked.sections[2]


def test_load_object_and_resolution_see_the_same_entries(tmp_path):
    obj = start_obj("amd64", bytes(8), [eb.Rel(".text", 0, R_X86_64_64, "elsewhere")])
    obj.symbols += [eb.Sym("elsewhere", None), eb.Sym("weak_one", ".data", 4, 4, eb.STB_WEAK, eb.STT_OBJECT)]
    obj.symbols.append(eb.Sym("shared_common", "*COM*", 16, 32))
    data = eb.build(obj)
    loaded = inputs.load_object(data, "x.o", get_arch("amd64"), 0)
    read = inputs.read_object(data, "x.o", get_arch("amd64"), 0)
    assert read.unresolved is not None and len(read.symbols) == read.first_global == loaded.first_global
    rows = [(s.name, s.value, s.size, s.bind, s.type, s.shndx, s.common_align) for s in loaded.symbols]
    assert rows[read.first_global :] == [
        ("_start", 0, 0, eb.STB_GLOBAL, eb.STT_FUNC, 1, 0),
        ("target", 4, 4, eb.STB_GLOBAL, eb.STT_OBJECT, 2, 0),
        ("elsewhere", 0, 0, eb.STB_GLOBAL, eb.STT_NOTYPE, eb.SHN_UNDEF, 0),
        ("weak_one", 4, 4, eb.STB_WEAK, eb.STT_OBJECT, 2, 0),
        ("shared_common", 0, 32, eb.STB_GLOBAL, eb.STT_NOTYPE, eb.SHN_COMMON, 16),
    ]
    assert [s.section for s in loaded.symbols[read.first_global :]] == [
        loaded.sections[1],
        loaded.sections[2],
        None,
        loaded.sections[2],
        None,
    ]


def test_section_records_are_made_once_from_the_columns():
    data = eb.build(start_obj("amd64", bytes(8), [eb.Rel(".text", 0, R_X86_64_64, "target")]))
    headers = _section_headers(data)
    e = elf.ElfFile(data, "x.o")
    text = e.section_by_name(".text")
    assert text is not None and text is e.section(1) and e.first_section(elf.SHT_RELA) is e.section(3)
    assert e.sections[1] is text and len(e.sections) == len(headers)
    for sec in e.sections:
        assert (sec.offset, sec.size, sec.entsize) == headers[sec.name][1:]
    assert e.section_by_name(".nothing") is None and e.first_section(elf.SHT_DYNAMIC) is None
    assert e.section_headers().names == [s.name for s in e.sections]


def test_the_first_truncated_section_is_reported_and_nobits_may_pass_the_end():
    obj = start_obj("amd64", bytes(8), [])
    obj.sections.append(eb.Sec(".bss", b"", eb.SHF_ALLOC | eb.SHF_WRITE, type=eb.SHT_NOBITS, size=1 << 20))
    data = bytearray(eb.build(obj))
    assert elf.ElfFile(bytes(data), "x.o").section_by_name(".bss") is not None  # 1 MiB, none of it in the file
    headers = _section_headers(bytes(data))
    for name in (".data", ".text"):  # .text (section 1) is before .data (section 2)
        struct.pack_into("<Q", data, headers[name][0] + 32, len(data))
    with pytest.raises(DynError, match=r"truncated ELF file \(section 1\)"):
        elf.ElfFile(bytes(data), "x.o")


@pytest.mark.parametrize("section", [".text", ".debug_info"])
def test_a_relocation_against_a_symbol_past_the_table_is_an_error(tmp_path, section):
    """mark_live checks the indexes of the allocated sections' relocations; debug sections,
    relocated last without it, are checked there."""
    obj = start_obj("amd64", bytes(8), [])
    if section == ".debug_info":
        obj.sections.append(eb.Sec(".debug_info", bytes(16), 0))
    obj.relocs.append(eb.Rel(section, 0, R_X86_64_64, "target"))
    data = bytearray(eb.build(obj))
    _link(tmp_path, bytes(data))  # as built, the reference is fine
    _, rela, _, _ = _section_headers(bytes(data))[f".rela{section}"]
    struct.pack_into("<I", data, rela + 12, 9)  # r_info's symbol half
    p = str(tmp_path / "o0.o")
    assert _error(tmp_path, bytes(data)) == f"{p}: relocation in {section} refers to symbol 9, which does not exist"


def test_relocations_in_an_object_without_symbols_are_an_error(tmp_path):
    start = start_obj("amd64", bytes(8), [])
    obj = start_obj("amd64", bytes(8), [eb.Rel(".text", 0, R_X86_64_64, "target")])
    obj.symbols[0].name = "_start_elsewhere"
    data = bytearray(eb.build(obj))
    headers = _section_headers(bytes(data))
    struct.pack_into("<I", data, headers[".symtab"][0] + 4, elf.SHT_NULL)  # no symbol table
    _, rela, _, _ = headers[".rela.text"]
    struct.pack_into("<I", data, rela + 12, 0)  # against symbol 0
    struct.pack_into("<Q", data, headers[".text"][0] + 8, 0x200006)  # .text kept: SHF_GNU_RETAIN
    with pytest.raises(DynError, match=r"o1\.o: relocation in \.text refers to symbol 0, which does not exist"):
        _link(tmp_path, eb.build(start), bytes(data))


def test_live_reason_names_the_referring_section_and_symbol(tmp_path):
    obj = start_obj("amd64", bytes(8), [eb.Rel(".text", 0, R_X86_64_64, "target")])
    obj.sections.append(eb.Sec(".rodata", bytes(8)))
    obj.symbols.append(eb.Sym("", ".rodata", bind=eb.STB_LOCAL, type=eb.STT_SECTION))
    obj.relocs.append(eb.Rel(".text", 0, R_X86_64_64, ""))
    _, ctx = _link(tmp_path, eb.build(obj))
    o = ctx.objects[0]
    text, data, rodata = (o.sections[i] for i in (1, 2, 3))
    assert (text.name, data.name, rodata.name) == (".text", ".data", ".rodata")
    p = str(tmp_path / "o0.o")
    assert data.live_reason == f"{p}(.text) references target"
    assert rodata.live_reason == f"{p}(.text) references .rodata"  # a section symbol: the section's name
    data.live_reason = "kept by hand"
    assert data.live_reason == "kept by hand" and data.live_via is None


@pytest.mark.parametrize("arch", ["amd64", "386"])
def test_section_headers_read_the_same_on_a_big_endian_host(arch, monkeypatch):
    obj = start_obj(arch, bytes(8), [eb.Rel(".text", 0, 1, "target")])
    obj.sections.append(eb.Sec(".bss", b"", eb.SHF_ALLOC | eb.SHF_WRITE, 16, eb.SHT_NOBITS, 64))
    data = eb.build(obj)
    columns = elf.ElfFile(data, "x.o").section_headers()
    monkeypatch.setattr(elf, "_LITTLE_ENDIAN_HOST", False)  # the struct path a big-endian host takes
    assert elf.ElfFile(data, "x.o").section_headers() == columns
    names = [".text", ".data", ".bss", ".rela.text" if arch == "amd64" else ".rel.text", ".symtab", ".strtab"]
    assert columns.names == ["", *names, ".shstrtab"]
    assert columns.types[1:4] == [eb.SHT_PROGBITS, eb.SHT_PROGBITS, eb.SHT_NOBITS]
    assert columns.sizes[1:4] == [8, 16, 64] and columns.aligns[3] == 16


def test_a_section_record_by_negative_index_is_the_last_ones():
    e = elf.ElfFile(eb.build(start_obj("amd64", bytes(8), [])), "x.o")
    last = e.section(-1)
    assert last.name == ".shstrtab" and last.index == len(e.section_headers().names) - 1
    assert e.section(last.index) is last and e.sections[-1] is last
    with pytest.raises(IndexError):
        e.section(len(e.sections))


def test_sections_never_in_the_output_are_not_input_sections(tmp_path):
    """Non-allocated sections other than DWARF (.comment, .llvm_addrsig, a note) are not made
    input sections; their headers are still checked (a bad alignment is reported)."""
    obj = eb.Obj(
        "amd64",
        [
            eb.Sec(".text", b"\xc3", eb.SHF_ALLOC | eb.SHF_EXECINSTR),
            eb.Sec(".comment", b"clang\0", 0, 1),
            eb.Sec(".note.x", b"\0" * 8, 0, 4),
            eb.Sec(".debug_str", b"a\0", 0, 1),
        ],
        [eb.Sym("_start", ".text", type=eb.STT_FUNC)],
        [],
    )
    data = eb.build(obj)
    loaded = inputs.load_object(data, "o.o", get_arch("amd64"), 0)
    names = {sec.name for sec in loaded.sections if sec is not None}
    assert names == {".text", ".debug_str"}
    out, _ = _link(tmp_path, data)  # and the link still writes the kept sections
    headers = _section_headers(out)
    assert ".debug_str" in headers and ".comment" not in headers
    header_at = _section_headers(data)[".comment"][0]
    bad = bytearray(data)
    struct.pack_into("<Q", bad, header_at + 0x30, 3)  # sh_addralign
    assert _error(tmp_path, bytes(bad)).endswith("o0.o: section .comment: bad alignment 0x3")
