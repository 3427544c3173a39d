"""Persistent workers (site_scons/dyntools/workers.py): same outputs, crashes survived, switch off.

The pool is driven directly for the crash cases (a worker killed between steps is
replaced and the step retried; a step whose worker dies twice fails in one line); a
small SCons project is built with workers and with ``DYNTOOLS_WORKERS=0`` and must give
the same bytes, and a build whose commands cannot be found on PATH still succeeds with
workers (proof that the steps ran in them) and fails without.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from tests.test_scons import MINI, ok, write_tree

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "site_scons"
if str(SITE) not in sys.path:
    sys.path.insert(0, str(SITE))

from dyntools import workers  # noqa: E402

MANIFEST = "headers: [api.h]\nexports: [host_base, host_twice]\n"
API = "int host_twice(int x);\nextern int host_base;\n"


def _dynexport_step(tmp_path: Path, name: str) -> list[str]:
    (tmp_path / "api.h").write_text(API)
    (tmp_path / "exports.yaml").write_text(MANIFEST)
    return ["dynexport", "exports.yaml", "-o", name]


def test_a_killed_worker_is_replaced_and_the_step_retried(tmp_path):
    pool = workers.Pool()
    try:
        env = dict(os.environ)
        first = pool.run(_dynexport_step(tmp_path, "a.c"), str(tmp_path), env)
        assert first["status"] == 0, first
        (worker,) = pool._idle
        os.kill(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait()
        second = pool.run(_dynexport_step(tmp_path, "b.c"), str(tmp_path), env)
        assert second["status"] == 0, second
        assert pool.started == 2
        assert (tmp_path / "a.c").read_bytes() == (tmp_path / "b.c").read_bytes()
        bad = pool.run(["dynexport", "missing.yaml", "-o", "c.c"], str(tmp_path), env)
        assert bad["status"] == 1 and bad["stderr"].startswith("dynexport: missing.yaml: "), bad
        assert not (tmp_path / "c.c").exists()
    finally:
        pool.stop()


def test_a_step_whose_worker_dies_twice_fails_in_one_line(tmp_path, monkeypatch):
    def die(self, argv, cwd, env):
        raise workers.WorkerDied("exit status -9")

    monkeypatch.setattr(workers.Worker, "run", die)
    pool = workers.Pool()
    try:
        reply = pool.run(_dynexport_step(tmp_path, "a.c"), str(tmp_path), dict(os.environ))
    finally:
        pool.stop()
    assert reply["status"] == 1 and pool.started == 2
    assert reply["stderr"] == "dyntools: dynexport: the worker died twice running this step (exit status -9)\n"


PROJECT = {
    "SConstruct": """
        import dyntools
        env = Environment(tools=["dyntools"], toolpath=[dyntools.TOOLPATH], DYNARCH="amd64")
        if ARGUMENTS.get("nopath"):
            env["ENV"]["PATH"] = "/usr/bin:/bin"  # without the dyntools commands
        rt_start, rt_lib = env.DynRuntime("build/rt")
        penv = env.Clone()
        penv.Append(DYNCPPPATH=["$DYNRTCPPPATH"])
        penv.DynProgram("build/prog", [rt_start, penv.DynObject("build/prog.o", "prog.c"), rt_lib])
        menv = env.Clone(DYNCPPPATH=["host"])
        menv.DynModule("build/b", [menv.DynObject("build/b.o", "mods/b.c")], manifest="mods/b.yaml")
        env.ExportTable("build/exports_exporttab.c", "host/exports.yaml")
    """,
    **{
        k: MINI[k]
        for k in (
            "prog.c",
            "mods/b.c",
            "mods/b.yaml",
            "mods/b_sigs.h",
            "mods/b_types.h",
            "host/api.h",
            "host/exports.yaml",
        )
    },
}


def _build(root: Path, *args: str, workers_on: bool) -> dict[str, bytes]:
    os.environ.pop(workers.SWITCH, None)
    env_switch = {} if workers_on else {workers.SWITCH: "0"}
    ok(_scons_with(root, env_switch, "-j2", *args))
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "build").rglob("*")) if p.is_file()}


def _scons_with(root: Path, extra_env: dict[str, str], *args: str):
    saved = {k: os.environ.get(k) for k in extra_env}
    os.environ.update(extra_env)
    try:
        return _scons_keep_env(root, *args)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _scons_keep_env(root: Path, *args: str):
    """SCons as tests.test_scons.scons runs it, but keeping DYNTOOLS_WORKERS from os.environ."""
    import subprocess  # noqa: PLC0415

    env = {k: v for k, v in os.environ.items() if not k.startswith("SCONS") and k != "DYNCC_CC"}
    env["PYTHONPATH"] = str(SITE)
    return subprocess.run(
        [sys.executable, "-m", "SCons", "-Q", *args], cwd=root, capture_output=True, text=True, env=env, timeout=600
    )


@pytest.mark.slow
def test_workers_give_the_same_bytes_and_really_run_the_steps(tmp_path):
    with_workers = _build(write_tree(tmp_path / "w", PROJECT), "nopath=1", workers_on=True)
    assert {"build/prog", "build/b.dlm", "build/exports_exporttab.c"} <= set(with_workers)
    without = _build(write_tree(tmp_path / "n", PROJECT), workers_on=False)
    assert with_workers == without
    proc = _scons_with(write_tree(tmp_path / "f", PROJECT), {workers.SWITCH: "0"}, "nopath=1")
    assert proc.returncode != 0 and "not found" in proc.stderr, proc.stderr
