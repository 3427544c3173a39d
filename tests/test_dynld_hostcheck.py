"""A module's imports checked against its host's manifest at build time: ``dynlink -u -m MODULE.yaml
--host HOST.yaml`` and SCons ``DynModule(..., host=...)`` fail on a missing import or a signature
that differs, naming both manifests and their lines; nothing is written."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import run_dyncc, tool_env
from test_scons import SITE, scons

from toolchain.dynld.hostcheck import check_host
from toolchain.dynld.signatures import signature_of
from toolchain.errors import DynError

MODULE_YAML = """\
exports:
  - int mod_f(int);
imports:
  - int host_add(int, int);
  - int host_mul(int, int);
"""
HOST_OK = """\
exports:
  - int host_add(int, int);
  - int host_mul(int, int);
"""
HOST_SIG = """\
exports:
  - int host_add(int, int);
  - long host_mul(long, long);
"""
HOST_MISSING = """\
exports:
  - int host_add(int, int);
"""
MODULE_C = """\
int host_add(int, int);
int host_mul(int, int);
int mod_f(int x) { return host_add(x, 1) * host_mul(x, 2); }
"""


def _write(tmp: Path, **files: str) -> None:
    for name, text in files.items():
        (tmp / name).write_text(text)


def test_signature_mismatch_names_both_manifests_and_lines(tmp_path):
    _write(tmp_path, **{"mod.yaml": MODULE_YAML, "host.yaml": HOST_SIG})
    with pytest.raises(DynError) as e:
        check_host(str(tmp_path / "mod.yaml"), str(tmp_path / "host.yaml"))
    mod_sig, host_sig = signature_of("int host_mul(int, int);"), signature_of("long host_mul(long, long);")
    assert mod_sig != host_sig
    assert e.value.file == f"{tmp_path / 'mod.yaml'}:5"
    assert e.value.msg == (
        f"import host_mul: signature 0x{mod_sig:08x} (int host_mul(int, int)) differs from the host's "
        f"0x{host_sig:08x} (long host_mul(long, long)) at {tmp_path / 'host.yaml'}:3"
    )


def test_missing_import_and_the_count_of_the_rest(tmp_path):
    _write(tmp_path, **{"mod.yaml": MODULE_YAML, "host.yaml": "exports:\n  - int other(void);\n"})
    with pytest.raises(DynError) as e:
        check_host(str(tmp_path / "mod.yaml"), str(tmp_path / "host.yaml"))
    assert e.value.file == f"{tmp_path / 'mod.yaml'}:4"
    assert e.value.msg == (
        f"import host_add is not exported by the host (host manifest {tmp_path / 'host.yaml'}) (and 1 more)"
    )


def test_matching_and_unchecked_signatures_pass(tmp_path):
    zero = "exports:\n  - int host_add(int, int);\n  - {decl: 'long host_mul(long, long);', sig: 0}\n"
    _write(tmp_path, **{"mod.yaml": MODULE_YAML, "ok.yaml": HOST_OK, "zero.yaml": zero})
    check_host(str(tmp_path / "mod.yaml"), str(tmp_path / "ok.yaml"))
    check_host(str(tmp_path / "mod.yaml"), str(tmp_path / "zero.yaml"))  # 0: "don't check", as at load time


def _dynlink(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "toolchain.linker.main", *args],
        capture_output=True,
        text=True,
        env=tool_env(),
        cwd=tmp,
    )


def test_dynlink_host_flag(tmp_path):
    _write(tmp_path, **{"mod.yaml": MODULE_YAML, "sig.yaml": HOST_SIG, "ok.yaml": HOST_OK, "m.c": MODULE_C})
    r = run_dyncc(["-a", "amd64", "-c", str(tmp_path / "m.c"), "-o", str(tmp_path / "m.o")])
    assert r.returncode == 0, r.stderr
    r = _dynlink(tmp_path, "-a", "amd64", "-u", "-m", "mod.yaml", "--host", "sig.yaml", "-o", "m.dlm", "m.o")
    assert r.returncode == 1
    assert r.stderr.startswith("dynlink: mod.yaml:5: import host_mul: signature 0x") and "at sig.yaml:3" in r.stderr
    assert len(r.stderr.splitlines()) == 1 and not (tmp_path / "m.dlm").exists()
    r = _dynlink(tmp_path, "-a", "amd64", "-u", "--host", "ok.yaml", "-o", "m.dlm", "m.o")
    assert r.returncode == 2 and "--host needs -u and -m" in r.stderr
    r = _dynlink(tmp_path, "-a", "amd64", "-u", "-m", "mod.yaml", "--host", "ok.yaml", "-o", "m.dlm", "m.o")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m.dlm").exists()


SCONSTRUCT = """\
import dyntools

env = Environment(tools=["dyntools"], toolpath=[dyntools.TOOLPATH], DYNARCH="amd64")
env.DynModule("m", ["m.c"], manifest="mod.yaml", host="host/exports.yaml")
"""


def test_scons_host_keyword_fails_the_build_on_a_mismatch(tmp_path):
    os.makedirs(tmp_path / "host")
    _write(tmp_path, **{"SConstruct": SCONSTRUCT, "mod.yaml": MODULE_YAML, "m.c": MODULE_C})
    (tmp_path / "host" / "exports.yaml").write_text(HOST_MISSING)
    r = scons(tmp_path, pythonpath=SITE)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "dynlink: mod.yaml:5: import host_mul is not exported by the host (host manifest host/exports.yaml)" in out
    assert not (tmp_path / "m.dlm").exists()
    (tmp_path / "host" / "exports.yaml").write_text(textwrap.dedent(HOST_OK))  # the host manifest is a dependency
    r = scons(tmp_path, pythonpath=SITE)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "m.dlm").exists()
