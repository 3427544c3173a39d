"""Building ordinary C programs for the tests: dyncc with glibc's headers, dynlink with -lc, and zig cc as reference.

``hosted_cc(arch)`` is the compiler command dyncc is given: the arch's zig target and
flags without ``-ffreestanding``, and the glibc headers zig ships (as the SCons tool's
``_glibc_flags`` passes them).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

from toolchain.arch import get_arch
from toolchain.cc.driver import compile_c, zig_command

HOSTED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hostedprogs")


def glibc_include_flags(arch: str) -> list[str]:
    """``-isystem`` flags for the glibc headers of ``arch`` that the ziglang package ships."""
    spec = importlib.util.find_spec("ziglang")
    assert spec is not None and spec.origin
    inc = os.path.join(os.path.dirname(spec.origin), "lib", "libc", "include")
    cpu = "arm" if get_arch(arch).name == "arm" else "x86"
    flags: list[str] = []
    for d in (f"{cpu}-linux-gnu", "generic-glibc", f"{cpu}-linux-any", "any-linux-any"):
        flags += ["-isystem", os.path.join(inc, d)]
    return flags


def hosted_cc(arch: str) -> list[str]:
    """The compiler command for hosted C (glibc headers, no -ffreestanding) for ``arch``."""
    a = get_arch(arch)
    flags = [f for f in a.cc_flags if f != "-ffreestanding"]
    return [*zig_command(), "cc", "-target", a.cc_target, *flags, *glibc_include_flags(arch)]


def compile_hosted(arch: str, src: str, out: str, flags: list[str] | tuple[str, ...] = ()) -> str:
    """dyncc ``src`` to ``out`` as a hosted C file."""
    compile_c(arch, src, out, ["-O2", *flags], cc=hosted_cc(arch))
    return out


def dynlink(arch: str, out: str, args: list[str]) -> subprocess.CompletedProcess:
    """dynlink as a separate process (text output)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    cmd = [sys.executable, "-m", "toolchain.linker.main", "-a", arch, "-o", out, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def zig_reference(arch: str, srcs: list[str], out: str, flags: list[str] | tuple[str, ...] = ()) -> str:
    """The same sources built and linked by zig cc against glibc (the reference build)."""
    cmd = [*zig_command(), "cc", "-target", get_arch(arch).glibc_target, "-O2", *flags, *srcs, "-o", out]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    return out
