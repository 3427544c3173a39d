"""bench/bench_build.py: its checks refuse what they should, and one small run reports figures
(no timing is checked)."""

from __future__ import annotations

import json
import os
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "bench"))
import bench_build  # noqa: E402


def test_a_null_build_that_builds_is_refused():
    up = "scons: `build/amd64/static/primes' is up to date.\n"
    bench_build.check_null(bench_build.Run(0.1, 0.1, up))
    with pytest.raises(bench_build.BenchError, match="did something"):
        bench_build.check_null(bench_build.Run(0.1, 0.1, up + "dyncc        [amd64] build/amd64/x.o\n"))
    with pytest.raises(bench_build.BenchError, match="printed nothing"):
        bench_build.check_null(bench_build.Run(0.1, 0.1, ""))
    explain = "scons: rebuilding `build/amd64/x.o' because `x.c' changed\n"
    with pytest.raises(bench_build.BenchError, match="rebuilds"):
        bench_build.check_explain(bench_build.Run(0.1, 0.1, explain))


def test_different_outputs_are_refused():
    a = {"build/x": "00", "build/y": "11"}
    bench_build.compare(a, dict(a), "same")
    with pytest.raises(bench_build.BenchError, match="1 built files differ"):
        bench_build.compare(a, {**a, "build/y": "22"}, "changed")
    with pytest.raises(bench_build.BenchError, match="1 built files differ"):
        bench_build.compare(a, {"build/x": "00"}, "missing")


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        bench_build.main(["--null-runs", "0"])
    assert e.value.code == 2


@pytest.mark.slow
def test_one_small_run(tmp_path):
    out = tmp_path / "out.json"
    argv = ["--arches", "amd64", "--full-runs", "1", "--null-runs", "1", "--bytecode", "pyc", "--json", str(out)]
    assert bench_build.main(argv) == 0
    data = json.loads(out.read_text())
    result = data["results"]["pyc"]
    assert data["about"]["built_files"] > 10
    assert result["full_workers_s"] > 0 and result["full_no_workers_s"] > 0 and result["null_wall_s"] > 0
    assert result["full_ratio"] == pytest.approx(result["full_workers_s"] / result["full_no_workers_s"])
