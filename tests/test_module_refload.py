"""A module from the real linker, loaded by the C runtime, equals the same module relocated by
a reference loader written in Python from the format's relocation rules (Inferno's modes).

Two independent implementations of the loader agree byte for byte on every arch; the C
side also runs the code (its result is worked out here from the source)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ARCHES, run_dyncc, tool_env
from test_runtime import _build_harness, _shared_root

from toolchain.arch import get_arch
from toolchain.dynld.module import decode, describe, relocate

MODULE_C = r"""
#pragma dynexport mod_value mod_value
#pragma dynexport self_ptr self_ptr
#pragma dynexport greeting greeting
extern int host_answer(void);
extern int host_int;
extern int host_array[4];
static int *third = &host_array[2];
int local_data = 9;
int *self_ptr = &local_data;
const char *greeting = "hello";
static int (*answer)(void) = host_answer;
int mod_value(void) { return host_answer() + host_int + *third + *self_ptr + answer() + (greeting[0] == 'h'); }
"""


@pytest.mark.parametrize("arch", ARCHES)
def test_c_runtime_and_reference_loader_agree(tmp_path, tmp_path_factory, arch):
    src = tmp_path / "m.c"
    src.write_text(MODULE_C)
    obj, mod_path = str(tmp_path / "m.o"), str(tmp_path / "m.dlm")
    r = run_dyncc(["-a", arch, "-c", str(src), "-o", obj, "-O2"])
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "toolchain.linker.main", "-a", arch, "-u", "-o", mod_path, obj],
        capture_output=True,
        text=True,
        env=tool_env(),
    )
    assert r.returncode == 0, r.stderr
    mod = decode(open(mod_path, "rb").read(), mod_path)
    modes = describe(mod)["relocs"]["by_mode"]
    assert modes["0"] > 0 and modes["1"] > 0 and (arch == "amd64" or modes["2"] > 0)

    harness = _build_harness(_shared_root(tmp_path_factory), arch)
    dump = str(tmp_path / "image.bin")
    run = subprocess.run(
        [*get_arch(arch).runner(), harness, "-D", dump, "-c", "mod_value", mod_path],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert "call mod_value = 1288" in lines  # 7 + 1234 + 30 + 9 + 7 + 1
    base = int(next(ln.split()[1] for ln in lines if ln.startswith("base ")), 16)
    host = {ln.split()[1]: int(ln.split()[2], 16) for ln in lines if ln.startswith("host ")}
    sigs = {"host_answer": 0x11111111, "host_array": 0x22222222, "host_int": 0x33333333, "host_nosig": 0}
    expected = relocate(mod, base, {n: (sigs[n], a) for n, a in host.items()})
    loaded = open(dump, "rb").read()
    assert len(loaded) == len(expected)
    assert loaded == expected, next(i for i in range(len(loaded)) if loaded[i] != expected[i])
    assert loaded != mod.text + mod.data  # relocation changed something
    assert os.path.getsize(dump) == len(mod.text) + len(mod.data)
