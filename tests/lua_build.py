"""Lua 5.5 (``../shared/realworld/lua-5.5.1.tar.gz``) built as a user would: every .c file with dyncc, no pragma.

Used by ``tests/test_lua.py`` and ``bench/bench_lua_link.py``. The tarball is looked for
in ``$DYNTOOLS_REALWORLD``, then ``../shared/realworld`` and ``../../shared/realworld``
from the repository (a checkout or a git worktree next to the shared directory).
"""

from __future__ import annotations

import fcntl
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor

from hosted_build import compile_hosted

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARBALL = "lua-5.5.1.tar.gz"
NOT_INTERPRETER = ("onelua.c", "ltests.c", "luac.c")  # the interpreter is lua.c plus the core and libraries
CFLAGS = ("-std=c99", "-DLUA_USE_LINUX")


def find_tarball() -> str | None:
    """The Lua tarball's path, or None when it is not here."""
    dirs = [os.environ.get("DYNTOOLS_REALWORLD", "")]
    dirs += [os.path.join(ROOT, "..", "shared", "realworld"), os.path.join(ROOT, "..", "..", "shared", "realworld")]
    for d in dirs:
        if d and os.path.isfile(os.path.join(d, TARBALL)):
            return os.path.join(d, TARBALL)
    return None


def unpack(tarball: str, root: str) -> str:
    """Unpack Lua once under ``root`` (safe for parallel workers); the source directory."""
    src = os.path.join(root, "lua")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, ".unpack.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(root, ".unpacked")):
            with tarfile.open(tarball) as tar:
                tar.extractall(root, filter="data")
            open(os.path.join(root, ".unpacked"), "w").close()
    return src


def sources(src: str) -> list[str]:
    """The interpreter's C files, sorted."""
    return sorted(os.path.join(src, f) for f in os.listdir(src) if f.endswith(".c") and f not in NOT_INTERPRETER)


def build_objects(arch: str, src: str, outdir: str, jobs: int = 2) -> list[str]:
    """Compile every interpreter file for ``arch`` with dyncc once (under a lock); the object paths."""
    os.makedirs(outdir, exist_ok=True)
    objs = [os.path.join(outdir, os.path.basename(c)[:-2] + ".o") for c in sources(src)]
    with open(os.path.join(outdir, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(outdir, ".complete")):
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                list(pool.map(lambda c, o: compile_hosted(arch, c, o, CFLAGS), sources(src), objs))
            open(os.path.join(outdir, ".complete"), "w").close()
    return objs
