"""Relocations applied in bulk by C (``toolchain.linker.bulk``, ``native``) give the same bytes
as the per-section Python path, on objects a real compiler made with DWARF, for every arch.

The Python path's outputs are run and checked against independent readers by the rest of
the suite; here each link is made both ways and compared, and the bulk engine must have
applied sections itself (not handed them all back).
"""

from __future__ import annotations

import os
import sys

import pytest
from conftest import ROOT, run_program

from toolchain.linker.main import link, parse_args

sys.path.insert(0, os.path.join(ROOT, "bench"))
import bench_link  # noqa: E402

NFILES = 12


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    """arch -> (directory, object names) of a 12-file program built with ``-O2 -g``."""
    cache = tmp_path_factory.mktemp("np-cache")
    saved = bench_link.CACHE
    bench_link.CACHE = str(cache)
    try:
        return {arch: bench_link.build_objects(arch, NFILES, 2) for arch in ("amd64", "386", "arm")}
    finally:
        bench_link.CACHE = saved


def _link(arch: str, objdir: str, objs: list[str], out: str) -> bytes:
    link(parse_args(["-a", arch, "-o", out, *[os.path.join(objdir, o) for o in objs]]))
    with open(out, "rb") as f:
        return f.read()


@pytest.mark.parametrize("arch", ["amd64", "386", "arm"])
def test_bulk_and_python_paths_write_the_same_bytes(objects, tmp_path, monkeypatch, applied, arch):
    objdir, objs = objects[arch]
    monkeypatch.setenv("DYNTOOLS_NATIVE", "0")
    by_python = _link(arch, objdir, objs, str(tmp_path / "python"))
    assert applied["taken"] == applied["back"] == []
    monkeypatch.setenv("DYNTOOLS_NATIVE", "1")
    by_bulk = _link(arch, objdir, objs, str(tmp_path / "bulk"))
    taken = applied["taken"]
    assert by_bulk == by_python
    assert {".debug_info", ".debug_line", ".data"} <= set(taken), sorted(set(taken))
    if arch != "arm":  # arm's calls and MOVW/MOVT pairs are not plain fields: its .text goes back
        assert ".text" in taken
    r = run_program(arch, str(tmp_path / "bulk"))
    lines = r.stdout.decode().splitlines()
    assert r.returncode == 0 and len(lines) == NFILES + 1 and lines[-1].startswith("total "), r
