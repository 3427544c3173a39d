"""The C library a hosted compile sees: glibc's headers as the ``ziglang`` package ships them.

zig carries glibc's headers for every target it supports, so a hosted compile needs no
target libc on the machine.  For a ``<cpu>-linux-gnu`` target zig's own driver adds,
after its compiler headers (``lib/include``)::

    -isystem lib/libc/include/<cpu>-linux-gnu
    -isystem lib/libc/include/generic-glibc
    -isystem lib/libc/include/<cpu>-linux-any
    -isystem lib/libc/include/any-linux-any
    -D__GLIBC_MINOR__=<minor>

(``<cpu>`` is zig's header family: ``x86`` for both 386 and amd64).  dyncc compiles
for the arch's ``cc_target`` (``…-linux-none``: a ``-gnu`` target insists on PIC) and
adds these flags itself, so its hosted objects see the same headers and predefined
macros as ``zig cc -target <arch.glibc_target>`` (only ``__PIC__`` differs).  glibc's
``features.h`` defines ``__GLIBC__``; zig's copy takes ``__GLIBC_MINOR__`` from the
command line.
"""

from __future__ import annotations

import functools
import os
from importlib.machinery import PathFinder

from ..arch import Arch, get_arch

#: zig's name for the header family of a glibc target's CPU, where it is not the CPU itself
_HEADER_FAMILY = {"x86_64": "x86", "i386": "x86", "i686": "x86"}


@functools.lru_cache(maxsize=1)
def ziglang_dir() -> str | None:
    """The directory of the installed ``ziglang`` package (holding ``zig`` and ``lib/``), or None."""
    spec = PathFinder.find_spec("ziglang")  # sys.path, without importlib.util's 1 ms import
    if spec is None:
        from importlib.util import find_spec  # another kind of install (a custom finder)

        spec = find_spec("ziglang")
    if spec is None or not spec.origin:
        return None
    return os.path.dirname(spec.origin)


@functools.lru_cache(maxsize=1)
def ziglang_version() -> str | None:
    """The installed ziglang distribution's version, or None when it is not installed.

    Read from the ``ziglang-*.dist-info/METADATA`` beside the package when there is one
    (importing ``importlib.metadata`` costs a link or a null build 15 to 30 ms).
    """
    package = ziglang_dir()
    if package is None:
        return None
    site = os.path.dirname(package)
    try:
        names = sorted(n for n in os.listdir(site) if n.startswith("ziglang-") and n.endswith(".dist-info"))
    except OSError:
        names = []
    if len(names) == 1:
        version = _metadata_version(os.path.join(site, names[0], "METADATA"))
        if version:
            return version
    from importlib import metadata  # an unusual install: ask the metadata machinery

    try:
        return metadata.version("ziglang")
    except metadata.PackageNotFoundError:
        return None


def _metadata_version(path: str) -> str | None:
    """The ``Version:`` header of a distribution's METADATA file, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
                if not line.strip():
                    break  # the headers end at the first blank line
    except (OSError, UnicodeError):
        pass
    return None


def glibc_include_dirs(arch: Arch | str) -> list[str]:
    """glibc's header directories for ``arch`` inside the ziglang package, in search order.

    Empty when ziglang is not installed.
    """
    if isinstance(arch, str):
        arch = get_arch(arch)
    base = ziglang_dir()
    if base is None:
        return []
    cpu = arch.gnu_triple.split("-", 1)[0]
    family = _HEADER_FAMILY.get(cpu, cpu)
    inc = os.path.join(base, "lib", "libc", "include")
    names = (f"{family}-linux-gnu", "generic-glibc", f"{family}-linux-any", "any-linux-any")
    return [os.path.join(inc, d) for d in names]


def glibc_include_flags(arch: Arch | str) -> list[str]:
    """``-isystem`` flags for glibc's headers for ``arch`` (what the SCons tool's ``$_DYNGLIBCFLAGS`` needs)."""
    flags: list[str] = []
    for d in glibc_include_dirs(arch):
        flags += ["-isystem", d]
    return flags


def glibc_version_flags(arch: Arch | str) -> list[str]:
    """The predefined macro zig's glibc headers expect: ``-D__GLIBC_MINOR__=<minor of arch.glibc_version>``."""
    if isinstance(arch, str):
        arch = get_arch(arch)
    minor = arch.glibc_version.split(".")[1]
    return [f"-D__GLIBC_MINOR__={minor}"]
