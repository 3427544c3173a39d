"""Thread-local storage in executables: local-exec and initial-exec, PT_TLS, under glibc.

The program bumps thread-locals from the main thread and from a second thread; each
thread must see its own copies, initialised from the TLS template."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import ARCHES, dynlink, run_dyncc, run_program
from elftools.elf.elffile import ELFFile

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tlsprogs")
KINDS = {
    "386": {"R_386_TLS_LE", "R_386_TLS_IE"},
    "amd64": {"R_X86_64_GOTTPOFF"},
    "arm": {"R_ARM_TLS_LE32", "R_ARM_TLS_IE32"},
}


def _objs(tmp_path, arch, *flags):
    objs = []
    for name in ("tls_main.c", "tls_lib.c", "tls_other.c"):
        out = str(tmp_path / name.replace(".c", ".o"))
        r = run_dyncc(["-a", arch, "-c", os.path.join(SRC, name), "-o", out, "-O2", *flags])
        assert r.returncode == 0, r.stderr
        objs.append(out)
    return objs


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("debug", [False, True], ids=["plain", "g"])
def test_thread_locals_per_thread(tmp_path, arch, debug):
    objs = _objs(tmp_path, arch, *(["-g"] if debug else []))
    relocs = subprocess.run(["readelf", "-rW", *objs], capture_output=True, text=True).stdout
    assert KINDS[arch] <= {w for line in relocs.splitlines() for w in line.split()}
    prog = str(tmp_path / "prog")
    r = dynlink(arch, prog, objs)
    assert r.returncode == 0, r.stderr
    res = run_program(arch, prog)
    assert res.stdout == b"tls ok\n" and res.returncode == 0, res.stderr
    with open(prog, "rb") as f:
        e = ELFFile(f)
        tls = [p for p in e.iter_segments() if p["p_type"] == "PT_TLS"]
        assert len(tls) == 1
        seg = tls[0]
        tdata, tbss = e.get_section_by_name(".tdata"), e.get_section_by_name(".tbss")
        assert seg["p_vaddr"] == tdata["sh_addr"] and seg["p_filesz"] == tdata["sh_size"]
        assert seg["p_memsz"] == tbss["sh_addr"] + tbss["sh_size"] - tdata["sh_addr"]
        syms = {s.name: s for s in e.get_section_by_name(".symtab").iter_symbols()}
        assert syms["counter"]["st_info"]["type"] == "STT_TLS"
        assert syms["counter"]["st_value"] < seg["p_memsz"]  # an offset in the TLS template
        # the template holds the initial values: counter = 5, other = 100
        data = tdata.data()
        assert int.from_bytes(data[syms["counter"]["st_value"] :][:4], "little") == 5
        assert int.from_bytes(data[syms["other"]["st_value"] :][:4], "little") == 100
        if debug:
            assert e.has_dwarf_info()
    lint = subprocess.run(["eu-elflint", "--gnu-ld", prog], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    warn = subprocess.run(["readelf", "-a", prog], capture_output=True, text=True).stderr
    assert not warn


def test_general_dynamic_model_is_a_clear_error(tmp_path):
    objs = _objs(tmp_path, "amd64", "-ftls-model=global-dynamic", "-fPIC")
    r = dynlink("amd64", str(tmp_path / "prog"), objs)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "__tls_get_addr" in r.stderr and "-ftls-model=initial-exec" in r.stderr
    assert not os.path.exists(tmp_path / "prog")


@pytest.mark.parametrize("arch", ARCHES)
def test_tls_in_a_module_is_refused(tmp_path, arch):
    src = tmp_path / "m.c"
    src.write_text("#pragma dynexport get get\n_Thread_local int t = 3;\nint get(void) { return t; }\n")
    obj = str(tmp_path / "m.o")
    assert run_dyncc(["-a", arch, "-c", str(src), "-o", obj]).returncode == 0
    r = dynlink(arch, str(tmp_path / "m.dlm"), [obj], "-u")
    assert r.returncode == 1 and "thread-local storage" in r.stderr and "Traceback" not in r.stderr
