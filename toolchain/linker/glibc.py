"""The C library a link uses when no target libc is installed: glibc built by zig, cached.

zig ships glibc's symbol and version lists per target and, asked to link a program
for ``<cpu>-linux-gnu.<version>``, builds from them stub shared libraries
(``libc.so.6``, ``libm.so.6``, the dynamic loader, ...: every symbol at its
versions, no code), glibc's start file ``crt1.o`` and ``libc_nonshared.a``, and
compiler-rt. This module has zig link one tiny program per arch, with
``ZIG_VERBOSE_LINK=1`` so that zig prints the ``ld.lld`` command naming what it
built, and copies those files into a directory of dyntools' cache that works as a
library directory (a *C library directory*):

- each shared library under its ``DT_SONAME`` (``libc.so.6``, ``ld-linux.so.2``, ...);
- ``libc.so``, ``libm.so``, ... as GNU ld scripts (``GROUP ( libc.so.6
  libc_nonshared.a AS_NEEDED ( <loader> ) )``), as a distribution's libc6-dev has them;
- empty ``libpthread.a``, ``libdl.a``, ``librt.a``, ... (glibc 2.34 moved them into libc);
- ``libgcc.a`` and ``libatomic.a`` as scripts naming compiler-rt (``-lgcc``, ``-latomic``);
- ``crt1.o``, ``libc_nonshared.a``;
- ``libcompiler_rt.a``: compiler-rt built for the arch's object target and flags
  (``Arch.cc_target``, ``-mcpu=``/``-mfloat-abi=``), and, when zig's glibc target
  names its helpers differently (arm's ``__aeabi_*``), ``libcompiler_rt_glibc.a`` too.

zig does not build ``crti.o``/``crtn.o``: glibc 2.34's ``crt1.o`` passes no
``init``/``fini`` to ``__libc_start_main``, constructors run from ``DT_INIT_ARRAY``.

The directory is keyed by zig's version, the arch, its glibc target and object
flags; it is created once, under a lock, by renaming a finished temporary directory
(safe for parallel builds and test workers). Its location is ``$DYNTOOLS_CACHE_DIR``,
else ``$XDG_CACHE_HOME/dyntools``, else ``~/.cache/dyntools``.
"""

from __future__ import annotations

import os
import sys

from ..arch import Arch
from ..errors import DynError, read_input
from ..records import NamedTuple
from .hosted import FOLDED_INTO_LIBC
from .inputs import Archive
from .shlib import read_shared_library

LAYOUT_VERSION = 3  # bump when what goes into the directory changes
#: ``-l`` names of gcc's runtime libraries, which the directory holds as scripts naming compiler-rt
COMPILER_RT_NAMES = ("gcc", "atomic")
#: The directory's table of contents: a line per field, its name then its values, space-separated
#: (file names zig chose, without spaces); read at every link, so plain text rather than JSON.
MANIFEST = "dyntools-libc.txt"
_MANIFEST_LISTS = ("compiler_rt", "shared")  # the fields that hold a list of names
_CPU_FLAG_PREFIXES = ("-mcpu=", "-march=", "-mfloat-abi=", "-mfpu=", "-marm", "-mthumb")
_ZIG_TIMEOUT = 900


class CLibrary(NamedTuple):
    """The files of one arch's C library directory."""

    directory: str
    crt1: str  # the start file (``_start``, which calls ``__libc_start_main``)
    nonshared: str  # libc_nonshared.a
    compiler_rt: tuple[str, ...]  # archives of compiler helper functions, linked statically when referenced
    shared: dict[str, str]  # soname -> path of each stub shared library
    loader_soname: str  # the dynamic loader's soname (``ld-linux-x86-64.so.2``)
    glibc_target: str


def zig_version() -> str:
    """The installed ziglang package's version; DynError when it is not installed."""
    from ..cc.hosted import ziglang_version  # here: a link without the C library does not need it

    version = ziglang_version()
    if version is None:
        raise DynError("the ziglang package is not installed (it provides the C library stubs)")
    return version


def object_cpu_flags(arch: Arch) -> list[str]:
    """The arch's compiler flags that decide the code compiler-rt must be built as."""
    return [f for f in arch.cc_flags if f.startswith(_CPU_FLAG_PREFIXES)]


def library_key(arch: Arch) -> str:
    """The C library directory's name: readable, plus a checksum of everything that decides its contents
    (CRC-32: a few names to tell apart, and no OpenSSL to load at every link)."""
    import zlib

    facts = [str(LAYOUT_VERSION), zig_version(), arch.name, arch.glibc_target, arch.cc_target, *object_cpu_flags(arch)]
    digest = f"{zlib.crc32(chr(0).join(facts).encode()):08x}"
    return f"glibc{arch.glibc_version}-{arch.name}-zig{zig_version()}-{digest}"


_LOADED: dict[str, CLibrary] = {}


def c_library(arch: Arch) -> CLibrary:
    """The C library directory for ``arch``, built with zig on first use (seconds; then cached)."""
    key = library_key(arch)
    lib = _LOADED.get(key)
    if lib is not None:
        return lib
    from ..cachedir import cache_root

    root = cache_root()
    final = os.path.join(root, key)
    if not os.path.isfile(os.path.join(final, MANIFEST)):
        import fcntl  # only to build the directory, once

        try:
            os.makedirs(root, exist_ok=True)
            with open(os.path.join(root, f".{key}.lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not os.path.isfile(os.path.join(final, MANIFEST)):
                    _build_atomically(arch, root, final)
        except OSError as e:
            raise DynError(f"cannot create the C library cache: {e.strerror}", e.filename or root) from None
    lib = _LOADED[key] = _read_manifest(final)
    return lib


def _build_atomically(arch: Arch, root: str, final: str) -> None:
    import shutil  # the build's modules are imported when a build runs, not by every link
    import tempfile

    tmp = tempfile.mkdtemp(prefix=os.path.basename(final) + ".tmp-", dir=root)
    try:
        build_c_library(arch, tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache may be shared
        if os.path.isdir(final):  # an unfinished directory from an interrupted build of an older layout
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _read_manifest(directory: str) -> CLibrary:
    path = os.path.join(directory, MANIFEST)
    try:
        m = parse_manifest(read_input(path).decode())
        return CLibrary(
            directory=directory,
            crt1=os.path.join(directory, *m["crt1"]),
            nonshared=os.path.join(directory, *m["nonshared"]),
            compiler_rt=tuple(os.path.join(directory, f) for f in m["compiler_rt"]),
            shared={soname: os.path.join(directory, soname) for soname in m["shared"]},
            loader_soname=m["loader_soname"][0],
            glibc_target=m["glibc_target"][0],
        )
    except (ValueError, KeyError):
        raise DynError("damaged C library cache manifest (delete the directory)", path) from None


def format_manifest(manifest: dict[str, str | list[str]]) -> str:
    """The text of a ``MANIFEST`` file holding ``manifest``."""
    lines = (" ".join([name, *(value if isinstance(value, list) else [value])]) for name, value in manifest.items())
    return "".join(line + "\n" for line in lines)


def parse_manifest(text: str) -> dict[str, list[str]]:
    """The fields of a ``MANIFEST`` file's text, each a list of its values.

    ValueError when a line is not ``name value...``, or a field other than the lists
    (``compiler_rt``, ``shared``) has more or fewer than one value.
    """
    manifest: dict[str, list[str]] = {}
    for line in text.splitlines():
        name, *values = line.split(" ")
        if not all(values) or (name not in _MANIFEST_LISTS and len(values) != 1):
            raise ValueError(f"bad C library manifest line: {line!r}")
        manifest[name] = values
    return manifest


def _zig() -> list[str]:
    from ..cc.driver import zig_command

    return [*zig_command(), "cc"]


def _zig_env(**extra: str) -> dict[str, str]:
    from ..cc.driver import zig_env

    return zig_env({**os.environ, **extra})


def zig_link_inputs(cc_args: list[str], scratch: str, source: str) -> list[str]:
    """Link ``source`` with ``zig cc`` and the given arguments; the input paths of zig's ``ld.lld`` command."""
    import shlex
    import subprocess

    src = os.path.join(scratch, "probe.c")
    out = os.path.join(scratch, "probe")
    with open(src, "w") as f:
        f.write(source)
    env = _zig_env(ZIG_VERBOSE_LINK="1")
    cmd = [*_zig(), *cc_args, src, "-o", out]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=_ZIG_TIMEOUT, cwd=scratch)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DynError(f"cannot run zig to build the C library: {e}") from None
    link = [line for line in res.stdout.splitlines() + res.stderr.splitlines() if line.startswith("ld.lld ")]
    if res.returncode != 0 or not link:
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise DynError(f"zig could not build the C library ({shlex.join(cmd)}): {last}")
    words = shlex.split(link[-1])
    return [w for w in words if os.path.isabs(w) and os.path.isfile(w) and w != out]


def build_c_library(arch: Arch, directory: str) -> None:
    """Fill ``directory`` (which exists) with ``arch``'s C library files and their manifest."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dyntools-libc-") as scratch:
        glibc_files = zig_link_inputs(
            ["-target", arch.glibc_target, "-O2", "-lm"],
            scratch,
            "#include <math.h>\nint main(int argc, char **argv) { return (int)sqrt(argc); }\n",
        )
        rt_files = zig_link_inputs(
            ["-target", arch.cc_target, *object_cpu_flags(arch), "-O2", "-nostdlib", "-rtlib=compiler-rt"],
            scratch,
            "void _start(void) {}\n",
        )

    def one(name: str, files: list[str]) -> str:
        found = [f for f in files if os.path.basename(f) == name]
        if not found:
            raise DynError(f"zig's link of a glibc program for {arch.name} used no {name}")
        return found[0]

    shutil.copyfile(one("crt1.o", glibc_files), os.path.join(directory, "crt1.o"))
    shutil.copyfile(one("libc_nonshared.a", glibc_files), os.path.join(directory, "libc_nonshared.a"))
    compiler_rt = ["libcompiler_rt.a"]
    shutil.copyfile(one("libcompiler_rt.a", rt_files), os.path.join(directory, "libcompiler_rt.a"))
    glibc_rt = one("libcompiler_rt.a", glibc_files)
    if _archive_names(glibc_rt) - _archive_names(os.path.join(directory, "libcompiler_rt.a")):
        shutil.copyfile(glibc_rt, os.path.join(directory, "libcompiler_rt_glibc.a"))
        compiler_rt.append("libcompiler_rt_glibc.a")

    shared: dict[str, str] = {}  # soname -> linker name stem ("c" for libc.so.6)
    loader = ""
    for path in glibc_files:
        if ".so" not in os.path.basename(path):
            continue
        lib = read_shared_library(path)
        if lib.machine != arch.machine or lib.bits != arch.bits:
            raise DynError(f"zig built {lib.soname} for another machine", path)
        shutil.copyfile(path, os.path.join(directory, lib.soname))
        stem = os.path.basename(path).split(".so")[0].removeprefix("lib")
        if lib.soname == os.path.basename(arch.interp):
            loader = lib.soname
        else:
            shared[lib.soname] = stem
    if "libc.so.6" not in shared or not loader:
        raise DynError(f"zig's link of a glibc program for {arch.name} used no libc.so.6 or no dynamic loader")
    for soname, stem in shared.items():
        if soname == "libc.so.6":
            text = f"GROUP ( libc.so.6 libc_nonshared.a AS_NEEDED ( {loader} ) )\n"
        else:
            text = f"INPUT ( {soname} )\n"
        _write(directory, f"lib{stem}.so", f"/* GNU ld script written by dyntools: glibc from zig */\n{text}")
    for stem in FOLDED_INTO_LIBC:  # ``-lpthread`` etc. must still link
        if not any(s == stem for s in shared.values()):
            _write(directory, f"lib{stem}.a", "!<arch>\n")
    # gcc's toolchains keep compiler helpers in libgcc.a and atomics in libatomic.a; compiler-rt has both
    rt_script = f"/* GNU ld script written by dyntools: compiler-rt */\nINPUT ( {' '.join(compiler_rt)} )\n"
    for stem in COMPILER_RT_NAMES:
        _write(directory, f"lib{stem}.a", rt_script)
    manifest: dict[str, str | list[str]] = {
        "glibc_target": arch.glibc_target,
        "zig": zig_version(),
        "crt1": "crt1.o",
        "nonshared": "libc_nonshared.a",
        "compiler_rt": compiler_rt,
        "shared": sorted([*shared, loader]),
        "loader_soname": loader,
    }
    _write(directory, MANIFEST, format_manifest(manifest))


def _archive_names(path: str) -> set[str]:
    return {name for name, _ in Archive(read_input(path), path).index}


def _write(directory: str, name: str, text: str) -> None:
    with open(os.path.join(directory, name), "w") as f:
        f.write(text)


def real_library(arch: Arch, soname: str) -> str | None:
    """The machine's own copy of a C library ``soname`` for ``arch`` (in ``Arch.lib_dirs``), if installed."""
    for d in arch.lib_dirs:
        path = os.path.join(d, soname)
        if os.path.isfile(path):
            try:
                lib = read_shared_library(path)
            except DynError:
                continue
            if lib.machine == arch.machine and lib.bits == arch.bits:
                return path
    return None


if __name__ == "__main__":  # python -m toolchain.linker.glibc ARCH...: build (or find) and print the directories
    from ..arch import get_arch

    for name in sys.argv[1:]:
        print(c_library(get_arch(name)).directory)
