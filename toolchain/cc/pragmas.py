"""The pragma stage: find ``#pragma dynimport`` / ``#pragma dynexport`` in preprocessed C.

The preprocessor's line markers (``# 12 "file.h" 1``, ``#line 12 "file.h"``) tell
which original file and line each pragma came from, so pragmas in included headers
are reported where they were written.  Other pragmas are left alone.
"""

from __future__ import annotations

import re

from ..directives import (
    Directives,
    DynExport,
    DynImport,
    is_identifier,
    is_library_path,
    is_remote_name,
)
from ..records import NamedTuple

IMPORT_USAGE = 'usage: #pragma dynimport local remote "path"'
EXPORT_USAGE = "usage: #pragma dynexport local remote"

_MARKER_RE = re.compile(r'^#\s*(?:line\s+)?(\d+)(?:\s+"((?:[^"\\]|\\.)*)")?')
_PRAGMA_RE = re.compile(r"^\s*#\s*pragma\s+(dynimport|dynexport)(?![A-Za-z0-9_])(.*)$")
_QUOTED_RE = re.compile(r'"([^"]*)"')


class PragmaError(NamedTuple):
    """A malformed or conflicting pragma at ``file:line``."""

    file: str
    line: int
    msg: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.msg}"


class ScanResult:
    """What the pragma stage found: directives, errors, and the text to compile (pragma lines blanked)."""

    def __init__(self, directives: Directives) -> None:
        self.directives = directives
        self.errors: list[PragmaError] = []
        self.text = ""
        #: (file, line) of every dyn pragma, well-formed or not, as the preprocessor names them
        self.locations: set[tuple[str, int]] = set()


def _unescape_one(m: re.Match[bytes]) -> bytes:
    body = m[1]
    return bytes([int(body, 8) & 0xFF]) if body[:1] in b"01234567" and body[:1] else body


def _unescape(name: str) -> str:
    """A line marker's file name: the preprocessor writes a byte that is not printable as an
    octal escape (``\\033``); a byte that is not UTF-8 comes back as a surrogate."""
    raw = name.encode("utf-8", "surrogateescape")
    raw = re.sub(rb"\\([0-7]{1,3}|.)", _unescape_one, raw, flags=re.S)
    return raw.decode("utf-8", "surrogateescape")


def _parse_import(args: str) -> DynImport | None:
    m = re.fullmatch(r"\s*(\S+)\s+(\S+)\s+(\S+)\s*", args)
    if not m:
        return None
    local, remote, quoted = m.groups()
    q = _QUOTED_RE.fullmatch(quoted)
    if q is None or not (is_identifier(local) and is_remote_name(remote) and is_library_path(q.group(1))):
        return None
    return DynImport(local, remote, q.group(1))


def _parse_export(args: str) -> DynExport | None:
    m = re.fullmatch(r"\s*(\S+)\s+(\S+)\s*", args)
    if not m:
        return None
    local, remote = m.groups()
    if not (is_identifier(local) and is_identifier(remote)):
        return None
    return DynExport(local, remote)


def mentions_pragmas(data: bytes) -> bool:
    """Whether C text may hold a dyn pragma: the cheap test before preprocessing it (pragmas
    spelled by token pasting are not found)."""
    return b"dynimport" in data or b"dynexport" in data


def scan_preprocessed(text: str, arch: str, default_file: str = "<stdin>") -> ScanResult:
    """Scan preprocessed C for dyn pragmas.

    Identical repeated pragmas count once; a second pragma giving the same local
    name a different meaning is an error.
    """
    res = ScanResult(Directives(arch))
    imports: dict[str, DynImport] = {}
    exports: dict[str, DynExport] = {}
    exported_as: dict[str, str] = {}
    lines = text.split("\n")
    out = []
    cur_file, cur_line = default_file, 1
    for raw in lines:
        line = raw.rstrip("\r")
        m = _MARKER_RE.match(line)
        if m:
            out.append(raw)
            cur_line = int(m.group(1))
            if m.group(2) is not None:
                cur_file = _unescape(m.group(2))
            continue
        p = _PRAGMA_RE.match(line)
        if p:
            kind, args = p.groups()
            res.locations.add((cur_file, cur_line))
            if kind == "dynimport":
                imp = _parse_import(args)
                if imp is None:
                    res.errors.append(PragmaError(cur_file, cur_line, IMPORT_USAGE))
                elif imp.local in imports and imports[imp.local] != imp:
                    res.errors.append(PragmaError(cur_file, cur_line, f"conflicting #pragma dynimport for {imp.local}"))
                elif imp.local not in imports:
                    imports[imp.local] = imp
                    res.directives.imports.append(imp)
            else:
                exp = _parse_export(args)
                if exp is None:
                    res.errors.append(PragmaError(cur_file, cur_line, EXPORT_USAGE))
                elif exp.local in exports and exports[exp.local] != exp:
                    res.errors.append(PragmaError(cur_file, cur_line, f"conflicting #pragma dynexport for {exp.local}"))
                elif exported_as.get(exp.remote, exp.local) != exp.local:
                    res.errors.append(PragmaError(cur_file, cur_line, f"{exp.remote} is already dynexported"))
                elif exp.local not in exports:
                    exports[exp.local] = exp
                    exported_as[exp.remote] = exp.local
                    res.directives.exports.append(exp)
            out.append("")  # keep the line count: the compiler's own line numbers stay right
        else:
            out.append(raw)
        cur_line += 1
    res.text = "\n".join(out)
    return res
