"""dyntools: dyncc, dynlink, dynexport, dynld modules, and their SCons tool.

The toolchain itself is ``dyntools.toolchain`` (the compiler driver, the linker, dynld);
this package adds the SCons tool.  Load the tool in any SConstruct once ``pip install
dyntools`` (or ``PYTHONPATH`` pointing at a checkout's ``site_scons``) makes the package
importable::

    import dyntools
    env = Environment(tools=["default", "dyntools"], toolpath=[dyntools.TOOLPATH])

or, equivalently, ``Environment(tools=["default", dyntools.generate])``.  A project whose
site directory is a checkout's ``site_scons`` needs no import: its ``site_init.py`` puts
``TOOLPATH`` on the default tool path, so ``env.Tool("dyntools")`` works.  See ``tool.py``
for the builders and construction variables.

Importing this package is cheap and does not import SCons (the console scripts import
``dyntools.toolchain`` through it); ``generate``, ``exists``, ``add_options`` and the
other SCons-side names are loaded on first use.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))

#: The tool path holding only the ``dyntools`` SCons tool (``toolpath=[dyntools.TOOLPATH]``).
TOOLPATH = os.path.join(_HERE, "toolpath")

#: Names taken from ``dyntools.tool`` on first use (it imports SCons).
_FROM_TOOL = ("GNU_TARGETS", "exists", "generate", "add_options", "short_output")

__all__ = ["TOOLPATH", *_FROM_TOOL]


def _register_checkout_toolchain() -> None:
    """In a source checkout, make ``<checkout>/toolchain`` the subpackage ``dyntools.toolchain``.

    An installed wheel has ``dyntools/toolchain/`` (the same sources, mapped there by
    pyproject.toml); a checkout keeps ``toolchain/`` at its top, next to ``site_scons/``.
    """
    name = __name__ + ".toolchain"
    if name in sys.modules or os.path.isdir(os.path.join(_HERE, "toolchain")):
        return
    top = os.path.join(os.path.dirname(os.path.dirname(_HERE)), "toolchain")
    init = os.path.join(top, "__init__.py")
    if not os.path.isfile(init):
        return  # an unusual layout: ``import dyntools.toolchain`` reports it
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[top])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    globals()["toolchain"] = module


_register_checkout_toolchain()


def __getattr__(name: str) -> Any:
    if name in _FROM_TOOL:
        import importlib

        return getattr(importlib.import_module(".tool", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


from . import _package  # noqa: E402,F401 - keeps this package findable for toolpath/dyntools.py
