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

from ..errors import DynError
from ..records import NamedTuple

_IGNORED_COMMANDS = ("OUTPUT_FORMAT", "OUTPUT_ARCH", "TARGET")


class ScriptInput(NamedTuple):
    """One file a script names."""

    name: str  # a path, or for a library (``-lNAME``) the NAME (``:FILE`` for ``-l:FILE``)
    is_library: bool = False  # written as ``-lNAME``: searched like the command line's ``-l``
    as_needed: bool = False  # inside ``AS_NEEDED ( )``: DT_NEEDED only if the program uses it


class LinkerScript:
    """What a script asks for, in order."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.inputs: list[ScriptInput] = []
        self.search_dirs: list[str] = []  # SEARCH_DIR entries
        self.output_format = ""


_COMMANDS = ("GROUP", "INPUT", "AS_NEEDED", "SEARCH_DIR", *_IGNORED_COMMANDS)


def looks_like_script(head: bytes) -> bool:
    """True if a file starting with ``head`` reads as a linker script: text whose first word is a command."""
    if b"\0" in head[:512]:
        return False
    text = head.decode("latin-1")
    while True:
        text = text.lstrip()
        if text.startswith("/*"):
            end = text.find("*/")
            if end < 0:
                return len(head) >= 512  # a long comment: let the parser decide
            text = text[end + 2 :]
        elif text.startswith("#"):
            text = text.partition("\n")[2]
        else:
            break
    end = 0
    while end < len(text) and text[end] in _COMMAND_LETTERS:
        end += 1
    return text[:end] in _COMMANDS and text[end:].lstrip()[:1] == "("


_COMMAND_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ_")


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


def _tokenize(text: str, path: str, punctuation: str = "(),;") -> list[tuple[str, int]]:
    """(token, line) of ``text``, blanks and comments left out.

    A token is a punctuation character, a quoted name, or a run of other characters up to
    a blank, a punctuation character or a quote (file names may hold ``/ . - + = : ~``).
    A comment (``/* */``, ``#`` to the end of the line) starts only where a token could.
    """
    tokens: list[tuple[str, int]] = []
    line = 1
    pos, n = 0, len(text)
    stops = frozenset(punctuation + '"')
    while pos < n:
        c = text[pos]
        if c.isspace():
            end = pos + 1
            while end < n and text[end].isspace():
                end += 1
            line += text.count("\n", pos, end)
            pos = end
            continue
        if text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            if end < 0:
                raise DynError(f"line {line}: unterminated comment", path)
            line += text.count("\n", pos, end)
            pos = end + 2
            continue
        if c == "#":
            end = text.find("\n", pos)
            pos = n if end < 0 else end
            continue
        if c == '"':
            end = text.find('"', pos + 1)
            if end < 0 or "\n" in text[pos:end]:
                raise DynError(f"line {line}: unterminated quoted name", path)
            end += 1
        elif c in punctuation:
            end = pos + 1
        else:
            end = pos + 1
            while end < n and not (text[end] in stops or text[end].isspace()):
                end += 1
        tokens.append((text[pos:end], line))
        pos = end
    return tokens


def _unquote(tok: str) -> str:
    return tok[1:-1] if tok.startswith('"') else tok


def _input(tok: str, as_needed: bool) -> ScriptInput:
    name = _unquote(tok)
    if not tok.startswith('"') and name.startswith("-l") and len(name) > 2:
        return ScriptInput(name[2:], True, as_needed)
    return ScriptInput(name, False, as_needed)


def parse_dynamic_list(text: str, path: str) -> list[str]:
    """The symbol names (or glob patterns) of a ``--dynamic-list`` file: ``{ name; other; extern "C" { f; }; };``."""
    tokens = _tokenize(text, path, "{};:")
    if not tokens or tokens[0][0] != "{":
        raise DynError(f"line {tokens[0][1] if tokens else 1}: a dynamic list starts with '{{'", path)
    names: list[str] = []
    depth = 0
    local = False  # names after "local:" are not exported
    for i, (tok, line) in enumerate(tokens):
        if tok == "{":
            depth += 1
        elif tok == "}":
            local = False
            depth -= 1
            if depth < 0:
                raise DynError(f"line {line}: unbalanced '}}'", path)
        elif tok in (";", ":", "extern") or (tok.startswith('"') and i + 1 < len(tokens) and tokens[i + 1][0] == "{"):
            continue
        elif tok in ("global", "local") and i + 1 < len(tokens) and tokens[i + 1][0] == ":":
            local = tok == "local"
        elif not local:
            names.append(_unquote(tok))
    if depth != 0:
        raise DynError("unbalanced '{' (missing '};')", path)
    return names
