"""The SCons tool ``dyntools``: what ``env.Tool("dyntools", toolpath=[dyntools.TOOLPATH])`` loads.

This directory holds nothing else, so no other tool name resolves here.  SCons imports
this file as the module ``dyntools``, the name of the package it belongs to: the package
is put back in ``sys.modules`` first, then the tool's functions are taken from it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType


def _package() -> ModuleType:
    """The ``dyntools`` package (imported now if it was not yet)."""
    held = sys.modules.get("dyntools._package")
    if held is not None:
        return held.PACKAGE
    pkgdir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location(
        "dyntools", os.path.join(pkgdir, "__init__.py"), submodule_search_locations=[pkgdir]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules["dyntools"] = package
    spec.loader.exec_module(package)
    return package


sys.modules["dyntools"] = _package()

from dyntools.tool import exists, generate  # noqa: E402

__all__ = ["exists", "generate"]
