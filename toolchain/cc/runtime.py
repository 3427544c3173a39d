"""Where dyntools' tiny freestanding run-time (``toolchain/cc/rt``) lives, and building it.

The rt gives a program ``_start`` (which calls ``exit(main(argc, argv))``), raw
``write``/``exit`` system calls, ``memcpy``/``memmove``/``memset``/``memcmp``/
``strlen``/``strcmp``, ``print_str``/``print_int``/``print_uint``/``print_hex``,
and the integer division helpers 32-bit targets call (``__udivdi3`` and friends
on 386 and arm, ``__udivsi3`` and friends on arm), so no compiler-rt is needed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..arch import Arch, get_arch

RT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rt")
RT_SOURCES = ("start.c", "sys.c", "string.c", "print.c", "divide.c")


def rt_include_dir() -> str:
    """The directory holding ``rt.h`` (give it to the compiler with ``-I``)."""
    return RT_DIR


def rt_sources() -> list[str]:
    """Absolute paths of the rt's C sources."""
    return [os.path.join(RT_DIR, s) for s in RT_SOURCES]


def build_rt(arch: Arch | str, outdir: str, flags: Sequence[str] = ()) -> list[str]:
    """Compile the rt for ``arch`` with dyncc (``-ffreestanding``) into ``outdir``; return the object paths."""
    from .driver import compile_c

    if isinstance(arch, str):
        arch = get_arch(arch)
    os.makedirs(outdir, exist_ok=True)
    objs = []
    for src in rt_sources():
        out = os.path.join(outdir, "rt_" + os.path.basename(src)[:-2] + ".o")
        compile_c(arch, src, out, ["-ffreestanding", "-I", RT_DIR, *flags])
        objs.append(out)
    return objs
