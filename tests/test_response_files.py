"""``@file`` arguments (response files), which build systems use for long command lines: read
as gcc and GNU ld read them, by every tool."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys

import pytest
from conftest import run_dyncc, run_program, tool_env

from toolchain.errors import expand_response_files, split_response_text

TRICKY = '-D\'A=a b\' "-DB=c\\"d" -DC=e\\ f\n  -DD=\'x"y\' -DE="" \'-DF=1\'"2"3 -DG=back\\\\slash\t-DH=\\\'q\n'


def test_quoting_is_gccs(tmp_path):
    """The oracle is gcc's own reading of the same file (``gcc -###`` shows the arguments)."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed (.ci/setup installs gcc-multilib)")
    rsp = tmp_path / "args.rsp"
    rsp.write_text(TRICKY)
    (tmp_path / "x.c").write_text("int x;\n")
    r = subprocess.run(["gcc", "-###", "-E", f"@{rsp}", "x.c"], capture_output=True, text=True, cwd=tmp_path)
    cc1 = shlex.split(next(line for line in r.stderr.splitlines() if "cc1" in line))
    theirs = ["-D" + cc1[i + 1] for i, a in enumerate(cc1) if a == "-D"]
    assert len(theirs) == 8
    assert split_response_text(TRICKY) == theirs


def test_nested_missing_and_looping_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inner.rsp").write_text("b 'c d'\n")
    (tmp_path / "outer.rsp").write_text("a @inner.rsp e\n")
    assert expand_response_files(["x", "@outer.rsp", "@missing.rsp", "@"]) == [
        "x",
        "a",
        "b",
        "c d",
        "e",
        "@missing.rsp",
        "@",
    ]
    (tmp_path / "loop.rsp").write_text("@loop.rsp\n")
    r = subprocess.run(
        [sys.executable, "-m", "toolchain.linker.main", "@loop.rsp"],
        capture_output=True,
        text=True,
        env=tool_env(),
        timeout=60,
    )
    assert r.returncode == 2 and r.stderr == "dynlink: @loop.rsp: response files nested more than 32 deep\n"


def test_dyncc_and_dynlink_read_their_command_lines_from_files(tmp_path):
    (tmp_path / "hello.c").write_text(
        '#include <stdio.h>\nint main(void) { puts("from a response file"); return 0; }\n'
    )
    (tmp_path / "cc.rsp").write_text("-a amd64 -O2 -c hello.c -o 'hello world.o'\n")
    r = run_dyncc(["@cc.rsp"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    (tmp_path / "ld.rsp").write_text("-a amd64 -o prog\n'hello world.o'\n-lc\n")
    r = subprocess.run(
        [sys.executable, "-m", "toolchain.linker.main", "@ld.rsp"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=tool_env(),
    )
    assert r.returncode == 0, r.stderr
    assert run_program("amd64", str(tmp_path / "prog")).stdout == b"from a response file\n"
