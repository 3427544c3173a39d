"""ldscript: the GNU ld script subset C libraries install as ``libc.so``."""

from __future__ import annotations

import os
import random
import re

import pytest

from toolchain.errors import DynError
from toolchain.linker.ldscript import (
    ScriptInput,
    _tokenize,
    looks_like_script,
    parse_dynamic_list,
    parse_linker_script,
)

DEBIAN_LIBC_SO = (
    "/* GNU ld script\n"
    "   Use the shared library, but some functions are only in\n"
    "   the static library, so try that secondarily.  */\n"
    "OUTPUT_FORMAT(elf64-x86-64)\n"
    "GROUP ( /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc_nonshared.a  "
    "AS_NEEDED ( /lib64/ld-linux-x86-64.so.2 ) )\n"
)


def test_debian_libc_script():
    s = parse_linker_script(DEBIAN_LIBC_SO, "libc.so")
    assert s.output_format == "elf64-x86-64"
    assert s.inputs == [
        ScriptInput("/lib/x86_64-linux-gnu/libc.so.6"),
        ScriptInput("/usr/lib/x86_64-linux-gnu/libc_nonshared.a"),
        ScriptInput("/lib64/ld-linux-x86-64.so.2", as_needed=True),
    ]


def test_libraries_quotes_commas_and_search_dirs():
    text = 'SEARCH_DIR("/opt/lib") INPUT(-lfoo, "name with space.o", -l:libz.a) ; # comment\nOUTPUT_ARCH(i386)'
    s = parse_linker_script(text, "x")
    assert s.search_dirs == ["/opt/lib"]
    assert s.inputs == [ScriptInput("foo", True), ScriptInput("name with space.o"), ScriptInput(":libz.a", True)]


def test_top_level_as_needed_and_nested_groups_keep_order():
    s = parse_linker_script("GROUP(a.so AS_NEEDED(b.so c.so) d.a) AS_NEEDED(e.so)", "x")
    assert [(i.name, i.as_needed) for i in s.inputs] == [
        ("a.so", False),
        ("b.so", True),
        ("c.so", True),
        ("d.a", False),
        ("e.so", True),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("GROUP ( a.so", "line 1: unclosed '('"),
        ("\n\nSECTIONS { .text : { *(.text) } }", "line 3: unsupported linker script command 'SECTIONS'"),
        ("/* never closed\nGROUP(a)", "line 1: unterminated comment"),
        ('INPUT("a.so)', "line 1: unterminated quoted name"),
        ("GROUP a.so", "line 1: expected '(', found 'a.so'"),
        ("INPUT(a (b))", "unexpected '('"),
        ("SEARCH_DIR()", "SEARCH_DIR needs a directory"),
    ],
)
def test_errors_name_the_file_and_line(text, message):
    with pytest.raises(DynError) as e:
        parse_linker_script(text, "/some/libfoo.so")
    assert e.value.file == "/some/libfoo.so"
    assert message in e.value.msg


def test_looks_like_script():
    assert looks_like_script(b"/* GNU ld script */\nGROUP(")
    assert not looks_like_script(b"\x7fELF\x02\x01")
    assert not looks_like_script(b"!<arch>\n")
    assert not looks_like_script(b"\x01\x02\0\0binary")


@pytest.mark.parametrize("path", ["/usr/lib/x86_64-linux-gnu/libc.so", "/usr/lib/x86_64-linux-gnu/libm.so"])
def test_installed_scripts_parse(path):
    if not os.path.isfile(path):
        pytest.skip(f"{path} not installed")
    with open(path) as f:
        s = parse_linker_script(f.read(), path)
    assert s.inputs and all(os.path.isabs(i.name) for i in s.inputs)


def test_dynamic_list_names_patterns_and_extern_blocks():
    text = '/* exports */ {\n  lua_*;\n  luaL_newstate;\n  extern "C" { luaopen_base; };\n};\n'
    assert parse_dynamic_list(text, "list") == ["lua_*", "luaL_newstate", "luaopen_base"]
    assert parse_dynamic_list("{one;two;};", "list") == ["one", "two"]
    assert parse_dynamic_list("{ global: kept; local: *; };", "list") == ["kept"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("lua_open;", "line 1: a dynamic list starts with '{'"),
        ("{ a; ", "unbalanced '{'"),
        ("{ a; }; };", "line 1: unbalanced '}'"),
    ],
)
def test_dynamic_list_errors_name_the_file(text, message):
    with pytest.raises(DynError) as e:
        parse_dynamic_list(text, "exports.list")
    assert e.value.file == "exports.list" and message in e.value.msg


def test_a_text_file_that_is_no_script_is_not_taken_for_one():
    assert not looks_like_script(b"hello, this is text\n")
    assert looks_like_script(b"  /* comment */ # another\nINPUT ( a.o )")
    assert not looks_like_script(b"GROUPS ( a.o )")


# The tokens of a script as a regular expression reads them: the reference the scanner
# (written without ``re``, which a link does not otherwise import) must agree with.
_REFERENCE = {
    "(),;": re.compile(r'\s+|/\*.*?\*/|#[^\n]*|"[^"\n]*"|[(),;]|[^\s(),;"]+', re.S),
    "{};:": re.compile(r'\s+|/\*.*?\*/|#[^\n]*|"[^"\n]*"|[{};:]|[^\s{};:"]+', re.S),
}


def _reference_tokens(text: str, punctuation: str) -> list[tuple[str, int]] | str:
    tokens: list[tuple[str, int]] = []
    line, pos = 1, 0
    while pos < len(text):
        if text.startswith("/*", pos) and text.find("*/", pos + 2) < 0:
            return "unterminated comment"
        m = _REFERENCE[punctuation].match(text, pos)
        if m is None:
            return "unterminated quoted name"
        tok = m.group()
        if not (tok.isspace() or tok.startswith(("/*", "#"))):
            tokens.append((tok, line))
        line += tok.count("\n")
        pos = m.end()
    return tokens


@pytest.mark.parametrize("punctuation", ["(),;", "{};:"])
def test_the_scanner_reads_tokens_as_the_regular_expression_does(punctuation):
    rng = random.Random(7)
    pieces = ["GROUP", " ", "\n", "\t", "\u00a0", "(", ")", ",", ";", "{", "}", ":", '"', "/*", "*/", "#", "/", "*"]
    pieces += ["a", "-lc", "x.so.6", "AS_NEEDED", "\r\n", "\x1c"]
    for _ in range(4000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(12)))
        expected = _reference_tokens(text, punctuation)
        try:
            got: list[tuple[str, int]] | str = _tokenize(text, "s", punctuation)
        except DynError as e:
            got = str(e).split(": ", 2)[-1]
        assert got == expected, repr(text)
