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
import importlib.util
import os

from ..arch import Arch, get_arch

#: zig's name for the header family of a glibc target's CPU, where it is not the CPU itself
_HEADER_FAMILY = {"x86_64": "x86", "i386": "x86", "i686": "x86"}


@functools.lru_cache(maxsize=1)
def ziglang_dir() -> str | None:
    """The directory of the installed ``ziglang`` package (holding ``zig`` and ``lib/``), or None."""
    spec = importlib.util.find_spec("ziglang")
    if spec is None or not spec.origin:
        return None
    return os.path.dirname(spec.origin)


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
