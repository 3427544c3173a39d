"""``dynld-config``: how to compile the dynld C runtime into a host program.

    dynld-config --cflags        -I<runtime dir>
    dynld-config --sources       the runtime's .c files, space-separated
    dynld-config --include-dir   the directory holding dynld.h

Options combine like pkg-config's: ``dynld-config --cflags --sources`` prints the flags
then the sources, on one line.

Every .c file may be compiled for any target: the per-architecture parts
(dynld-386.c, dynld-amd64.c, dynld-arm.c) compile to nothing for other targets.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..argparsing import ArgumentParser
from ..errors import DynError, run_main

PROG = "dynld-config"


def runtime_dir() -> str:
    """Absolute path of the runtime directory (dynld.h and the .c files)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "runtime")


def sources() -> list[str]:
    """Absolute paths of the runtime's C sources, sorted."""
    d = runtime_dir()
    try:
        names = sorted(n for n in os.listdir(d) if n.endswith(".c"))
    except OSError as e:
        raise DynError(e.strerror or "cannot list", d) from None
    if not names:
        raise DynError("no C sources found", d)
    return [os.path.join(d, n) for n in names]


def cflags() -> list[str]:
    """Compiler flags a host needs to include dynld.h."""
    return [f"-I{runtime_dir()}"]


#: The options, in the order their answers are printed when several are given.
OPTIONS = (
    ("--cflags", "print the compiler flags (-I<runtime dir>)"),
    ("--sources", "print the runtime's .c files"),
    ("--include-dir", "print the directory holding dynld.h"),
)


def build_parser() -> ArgumentParser:
    """dynld-config's command line."""
    ap = ArgumentParser(
        prog=PROG,
        description="Print how to compile the dynld runtime into a host program. Options combine, as with "
        "pkg-config: the answers are printed on one line, space-separated, in the order listed here.",
    )
    for option, text in OPTIONS:
        ap.add_argument(option, action="store_true", help=text)
    return ap


def _body(argv: Sequence[str]) -> int:
    ap = build_parser()
    args = ap.parse_args(list(argv))
    answers = {"cflags": cflags, "sources": sources, "include_dir": lambda: [runtime_dir()]}
    chosen = [name for name in answers if getattr(args, name)]
    if not chosen:
        ap.error("one of " + ", ".join(option for option, _ in OPTIONS) + " is required")
    print(" ".join(word for name in chosen for word in answers[name]()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``dynld-config``."""
    return run_main(PROG, _body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
