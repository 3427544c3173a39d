"""dyntools: the SCons tool for dyncc, dynlink, dynexport and dynld modules.

Load it in any SConstruct, once ``pip install dyntools`` (or ``PYTHONPATH`` pointing at a
checkout's ``site_scons``) makes the package importable::

    import dyntools
    env = Environment(tools=["default", "dyntools"], toolpath=[dyntools.TOOLPATH])

or, equivalently, ``Environment(tools=["default", dyntools.generate])``.  A project whose
site directory is a checkout's ``site_scons`` (``scons --site-dir=.../site_scons``) needs
no import: its ``site_init.py`` puts the package on the tool path, so ``env.Tool("dyntools")``
works.  See ``tool.py`` for the builders and construction variables.
"""

from __future__ import annotations

import os

from .tool import GNU_TARGETS, exists, generate

#: A toolpath entry under which ``env.Tool("dyntools")`` finds this package.
TOOLPATH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

__all__ = ["GNU_TARGETS", "TOOLPATH", "exists", "generate"]
