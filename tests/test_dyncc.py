"""dyncc and the directive text: pragma parsing, objects, archives, reproducibility, errors."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from conftest import ARCHES, run_dyncc, tool_env

from toolchain.arch import get_arch
from toolchain.cc import driver
from toolchain.cc.pragmas import scan_preprocessed
from toolchain.directives import (
    SECTION,
    Directives,
    DynExport,
    DynImport,
    format_directives,
    parse_directives,
    read_object_directives,
)
from toolchain.elf import SHF_ALLOC, SHF_EXCLUDE, SHT_PROGBITS, ElfFile
from toolchain.errors import DynError

IMPORT_USAGE = 'usage: #pragma dynimport local remote "path"'
EXPORT_USAGE = "usage: #pragma dynexport local remote"


def _line_of(text: str, needle: str) -> int:
    """1-based line number of the first line containing ``needle`` (found by plain search)."""
    for i, line in enumerate(text.split("\n"), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in text")


def _write(path, text: str) -> str:
    path.write_text(text)
    return str(path)


def _read_directives(path: str) -> Directives | None:
    with open(path, "rb") as f:
        return read_object_directives(ElfFile(f.read(), path))


# --------------------------------------------------------------- directive text


SEED_TEXT = (
    b"amd64\n\n$$  // dynimport\ndynimport puts puts#GLIBC_2.2.5 libc.so.6\n"
    b"dynimport errno_p errno libc.so.6\n\n$$  // dynexport\ndynexport main_hook hook\n\n$$\n\n"
)


def test_format_is_the_seed_layout():
    d = Directives(
        "amd64",
        [DynImport("puts", "puts#GLIBC_2.2.5", "libc.so.6"), DynImport("errno_p", "errno", "libc.so.6")],
        [DynExport("main_hook", "hook")],
    )
    # the layout of the seed's outcode(): arch, blank, sections each ended by a blank line, $$, blank
    assert format_directives(d) == SEED_TEXT
    assert parse_directives(SEED_TEXT, "x.o") == d


def test_format_empty_and_roundtrip():
    d = Directives("arm")
    text = format_directives(d)
    assert text == b"arm\n\n$$  // dynimport\n\n$$  // dynexport\n\n$$\n\n"
    back = parse_directives(text, "x.o")
    assert back == d and back.empty()


@pytest.mark.parametrize("first_line", [b"amd64 ", b"\tarm", b"bad arch", b"", b"\xff386", b"x86_64-v2.0"])
def test_the_text_of_no_directives_is_read_as_any_other(first_line):
    """What dyncc writes into an object without pragmas is read without the line parser; the
    same text with a blank line more goes through it, with the same result or error."""
    tail = b"\n\n$$  // dynimport\n\n$$  // dynexport\n\n$$\n\n"
    results = []
    for text in (first_line + tail, first_line + tail.replace(b"dynimport\n", b"dynimport\n\n")):
        try:
            results.append(parse_directives(text, "f.o"))
        except DynError as e:
            results.append(str(e))
    assert results[0] == results[1]


@pytest.mark.parametrize(
    "text,want",
    [
        (b"386\n", Directives("386")),  # the seed wrote only the arch line when there were no directives
        (
            b"386\n\n$$  // dynimport\ndynimport a b libc.so\n$$\n\n",
            Directives("386", [DynImport("a", "b", "libc.so")]),
        ),
        (b"386\n\n$$  // dynexport\ndynexport a b\n\n$$\n", Directives("386", [], [DynExport("a", "b")])),
    ],
)
def test_parse_accepts_seed_forms(text, want):
    assert parse_directives(text, "f.o") == want


@pytest.mark.parametrize(
    "body,msg",
    [
        (b"$$  // dynimport\ndynimport a b\n\n$$\n", "invalid dynimport line: dynimport a b"),
        (b"$$  // dynimport\ndynimport a b c d\n\n$$\n", "invalid dynimport line: dynimport a b c d"),
        (b"$$  // dynimport\ndynimport 1a b c\n\n$$\n", "invalid dynimport line: dynimport 1a b c"),
        (b"$$  // dynimport\ndynimport a b# c\n\n$$\n", "invalid dynimport line: dynimport a b# c"),
        (b"$$  // dynimport\ndynexport a b\n\n$$\n", "invalid dynimport line: dynexport a b"),
        (b"$$  // dynimport\n\n$$  // dynexport\ndynexport a\n\n$$\n", "invalid dynexport line: dynexport a"),
        (b"$$  // dynimport\n\n$$  // dynexport\ndynexport a b c\n\n$$\n", "invalid dynexport line: dynexport a b c"),
        (b"$$  // dynimport\n\n$$  // dynexport\ndynexport a b#V1\n\n$$\n", "invalid dynexport line: dynexport a b#V1"),
        (b"$$  // dynimport\ndynimport a b c\n", "cannot find end of // dynimport section"),
        (b"$$  // dynimport\n\n$$  // dynexport\ndynexport a b\n", "cannot find end of // dynexport section"),
        (b"hello\n", "unexpected line in directives: hello"),
    ],
)
def test_parse_rejects(body, msg):
    with pytest.raises(DynError) as ei:
        parse_directives(b"amd64\n\n" + body, "lib.a(x.o)")
    assert ei.value.msg == msg
    assert ei.value.file == "lib.a(x.o)"
    assert str(ei.value) == f"lib.a(x.o): {msg}"


def test_parse_rejects_missing_arch_and_bad_encoding():
    with pytest.raises(DynError, match="architecture"):
        parse_directives(b"\n$$  // dynimport\n$$\n", "f.o")
    with pytest.raises(DynError, match="UTF-8"):
        parse_directives(b"amd64\n\xff\n", "f.o")


@pytest.mark.parametrize(
    "d",
    [
        Directives("amd64", [DynImport("a b", "c", "l.so")]),
        Directives("amd64", [DynImport("a", "c", "l .so")]),
        Directives("amd64", [DynImport("a", "c", "")]),
        Directives("amd64", [], [DynExport("a", "b#V")]),
        Directives("am d64"),
    ],
)
def test_format_refuses_what_cannot_be_read_back(d):
    with pytest.raises(DynError):
        format_directives(d)


# --------------------------------------------------------------- pragma stage (unit)


def test_scan_follows_line_markers():
    text = (
        '# 1 "a.c"\n# 1 "<built-in>" 1\n# 1 "a.c" 2\n# 1 "inc/h.h" 1\n\n'
        '#pragma dynimport x y "z.so"\n# 3 "a.c" 2\nint v;\n#pragma dynexport v\n'
    )
    res = scan_preprocessed(text, "386")
    assert res.directives.imports == [DynImport("x", "y", "z.so")]
    assert [str(e) for e in res.errors] == [f"a.c:4: {EXPORT_USAGE}"]
    # pragma lines are blanked, everything else (markers included) is kept, line count unchanged
    assert res.text.count("\n") == text.count("\n")
    assert "dynimport" not in res.text and "int v;" in res.text


# --------------------------------------------------------------- pragma stage (with the preprocessor)


GOOD_SRC = """\
#include "inc/h.h"
#define LIB "libm.so.6"
#pragma dynimport  cos_p   cos   "libm.so.6"
#pragma dynimport puts puts#GLIBC_2.2.5 "libc.so.6"
#pragma once
#pragma GCC diagnostic push
#pragma dynimportx a b "c"
#if 0
#pragma dynimport never never "never.so"
#endif
_Pragma("dynexport answer answer_v1")
#pragma dynimport puts puts#GLIBC_2.2.5 "libc.so.6"
int answer(void) { return 42; }
int hook(void) { return 1; }
"""
GOOD_HDR = """\
#pragma dynexport hook plugin_hook
"""


def _good_tree(tmp_path):
    (tmp_path / "inc").mkdir()
    _write(tmp_path / "inc" / "h.h", GOOD_HDR)
    return _write(tmp_path / "good.c", GOOD_SRC)


GOOD_DIRECTIVES = [DynImport("cos_p", "cos", "libm.so.6"), DynImport("puts", "puts#GLIBC_2.2.5", "libc.so.6")]
GOOD_EXPORTS = [DynExport("hook", "plugin_hook"), DynExport("answer", "answer_v1")]


def test_pragmas_mode_prints_directives(tmp_path):
    _good_tree(tmp_path)
    r = run_dyncc(["--pragmas", "-a", "arm", "good.c"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    want = Directives("arm", GOOD_DIRECTIVES, GOOD_EXPORTS)
    assert r.stdout == format_directives(want).decode()
    assert parse_directives(r.stdout.encode(), "stdout") == want


@pytest.mark.parametrize("arch", ARCHES)
def test_compile_carries_directives(tmp_path, monkeypatch, arch):
    _good_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    got = driver.compile_c(arch, "good.c", "good.o", ["-O2"])
    assert got == Directives(arch, GOOD_DIRECTIVES, GOOD_EXPORTS)
    with open("good.o", "rb") as f:
        elf = ElfFile(f.read(), "good.o")
    a = get_arch(arch)
    assert (elf.machine, elf.bits) == (a.machine, a.bits)
    sec = elf.section_by_name(SECTION)
    assert sec is not None and sec.type == SHT_PROGBITS
    assert sec.flags & SHF_EXCLUDE and not sec.flags & SHF_ALLOC
    assert read_object_directives(elf) == got
    # the object is otherwise intact: its symbols are readable and define the functions
    symtab = next(s for s in elf.sections if s.name == ".symtab")
    names = {s.name for s in elf.symbols(symtab) if s.shndx}
    assert {"answer", "hook"} <= names
    # and objdump (binutils, an independent reader) sees the section
    if shutil.which("objdump"):
        out = subprocess.run(["objdump", "-h", "good.o"], capture_output=True, text=True).stdout
        assert SECTION in out


def test_object_without_pragmas_has_empty_directives(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "plain.c", "int f(int x) { return x * 2; }\n")
    assert main_ok(["-a", "386", "-c", "plain.c", "-o", "plain.o"])
    d = _read_directives("plain.o")
    assert d == Directives("386") and d.empty()


def main_ok(argv) -> bool:
    return driver.main(argv) == 0


BAD_CASES = [
    ("#pragma dynimport a b\n", IMPORT_USAGE),
    ("#pragma dynimport a b c\n", IMPORT_USAGE),
    ('#pragma dynimport a b "lib c.so"\n', IMPORT_USAGE),
    ('#pragma dynimport a b ""\n', IMPORT_USAGE),
    ('#pragma dynimport a b "c" d\n', IMPORT_USAGE),
    ('#pragma dynimport 9a b "c"\n', IMPORT_USAGE),
    ('#pragma dynimport a b#GLIBC#2 "c"\n', IMPORT_USAGE),
    ("#pragma dynimport\n", IMPORT_USAGE),
    ("#pragma dynexport a\n", EXPORT_USAGE),
    ("#pragma dynexport a b c\n", EXPORT_USAGE),
    ('#pragma dynexport a "b"\n', EXPORT_USAGE),
    ("#pragma dynexport a b#V1\n", EXPORT_USAGE),
    ('#pragma dynimport a b "x.so"\n#pragma dynimport a b "y.so"\n', "conflicting #pragma dynimport for a"),
    ("#pragma dynexport a b\n#pragma dynexport c b\n", "b is already dynexported"),
]


@pytest.mark.parametrize("pragma,msg", BAD_CASES, ids=[str(i) for i in range(len(BAD_CASES))])
def test_bad_pragma_is_an_error_naming_file_and_line(tmp_path, monkeypatch, capsys, pragma, msg):
    monkeypatch.chdir(tmp_path)
    src = "int before;\n\n" + pragma + "int after;\n"
    _write(tmp_path / "bad.c", src)
    bad_line = src.split("\n").index(pragma.rstrip("\n").split("\n")[-1]) + 1
    rc = driver.main(["-a", "amd64", "-c", "bad.c", "-o", "bad.o"])
    err = capsys.readouterr().err
    assert rc == 1
    assert f"dyncc: bad.c:{bad_line}: {msg}\n" in err
    assert not os.path.exists("bad.o")
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".dyntmp")]


def test_bad_pragma_in_header_names_the_header(tmp_path):
    (tmp_path / "include").mkdir()
    hdr = "/* header */\n\nextern int x;\n#pragma dynexport x\n"
    _write(tmp_path / "include" / "p.h", hdr)
    src = 'int y;\n#include "p.h"\n#pragma dynimport q r\nint z;\n'
    _write(tmp_path / "m.c", src)
    r = run_dyncc(["-a", "386", "-Iinclude", "-c", "m.c", "-o", "m.o"], cwd=str(tmp_path))
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("dyncc:")]
    assert lines == [
        f"dyncc: include/p.h:{_line_of(hdr, 'dynexport')}: {EXPORT_USAGE}",
        f"dyncc: m.c:{_line_of(src, 'dynimport')}: {IMPORT_USAGE}",
    ]
    assert not (tmp_path / "m.o").exists()


def test_pragma_line_survives_line_directive(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "l.c", 'int a;\n#line 100 "gen.y"\nint b;\n#pragma dynexport b\n')
    assert driver.main(["-a", "arm", "-c", "l.c"]) == 1
    assert f"dyncc: gen.y:101: {EXPORT_USAGE}" in capsys.readouterr().err
    assert not os.path.exists("l.o")


# --------------------------------------------------------------- compiler behaviour


def test_compiler_error_passes_stderr_through(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "syn.c", "int f(void) { return 1 +; }\n")
    (tmp_path / "syn.o").write_bytes(b"old")
    rc = driver.main(["-a", "amd64", "-c", "syn.c", "-o", "syn.o"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "syn.c:1:" in err and "error" in err
    assert err.rstrip("\n").split("\n")[-1].startswith("dyncc: syn.c: ")
    assert (tmp_path / "syn.o").read_bytes() == b"old"  # not replaced, not truncated


def test_warnings_pass_through_and_object_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "w.c", "#warning hello-from-w\nint w;\n")
    assert driver.main(["-a", "386", "-c", "w.c"]) == 0
    assert "hello-from-w" in capsys.readouterr().err
    assert _read_directives("w.o") == Directives("386")


def test_flags_pass_through(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "f.c", "int VALUE_NAME(void) { return 7; }\nint g(void) { return 8; }\n")
    assert (
        driver.main(
            ["-a", "amd64", "-c", "f.c", "-o", "f.o", "-DVALUE_NAME=renamed", "-ffunction-sections", "-O2", "-g"]
        )
        == 0
    )
    with open("f.o", "rb") as fh:
        elf = ElfFile(fh.read(), "f.o")
    names = {s.name for s in elf.sections}
    assert {".text.renamed", ".text.g"} <= names


def test_preprocessor_flags_apply_once(tmp_path, monkeypatch):
    # after preprocessing, N is an ordinary identifier again; a second -DN would rename the variable
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "n.c", "#undef N\nint N = 3;\n")
    assert driver.main(["-a", "386", "-c", "n.c", "-DN=renamed"]) == 0
    with open("n.o", "rb") as fh:
        elf = ElfFile(fh.read(), "n.o")
    symtab = next(s for s in elf.sections if s.name == ".symtab")
    names = {s.name for s in elf.symbols(symtab)}
    assert "N" in names and "renamed" not in names


def test_dependency_file_names_the_object(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "out").mkdir()
    _write(tmp_path / "src" / "dep.h", "#define DEP 1\n")
    _write(tmp_path / "src" / "dep.c", '#include "dep.h"\nint dep = DEP;\n')
    r = run_dyncc(["-a", "amd64", "-c", "src/dep.c", "-o", "out/dep.o", "-MMD"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    deps = (tmp_path / "out" / "dep.d").read_text().replace("\\\n", " ").split()
    assert deps[0] == "out/dep.o:" and "src/dep.c" in deps and "src/dep.h" in deps


def test_include_paths_and_defines_reach_the_preprocessor(tmp_path):
    (tmp_path / "hdr").mkdir()
    _write(tmp_path / "hdr" / "lib.h", '#pragma dynimport LOCAL remote "lib.so"\n')
    _write(tmp_path / "d.c", "#include <lib.h>\nint x;\n")
    r = run_dyncc(["--pragmas", "-a", "386", "-I", "hdr", "-DLOCAL=ignored", "d.c"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    # pragma arguments are not macro-expanded (as in the seed's compilers)
    assert parse_directives(r.stdout.encode(), "-").imports == [DynImport("LOCAL", "remote", "lib.so")]


# --------------------------------------------------------------- command line


@pytest.mark.parametrize(
    "argv,code,needle",
    [
        (["-a", "amd64", "-c"], 2, "no input files"),
        (["-a", "amd64", "-c", "x.c", "y.c", "-o", "z.o"], 2, "-o with -c and 2 inputs"),
        (["-a", "amd64", "-c", "x.c", "-S"], 2, "conflicting modes"),
        (["-a", "amd64", "-shared", "x.c"], 2, "-shared is not supported"),
        (["-a", "amd64", "-flto", "-c", "x.c"], 2, "-flto is not supported (it makes LLVM bitcode"),
        (["-a", "amd64", "-flto=thin", "x.c"], 2, "-flto=thin is not supported"),
        (["--pragmas", "x.c", "y.c"], 2, "--pragmas takes one source file"),
        (["-a", "amd64", "-c", "x.c", "-o"], 2, "-o needs a value"),
        (["-a", "vax", "-c", "x.c"], 2, "unknown arch"),
        (["-a", "amd64", "-c", "missing.c"], 1, "missing.c: No such file"),
    ],
)
def test_command_line_errors(tmp_path, monkeypatch, capsys, argv, code, needle):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "x.c", "int x;\n")
    _write(tmp_path / "y.c", "int y;\n")
    assert driver.main(argv) == code
    err = capsys.readouterr().err
    assert needle in err and err.startswith("dyncc: ") and err.count("\n") == 1
    assert not any(f.endswith(".o") for f in os.listdir(tmp_path))


def test_without_a_on_a_machine_that_is_none_of_the_arches(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "x.c", "int x;\n")
    monkeypatch.setattr(os, "uname", lambda: SimpleNamespace(machine="riscv64"))
    assert driver.main(["-c", "x.c"]) == 2
    err = capsys.readouterr().err
    assert err == "dyncc: -a ARCH is required: this machine (riscv64) is none of 386, amd64, arm\n"
    assert not os.path.exists("x.o")


@pytest.mark.parametrize(
    "argv",
    [
        ["-a", "amd64", "-c", "x.c", "-o", "x.c"],
        ["-a", "amd64", "-S", "x.c", "-o", "./x.c"],
        ["-a", "amd64", "-E", "x.c", "-o", "x.c"],
        ["-a", "amd64", "y.c", "x.c", "-o", "x.c"],
    ],
)
def test_output_over_an_input_is_refused_and_the_input_kept(tmp_path, monkeypatch, capsys, argv):
    """gcc's 'input file is the same as output file': a -o typo must not overwrite the source."""
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "x.c", "int x;\n")
    _write(tmp_path / "y.c", "int y;\n")
    assert driver.main(argv) == 1
    err = capsys.readouterr().err
    assert err == "dyncc: x.c: input file is the same as the output file\n"
    assert (tmp_path / "x.c").read_text() == "int x;\n"


def test_help():
    r = run_dyncc(["--help"])
    assert r.returncode == 0 and "usage: dyncc" in r.stdout and "--pragmas" in r.stdout


def test_arch_letters_and_default_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "x.c", "int x;\n")
    assert driver.main(["-a5", "-c", "x.c"]) == 0
    assert _read_directives("x.o").arch == "arm"
    assert driver.main(["-a", "8", "-c", "x.c", "-ox8.o"]) == 0
    assert _read_directives("x8.o").arch == "386"


# --------------------------------------------------------------- another compiler


def _zig(target: str) -> str:
    return f"{sys.executable} -m ziglang cc -target {target} -fno-pic"


def test_cc_arch_mismatch_is_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "x.c", "int x;\n")
    rc = driver.main(["-a", "amd64", "--cc", _zig("x86-linux-none"), "-c", "x.c", "-o", "x.o"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "dyncc: x.c: compiler produced an object for ELF machine 3 (32-bit), not for amd64" in err
    assert not os.path.exists("x.o")


def test_cc_from_environment(tmp_path):
    _write(tmp_path / "x.c", "#pragma dynexport x y\nint x;\n")
    env = tool_env(DYNCC_CC=_zig("arm-linux-none"))
    r = run_dyncc(["-a", "386", "-c", "x.c"], cwd=str(tmp_path), env=env)
    assert r.returncode == 1 and "not for 386" in r.stderr
    r = run_dyncc(["-a", "arm", "-c", "x.c"], cwd=str(tmp_path), env=env)
    assert r.returncode == 0, r.stderr
    assert _read_directives(str(tmp_path / "x.o")) == Directives("arm", [], [DynExport("x", "y")])


def test_cc_naming_dyncc_is_what_make_does_not_a_loop(tmp_path):
    """``make CC=dyncc`` and ``CC=dyncc ./configure`` put dyncc in $CC: dyncc does not read it
    (it would run itself for ever); ``--cc``/``$DYNCC_CC`` naming dyncc fail at once instead."""
    _write(tmp_path / "x.c", "int x;\n")
    dyncc = f"{sys.executable} -m toolchain.cc.driver"
    r = run_dyncc(["-a", "386", "-c", "x.c"], cwd=str(tmp_path), env={**tool_env(), "CC": dyncc})
    assert r.returncode == 0, r.stderr
    assert _read_directives(str(tmp_path / "x.o")) == Directives("386", [], [])
    bounded = {"DYNCC_TIMEOUT": "60"}  # were the check gone, each level would be killed in time
    for args, env in ((["--cc", dyncc], tool_env(**bounded)), ([], tool_env(DYNCC_CC=dyncc, **bounded))):
        r = run_dyncc(["-a", "386", *args, "-c", "x.c", "-o", "y.o"], cwd=str(tmp_path), env=env)
        assert r.returncode == 1
        assert "dyncc: the compiler command runs dyncc again (does --cc or $DYNCC_CC name dyncc?)" in r.stderr
        assert not (tmp_path / "y.o").exists()
    if shutil.which("make") or os.environ.get("CI"):  # .ci/setup installs it: make's rule for x.o, then a link
        build = tmp_path / "make"
        build.mkdir()
        (build / "Makefile").write_text("prog: x.o main.o\n\t$(CC) -o $@ $^\n")
        _write(build / "x.c", "int x;\n")
        _write(build / "main.c", "extern int x;\nint main(void) { return x; }\n")
        r = subprocess.run(["make", f"CC={dyncc}"], cwd=str(build), env=tool_env(), capture_output=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert subprocess.run([str(build / "prog")], timeout=60).returncode == 0


@pytest.mark.parametrize(
    ("sig", "status", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_interrupted_dyncc_stops_its_compiler_and_leaves_nothing(tmp_path, sig, status, word):
    """The compiler runs in its own session (so a timeout can kill all it started), which also
    keeps Ctrl-C from reaching it: dyncc must stop it when it is stopped itself (make's SIGINT
    or SIGTERM), and remove its scratch files."""
    _write(tmp_path / "x.c", "int x;\n")
    slow = tmp_path / "slowcc"
    slow.write_text("#!/bin/sh\necho $$ > started\nexec sleep 60\n")
    slow.chmod(0o755)
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolchain.cc.driver", "-a", "amd64", "--cc", str(slow), "-c", "x.c", "-o", "x.o"],
        cwd=tmp_path,
        env=tool_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists() or not (tmp_path / "started").read_text().strip():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    compiler = int((tmp_path / "started").read_text())
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status and err == f"dyncc: {word}\n"
    time.sleep(0.2)
    assert not os.path.exists(f"/proc/{compiler}"), "the compiler is still running"
    assert sorted(os.listdir(tmp_path)) == ["slowcc", "started", "x.c"]


def test_cc_that_fails_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "x.c", "int x;\n")
    assert driver.main(["-a", "386", "--cc", "/nonexistent/cc", "-c", "x.c"]) == 1
    assert "cannot run compiler /nonexistent/cc" in capsys.readouterr().err


# --------------------------------------------------------------- archives


def _ar_members(data: bytes) -> dict[str, bytes]:
    """A minimal reader of the common ar format (GNU/SysV names), written from the format itself."""
    assert data.startswith(b"!<arch>\n")
    off, out, longnames = 8, {}, b""
    while off + 60 <= len(data):
        hdr = data[off : off + 60]
        name, size = hdr[:16].decode().rstrip(), int(hdr[48:58].decode())
        body = data[off + 60 : off + 60 + size]
        if name == "//":
            longnames = body
        elif name.startswith("/") and name[1:].isdigit():
            start = int(name[1:])
            out[longnames[start : longnames.index(b"/\n", start)].decode()] = body
        elif name not in ("/", "/SYM64/"):
            out[name.rstrip("/")] = body
        off += 60 + size + (size & 1)
    return out


@pytest.mark.parametrize("arch", ["386", "arm"])
def test_directives_survive_ar(tmp_path, monkeypatch, arch):
    monkeypatch.chdir(tmp_path)
    _write(
        tmp_path / "imp.c",
        '#pragma dynimport sin_p sin "libm.so.6"\nextern double sin_p;\ndouble *use(void) { return &sin_p; }\n',
    )
    _write(tmp_path / "a_rather_long_member_name.c", "#pragma dynexport f f_v2\nint f(void) { return 1; }\n")
    assert driver.main(["-a", arch, "-c", "imp.c"]) == 0
    assert driver.main(["-a", arch, "-c", "a_rather_long_member_name.c"]) == 0
    r = subprocess.run(
        [sys.executable, "-m", "ziglang", "ar", "rcs", "lib.a", "imp.o", "a_rather_long_member_name.o"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    members = _ar_members((tmp_path / "lib.a").read_bytes())
    assert set(members) == {"imp.o", "a_rather_long_member_name.o"}
    d1 = read_object_directives(ElfFile(members["imp.o"], "lib.a(imp.o)"))
    d2 = read_object_directives(ElfFile(members["a_rather_long_member_name.o"], "lib.a(x)"))
    assert d1 == Directives(arch, [DynImport("sin_p", "sin", "libm.so.6")])
    assert d2 == Directives(arch, [], [DynExport("f", "f_v2")])
    # extracted by the archiver itself, the member is the same object
    (tmp_path / "x").mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "ziglang", "ar", "x", "../lib.a", "imp.o"],
        cwd=tmp_path / "x",
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "x" / "imp.o").read_bytes() == (tmp_path / "imp.o").read_bytes()


# --------------------------------------------------------------- reproducibility


REPRO_SRC = """\
#include "inc/r.h"
#pragma dynimport puts puts "libc.so.6"
static const char *where = __FILE__;
int f(int x) { return x + R_VALUE; }
const char *g(void) { return where; }
"""


def _repro_tree(d) -> None:
    (d / "inc").mkdir(parents=True)
    _write(d / "inc" / "r.h", "#define R_VALUE 3\n#pragma dynexport f f\n")
    _write(d / "r.c", REPRO_SRC)


@pytest.mark.parametrize("arch", ARCHES)
def test_same_bytes_from_two_directories(tmp_path, arch):
    outs = []
    for i, seed in ((1, "1"), (2, "12345")):
        d = tmp_path / f"place{i}" / ("deeper" * i)
        _repro_tree(d)
        r = run_dyncc(["-a", arch, "-c", "r.c", "-o", "r.o", "-g"], cwd=str(d), env=tool_env(PYTHONHASHSEED=seed))
        assert r.returncode == 0, r.stderr
        data = (d / "r.o").read_bytes()
        assert str(d).encode() not in data
        assert str(tmp_path).encode() not in data
        assert b"dyncc-" not in data  # no temporary directory names
        outs.append(data)
    assert outs[0] == outs[1]
    elf = ElfFile(outs[0], "r.o")
    assert elf.section_by_name(".debug_str") is not None or elf.section_by_name(".debug_line") is not None


def test_same_bytes_with_absolute_include_dir_and_source(tmp_path):
    outs = []
    for i in (1, 2):
        d = tmp_path / f"abs{i}"
        _repro_tree(d)
        r = run_dyncc(["-a", "amd64", "-c", str(d / "r.c"), "-o", "r.o", "-I", str(d / "inc")], cwd=str(d))
        assert r.returncode == 0, r.stderr
        data = (d / "r.o").read_bytes()
        assert str(d).encode() not in data
        outs.append(data)
    assert outs[0] == outs[1]


def test_repo_relative_source_keeps_its_name(tmp_path):
    # compiling src/r.c names src/r.c in the debug info, the way compiling it directly would
    d = tmp_path / "proj"
    _repro_tree(d / "src")
    r = run_dyncc(["-a", "386", "-c", "src/r.c", "-o", "r.o", "-Isrc"], cwd=str(d))
    assert r.returncode == 0, r.stderr
    data = (d / "r.o").read_bytes()
    assert b"src/r.c" in data
    assert re.search(rb"/tmp/|dyncc-", data) is None
