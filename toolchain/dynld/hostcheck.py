"""A module's imports against its host's exports, at build time (``dynlink -u -m MODULE.yaml --host HOST.yaml``).

The runtime refuses a module whose import the host does not export, or exports with a
different non-zero signature (``undefined symbol``, ``signature mismatch``). Both
manifests are at hand when the module is built, so the build can refuse it first,
naming both manifests and the lines that disagree.
"""

from __future__ import annotations

from ..errors import DynError
from .manifest import Manifest, ManifestSymbol, load_manifest


def mismatches(module: Manifest, host: Manifest) -> list[tuple[ManifestSymbol, str]]:
    """Each import of ``module`` that ``host`` does not satisfy, with what is wrong (file:line first)."""
    out: list[tuple[ManifestSymbol, str]] = []
    for imp in module.imports:
        exp = host.export(imp.name)
        if exp is None:
            out.append((imp, f"import {imp.name} is not exported by the host (host manifest {host.path})"))
        elif imp.sig and exp.sig and imp.sig != exp.sig:
            out.append(
                (
                    imp,
                    f"import {imp.name}: signature 0x{imp.sig:08x} ({imp.decl}) differs from the host's "
                    f"0x{exp.sig:08x} ({exp.decl}) at {host.path}:{exp.line}",
                )
            )
    return out


def check_host(module_manifest: str, host_manifest: str) -> None:
    """DynError at ``MODULE.yaml:LINE`` for the first import the host manifest does not satisfy."""
    module = load_manifest(module_manifest)
    host = load_manifest(host_manifest)
    bad = mismatches(module, host)
    if bad:
        imp, what = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise DynError(what + more, f"{module.path}:{imp.line}")
