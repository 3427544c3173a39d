"""Make-style dependency files (``--depfile``/``-MF``) for the tools that read manifests.

A manifest takes its type signatures from the headers it names, so what is made from it
(an export table, a module) depends on the manifest and on those headers.  Build systems
that read depfiles (ninja, Meson, make) then rebuild exactly what an edited header affects.
"""

from __future__ import annotations

from .manifest import manifest_headers


def _escape(path: str) -> str:
    return path.replace("\\", "\\\\").replace(" ", "\\ ").replace("#", "\\#").replace("$", "$$")


def depfile_text(target: str, manifests: list[str]) -> str:
    """``target: manifest headers...`` for every manifest (and the headers each names)."""
    prereqs: list[str] = []
    for manifest in manifests:
        for path in [manifest, *manifest_headers(manifest)]:
            if path not in prereqs:
                prereqs.append(path)
    return f"{_escape(target)}: " + " ".join(_escape(p) for p in prereqs) + "\n"
