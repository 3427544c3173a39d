"""Find the toolchain the SCons tool drives and its commands, and fingerprint it.

The toolchain is the subpackage ``dyntools.toolchain``: ``dyntools/toolchain/`` in an
install, ``toolchain/`` at the top of a checkout.  Its tools run as separate processes
under their console-script names (``dyncc``, ``dynlink`` ...), found through the
``PATH`` the tool gives them: the installed scripts when this is an installed package
whose scripts sit beside the interpreter, otherwise small scripts written once into a
cache directory that run this very package with this interpreter (a checkout, or an
install whose scripts are elsewhere).

A fingerprint is a short hash of the sources of one part of the toolchain (plus the
ziglang version); it goes into the build signature of every action of that part, so
changing the toolchain rebuilds what it made and nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import sysconfig
import tempfile

#: The parts of the toolchain each kind of action depends on, as directories under the
#: toolchain package ("" is the top-level modules: arch, errors, elf, directives ...).
PARTS: dict[str, tuple[str, ...]] = {
    "cc": ("", "cc"),
    "link": ("", "linker", "dynld"),
    "export": ("", "dynld"),
    "dynld": ("", "dynld"),
}

#: Console scripts of the package: name -> (module under dyntools.toolchain, function).
SCRIPTS: dict[str, tuple[str, str]] = {
    "dyncc": ("cc.driver", "main"),
    "dynlink": ("linker.main", "main"),
    "dyninfo": ("info", "main"),
    "dynsig": ("dynld.cli", "dynsig_main"),
    "dynexport": ("dynld.cli", "dynexport_main"),
    "dynld-config": ("dynld.config", "main"),
}

_SOURCE_SUFFIXES = (".py", ".c", ".h", ".S", ".s")

#: The ``dyntools`` package directory (this file's).
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class ToolchainNotFound(Exception):
    """The ``dyntools.toolchain`` package cannot be imported."""


@functools.cache
def toolchain_dir() -> str:
    """The directory of the ``dyntools.toolchain`` package."""
    try:
        from . import toolchain  # noqa: PLC0415
    except ImportError as e:
        raise ToolchainNotFound(f"cannot import dyntools.toolchain: {e}") from None
    return os.path.dirname(os.path.abspath(toolchain.__file__ or ""))


def ziglang_version() -> str:
    """The installed ziglang distribution's version, or "none"."""
    from .toolchain.cc.hosted import ziglang_version as installed  # noqa: PLC0415

    return installed() or "none"


def _installed_scripts_dir() -> str | None:
    """Where pip put this package's console scripts, when this package is an install."""
    if not os.path.isdir(os.path.join(PACKAGE_DIR, "toolchain")):
        return None  # a checkout (or an editable install of one)
    for d in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        if d and all(os.access(os.path.join(d, name), os.X_OK) for name in SCRIPTS):
            return d
    return None


def _shim_text(module: str, function: str) -> str:
    site = os.path.dirname(PACKAGE_DIR)
    return (
        f"#!{sys.executable}\n"
        f"# dyntools console script for {site} (written by the SCons tool)\n"
        "import sys\n"
        f"sys.path.insert(0, {site!r})\n"
        f"from dyntools.toolchain.{module} import {function}\n"
        f"sys.exit({function}())\n"
    )


def _write_shims(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    for name, (module, function) in SCRIPTS.items():
        path = os.path.join(directory, name)
        text = _shim_text(module, function)
        try:
            with open(path, encoding="utf-8") as f:
                if f.read() == text:
                    continue
        except OSError:
            pass
        fd, tmp = tempfile.mkstemp(prefix=".shim-", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)


@functools.cache
def scripts_dir() -> str:
    """A directory holding ``dyncc``, ``dynlink`` ... that run this package (goes first on PATH)."""
    installed = _installed_scripts_dir()
    if installed:
        return installed
    key = hashlib.sha256(f"{sys.executable}\0{PACKAGE_DIR}".encode()).hexdigest()[:16]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    for base in (os.path.join(cache, "dyntools"), os.path.join(tempfile.gettempdir(), f"dyntools-{os.getuid()}")):
        directory = os.path.join(base, f"bin-{key}")
        try:
            _write_shims(directory)
        except OSError:
            continue
        return directory
    raise ToolchainNotFound("cannot write the dyntools command scripts into a cache directory")


@functools.cache
def _dir_digest(subdir: str) -> str:
    """Hash of every source file directly in (``""``) or below ``<toolchain>/<subdir>``."""
    base = os.path.join(toolchain_dir(), subdir)
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
    from . import toolchain  # noqa: PLC0415

    h = hashlib.sha256()
    for sub in PARTS[part]:
        h.update(f"{sub}={_dir_digest(sub)}\n".encode())
    return f"{toolchain.__version__}+{h.hexdigest()[:16]}+zig{ziglang_version()}"
