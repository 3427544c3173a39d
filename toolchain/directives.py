"""The dynimport/dynexport directives an object carries for the linker.

The compiler stage (``dyncc``) writes them as text into a non-allocated
``SHF_EXCLUDE`` section named ``.dynpragma``, in the format the 2010 Plan 9 style
compilers wrote ahead of the object code::

    amd64

    $$  // dynimport
    dynimport local remote path

    $$  // dynexport
    dynexport local remote

    $$

The first line is the architecture name (``386``, ``amd64``, ``arm``).  dyncc always
writes the section, even with no directives, so the linker can check every object's
architecture line.  The parser also accepts the seed's shorter forms: the
architecture line alone, or a dynimport section without a dynexport section.

Names are bytes until printed: the text is UTF-8, but a library path may hold any
byte but whitespace, quotes, backslashes and control characters (a file name is bytes
to the kernel).  In a ``str`` such a byte is kept as a lone surrogate (Python's
``surrogateescape``), both when the text is written and when it is read back.
"""

from __future__ import annotations

from .elf import ElfFile
from .errors import DynError, printable
from .records import NamedTuple, Record

SECTION = ".dynpragma"

IMPORT_HEADER = "$$  // dynimport"
EXPORT_HEADER = "$$  // dynexport"

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
# Patterns, compiled by ``re`` on first use (most links check no import or export names, and
# a link of objects without directives does not import ``re``).
_REMOTE = _IDENT + r"(?:#[A-Za-z0-9_.]+)?"
_PATH = r"[^\s\"\\\x00-\x1f\x7f]+"
_ARCH_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def _fullmatch(pattern: str, text: str) -> object:
    import re

    return re.fullmatch(pattern, text)


def _is_arch_name(text: str) -> bool:
    """Letters, digits, ``_ . -`` (checked on every object with directives, without ``re``)."""
    return bool(text) and _ARCH_CHARACTERS.issuperset(text)


def is_identifier(name: str) -> bool:
    """True if ``name`` is a C identifier."""
    return _fullmatch(_IDENT, name) is not None


def is_remote_name(name: str) -> bool:
    """True if ``name`` is a C identifier, optionally followed by ``#VERSION`` (``puts#GLIBC_2.2.5``)."""
    return _fullmatch(_REMOTE, name) is not None


def is_library_path(path: str) -> bool:
    """True if ``path`` is a usable library path: non-empty, no whitespace, quotes or control characters.

    A byte that is not UTF-8 (a surrogate from ``surrogateescape``) is allowed.
    """
    return _fullmatch(_PATH, path) is not None and _encodable(path)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


class DynImport(NamedTuple):
    """``local`` is bound at load time to ``remote`` of the shared library ``path``."""

    local: str
    remote: str
    path: str


class DynExport(NamedTuple):
    """The defined symbol ``local`` is exported in the dynamic symbol table as ``remote``."""

    local: str
    remote: str


class Directives(Record):
    """The directives of one object: its architecture name and its imports and exports, in source order."""

    __slots__ = ("arch", "imports", "exports")

    def __init__(self, arch: str, imports: list[DynImport] | None = None, exports: list[DynExport] | None = None):
        self.arch = arch
        self.imports: list[DynImport] = imports if imports is not None else []
        self.exports: list[DynExport] = exports if exports is not None else []

    def empty(self) -> bool:
        """True when the object neither imports nor exports anything."""
        return not (self.imports or self.exports)


def _check(d: Directives) -> None:
    if not _is_arch_name(d.arch):
        raise DynError(f"invalid architecture name in directives: {printable(d.arch)}")
    for imp in d.imports:
        if not (is_identifier(imp.local) and is_remote_name(imp.remote) and is_library_path(imp.path)):
            raise DynError(f"invalid dynimport: {printable(f'{imp.local} {imp.remote} {imp.path}')}")
    for exp in d.exports:
        if not (is_identifier(exp.local) and is_identifier(exp.remote)):
            raise DynError(f"invalid dynexport: {printable(f'{exp.local} {exp.remote}')}")


def format_directives(d: Directives) -> bytes:
    """The directive text of ``d`` (always the full form, with both sections), as bytes:
    a surrogate in a library path becomes the byte it stands for."""
    _check(d)
    out = [d.arch, "", IMPORT_HEADER]
    out += [f"dynimport {i.local} {i.remote} {i.path}" for i in d.imports]
    out += ["", EXPORT_HEADER]
    out += [f"dynexport {e.local} {e.remote}" for e in d.exports]
    out += ["", "$$", "", ""]
    return "\n".join(out).encode("utf-8", "surrogateescape")


#: The text after the architecture line when nothing is imported or exported (``format_directives``).
_NOTHING_DIRECTED = f"\n{IMPORT_HEADER}\n\n{EXPORT_HEADER}\n\n$$\n\n".encode()


def _parse_import(line: str) -> DynImport | None:
    parts = line.split(" ")
    if len(parts) != 4 or parts[0] != "dynimport":
        return None
    _, local, remote, path = parts
    if not (is_identifier(local) and is_remote_name(remote) and is_library_path(path)):
        return None
    return DynImport(local, remote, path)


def _parse_export(line: str) -> DynExport | None:
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != "dynexport":
        return None
    _, local, remote = parts
    if not (is_identifier(local) and is_identifier(remote)):
        return None
    return DynExport(local, remote)


def _line_error(what: str, line: str, filename: str) -> DynError:
    if not _is_utf8(line):
        what = "directive text is not valid UTF-8 outside a library path"
    return DynError(f"{what}: {printable(line[:200])}", filename)


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def parse_directives(text: bytes, filename: str) -> Directives:
    """Parse directive text; DynError naming ``filename`` for anything malformed.

    Errors (as the seed's linker words them): ``invalid dynimport line: LINE``,
    ``invalid dynexport line: LINE``, ``cannot find end of // dynimport section``
    (``dynexport`` likewise).  Blank lines inside a section are ignored.  A byte that is
    not UTF-8 is kept as a surrogate (it is only valid in a library path).
    """
    text = bytes(text)
    first, _, rest = text.partition(b"\n")
    if rest == _NOTHING_DIRECTED and first.isascii():  # what dyncc writes into an object without pragmas
        arch = first.decode()
        if _is_arch_name(arch):
            return Directives(arch)
    s = text.decode("utf-8", "surrogateescape")
    lines = s.split("\n")
    arch = lines[0].strip()
    if not _is_utf8(lines[0]):
        raise _line_error("", lines[0], filename)
    if not _is_arch_name(arch):
        raise DynError(f"directive text does not start with an architecture name: {printable(lines[0][:80])}", filename)
    d = Directives(arch)
    i, n = 1, len(lines)
    seen_import = seen_export = False
    while i < n:
        line = lines[i].rstrip("\r")
        i += 1
        if not line.strip() or line == "!":
            continue
        if line == "$$":
            continue  # a stray end marker (the seed's empty dynimport-only form ends with one)
        if line in (IMPORT_HEADER, EXPORT_HEADER):
            kind = "dynimport" if line == IMPORT_HEADER else "dynexport"
            if seen_import if kind == "dynimport" else seen_export:
                raise DynError(f"duplicate // {kind} section", filename)
            if kind == "dynimport":
                seen_import = True
            else:
                seen_export = True
            ended = False
            while i < n:
                body = lines[i].rstrip("\r")
                if body.startswith("$$") or body == "!":
                    ended = True
                    break
                i += 1
                if not body.strip():
                    continue
                if kind == "dynimport":
                    imp = _parse_import(body)
                    if imp is None:
                        raise _line_error("invalid dynimport line", body, filename)
                    d.imports.append(imp)
                else:
                    exp = _parse_export(body)
                    if exp is None:
                        raise _line_error("invalid dynexport line", body, filename)
                    d.exports.append(exp)
            if not ended:
                raise DynError(f"cannot find end of // {kind} section", filename)
            continue
        raise _line_error("unexpected line in directives", line, filename)
    return d


def read_object_directives(elf: ElfFile) -> Directives | None:
    """The directives in an object's ``.dynpragma`` section, or None if it has none."""
    sec = elf.section_by_name(SECTION)
    if sec is None:
        return None
    return parse_directives(bytes(elf.section_data(sec)), elf.name)
