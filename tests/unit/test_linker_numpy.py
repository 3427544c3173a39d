"""When a link uses numpy for its relocations (``npreloc.wanted``), and what the numpy path
hands back to the per-section path. The relocation cases of ``test_linker_bulk`` and
``test_linker_passes`` run on both paths (their ``relocation_path`` fixture)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tests.unit import elfbuild as eb
from tests.unit.test_linker_passes import link, read_at, start_obj, symbols
from toolchain.errors import DynError
from toolchain.linker import npreloc

R_X86_64_64, R_X86_64_PC32, R_X86_64_32 = 1, 2, 10
KEEP_DATA = eb.Rel(".text", 0, R_X86_64_64, "target")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _ctx(*entries: int) -> SimpleNamespace:
    return SimpleNamespace(objects=[SimpleNamespace(relocation_entries=n) for n in entries])


def test_small_links_never_use_numpy(monkeypatch):
    monkeypatch.delenv("DYNTOOLS_NUMPY", raising=False)
    assert not npreloc.wanted(_ctx(npreloc.SMALL_LINK - 1))


def test_numpy_is_imported_only_when_the_link_repays_it(monkeypatch):
    monkeypatch.delenv("DYNTOOLS_NUMPY", raising=False)
    import numpy  # noqa: F401

    middle = _ctx(npreloc.SMALL_LINK, npreloc.IMPORT_PAYS - npreloc.SMALL_LINK - 1)
    assert npreloc.wanted(middle)  # imported already: any link but a small one uses it
    # In a fresh interpreter: not imported for that link, imported for a larger one.
    code = (
        f"import sys; sys.path.insert(0, {ROOT!r}); from types import SimpleNamespace as N;"
        "from toolchain.linker import npreloc;"
        "ctx = lambda n: N(objects=[N(relocation_entries=n)]);"
        "print(npreloc.wanted(ctx(npreloc.IMPORT_PAYS - 1)), 'numpy' in sys.modules);"
        "print(npreloc.wanted(ctx(npreloc.IMPORT_PAYS)), 'numpy' in sys.modules);"
        # numpy's BLAS started no threads, and the environment is as it was
        "import os; print(len(os.listdir('/proc/self/task')), os.environ.get('OPENBLAS_NUM_THREADS'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert r.stdout.split() == ["False", "False", "True", "True", "1", "None"], r.stderr


def test_the_setting_forces_either_path(monkeypatch):
    monkeypatch.setenv("DYNTOOLS_NUMPY", "1")
    assert npreloc.wanted(_ctx(1))
    monkeypatch.setenv("DYNTOOLS_NUMPY", "0")
    assert not npreloc.wanted(_ctx(10 * npreloc.IMPORT_PAYS))


def test_without_numpy_the_link_uses_python(monkeypatch, tmp_path):
    monkeypatch.setenv("DYNTOOLS_NUMPY", "1")
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy raises ImportError
    assert not npreloc.wanted(_ctx(10 * npreloc.IMPORT_PAYS))
    relocs = [eb.Rel(".data", 4 * i, R_X86_64_32, "target", i) for i in range(4)]
    f = link(tmp_path, "amd64", start_obj("amd64", bytes(8), [KEEP_DATA, *relocs], data=bytes(16)))
    data = read_at(f, f.get_section_by_name(".data")["sh_addr"], 16)
    assert struct.unpack("<4I", data) == tuple(symbols(f)["target"] + i for i in range(4))


def test_plain_sections_are_applied_by_numpy(tmp_path, applied):
    relocs = [eb.Rel(".data", 8 * i, R_X86_64_64, "target", -i) for i in range(3)]
    f = link(tmp_path, "amd64", start_obj("amd64", bytes(8), [KEEP_DATA, *relocs], data=bytes(24)))
    assert applied == {"taken": [".text", ".data"], "back": []}
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
