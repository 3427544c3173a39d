"""Static linking of the cprogs program: dynlink's executable must behave like ld.lld's.

For each arch x {-O0, -O2} x {plain, -ffunction-sections -fdata-sections}, the
objects dyncc made are linked by zig's ld.lld (the reference) and by dynlink, both
are run (arm under qemu-arm), and stdout and exit status must agree with each other
and with what tests/conftest.py computes the program must print.
"""

from __future__ import annotations

import os

import pytest
from conftest import (
    ARCHES,
    CPROGS_ARGS,
    CPROGS_STATUS,
    OPTS,
    VARIANTS,
    cprogs_expected,
    dynlink,
    lld_link,
    run_program,
)

from toolchain.elf import ET_EXEC, ElfFile

CASES = [(a, o, v) for a in ARCHES for o in OPTS for v in VARIANTS]
IDS = [f"{a}{o}-{v}" for a, o, v in CASES]


def _check_exec(path: str, arch: str) -> None:
    from toolchain.arch import get_arch

    with open(path, "rb") as f:
        e = ElfFile(f.read(), path)
    assert e.type == ET_EXEC
    assert e.machine == get_arch(arch).machine


@pytest.mark.parametrize("arch,opt,variant", CASES, ids=IDS)
def test_reference_link_runs(cprogs, tmp_path, arch, opt, variant):
    objs = cprogs.objects(arch, opt, variant)
    exe = str(tmp_path / "prog.lld")
    r = lld_link(arch, exe, objs)
    assert r.returncode == 0, r.stderr
    _check_exec(exe, arch)
    p = run_program(arch, exe, CPROGS_ARGS)
    assert p.stdout.decode() == cprogs_expected(CPROGS_ARGS)
    assert p.returncode == CPROGS_STATUS, p.stderr


@pytest.mark.parametrize("arch,opt,variant", CASES, ids=IDS)
def test_dynlink_matches_lld(cprogs, tmp_path, arch, opt, variant):
    objs = cprogs.objects(arch, opt, variant)
    ref = str(tmp_path / "prog.lld")
    r = lld_link(arch, ref, objs)
    assert r.returncode == 0, r.stderr
    want = run_program(arch, ref, CPROGS_ARGS)

    exe = str(tmp_path / "prog.dyn")
    r = dynlink(arch, exe, objs)
    assert r.returncode == 0, r.stderr
    assert os.access(exe, os.X_OK)
    _check_exec(exe, arch)
    got = run_program(arch, exe, CPROGS_ARGS)
    assert got.stdout == want.stdout
    assert got.returncode == want.returncode
    assert got.stdout.decode() == cprogs_expected(CPROGS_ARGS)
    assert got.returncode == CPROGS_STATUS

    # and the same objects in another order link to a program that behaves the same
    exe2 = str(tmp_path / "prog2.dyn")
    r = dynlink(arch, exe2, list(reversed(objs)))
    assert r.returncode == 0, r.stderr
    got2 = run_program(arch, exe2, ("x",))
    assert got2.stdout.decode() == cprogs_expected(("x",))
    assert got2.returncode == CPROGS_STATUS
