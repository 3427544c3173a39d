"""bench/bench_link.py still works on a tiny case, and refuses to report numbers for a broken link."""

from __future__ import annotations

import os
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "bench"))
import bench_link  # noqa: E402

NFILES = 4


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """(results, tmp dir) of one amd64 run on a 4-file program, objects cached in a temporary directory."""
    cache = tmp_path_factory.mktemp("bench-cache")
    tmp = tmp_path_factory.mktemp("bench-out")
    saved = bench_link.CACHE
    bench_link.CACHE = str(cache)
    try:
        objdir, objs = bench_link.build_objects("amd64", NFILES, 2)
        again = bench_link.build_objects("amd64", NFILES, 2)  # from the cache this time
    finally:
        bench_link.CACHE = saved
    assert again == (objdir, objs) and objdir.startswith(str(cache))
    return bench_link.measure("amd64", objdir, objs, 1, str(tmp)), tmp


def test_generator_is_deterministic_and_crosses_files():
    a, b = bench_link.generate(20), bench_link.generate(20)
    assert a == b and len(a) == 21
    text = a["m0003.c"]
    assert "names_3" in text and "ftab_3" in text and "switch" in text
    called = {
        int(w[1:].split("_")[0])
        for w in text.replace("(", " ").split()
        if w.startswith("f") and "_" in w and w[1:].split("_")[0].isdigit()
    }
    assert called - {3}, "file 3 calls or points at functions of other files"


def test_small_run(measured):
    results, _tmp = measured
    names = [r.linker for r in results]
    assert names[:4] == [
        "dynlink (in-process, Python)",
        "dynlink (in-process, C)",
        "dynlink (subprocess)",
        "ld.lld",
    ]
    assert all(r.times and r.best > 0 and r.size > 0 and r.loaded > 0 for r in results)
    assert all(r.peak_kib > 0 for r in results)
    out = bench_link.verify("amd64", results, NFILES)
    lines = out.splitlines()
    assert len(lines) == NFILES + 1 and lines[-1].startswith("total ")
    assert "|" in bench_link.table([("amd64", NFILES, results)])


def test_refuses_different_output(measured, tmp_path):
    """A program that prints something else (one string changed in its image) stops the report."""
    results, _tmp = measured
    bad = tmp_path / "bad"
    data = bytearray(open(results[-1].output, "rb").read())
    at = data.find(b"alpha-0-\0")  # file 0 prints its first name
    assert at > 0
    data[at + 6] = ord("9")
    bad.write_bytes(bytes(data))
    bad.chmod(0o755)
    broken = [*results[:-1], bench_link.Result("broken", times=[1.0], output=str(bad))]
    with pytest.raises(SystemExit, match="refusing to report numbers"):
        bench_link.verify("amd64", broken, NFILES)


def test_refuses_failing_program(measured, tmp_path):
    results, _tmp = measured
    bad = tmp_path / "fails"
    bad.write_text("#!/bin/sh\nexit 3\n")
    bad.chmod(0o755)
    broken = [*results, bench_link.Result("broken", times=[1.0], output=str(bad))]
    with pytest.raises(SystemExit, match="exited 3"):
        bench_link.verify("amd64", broken, NFILES)
