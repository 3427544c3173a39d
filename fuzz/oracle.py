"""The promise every tool keeps on any input, as a check shared by the fuzz targets and the tests.

On a bad input a tool exits with status 1 and prints exactly one line on stderr,
``tool: ...``, with no control characters, no ``internal error`` and no traceback, in
bounded time, and writes no output file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each tool's entry point (module, function), run as its own process.
ENTRY_POINTS = {
    "dyncc": ("toolchain.cc.driver", "main"),
    "dynlink": ("toolchain.linker.main", "main"),
    "dyninfo": ("toolchain.info", "main"),
    "dynsig": ("toolchain.dynld.cli", "dynsig_main"),
    "dynexport": ("toolchain.dynld.cli", "dynexport_main"),
}

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class BrokenPromise(AssertionError):
    """A tool broke the one-line, exit-1 promise."""


def message_problem(prog: str, stderr: str) -> str | None:
    """What is wrong with ``stderr`` as the error report of ``prog``, or None when it is one clean line."""
    if not stderr.endswith("\n") or stderr.count("\n") != 1:
        return f"not one line: {stderr[:300]!r}"
    line = stderr[:-1]
    if not line.startswith(f"{prog}: "):
        return f"does not start with '{prog}: ': {line[:300]!r}"
    if CONTROL_RE.search(line):
        return f"control character in the message: {line[:300]!r}"
    if "internal error" in line or "Traceback" in line:
        return f"internal error: {line[:300]!r}"
    return None


def check_failure(prog: str, status: int, stderr: bytes | str, outputs: tuple[str, ...] = ()) -> None:
    """BrokenPromise unless this is a clean failure: status 1, one clean UTF-8 line, no output file."""
    if isinstance(stderr, bytes):
        try:
            stderr = stderr.decode()
        except UnicodeDecodeError:
            raise BrokenPromise(f"{prog}: stderr is not UTF-8: {stderr[:300]!r}") from None
    if status != 1:
        raise BrokenPromise(f"{prog}: exit status {status}, want 1; stderr {stderr[:300]!r}")
    problem = message_problem(prog, stderr)
    if problem is not None:
        raise BrokenPromise(f"{prog}: {problem}")
    for path in outputs:
        if os.path.lexists(path):
            raise BrokenPromise(f"{prog}: output {path} written on failure")


def tool_env() -> dict[str, str]:
    """The environment to run the tools from this repository."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("DYNCC_CC", None)
    env.pop("DYNTOOLS_TRACEBACK", None)
    return env


def run_tool(
    prog: str, args: list[str], timeout: float = 60, cwd: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``prog`` as its own process with ``args``; stdout and stderr as bytes.

    subprocess.TimeoutExpired (a hang) propagates.
    """
    module, func = ENTRY_POINTS[prog]
    code = f"import sys; from {module} import {func}; sys.exit({func}(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        cwd=cwd,
        env=tool_env(),
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )
