"""Relocations in bulk (``toolchain.linker.bulk``) with the C library (``native``): when a link
uses it, how it is built and cached, what happens when it cannot be, what it hands back to the
per-section Python path, and that hostile batches go back untouched.

Every relocation case of ``test_linker_passes`` and ``test_linker_bulk`` also runs with it
(their ``relocation_path`` fixture), and ``tests/test_bulk_relocation.py`` compares whole links.
"""

from __future__ import annotations

import os
import stat
import struct
import subprocess
import sys
from array import array
from types import SimpleNamespace

import pytest

from tests.unit import elfbuild as eb
from tests.unit.test_linker_passes import link, read_at, start_obj, symbols
from toolchain.errors import DynError
from toolchain.linker import bulk, native
from toolchain.linker.reloc import VALUE_DROPPED, VALUE_IMPORT, VALUE_MERGED_PIECE

R_X86_64_64, R_X86_64_PC32, R_X86_64_GOTPCREL, R_X86_64_32 = 1, 2, 9, 10
KEEP_DATA = eb.Rel(".text", 0, R_X86_64_64, "target")


def _ctx(entries: int) -> SimpleNamespace:
    return SimpleNamespace(objects=[SimpleNamespace(relocation_entries=entries)])


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty cache directory, and the library not yet looked for in this process."""
    monkeypatch.setenv("DYNTOOLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(native, "_library", [])
    return tmp_path / "cache"


def test_links_large_enough_use_it_by_default(monkeypatch):
    monkeypatch.delenv("DYNTOOLS_NATIVE", raising=False)
    assert bulk.wanted(_ctx(bulk.PAYS))
    assert not bulk.wanted(_ctx(bulk.PAYS - 1))
    monkeypatch.setenv("DYNTOOLS_NATIVE", "1")
    assert bulk.wanted(_ctx(1))
    monkeypatch.setenv("DYNTOOLS_NATIVE", "0")
    assert not bulk.wanted(_ctx(10 * bulk.PAYS))


def test_small_links_do_not_load_it():
    """A link below ``PAYS`` entries imports neither ctypes nor the library (tests/test_startup.py
    checks a whole link's imports)."""
    code = (
        "import sys; from types import SimpleNamespace as N; from toolchain.linker import bulk;"
        "print(bulk.wanted(N(objects=[N(relocation_entries=bulk.PAYS - 1)])), 'ctypes' in sys.modules,"
        " 'toolchain.linker.native' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "DYNTOOLS_NATIVE"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=root)
    assert r.stdout.split() == ["False", "False", "False"], r.stderr


def test_it_is_built_once_into_the_cache_and_loaded_from_there(fresh, monkeypatch, tmp_path):
    path = native.library_path()
    assert path is not None and path.startswith(str(fresh)) and not os.path.exists(path)
    lib = native.library()
    assert lib is not None and os.path.isfile(path)
    assert not os.stat(path).st_mode & 0o022
    assert [n for n in os.listdir(os.path.dirname(path)) if n.startswith(".tmp-")] == []

    # Another process (here: this one, forgetting it) loads it without building.
    monkeypatch.setattr(native, "_library", [])
    monkeypatch.setattr(native, "build", lambda path: pytest.fail("built again"))
    assert native.library() is not None
    # ... and a link uses it.
    monkeypatch.setenv("DYNTOOLS_NATIVE", "1")
    relocs = [eb.Rel(".data", 8 * i, R_X86_64_64, "target", i) for i in range(3)]
    f = link(tmp_path, "amd64", start_obj("amd64", bytes(8), [KEEP_DATA, *relocs], data=bytes(24)))
    data = read_at(f, f.get_section_by_name(".data")["sh_addr"], 24)
    assert struct.unpack("<3Q", data) == tuple(symbols(f)["target"] + i for i in range(3))


def test_a_failed_build_is_remembered_and_links_go_on_without_it(fresh, monkeypatch, tmp_path):
    from toolchain.cc import driver

    monkeypatch.setattr(driver, "zig_command", lambda: ["false"])
    assert native.library() is None
    path = native.library_path()
    assert path is not None and not os.path.exists(path)
    with open(path + ".failed") as f:
        assert "exit status 1" in f.read()
    monkeypatch.setattr(native, "_library", [])
    monkeypatch.setattr(native, "build", lambda path: pytest.fail("tried again"))
    monkeypatch.setenv("DYNTOOLS_NATIVE", "1")
    assert not bulk.wanted(_ctx(10 * bulk.PAYS))
    relocs = [eb.Rel(".data", 4 * i, R_X86_64_32, "target", i) for i in range(4)]
    f = link(tmp_path, "amd64", start_obj("amd64", bytes(8), [KEEP_DATA, *relocs], data=bytes(16)))
    data = read_at(f, f.get_section_by_name(".data")["sh_addr"], 16)
    assert struct.unpack("<4I", data) == tuple(symbols(f)["target"] + i for i in range(4))


def test_a_library_others_could_have_written_is_not_loaded(fresh, monkeypatch):
    assert native.library() is not None
    path = native.library_path()
    assert path is not None
    os.chmod(path, os.stat(path).st_mode | stat.S_IWOTH)
    monkeypatch.setattr(native, "_library", [])
    assert native.library() is None


# ------------------------------------------------------------------ hostile batches

# A TypeTable of amd64's types 0..10: R_X86_64_64 (S + A, 8 bytes), PC32 (S + A - P, 4),
# GOTPCREL (G + A - P, 4) and R_X86_64_32 (S + A, 4); 3 (GOT32) cannot be applied in bulk.
TABLE = SimpleNamespace(
    rows=array(
        "q",
        [1, 0, 0, 0, 0] * 11,
    ),
    count=11,
    has_got=True,
)
for rt, row in {
    1: (2, 0, 8, -(1 << 63), (1 << 63) - 1),
    2: (2, 1, 4, -(1 << 31), (1 << 31) - 1),
    3: (0, 0, 0, 0, 0),
    9: (3, 1, 4, -(1 << 31), (1 << 31) - 1),
    10: (2, 0, 4, 0, (1 << 32) - 1),
}.items():
    TABLE.rows[5 * rt : 5 * rt + 5] = array("q", row)


def _batch(sections: list[dict], buf_size: int = 64) -> SimpleNamespace:
    """A batch of amd64 SHT_RELA sections, each {"start", "addr", "size", "relocs": [(off, type, sym, addend)],
    "values", "slots", "tomb"}, over a buffer of 0xAA bytes."""
    records, counts, rows, values, slots = [], array("q"), array("q"), [], []
    for s in sections:
        raw = b"".join(struct.pack("<QQq", off, sym << 32 | rt, add) for off, rt, sym, add in s["relocs"])
        records.append(memoryview(raw))
        counts.append(len(s["relocs"]))
        rows.extend((s["start"], s["addr"], s["start"] + s["size"], len(values), len(s["values"]), s.get("tomb", 0)))
        values += s["values"]
        slots += s.get("slots", [-1] * len(s["values"]))
    return SimpleNamespace(
        sections=[None] * len(sections),
        records=records,
        counts=counts,
        rows=rows,
        values=values,
        slots=slots,
        table=TABLE,
        buf=bytearray(b"\xaa" * buf_size),
        word=8,
        rela=True,
        got0=0x9000,
        entries=sum(counts),
    )


GOOD = {"start": 0, "addr": 0x1000, "size": 16, "relocs": [(0, 1, 1, 5), (8, 2, 1, -4)], "values": [0, 0x2000]}
SECOND = {**GOOD, "start": 16}
#: (sections, the indexes that go back): each case pairs a good section with one that must go back
#: (by the rules in bulk's docstring), or one that must be applied
HOSTILE = [
    ([GOOD, {**SECOND, "relocs": [(14, 10, 1, 0)]}], [1]),  # a field past the section's end
    ([GOOD, {**SECOND, "relocs": [(1 << 63, 10, 1, 0)]}], [1]),  # an offset past int64
    ([GOOD, {**SECOND, "relocs": [(0, 10, 7, 0)]}], [1]),  # a symbol index past the values
    ([GOOD, {**SECOND, "relocs": [(0, 10, 1, 1 << 32)]}], [1]),  # does not fit R_X86_64_32
    ([GOOD, {**SECOND, "relocs": [(0, 10, 1, -0x2001)]}], [1]),  # nor does a negative value
    ([GOOD, {**SECOND, "relocs": [(0, 3, 1, 0)]}], [1]),  # a type for the per-section path
    ([GOOD, {**SECOND, "relocs": [(0, 200, 1, 0)]}], [1]),  # an unknown type
    ([GOOD, {**SECOND, "relocs": [(4, 10, 1, 0), (0, 10, 1, 0)]}], [1]),  # out of order
    ([GOOD, {**SECOND, "relocs": [(0, 1, 1, 0), (4, 10, 1, 0)]}], [1]),  # overlapping
    ([GOOD, {**SECOND, "values": [0, VALUE_IMPORT]}], [1]),  # an import: the output decides
    ([GOOD, {**SECOND, "relocs": [(0, 1, 1, 1 << 62)]}], [1]),  # an addend past the safe range
    ([GOOD, {**SECOND, "values": [0, 1 << 62]}], [1]),  # a value past the safe range
    ([GOOD, {**SECOND, "relocs": [(0, 9, 1, 0)]}], [1]),  # GOT-relative, the symbol has no slot
    ([{**GOOD, "addr": 1 << 62}, SECOND], [0]),  # an address past the safe range
    ([GOOD, {**SECOND, "relocs": [(0, 9, 1, -4)], "slots": [-1, 3]}], []),  # GOT-relative with a slot
    ([GOOD, {**SECOND, "values": [0, VALUE_DROPPED], "tomb": 1}], []),  # into dropped code
    ([{**GOOD, "relocs": []}, SECOND], []),
]


@pytest.mark.parametrize("sections, expected", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_sections_go_back_untouched(sections, expected):
    if not native.library():
        pytest.fail("the C relocation library could not be built")
    batch = _batch(sections)
    assert native.apply(batch) == expected
    for i, s in enumerate(sections):
        written = batch.buf[s["start"] : s["start"] + s["size"]]
        assert (written == b"\xaa" * s["size"]) is (i in expected or not s["relocs"]), i
    if expected == [1]:  # the good one is written beside it
        assert struct.unpack_from("<Qi", batch.buf) == (0x2000 + 5, 0x2000 - 4 - (0x1000 + 8))


def test_got_slots_and_dropped_code_are_computed():
    if not native.library():
        pytest.fail("the C relocation library could not be built")
    got = _batch([{**GOOD, "relocs": [(0, 9, 1, -4)], "slots": [-1, 3]}])
    assert native.apply(got) == []
    assert struct.unpack_from("<i", got.buf) == (0x9000 + 3 * 8 - 4 - 0x1000,)  # G + A - P
    dropped = _batch([{**GOOD, "relocs": [(0, 1, 1, 5), (8, 10, 1, 0)], "values": [0, VALUE_DROPPED], "tomb": 1}])
    assert native.apply(dropped) == []
    assert struct.unpack_from("<QI", dropped.buf) == (1, 1)  # the tomb value, whatever the addend


@pytest.mark.parametrize(
    "bad",
    [
        {"start": 60},  # past the buffer's end
        {"start": -8},
        {"size": -1},
    ],
)
def test_a_batch_inconsistent_with_its_buffer_goes_back_whole_and_untouched(bad):
    """``relocate`` never makes such rows; the library still checks them before writing anything."""
    if not native.library():
        pytest.fail("the C relocation library could not be built")
    batch = _batch([GOOD, {**GOOD, **bad}])
    assert native.apply(batch) == [0, 1]
    assert batch.buf == b"\xaa" * 64


def test_the_good_section_is_written_as_computed_by_hand():
    if not native.library():
        pytest.fail("the C relocation library could not be built")
    batch = _batch([GOOD])
    assert native.apply(batch) == []
    assert struct.unpack_from("<Qi", batch.buf) == (0x2000 + 5, 0x2000 - 4 - (0x1000 + 8))
    assert batch.buf[12:] == b"\xaa" * 52


def test_merged_pieces_are_given_by_python(monkeypatch):
    """S of a section symbol of merged strings comes from ``merged_piece_base`` (the addend picks the piece)."""
    if not native.library():
        pytest.fail("the C relocation library could not be built")
    seen = []

    def piece_base(sym, addend):
        seen.append((sym, addend))
        return 0x5000 - addend + 0x10

    import toolchain.linker.context as context

    monkeypatch.setattr(context, "merged_piece_base", piece_base)
    sec = SimpleNamespace(file=SimpleNamespace(symbols=["first", "strings"]))
    batch = _batch([{**GOOD, "relocs": [(0, 1, 1, 7)], "values": [0, VALUE_MERGED_PIECE]}])
    batch.sections = [sec]
    assert native.apply(batch) == []
    assert seen == [("strings", 7)]
    assert struct.unpack_from("<Q", batch.buf) == (0x5010,)


def test_plain_sections_are_applied_in_bulk(tmp_path, applied):
    relocs = [eb.Rel(".data", 8 * i, R_X86_64_64, "target", -i) for i in range(3)]
    f = link(tmp_path, "amd64", start_obj("amd64", bytes(8), [KEEP_DATA, *relocs], data=bytes(24)))
    assert applied["taken"] == [".text", ".data"] and applied["back"] == []
    data = read_at(f, f.get_section_by_name(".data")["sh_addr"], 24)
    assert struct.unpack("<3Q", data) == tuple(symbols(f)["target"] - i for i in range(3))


@pytest.mark.parametrize(
    "relocs, message",
    [
        # 0x100000000 + target does not fit in R_X86_64_32
        (
            [eb.Rel(".data", 0, R_X86_64_32, "target", 0), eb.Rel(".data", 4, R_X86_64_32, "target", 1 << 32)],
            "overflows",
        ),
        ([eb.Rel(".data", 6, R_X86_64_32, "target")], "outside section .data"),
    ],
)
def test_a_section_it_cannot_apply_goes_back_and_is_reported(tmp_path, applied, relocs, message):
    with pytest.raises(DynError, match=message):
        link(tmp_path, "amd64", start_obj("amd64", bytes(8), [KEEP_DATA, *relocs], data=bytes(8)))
    assert applied["back"] == [".data"] and applied["taken"] == [".text"]


def test_overlapping_fields_go_back(tmp_path, applied):
    # Two fields over the same bytes: applied one by one, the later one wins.
    relocs = [eb.Rel(".data", 0, R_X86_64_64, "target", 5), eb.Rel(".data", 4, R_X86_64_32, "target", 7)]
    f = link(tmp_path, "amd64", start_obj("amd64", bytes(8), [KEEP_DATA, *relocs], data=bytes(8)))
    assert applied["back"] == [".data"]
    target = symbols(f)["target"]
    data = read_at(f, f.get_section_by_name(".data")["sh_addr"], 8)
    assert data == struct.pack("<Q", target + 5)[:4] + struct.pack("<I", target + 7)
