"""The linker gives back its inputs' memory as it writes: object files (read, or mapped when
large) are released once the output holds their sections, and nothing reads them after that.

Objects are written by ``elfbuild``; outputs are read back with pyelftools and the relocated
debug fields are checked against S + A computed here from the output's symbol table.
"""

from __future__ import annotations

import io
import os
import struct
from collections import Counter

import pytest
from elftools.elf.elffile import ELFFile

from tests.unit import elfbuild as eb
from toolchain import errors
from toolchain.arch import get_arch
from toolchain.linker import inputs, outputs, relocate, resolve
from toolchain.linker.context import LinkOptions

R_X86_64_64, R_X86_64_32 = 1, 10


def debug_obj(i: int) -> eb.Obj:
    """Object ``i``: a function and debug sections naming it (64-bit and 32-bit fields) and ``_start``.

    ``_start`` (object 0) calls f1; nothing calls f2, whose code is dropped.
    """
    fn = "_start" if i == 0 else f"f{i}"
    syms = [eb.Sym(fn, ".text", type=eb.STT_FUNC)] + ([eb.Sym("f1", None)] if i == 0 else [eb.Sym("_start", None)])
    calls = [eb.Rel(".text", 0, R_X86_64_32, "f1")] if i == 0 else []
    return eb.Obj(
        "amd64",
        [
            eb.Sec(".text", b"\xc3" * (16 + i), eb.SHF_ALLOC | eb.SHF_EXECINSTR),
            eb.Sec(".data", bytes(range(8)) * (i + 1), eb.SHF_ALLOC | eb.SHF_WRITE),
            eb.Sec(".debug_info", b"\xaa" * 4 + bytes(20), 0, 1),
            eb.Sec(".debug_line", bytes([i]) * 8, 0, 1),
        ],
        syms,
        calls
        + [
            eb.Rel(".debug_info", 4, R_X86_64_64, fn, 3),
            eb.Rel(".debug_info", 12, R_X86_64_32, "_start", i),
            eb.Rel(".debug_line", 0, R_X86_64_64, fn, 0),
        ],
    )


def debug_objects(tmp_path, count: int) -> list[str]:
    """``debug_obj(0)`` ... ``debug_obj(count - 1)`` written as o0.o ...: their paths."""
    paths = []
    for i in range(count):
        p = tmp_path / f"o{i}.o"
        p.write_bytes(eb.build(debug_obj(i)))
        paths.append(str(p))
    return paths


def check_debug_relocated(data: bytes) -> None:
    """The output of linking ``debug_objects(tmp_path, 3)``: debug fields hold S + A from its
    symbol table (0 for the dropped f2), and the code was relocated."""
    f = ELFFile(io.BytesIO(data))
    addr = {s.name: s["st_value"] for s in f.get_section_by_name(".symtab").iter_symbols() if s.name}
    info = f.get_section_by_name(".debug_info").data()
    line = f.get_section_by_name(".debug_line").data()
    assert len(info) == 3 * 24 and len(line) == 3 * 8
    assert "f2" not in addr  # dropped: references to it read 0
    for i in range(3):
        fn = addr.get("_start" if i == 0 else f"f{i}")
        piece = info[24 * i : 24 * (i + 1)]
        assert piece[:4] == b"\xaa" * 4
        assert struct.unpack_from("<Q", piece, 4)[0] == (fn + 3 if fn is not None else 0)
        assert struct.unpack_from("<I", piece, 12)[0] == addr["_start"] + i
        assert struct.unpack_from("<Q", line, 8 * i)[0] == (fn or 0)
    text = f.get_section_by_name(".text").data()  # allocated contents were copied and relocated before
    assert text.startswith(struct.pack("<I", addr["f1"]) + b"\xc3" * 12)


def test_inputs_unmapped_after_writing_and_debug_relocated(tmp_path, monkeypatch):
    monkeypatch.setattr(errors, "MAP_THRESHOLD", 0)  # every file is mapped, however small
    mapped: list[inputs.ObjectFile] = []
    mappings = []

    def recording_open(path, arch, order, data=None):
        obj = inputs.open_object(path, arch, order, data)
        mapped.append(obj)
        mappings.append(obj.mapping)
        return obj

    monkeypatch.setattr(resolve, "open_object", recording_open)
    paths = debug_objects(tmp_path, 3)
    opts = LinkOptions(arch=get_arch("amd64"), output=str(tmp_path / "out"), inputs=paths)
    data, ctx = outputs.link(opts)
    check_debug_relocated(data)

    assert len(mappings) == 3 and all(
        m is not None and m.closed for m in mappings
    )  # every file was mapped and is unmapped
    assert all(obj.mapping is None for obj in mapped)
    for obj in ctx.objects:  # nothing can read an input's bytes now
        for sec in obj.sections:
            if sec is not None and sec.name.startswith(".debug"):
                with pytest.raises(AssertionError, match="release_input"):
                    sec.relocs  # noqa: B018 - reading them is the point


def test_small_inputs_read_and_released_after_writing(tmp_path, monkeypatch):
    """Files up to MAP_THRESHOLD are read, not mapped: each object's bytes are released once
    written, and the output is the mapped link's, byte for byte."""
    released: list[inputs.ObjectFile] = []
    real_release = relocate.release_input

    def recording_release(obj):
        assert isinstance(obj.view.obj, bytes) and obj.mapping is None  # read, not mapped
        real_release(obj)
        released.append(obj)

    monkeypatch.setattr(relocate, "release_input", recording_release)
    paths = debug_objects(tmp_path, 3)
    data, ctx = outputs.link(LinkOptions(arch=get_arch("amd64"), output=str(tmp_path / "out"), inputs=paths))
    check_debug_relocated(data)
    assert [o.name for o in released] == paths
    assert all(o.view is inputs.NO_BYTES for o in released)
    monkeypatch.setattr(relocate, "release_input", real_release)
    monkeypatch.setattr(errors, "MAP_THRESHOLD", 0)
    mapped, _ = outputs.link(LinkOptions(arch=get_arch("amd64"), output=str(tmp_path / "out2"), inputs=paths))
    assert mapped == data


def test_release_input_keeps_a_viewed_mapping_open(tmp_path, monkeypatch):
    monkeypatch.setattr(errors, "MAP_THRESHOLD", 0)
    p = tmp_path / "o.o"
    p.write_bytes(eb.build(debug_obj(0)))
    obj = inputs.open_object(str(p), get_arch("amd64"), 0)
    mapping = obj.mapping
    assert mapping is not None
    held = obj.sections[1].data  # a view someone still holds
    inputs.release_input(obj)
    assert obj.mapping is None and not mapping.closed  # no crash; the pages go with the view
    assert bytes(held[:1]) == b"\xc3"


def _count_opens(tmp_path, monkeypatch) -> Counter[str]:
    """From now on, how many times ``os.open`` opens each path (names opened in a directory
    of ``tmp_path`` counted under their full path)."""
    opened: Counter[str] = Counter()
    real_open = os.open

    def counting_open(path, *args, **kwargs):
        name = os.fspath(path)
        if kwargs.get("dir_fd") is not None:  # opened by its name in its directory
            name = os.path.join(str(tmp_path), name)
        opened[name] += 1
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", counting_open)
    return opened


def test_an_object_file_is_opened_once(tmp_path, monkeypatch):
    """Its kind is read from the bytes the link then parses: one open per object, and an
    object named twice is still linked twice."""
    paths = debug_objects(tmp_path, 3)
    opened = _count_opens(tmp_path, monkeypatch)
    data, ctx = outputs.link(LinkOptions(arch=get_arch("amd64"), output=str(tmp_path / "out"), inputs=paths))
    assert [opened[p] for p in paths] == [1, 1, 1]
    assert len(ctx.objects) == 3
    data_only = tmp_path / "data.o"  # no global symbol: it may be linked twice
    data_only.write_bytes(eb.build(eb.Obj("amd64", [eb.Sec(".data", bytes(8), eb.SHF_ALLOC | eb.SHF_WRITE)], [], [])))
    twice = [*paths, str(data_only), str(data_only)]
    data, ctx = outputs.link(LinkOptions(arch=get_arch("amd64"), output=str(tmp_path / "out2"), inputs=twice))
    assert [o.name for o in ctx.objects] == twice


def ar_archive(members: dict[str, bytes]) -> bytes:
    """An ``ar`` archive of ``members`` (short names, no symbol index: the linker makes one)."""
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{644:<8}{len(data):<10}`\n".encode()
        assert len(header) == 60
        out += header + data + b"\n" * (len(data) % 2)
    return bytes(out)


def test_an_archive_is_opened_once(tmp_path, monkeypatch):
    """An archive's bytes, read while its kind was, are the ones its members are loaded from:
    it is opened once, and the member a reference pulls in is linked."""
    start = tmp_path / "o0.o"
    start.write_bytes(eb.build(debug_obj(0)))  # _start refers to f1
    archive = tmp_path / "lib.a"
    archive.write_bytes(ar_archive({"o1.o": eb.build(debug_obj(1)), "o2.o": eb.build(debug_obj(2))}))
    opened = _count_opens(tmp_path, monkeypatch)
    opts = LinkOptions(arch=get_arch("amd64"), output=str(tmp_path / "out"), inputs=[str(start), str(archive)])
    data, ctx = outputs.link(opts)
    monkeypatch.undo()
    assert opened[str(archive)] == 1 and opened[str(start)] == 1
    f = ELFFile(io.BytesIO(data))
    names = {s.name for s in f.get_section_by_name(".symtab").iter_symbols()}
    assert "f1" in names and "f2" not in names  # the member the reference pulled in, only


def test_the_output_is_written_with_the_collector_off(tmp_path, monkeypatch):
    """``main.link`` writes the output (and map) before it turns the cyclic collector back on:
    the first allocation after would make it scan every object the link still holds."""
    import gc

    from toolchain.linker import main

    paths = debug_objects(tmp_path, 2)
    opts = LinkOptions(arch=get_arch("amd64"), output=str(tmp_path / "out"), inputs=paths)
    opts.map_file = str(tmp_path / "out.map")
    seen = []
    real = main.write_output

    def recording(path, data, executable=False):
        seen.append((os.path.basename(path), gc.isenabled()))
        real(path, data, executable)

    monkeypatch.setattr(main, "write_output", recording)
    assert gc.isenabled()
    main.link(opts)
    assert seen == [("out.map", False), ("out", False)] and gc.isenabled()


def test_debug_fields_of_an_object_with_relocated_code_name_dropped_code(tmp_path):
    """The debug sections of an object whose code was relocated reuse that pass's symbol values:
    a function dropped by garbage collection still reads 0 (1 in .debug_ranges), a kept one its address."""
    text = eb.SHF_ALLOC | eb.SHF_EXECINSTR
    obj = eb.Obj(
        "amd64",
        [
            eb.Sec(".text.start", b"\x90" * 8, text),
            eb.Sec(".text.used", b"\xc3" * 4, text),
            eb.Sec(".text.unused", b"\xc3" * 4, text),
            eb.Sec(".debug_info", bytes(16), 0, 1),
            eb.Sec(".debug_ranges", bytes(16), 0, 1),
        ],
        [
            eb.Sym("_start", ".text.start", type=eb.STT_FUNC),
            eb.Sym("used", ".text.used", type=eb.STT_FUNC),
            eb.Sym("unused", ".text.unused", type=eb.STT_FUNC),
        ],
        [
            eb.Rel(".text.start", 0, R_X86_64_32, "used"),
            eb.Rel(".debug_info", 0, R_X86_64_64, "used", 2),
            eb.Rel(".debug_info", 8, R_X86_64_64, "unused", 2),
            eb.Rel(".debug_ranges", 0, R_X86_64_64, "unused"),
            eb.Rel(".debug_ranges", 8, R_X86_64_64, "used"),
        ],
    )
    path = tmp_path / "o.o"
    path.write_bytes(eb.build(obj))
    data, ctx = outputs.link(LinkOptions(arch=get_arch("amd64"), output=str(tmp_path / "out"), inputs=[str(path)]))
    f = ELFFile(io.BytesIO(data))
    addr = {s.name: s["st_value"] for s in f.get_section_by_name(".symtab").iter_symbols() if s.name}
    assert "unused" not in addr and addr["used"]
    assert struct.unpack("<I", f.get_section_by_name(".text").data()[:4])[0] == addr["used"]
    assert struct.unpack("<QQ", f.get_section_by_name(".debug_info").data()) == (addr["used"] + 2, 0)
    assert struct.unpack("<QQ", f.get_section_by_name(".debug_ranges").data()) == (1, addr["used"])
