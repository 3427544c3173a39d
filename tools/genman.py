"""Write a manual page per dyntools command (``man/<tool>.1``) from its argparse definition.

    python3 tools/genman.py            # (re)write man/*.1
    python3 tools/genman.py --check    # exit 1, naming the pages, if any is out of date

A tool module's ``build_parser()`` gives the parser when it has one; otherwise the
parser is caught as the tool's ``main`` is about to parse an empty command line (the
tool does nothing else).  The pages carry no date, so they change only with the tools.
The wheel installs them under ``share/man/man1`` (pyproject.toml ``data-files``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAN_DIR = ROOT / "man"

sys.path[:0] = [str(ROOT), str(ROOT / "site_scons")]
from dyntools.locate import SCRIPTS as TOOLS  # noqa: E402 - command name -> (toolchain module, entry function)

EXIT_STATUS = (
    ("0", "success"),
    ("1", "bad input (the message names the file and what is wrong)"),
    ("2", "bad usage (an unknown option, a missing argument)"),
)


class _Caught(BaseException):
    """Carries the parser out of a tool's main (a BaseException: run_main lets it through)."""

    def __init__(self, parser: argparse.ArgumentParser):
        super().__init__()
        self.parser = parser


def tool_parser(name: str) -> argparse.ArgumentParser:
    """The argparse parser of the command ``name``."""
    module_name, entry = TOOLS[name]
    module = importlib.import_module(f"toolchain.{module_name}")
    build = getattr(module, "build_parser", None)
    if callable(build) and entry == "main":
        return build()
    argparsing = importlib.import_module("toolchain.argparsing")

    def catch(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> argparse.Namespace:
        raise _Caught(self)

    saved = argparsing.ArgumentParser.parse_args
    argparsing.ArgumentParser.parse_args = catch
    try:
        main: Callable[[list[str]], int] = getattr(module, entry)
        main([])
    except _Caught as caught:
        return caught.parser
    finally:
        argparsing.ArgumentParser.parse_args = saved
    raise SystemExit(f"genman: {name}: its main returned without parsing a command line")


def roff(text: str) -> str:
    """``text`` escaped for roff (backslashes, hyphens, a leading dot or quote)."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def _option_heading(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"\\fI{roff(str(action.metavar or action.dest))}\\fR"
    metavar = ""
    if action.nargs != 0:
        metavar = str(action.metavar or action.dest.upper())
        metavar = f" \\fI{roff(metavar)}\\fR"
    return ", ".join(f"\\fB{roff(o)}\\fR{metavar}" for o in action.option_strings)


def _option_help(action: argparse.Action) -> str:
    text = action.help or ""
    if action.choices:
        text += (" " if text else "") + "(one of: " + ", ".join(map(str, action.choices)) + ")"
    if "%(" in text:
        text = text % {"prog": "", "default": action.default, "choices": action.choices}
    return roff(text)


def man_page(name: str, parser: argparse.ArgumentParser) -> str:
    """The roff text of ``name``'s manual page."""
    from toolchain import __version__  # noqa: PLC0415

    description = " ".join((parser.description or "").split())
    summary = description.split(". ")[0].rstrip(".")
    usage = " ".join(parser.format_usage().split()[2:])  # after "usage: PROG"
    lines = [
        f'.TH {name.upper()} 1 "" "dyntools {__version__}" "dyntools manual"',
        ".SH NAME",
        f"{roff(name)} \\- {roff(summary[:1].lower() + summary[1:])}",
        ".SH SYNOPSIS",
        f".B {roff(name)}",
        roff(usage),
        ".SH DESCRIPTION",
        roff(description),
    ]
    if parser.epilog:
        lines += [".PP", roff(" ".join(parser.epilog.split()))]
    positionals = [a for a in parser._actions if not a.option_strings]
    options = [a for a in parser._actions if a.option_strings]
    for title, actions in (("ARGUMENTS", positionals), ("OPTIONS", options)):
        if actions:
            lines.append(f".SH {title}")
            for action in actions:
                lines += [".TP", _option_heading(action), _option_help(action)]
    lines.append(".SH EXIT STATUS")
    for code, meaning in EXIT_STATUS:
        lines += [".TP", f"\\fB{code}\\fR", meaning]
    lines.append(".PP")
    lines.append("An error is one line on standard error: \\fItool\\fR: \\fIfile\\fR: what is wrong.")
    others = sorted(t for t in TOOLS if t != name)
    lines += [".SH SEE ALSO", ", ".join(f"\\fB{roff(t)}\\fR(1)" for t in others)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the pages, or with --check report the ones that differ."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page is out of date")
    ap.add_argument("-o", "--output-dir", default=str(MAN_DIR), help="directory of the pages (default: man/)")
    args = ap.parse_args(argv)
    out = Path(args.output_dir)
    stale = []
    for name in TOOLS:
        text = man_page(name, tool_parser(name))
        path = out / f"{name}.1"
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not args.check:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if args.check:
        for path in stale:
            print(f"genman: {path}: out of date (run python3 tools/genman.py)")
        return 1 if stale else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
