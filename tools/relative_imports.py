"""Turn the toolchain's absolute ``toolchain.`` imports into relative ones (or back, with --undo).

The toolchain is importable under two names: ``toolchain`` in a checkout (tests, ``python -m
toolchain...``) and ``dyntools.toolchain`` in the installed wheel, so its modules must not
name their own package.  Run from the repository top after merging code that adds imports:

    python3 tools/relative_imports.py            # rewrite toolchain/**/*.py in place
    python3 tools/relative_imports.py --check    # exit 1 (listing files) if any would change

Rewritten files then get ``ruff check --fix --select I`` (import order).  Handles
``from toolchain[.x] import ...`` at any indentation and
``importlib.import_module(f"toolchain.x...")``; a plain ``import toolchain.x`` is
reported (exit 1) rather than guessed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = "toolchain"
_FROM = re.compile(r"^(?P<indent>[ \t]*)from (?P<module>toolchain(?:\.[\w.]+)?) import ", re.M)
_REL_FROM = re.compile(r"^(?P<indent>[ \t]*)from (?P<dots>\.+)(?P<rest>[\w.]*) import ", re.M)
_IMPORT_MODULE = re.compile(r"import_module\((?P<q>f?[\"'])toolchain\.(?P<rest>[^\"']*)[\"']\)")
_REL_IMPORT_MODULE = re.compile(r"import_module\((?P<q>f?[\"'])\.(?P<rest>[^\"']*)[\"'], __package__\)")
_PLAIN_IMPORT = re.compile(r"^[ \t]*import toolchain\b", re.M)


def package_of(path: Path, root: Path) -> list[str]:
    """The dotted package a module file belongs to, as parts (``toolchain/cc/driver.py`` -> toolchain, cc)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return parts if path.name == "__init__.py" and parts.pop() else parts[:-1]


def relative_name(module: str, package: list[str]) -> str:
    """``module`` (absolute, dotted) as seen from inside ``package``: dots then the rest."""
    target = module.split(".")
    common = 0
    while common < min(len(target), len(package)) and target[common] == package[common]:
        common += 1
    return "." * (len(package) - common + 1) + ".".join(target[common:])


def to_relative(text: str, package: list[str]) -> str:
    """Every ``from toolchain... import`` in ``text`` made relative to ``package``."""
    text = _FROM.sub(lambda m: f"{m['indent']}from {relative_name(m['module'], package)} import ", text)
    top = ".".join(package)

    def module_call(m: re.Match[str]) -> str:
        rel = relative_name(f"{PACKAGE}.{m['rest'].split('{')[0]}", package)
        rel = rel[: len(rel) - len(m["rest"].split("{")[0])] + m["rest"]
        return f"import_module({m['q']}{rel}{m['q'][-1]}, __package__)"

    return _IMPORT_MODULE.sub(module_call, text) if top else text


def to_absolute(text: str, package: list[str]) -> str:
    """The reverse of ``to_relative``."""

    def absolute(dots: str, rest: str) -> str:
        base = package[: len(package) - len(dots) + 1]
        return ".".join([*base, rest] if rest else base)

    text = _REL_FROM.sub(lambda m: f"{m['indent']}from {absolute(m['dots'], m['rest'])} import ", text)

    def module_call(m: re.Match[str]) -> str:
        dots = len(m["rest"]) - len(m["rest"].lstrip("."))
        rest = m["rest"][dots:]
        return f"import_module({m['q']}{absolute('.' * (dots + 1), rest)}{m['q'][-1]})"

    return _REL_IMPORT_MODULE.sub(module_call, text)


def _sort_imports(paths: list[Path]) -> None:
    """Let ruff put the rewritten imports in its order (relative ones move after the others)."""
    cmd = [sys.executable, "-m", "ruff", "check", "--quiet", "--fix", "--select", "I", *map(str, paths)]
    try:
        subprocess.run(cmd, check=False)
    except OSError:
        print("relative_imports: ruff not found; run 'ruff check --fix --select I toolchain' yourself")


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or check) every module under ``toolchain/``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    ap.add_argument("--undo", action="store_true", help="make the imports absolute again")
    ap.add_argument("--root", default=".", help="repository top (default: .)")
    args = ap.parse_args(argv)
    root = Path(args.root)
    changed, plain = [], []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        package = package_of(path, root)
        new = to_absolute(text, package) if args.undo else to_relative(text, package)
        if _PLAIN_IMPORT.search(new):
            plain.append(path)
        if new != text:
            changed.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    for path in plain:
        print(f"relative_imports: {path}: 'import toolchain...' left as it is; write it as 'from ... import'")
    if changed and not args.check:
        _sort_imports(changed)
    if args.check:
        for path in changed:
            print(f"relative_imports: {path}: has absolute toolchain imports")
    return 1 if plain or (args.check and changed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
