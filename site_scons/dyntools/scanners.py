"""Dependency scanners: C ``#include`` lines, and the headers a dynld manifest names.

A manifest (``exports.yaml`` for a host's ``_exporttab``, or a module's ``-m`` manifest)
takes its type signatures from C headers, so whatever is built from it depends on those
headers, and on what they include in turn.
"""

from __future__ import annotations

import hashlib
import os

import SCons.Errors
import SCons.Node.FS
import SCons.Scanner

#: Suffixes of manifest files.
MANIFEST_SUFFIXES = (".yaml", ".yml")

_INCLUDE_RE = r'^[ \t]*#[ \t]*(?:include|import)[ \t]*(<|")([^>"]+)(>|")'


def c_scanner(name: str, path_variable: str) -> SCons.Scanner.ClassicCPP:
    """A classic C include scanner searching the directories in ``$<path_variable>``."""
    return SCons.Scanner.ClassicCPP(name, [".c", ".h", ".S", ".s"], path_variable, _INCLUDE_RE)


def _load_manifest_module():
    """``dyntools.toolchain.dynld.manifest``, or a one-line SCons error if it cannot be imported."""
    try:
        from .toolchain.dynld import manifest  # noqa: PLC0415 - only needed when a manifest is scanned
    except Exception as e:  # noqa: BLE001 - reported as one line, not a traceback
        msg = f"dyntools: cannot import dyntools.toolchain.dynld.manifest: {type(e).__name__}: {e}"
        raise SCons.Errors.UserError(msg) from None
    return manifest


_HEADERS_MEMO: dict[tuple[str, bytes], list[str]] = {}


def manifest_headers(path: str) -> list[str]:
    """Absolute paths of the headers the manifest at ``path`` names.

    A manifest the toolchain rejects names no headers here: the tool that reads it
    reports the error itself, as one line, when it runs.  Loading a manifest parses
    its headers, so results are remembered per path and content (every arch's variant
    directory scans the same source manifest).
    """
    path = os.path.abspath(path)
    try:
        with open(path, "rb") as f:
            key = (path, hashlib.sha256(f.read()).digest())
    except OSError:
        return []
    if key not in _HEADERS_MEMO:
        _HEADERS_MEMO[key] = _manifest_headers(path)
    return list(_HEADERS_MEMO[key])


def _manifest_headers(path: str) -> list[str]:
    manifest = _load_manifest_module()
    from .toolchain.errors import DynError  # noqa: PLC0415

    try:
        headers = manifest.manifest_headers(path)
    except DynError:
        return []
    base = os.path.dirname(os.path.abspath(path))
    out = []
    for h in headers:
        h = os.fspath(h)
        out.append(os.path.normpath(h if os.path.isabs(h) else os.path.join(base, h)))
    return out


class ManifestScanner(SCons.Scanner.Current):
    """Manifests depend on the headers they name; those headers on what they include."""

    def __init__(self, path_variable: str = "DYNCPPPATH") -> None:
        self._c = c_scanner("DynManifestCScanner", path_variable)
        super().__init__(
            self._scan,
            name="DynManifestScanner",
            path_function=SCons.Scanner.FindPathDirs(path_variable),
            recursive=True,
        )

    def _scan(self, node, env, path=()):
        if node.get_suffix() in MANIFEST_SUFFIXES:
            node = node.rfile()
            if not node.exists():
                return []
            # srcnode(): with variant_dir(duplicate=0) the manifest lives in the source tree.
            src = node if os.path.exists(node.get_abspath()) else node.srcnode()
            headers = [h for h in manifest_headers(src.get_abspath()) if os.path.isfile(h)]
            return [env.fs.File(h) for h in sorted(headers)]
        if node.get_suffix() in (".h", ".c"):
            return self._c(node, env, path)
        return []
