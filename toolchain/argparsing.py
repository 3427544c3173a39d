"""argparse with the tools' conventions: usage errors raised (``run_main`` reports them
with exit status 2), ``--version`` on every tool, help fitted to the terminal.

A module of its own so that a tool which can read its command line without argparse
(``dynlink``) imports it only for ``--help`` and bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys

from .errors import UsageError


def terminal_width() -> int:
    """``$COLUMNS``, else the terminal's width, else 80 (``shutil.get_terminal_size`` without
    importing ``shutil``, which brings zlib, bz2 and lzma: argparse asks on every option)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so run_main reports it; every tool gets ``--version``."""

    def __init__(self, *args, **kwargs):
        formatter = kwargs.get("formatter_class", argparse.HelpFormatter)
        kwargs["formatter_class"] = lambda prog: formatter(prog, width=terminal_width() - 2)
        super().__init__(*args, **kwargs)
        from . import __version__

        self.version_text = f"{self.prog} (dyntools) {__version__}"
        self.add_argument("--version", action="version", version=self.version_text)

    def error(self, message: str):
        raise UsageError.see_help(message)
