"""Holds the ``dyntools`` package object.

SCons imports a toolpath file under the tool's name, so loading ``toolpath/dyntools.py``
replaces ``sys.modules["dyntools"]`` with that file's module; the file puts the package
back from here.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType  # (importing ``types`` costs every command 0.2 ms)

PACKAGE: ModuleType = sys.modules[__name__.rpartition(".")[0]]
