"""bench/bench_dynld.py still builds and agrees: the generated module, loaded by dynld and as a
shared library, computes what the generator's Python model says (no timing is checked)."""

from __future__ import annotations

import os
import sys

import pytest
from conftest import ARCHES, ROOT

sys.path.insert(0, os.path.join(ROOT, "bench"))
import bench_dynld  # noqa: E402

from toolchain.dynld.module import header_size  # noqa: E402
from toolchain.errors import DynError  # noqa: E402


@pytest.mark.parametrize("arch", ARCHES)
def test_module_and_library_agree_with_the_model(tmp_path, arch):
    prog = bench_dynld.generate(12)
    host = bench_dynld.build_host(arch, str(tmp_path))
    b = bench_dynld.build_case(arch, prog, str(tmp_path))
    t = bench_dynld.run_host(arch, host, b, prog, n=3, rounds=1)  # raises unless both match expected()
    assert len(t.dynld) == len(t.dlopen) == 1
    assert b.nimports == 3 and (header_size(arch) + b.text) % 4096 == 0  # the file-mapped layout
    assert os.path.getsize(b.so_strip) <= os.path.getsize(b.so)


def test_a_wrong_model_is_refused(tmp_path, monkeypatch):
    """The check can fail: a model that disagrees with the code stops the benchmark."""
    prog = bench_dynld.generate(5)
    host = bench_dynld.build_host("amd64", str(tmp_path))
    b = bench_dynld.build_case("amd64", prog, str(tmp_path))
    prog.funcs[0].k ^= 2  # the model now computes something the built code does not
    with pytest.raises(DynError, match="refusing to report numbers"):
        bench_dynld.run_host("amd64", host, b, prog, n=1, rounds=1)


def test_model_is_not_trivial():
    prog = bench_dynld.generate(40)
    assert any(f.callee is not None for f in prog.funcs) and any(f.via_table is not None for f in prog.funcs)
    name, total, run, counter, logsum = bench_dynld.expected(prog).split()
    assert name == "bench-40" and int(counter) > 0 and int(logsum) > 0 and total != run
