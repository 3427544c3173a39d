"""Building ordinary C programs for the tests: dyncc (hosted: glibc's headers), dynlink -lc, zig cc as reference."""

from __future__ import annotations

import os
import subprocess
import sys

from toolchain.arch import get_arch
from toolchain.cc.driver import compile_c, zig_command

HOSTED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hostedprogs")


def compile_hosted(arch: str, src: str, out: str, flags: list[str] | tuple[str, ...] = ()) -> str:
    """dyncc ``src`` to ``out`` (-O2), as a user would: no flag but the program's own."""
    compile_c(arch, src, out, ["-O2", *flags])
    return out


def dynlink(arch: str, out: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """dynlink as a separate process (text output), with ``env`` added to the environment."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root, **(env or {}))
    cmd = [sys.executable, "-m", "toolchain.linker.main", "-a", arch, "-o", out, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def zig_reference(arch: str, srcs: list[str], out: str, flags: list[str] | tuple[str, ...] = ()) -> str:
    """The same sources built and linked by zig cc against glibc (the reference build)."""
    cmd = [*zig_command(), "cc", "-target", get_arch(arch).glibc_target, "-O2", *flags, *srcs, "-o", out]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    return out
