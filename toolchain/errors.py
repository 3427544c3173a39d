"""Errors, output files and the command-line conventions shared by every tool.

Every tool reports a bad input as one line, ``prog: file: what is wrong``, exits
with status 1 (2 for a bad command line), never prints a traceback and never leaves
a half-written output file behind.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence


class DynError(Exception):
    """A user-facing error: the message is printed after the program name."""

    def __init__(self, msg: str, file: str | None = None):
        self.msg = msg
        self.file = file
        super().__init__(f"{file}: {msg}" if file else msg)


class UsageError(DynError):
    """A bad command line (exit status 2)."""


def write_output(path: str, data: bytes | str, executable: bool = False) -> None:
    """Write ``data`` to ``path`` atomically: the file appears whole or not at all."""
    if isinstance(data, str):
        data = data.encode()
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".dyntmp-", dir=directory)
    except OSError as e:
        raise DynError(f"cannot create output: {e.strerror}", path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o755 if executable else 0o644)
        os.replace(tmp, path)
    except OSError as e:
        _unlink_quietly(tmp)
        raise DynError(f"cannot write output: {e.strerror}", path) from None
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def read_input(path: str) -> bytes:
    """Read a whole input file; DynError naming it if that fails."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise DynError(e.strerror or "cannot read", path) from None


def unreadable_reason(path: str) -> str | None:
    """Why ``path`` cannot be read as a regular file, or None when it can."""
    if os.path.isfile(path):
        return None
    try:
        open(path, "rb").close()
        return "not a regular file"
    except OSError as e:
        return e.strerror or "cannot read"


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so run_main reports it; every tool gets ``--version``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from toolchain import __version__

        self.add_argument("--version", action="version", version=f"{self.prog} (dyntools) {__version__}")

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{message} (see --help)")


def _print_error(prog: str, e: DynError) -> None:
    """One ``prog: ...`` line per line of the message (a linker reports every undefined symbol)."""
    for line in str(e).split("\n"):
        print(f"{prog}: {line}", file=sys.stderr)


def run_main(prog: str, body: Callable[[Sequence[str]], int | None], argv: Sequence[str] | None = None) -> int:
    """Run a tool's body with the conventions: 0 ok, 1 bad input, 2 bad usage."""
    if argv is None:
        argv = sys.argv[1:]
    try:
        return body(list(argv)) or 0
    except UsageError as e:
        _print_error(prog, e)
        return 2
    except DynError as e:
        _print_error(prog, e)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # argparse --help
        return int(e.code or 0) if isinstance(e.code, int) else 0
    except RecursionError:
        print(f"{prog}: input too deeply nested", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{prog}: out of memory", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - last line of defence: one line, never a traceback
        print(f"{prog}: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        if os.environ.get("DYNTOOLS_TRACEBACK"):
            raise
        return 1
