"""Find the ``toolchain`` package the SCons tool drives, and fingerprint it.

The tools run as separate processes (``$PYTHON -m toolchain.cc.driver`` ...), so the
SCons tool needs the directory to put on their ``PYTHONPATH``; it works both from a
source checkout (``site_scons/dyntools`` next to ``toolchain/``) and from an install
(``dyntools`` and ``toolchain`` side by side in site-packages).

A fingerprint is a short hash of the sources of one part of the toolchain (plus the
ziglang version); it goes into the build signature of every action of that part, so
changing the toolchain rebuilds what it made and nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import sys

#: The parts of the toolchain each kind of action depends on, as directories under
#: ``toolchain/`` ("" is the top-level modules: arch, errors, elf, directives ...).
PARTS: dict[str, tuple[str, ...]] = {
    "cc": ("", "cc"),
    "link": ("", "linker", "dynld"),
    "export": ("", "dynld"),
    "dynld": ("", "dynld"),
}

_SOURCE_SUFFIXES = (".py", ".c", ".h", ".S", ".s")


class ToolchainNotFound(Exception):
    """The ``toolchain`` package is neither next to this one nor importable."""


@functools.cache
def toolchain_root() -> str:
    """The directory holding the ``toolchain`` package (what goes on PYTHONPATH)."""
    here = os.path.dirname(os.path.abspath(__file__))  # .../dyntools
    parent = os.path.dirname(here)  # site-packages, or the checkout's site_scons
    for root in (parent, os.path.dirname(parent)):  # installed side by side; source checkout
        if os.path.isfile(os.path.join(root, "toolchain", "__init__.py")):
            return root
    spec = importlib.util.find_spec("toolchain")
    if spec is None or not spec.origin:
        raise ToolchainNotFound("cannot find the 'toolchain' package (pip install dyntools, or use a checkout)")
    return os.path.dirname(os.path.dirname(spec.origin))


def ensure_importable() -> None:
    """Put the toolchain's root first on ``sys.path`` (scanners import its modules)."""
    root = toolchain_root()
    if root not in sys.path:
        sys.path.insert(0, root)


def ziglang_version() -> str:
    """The installed ziglang distribution's version, or "none"."""
    try:
        return importlib.metadata.version("ziglang")
    except importlib.metadata.PackageNotFoundError:
        return "none"


@functools.cache
def _dir_digest(subdir: str) -> str:
    """Hash of every source file directly in (``""``) or below ``toolchain/<subdir>``."""
    base = os.path.join(toolchain_root(), "toolchain", subdir)
    h = hashlib.sha256()
    files: list[str] = []
    if subdir:
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            files += [os.path.join(dirpath, f) for f in filenames if f.endswith(_SOURCE_SUFFIXES)]
    elif os.path.isdir(base):
        files = [os.path.join(base, f) for f in os.listdir(base) if f.endswith(_SOURCE_SUFFIXES)]
    for path in sorted(files):
        rel = os.path.relpath(path, base).replace(os.sep, "/")
        with open(path, "rb") as f:
            data = f.read()
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


@functools.cache
def fingerprint(part: str) -> str:
    """``<toolchain version>+<hash of the part's sources>+zig<version>`` for one part."""
    h = hashlib.sha256()
    for sub in PARTS[part]:
        h.update(f"{sub}={_dir_digest(sub)}\n".encode())
    version = "unknown"
    init = os.path.join(toolchain_root(), "toolchain", "__init__.py")
    with open(init, encoding="utf-8") as f:
        for line in f:
            if line.startswith("__version__"):
                version = line.split("=", 1)[1].strip().strip("\"'")
                break
    return f"{version}+{h.hexdigest()[:16]}+zig{ziglang_version()}"
