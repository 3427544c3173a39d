"""GNU ld linker scripts of the kind C libraries install as ``libc.so``.

Debian's ``/usr/lib/x86_64-linux-gnu/libc.so`` is not a library but a short script::

    /* GNU ld script ... */
    OUTPUT_FORMAT(elf64-x86-64)
    GROUP ( /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc_nonshared.a
            AS_NEEDED ( /lib64/ld-linux-x86-64.so.2 ) )

This module reads that subset: ``GROUP``, ``INPUT`` and ``AS_NEEDED`` lists of file
names (``-lNAME`` and ``-l:FILE`` included), ``SEARCH_DIR``, and ``OUTPUT_FORMAT`` /
``OUTPUT_ARCH`` / ``TARGET`` (read and ignored: the arch comes from ``-a``), with
``/* */`` and ``#`` comments. Anything else (``SECTIONS``, assignments, ...) is an
error naming the file and line. Finding the named files is ``libsearch``'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from toolchain.errors import DynError

# A token: punctuation, a quoted name, or a run of name characters (file names may hold / . - + = : ~ etc.).
_TOKEN_RE = re.compile(r'\s+|/\*.*?\*/|#[^\n]*|"[^"\n]*"|[(),;]|[^\s(),;"]+', re.S)
_IGNORED_COMMANDS = ("OUTPUT_FORMAT", "OUTPUT_ARCH", "TARGET")


@dataclass(frozen=True)
class ScriptInput:
    """One file a script names."""

    name: str  # a path, or for a library (``-lNAME``) the NAME (``:FILE`` for ``-l:FILE``)
    is_library: bool = False  # written as ``-lNAME``: searched like the command line's ``-l``
    as_needed: bool = False  # inside ``AS_NEEDED ( )``: DT_NEEDED only if the program uses it


@dataclass
class LinkerScript:
    """What a script asks for, in order."""

    path: str
    inputs: list[ScriptInput] = field(default_factory=list)
    search_dirs: list[str] = field(default_factory=list)  # SEARCH_DIR entries
    output_format: str = ""


def looks_like_script(head: bytes) -> bool:
    """True if a file starting with ``head`` may be a linker script (text, not an object or archive)."""
    if head.startswith((b"\x7fELF", b"!<arch>")):
        return False
    return b"\0" not in head[:512]


def parse_linker_script(text: str, path: str) -> LinkerScript:
    """Parse the text of a script; DynError ``path: line N: ...`` on anything outside the subset."""
    tokens = _tokenize(text, path)
    script = LinkerScript(path)
    pos = 0

    def error(msg: str, at: int) -> DynError:
        line = tokens[at][1] if at < len(tokens) else (tokens[-1][1] if tokens else 1)
        return DynError(f"line {line}: {msg}", path)

    def expect(tok: str, at: int) -> int:
        if at >= len(tokens) or tokens[at][0] != tok:
            got = repr(tokens[at][0]) if at < len(tokens) else "end of file"
            raise error(f"expected {tok!r}, found {got}", at)
        return at + 1

    def file_list(at: int, as_needed: bool) -> int:
        """Names up to the closing parenthesis (the opening one already read)."""
        while True:
            if at >= len(tokens):
                raise error("unclosed '('", at)
            tok = tokens[at][0]
            if tok == ")":
                return at + 1
            if tok == ",":
                at += 1
            elif tok == "AS_NEEDED":
                at = file_list(expect("(", at + 1), True)
            elif tok in ("(", ";"):
                raise error(f"unexpected {tok!r} in a file list", at)
            else:
                script.inputs.append(_input(tok, as_needed))
                at += 1

    while pos < len(tokens):
        word = tokens[pos][0]
        if word == ";":
            pos += 1
        elif word in ("GROUP", "INPUT"):
            pos = file_list(expect("(", pos + 1), False)
        elif word == "AS_NEEDED":
            pos = file_list(expect("(", pos + 1), True)
        elif word == "SEARCH_DIR":
            pos = expect("(", pos + 1)
            if pos >= len(tokens) or tokens[pos][0] in "(),;":
                raise error("SEARCH_DIR needs a directory", pos)
            script.search_dirs.append(_unquote(tokens[pos][0]))
            pos = expect(")", pos + 1)
        elif word in _IGNORED_COMMANDS:
            pos = expect("(", pos + 1)
            args = []
            while pos < len(tokens) and tokens[pos][0] != ")":
                if tokens[pos][0] != ",":
                    args.append(_unquote(tokens[pos][0]))
                pos += 1
            pos = expect(")", pos)
            if word == "OUTPUT_FORMAT" and args:
                script.output_format = args[0]
        else:
            raise error(f"unsupported linker script command {word!r} (only GROUP, INPUT, AS_NEEDED, ...)", pos)
    return script


def _tokenize(text: str, path: str) -> list[tuple[str, int]]:
    tokens: list[tuple[str, int]] = []
    line = 1
    pos = 0
    while pos < len(text):
        if text.startswith("/*", pos) and text.find("*/", pos + 2) < 0:
            raise DynError(f"line {line}: unterminated comment", path)
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise DynError(f"line {line}: unterminated quoted name", path)
        tok = m.group()
        if not (tok.isspace() or tok.startswith(("/*", "#"))):
            tokens.append((tok, line))
        line += tok.count("\n")
        pos = m.end()
    return tokens


def _unquote(tok: str) -> str:
    return tok[1:-1] if tok.startswith('"') else tok


def _input(tok: str, as_needed: bool) -> ScriptInput:
    name = _unquote(tok)
    if not tok.startswith('"') and name.startswith("-l") and len(name) > 2:
        return ScriptInput(name[2:], True, as_needed)
    return ScriptInput(name, False, as_needed)
