"""dyncc: a C compiler driver whose objects carry their dynimport/dynexport directives.

    dyncc [-a ARCH] -c file.c [-o file.o] [compiler flags...]    compile
    dyncc [-a ARCH] -E file.c [-o file.i] / -M / -MM              preprocess
    dyncc [-a ARCH] -S file.c                                     compile to assembly
    dyncc [-a ARCH] [-o prog] a.c b.o -lfoo [-Wl,...]             compile and link with dynlink
    dyncc --pragmas [-a ARCH] file.c                              print the directive text

Without ``-a`` the target is this machine's arch, as with cc.

The compiler is ``zig cc -target <arch.cc_target>`` with the arch's code-generation
defaults (``Arch.cc_flags``, then ``-fno-sanitize=undefined``: zig turns UBSan with a
runtime on at -O0), followed by the user's flags, so the user's flags win; the
position-independence and debug-level families are resolved as clang would
(``flags.merge_flags``).  Compiles are hosted: glibc's headers from the ziglang
package and ``__GLIBC_MINOR__`` of ``Arch.glibc_version`` (``toolchain.cc.hosted``);
``-ffreestanding``, ``-nostdinc`` or ``-nostdlibinc`` leave them out.  ``--cc CC`` or
``$DYNCC_CC`` choose another compiler; dyncc then adds no flags of its own except the
dependency file it reads, and checks that the object's ELF machine and class fit.
(Not ``$CC``: ``make CC=dyncc`` and ``CC=dyncc ./configure`` set it to dyncc itself. A
compiler command that runs dyncc again is refused: ``DYNCC_NESTED`` marks the compiler's
environment.)

One compiler run per source in the common case: the ORIGINAL source is compiled
(diagnostics are the compiler's own) with a dependency file; then the source and the
headers the dependency file lists (outside the ziglang package) are searched for the
bytes ``dynimport``/``dynexport``.  Only when some file holds them does the
preprocessor run (``-E``, same flags) so that ``#if`` and line markers place each
pragma exactly (``pragmas.scan_preprocessed``); then the compiler's
``unknown pragma ignored`` diagnostics for those lines are dropped from its output.
The directive text goes into a non-allocated ``SHF_EXCLUDE`` section ``.dynpragma``
of every object (empty or not: the linker checks the arch line), written atomically.

Outputs are reproducible: the current directory is mapped to ``.`` in debug
information and ``__FILE__``, the ziglang package (the C library's headers) to
``ziglang`` (``-ffile-prefix-map``).  Link mode compiles the
sources into a temporary directory and runs ``dynlink`` in-process; like gcc it
adds ``-lc`` unless ``-nostdlib``/``-nodefaultlibs``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence

from ..arch import Arch, arch_argument, default_arch, get_arch, host_arch_name
from ..errors import DynError, UsageError, refuse_output_over_input, report, run_main
from ..records import TYPE_CHECKING, NamedTuple
from .flags import (
    SEPARATE_VALUE,
    complete_dependency_flags,
    dependency_file,
    has_target,
    merge_flags,
    parse_dependency_file,
    split_dependency_flags,
    wants_c_library_headers,
)

if TYPE_CHECKING:
    import argparse

    from ..directives import Directives
    from .pragmas import ScanResult

PROG = "dyncc"
PRAGMA_STAGE_ONLY = "--pragmas"  # the option that only runs the pragma stage and prints the directive text

#: flags dyncc adds after the arch's defaults when it runs zig itself
EXTRA_ZIG_FLAGS = ("-fno-sanitize=undefined",)

#: the sources dyncc compiles (anything else on a link line goes to the linker as it is)
SOURCE_SUFFIXES = (".c", ".i", ".s", ".S")

_ARCH_NAMES = frozenset({"386", "amd64", "arm", "8", "6", "5", "i386", "x86", "x86_64", "x86-64", "armhf", "arm32"})
_MODES = {"-c": "compile", "-S": "assemble", "-E": "preprocess", "-M": "preprocess", "-MM": "preprocess"}
# driver flags that only concern a link
_LINK_FLAGS = frozenset({"-nostdlib", "-nodefaultlibs", "-nostartfiles", "-static", "-rdynamic", "-no-pie", "-s"})
_UNSUPPORTED_LINK = {
    "-shared": "shared libraries",
    "-pie": "position-independent executables",
    "-static-pie": "position-independent executables",
}
_ERROR_RE = re.compile(r": (?:\x1b\[[0-9;]*m)*(fatal )?error: ")
_COLOUR_RE = re.compile(r"\x1b\[[0-9;]*m")


class Invocation(NamedTuple):
    """A parsed dyncc command line."""

    arch: Arch
    mode: str  # compile, assemble, preprocess, link, pragmas
    inputs: list[tuple[str, str | None]]  # (path, -x language in force or None)
    output: str | None
    flags: list[str]  # compiler flags, in order
    link_args: list[str]  # -L/-l/-Wl,... for dynlink, in order, with each input's place marked (_INPUT_MARK)
    link_flags: list[str]  # -nostdlib, -static, ...
    cc: list[str] | None

    @property
    def source(self) -> str:
        """The first input (for the one-source modes)."""
        return self.inputs[0][0]


# --------------------------------------------------------------- the compiler command


def zig_command() -> list[str]:
    """How to run zig: ``python -m ziglang``, or directly the binary that would exec (saves a Python start-up)."""
    from .hosted import ziglang_dir

    base = ziglang_dir()
    if os.name == "posix" and base is not None:
        exe = os.path.join(base, "zig")
        if os.access(exe, os.X_OK):
            return [exe]
    return [sys.executable, "-m", "ziglang"]


def zig_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` for running zig: with ``ZIG_GLOBAL_CACHE_DIR`` set where zig would find no cache
    directory (no ``$HOME`` or ``$XDG_CACHE_HOME``, as under ``env -i``): the one it uses with
    ``$HOME``, found from the password database as cc needs no ``$HOME`` either."""
    if env.get("ZIG_GLOBAL_CACHE_DIR") or env.get("XDG_CACHE_HOME") or env.get("HOME"):
        return env
    home = os.path.expanduser("~")
    if home.startswith("~"):  # no entry for this user
        import tempfile

        cache = os.path.join(tempfile.gettempdir(), f"zig-cache-{os.getuid()}")
    else:
        cache = os.path.join(home, ".cache", "zig")
    return {**env, "ZIG_GLOBAL_CACHE_DIR": cache}


def default_compiler(arch: Arch) -> list[str]:
    """zig with the arch's target and code-generation defaults (no C library headers: see ``compiler_command``)."""
    return [*zig_command(), "cc", "-target", arch.cc_target, *arch.cc_flags, *EXTRA_ZIG_FLAGS]


def hosted_flags(arch: Arch) -> tuple[list[str], list[str]]:
    """(macros before the user's flags, include directories after them) of a hosted compile for ``arch``."""
    from .hosted import glibc_include_flags, glibc_version_flags

    return glibc_version_flags(arch), glibc_include_flags(arch)


def compiler_command(arch: Arch, flags: Sequence[str] = (), cc: Sequence[str] | str | None = None) -> list[str]:
    """The compiler and every flag for ``arch`` and the user's ``flags`` (no inputs, no outputs)."""
    if cc is not None:
        cmd = shlex.split(cc) if isinstance(cc, str) else list(cc)
        if not cmd:
            raise UsageError("empty compiler command")
        return [*cmd, *flags]
    defaults = [*arch.cc_flags, *EXTRA_ZIG_FLAGS]
    includes: list[str] = []
    if wants_c_library_headers(flags):
        macros, includes = hosted_flags(arch)
        defaults += macros
    target = [] if has_target(flags) else ["-target", arch.cc_target]
    return [*zig_command(), "cc", *target, *merge_flags(defaults, flags), *includes]


def host_arch() -> Arch:
    """The arch of this machine (amd64 when it is none of ours): what queries such as
    ``--version`` describe without ``-a``."""
    return get_arch(host_arch_name() or "amd64")


def _prefix_maps(cwd: str) -> list[str]:
    """The current directory as ``.``, and the ziglang package (its headers) as ``ziglang``:
    objects do not depend on where either is. The last matching map applies (the package
    may be inside the current directory)."""
    from .hosted import ziglang_dir

    package = ziglang_dir()
    return [f"-ffile-prefix-map={cwd}=.", *([f"-ffile-prefix-map={package}=ziglang"] if package else [])]


def _verbose(cmd: Sequence[str]) -> None:
    if os.environ.get("DYNCC_VERBOSE"):
        print(f"{PROG}: running {shlex.join(cmd)}", file=sys.stderr)


def compiler_time_limit() -> float:
    """Seconds one compiler run may take (``$DYNCC_TIMEOUT``, default 900): a source that
    includes a FIFO or a device would otherwise wait for ever."""
    try:
        return max(1.0, float(os.environ.get("DYNCC_TIMEOUT", "900")))
    except ValueError:
        return 900.0


#: set in the environment of the compilers dyncc runs: a dyncc started with it is one that
#: its own compiler command ran (``--cc dyncc``), which would run itself without end
NESTED = "DYNCC_NESTED"


def _compiler_env() -> dict[str, str]:
    return zig_env({**os.environ, NESTED: "1"})


def _run_captured(cmd: list[str], src: str) -> subprocess.CompletedProcess[bytes]:
    _verbose(cmd)
    limit = compiler_time_limit()
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=_compiler_env(),
        )
    except OSError as e:
        raise DynError(f"cannot run compiler {cmd[0]}: {e.strerror}", src) from None
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise DynError(
            f"the compiler did not finish in {limit:g} s (does the source include a FIFO or a device?)", src
        ) from None
    except BaseException:  # interrupted: its own session kept Ctrl-C from the compiler, so stop it here
        _kill_group(proc)
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill a compiler started in its own session, and what it started, and wait for it."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.communicate()


def _run_through(cmd: list[str], what: str) -> int:
    """Run with our stdin, stdout and stderr (preprocessing to standard output, -M, ...)."""
    _verbose(cmd)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        return subprocess.run(cmd, env=_compiler_env()).returncode
    except OSError as e:
        raise DynError(f"cannot run compiler {cmd[0]}: {e.strerror}", what) from None


def _emit(stderr: bytes | str) -> None:
    if stderr:
        sys.stderr.write(stderr if isinstance(stderr, str) else stderr.decode("utf-8", "replace"))
        sys.stderr.flush()


# --------------------------------------------------------------- the pragma stage


def preprocess_and_scan(
    arch: Arch | str, src: str, flags: Sequence[str] = (), cc: Sequence[str] | str | None = None, out: str | None = None
) -> ScanResult:
    """Run the preprocessor on ``src`` and the pragma stage on its output (errors are in the result)."""
    from ..errors import read_input
    from .pragmas import scan_preprocessed

    del out  # dependency files come from the compiling step
    if isinstance(arch, str):
        arch = get_arch(arch)
    read_input(src)  # a clear error for a missing source, before the compiler's
    rest, _deps = split_dependency_flags(flags)
    cmd = [*compiler_command(arch, rest, cc), *_prefix_maps(os.getcwd()), "-E", src]
    p = _run_captured(cmd, src)
    _emit(p.stderr)
    if p.returncode != 0:
        raise DynError(f"preprocessing failed (compiler exit status {p.returncode})", src)
    return scan_preprocessed(p.stdout.decode("utf-8", "surrogateescape"), arch.name, src)


def _report(res: ScanResult) -> None:
    if not res.errors:
        return
    for e in res.errors[:-1]:
        report(PROG, e)
    last = res.errors[-1]
    raise DynError(last.msg, f"{last.file}:{last.line}")


def _files_to_search(src: str, dep_file: str | None) -> list[str]:
    """The source and the headers its dependency file lists, without the ziglang package's own."""
    from .hosted import ziglang_dir

    files = [src]
    if dep_file is not None:
        try:
            with open(dep_file, encoding="utf-8", errors="surrogateescape") as f:
                files += parse_dependency_file(f.read())
        except OSError:
            pass
    zig = ziglang_dir()
    skip = os.path.join(zig, "") if zig else None
    return [f for f in dict.fromkeys(files) if not (skip and os.path.abspath(f).startswith(skip))]


def mentions_dyn_pragmas(paths: Sequence[str]) -> bool:
    """Whether any of the files holds the bytes ``dynimport`` or ``dynexport`` (devices such as
    ``/dev/null`` are not read)."""
    for path in paths:
        try:
            with open(path, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    continue
                data = f.read()
        except OSError:
            continue
        if b"dynimport" in data or b"dynexport" in data:
            return True
    return False


def without_pragma_warnings(stderr: str, locations: set[tuple[str, int]]) -> str:
    """The compiler's diagnostics without its ``unknown pragma ignored`` ones at dyn pragma lines
    (``locations``), with clang's closing count ("N warnings generated.") adjusted."""
    import re

    header = re.compile(r"(.+?):(\d+):\d+: (warning|error|fatal error|note|remark): (.*)")
    count = re.compile(r"\d+ (warning|error)s?( and \d+ errors?)? generated\.")
    items: list[dict] = []
    context: list[str] = []
    lines = stderr.split("\n")
    for line in lines[:-1] if lines[-1] == "" else lines:
        plain = _COLOUR_RE.sub("", line)  # -fdiagnostics-color
        m = header.fullmatch(plain)
        if plain.startswith("In file included from ") or (context and plain.startswith("                 from ")):
            context.append(line)
        elif m:
            loc = (m.group(1), int(m.group(2)))
            items.append({"sev": m.group(3), "loc": loc, "msg": m.group(4), "context": context, "lines": [line]})
            context = []
        elif count.fullmatch(plain):
            items.append({"sev": "count", "context": context, "lines": [line]})
            context = []
        elif items and not context:
            items[-1]["lines"].append(line)
        else:
            items.append({"sev": "text", "context": context, "lines": [line]})
            context = []
    removed = {"warning": 0, "error": 0}
    out: list[str] = []
    dropped: dict | None = None
    for item in items:
        sev = item["sev"]
        ours = sev in ("warning", "error") and item["loc"] in locations
        if ours and item["msg"].startswith("unknown pragma ignored"):
            removed[sev] += 1
            dropped = item
            continue
        if sev == "note" and dropped is not None:
            continue
        if sev in ("warning", "error", "fatal error", "remark") and dropped is not None:
            # the include stack is printed once per header: keep it for the next diagnostic there
            if not item["context"] and dropped["context"] and item["loc"][0] == dropped["loc"][0]:
                item["context"] = dropped["context"]
        if sev != "note":
            dropped = None
        if sev == "count":
            item["lines"] = [ln for ln in [_recount(item["lines"][0], removed)] if ln]
        out += item["context"] + item["lines"]
    return "".join(ln + "\n" for ln in out + context)


def _recount(line: str, removed: dict[str, int]) -> str:
    """clang's "N warnings and M errors generated." less the removed diagnostics ("" for none left)."""
    line = _COLOUR_RE.sub("", line)
    w = re.search(r"(\d+) warnings?", line)
    e = re.search(r"(\d+) errors?", line)
    nw = (int(w.group(1)) if w else 0) - removed["warning"]
    ne = (int(e.group(1)) if e else 0) - removed["error"]
    parts = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in ((nw, "warning"), (ne, "error")) if n > 0]
    return f"{' and '.join(parts)} generated." if parts else ""


# --------------------------------------------------------------- objects


def check_object(data: bytes, arch: Arch, name: str) -> None:
    """DynError unless ``data`` is an ELF relocatable object for ``arch``."""
    from .. import elf as elfmod

    f = elfmod.ElfFile(data, name)
    if f.type != elfmod.ET_REL:
        raise DynError("compiler did not produce a relocatable object", name)
    if f.machine != arch.machine or f.bits != arch.bits:
        raise DynError(
            f"compiler produced an object for ELF machine {f.machine} ({f.bits}-bit), "
            f"not for {arch.name} (machine {arch.machine}, {arch.bits}-bit)",
            name,
        )


def compile_c(
    arch: Arch | str,
    src: str,
    out: str,
    flags: Sequence[str] = (),
    cc: Sequence[str] | str | None = None,
    language: str | None = None,
    *,
    source_maps: Sequence[str] = (),
) -> Directives:
    """Compile ``src`` to the object ``out`` for ``arch``; return its directives.

    ``cc``: a compiler command (list, or a string split like a shell would) instead of zig.
    ``language``: a ``-x`` language for the source; ``src`` ``-`` is standard input.
    ``source_maps``: ``-ffile-prefix-map`` flags that take precedence over dyncc's own.
    Raises DynError (compiler messages already written to stderr); ``out`` is then untouched.
    """
    if isinstance(arch, str):
        arch = get_arch(arch)
    if src == STDIN:
        with _standard_input_copy(language) as (copy, maps):
            try:
                return compile_c(arch, copy, out, flags, cc, language, source_maps=maps)
            except DynError as e:
                raise DynError(e.msg, STDIN_NAME if e.file == copy else e.file) from None
    _check_source(src)  # a clear error for a missing source, before the compiler's
    out_dir = os.path.dirname(out) or "."
    if not os.path.isdir(out_dir):
        raise DynError("cannot create output: No such file or directory", out)
    rest, user_deps = split_dependency_flags(flags)
    base = [*compiler_command(arch, rest, cc), *_prefix_maps(os.getcwd()), *source_maps]  # the last map wins
    lang = ["-x", language] if language else []
    # the compiler's object and dependency file go beside the output (no directory to make),
    # or, for a device such as -o /dev/null, into the temporary directory
    if os.path.exists(out) and not os.path.isfile(out) and not os.path.isdir(out):
        import tempfile

        out_dir = tempfile.gettempdir()
    scratch = os.path.join(out_dir, f".{os.path.basename(out)}.dyncc{os.getpid()}")
    tobj = scratch + ".o"
    dep_flags = complete_dependency_flags(user_deps, out)
    dep_file = dependency_file(dep_flags, out)
    if dep_file is None:
        dep_file = scratch + ".d"
        dep_flags = ["-MD", "-MF", dep_file]
    try:
        res, data = _compile_and_scan(
            arch, src, base, lang, [*base, *dep_flags, *lang, "-c", src, "-o", tobj], dep_file
        )
    finally:
        for path in (tobj, scratch + ".d"):
            try:
                os.unlink(path)
            except OSError:
                pass
    from .. import elf as elfmod
    from ..directives import SECTION, Directives, format_directives
    from ..errors import write_output

    check_object(data, arch, src)
    directives = res.directives if res is not None else Directives(arch.name)
    data = elfmod.add_section(data, SECTION, format_directives(directives), fname=src)
    write_output(out, data)
    return directives


#: marks an input's place among dyncc's linker arguments (no argument holds a NUL)
_INPUT_MARK = "\0"
#: the source name that reads standard input (as with cc), and what it is called in messages,
#: debug information and ``__FILE__`` (as gcc calls it)
STDIN, STDIN_NAME = "-", "<stdin>"
#: languages whose sources take a ``#line`` directive
_LINE_LANGUAGES = frozenset({"c", "c-header", "cpp-output", "assembler-with-cpp"})


@contextlib.contextmanager
def _standard_input_copy(language: str | None) -> Iterator[tuple[str, list[str]]]:
    """Standard input copied to ``<stdin>`` in a scratch directory for the compiler (dyncc reads
    its sources more than once), removed afterwards: the copy, and the flags that call it
    ``<stdin>`` in debug information, ``__FILE__`` and (for C) the compiler's messages, as gcc does."""
    if language is None:
        raise UsageError("-: standard input needs -x LANGUAGE (as with cc: -x c)")
    import tempfile

    data = sys.stdin.buffer.read()
    if language in _LINE_LANGUAGES:
        data = f'#line 1 "{STDIN_NAME}"\n'.encode() + data
    with tempfile.TemporaryDirectory(prefix="dyncc-") as spool:
        copy = os.path.join(spool, STDIN_NAME)
        with open(copy, "wb") as f:
            f.write(data)
        yield copy, [f"-ffile-prefix-map={os.path.join(spool, '')}="]


def _check_source(src: str) -> None:
    """A source must be a file that can be read; a character device (``-x c /dev/null``, as
    configure-style checks compile) is read by the compiler alone."""
    from ..errors import read_input

    try:
        st = os.stat(src)
    except OSError:
        st = None
    if st is None or not stat.S_ISCHR(st.st_mode):
        read_input(src)


def _compile_and_scan(
    arch: Arch, src: str, base: list[str], lang: list[str], compile_cmd: list[str], dep_file: str
) -> tuple[ScanResult | None, bytes]:
    """Run the compile; preprocess and scan only when a file it read mentions dyn pragmas.

    Returns (the pragma stage's result or None, the object's bytes); compiler messages are
    written to stderr, without its unknown-pragma warnings for dyn pragma lines."""
    p = _run_captured(compile_cmd, src)
    stderr = p.stderr.decode("utf-8", "replace")
    if p.returncode == 0:
        search = mentions_dyn_pragmas(_files_to_search(src, dep_file))
    else:
        # a failed compile leaves no dependency file; a dyn pragma can only be the cause
        # when -Werror made the compiler's unknown-pragma warning fatal
        search = "unknown pragma ignored" in stderr
    res = _scan(arch, base, lang, src) if search else None
    if search and res is None:
        _emit(stderr)
        what = "compilation" if p.returncode else "preprocessing"
        raise DynError(f"{what} failed (compiler exit status {p.returncode or 1})", src)
    if res is not None:
        stderr = without_pragma_warnings(stderr, res.locations)
        if p.returncode != 0 and not _ERROR_RE.search(stderr):
            # the only errors were dyn pragmas made fatal: compile again without that warning
            p = _run_captured([*compile_cmd, "-Wno-unknown-pragmas"], src)
            stderr = without_pragma_warnings(p.stderr.decode("utf-8", "replace"), res.locations)
    _emit(stderr)
    if res is not None:
        _report(res)
    if p.returncode != 0:
        raise DynError(f"compilation failed (compiler exit status {p.returncode})", src)
    try:
        with open(compile_cmd[-1], "rb") as f:
            return res, f.read()
    except OSError:
        raise DynError("compiler wrote no object", src) from None


def _scan(arch: Arch, base: list[str], lang: list[str], src: str) -> ScanResult | None:
    """The pragma stage on ``src`` preprocessed with the compile's flags (None if that fails:
    the compile's own messages say why)."""
    from .pragmas import scan_preprocessed

    p = _run_captured([*base, *lang, "-E", src], src)
    if p.returncode != 0:
        return None
    return scan_preprocessed(p.stdout.decode("utf-8", "surrogateescape"), arch.name, src)


# --------------------------------------------------------------- the command line


def build_parser() -> argparse.ArgumentParser:
    """dyncc's options, for ``--help`` and man pages (dyncc parses its command line like gcc, by hand)."""
    from ..argparsing import ArgumentParser

    p = ArgumentParser(
        prog=PROG,
        usage="%(prog)s [-a ARCH] [-c|-S|-E|-M|-MM] [options] inputs...",
        description="A C compiler driver (zig cc underneath) whose objects carry their "
        "#pragma dynimport/dynexport directives (section .dynpragma); without -c, -S or -E "
        "it compiles and links with dynlink. Compiles are hosted (glibc's headers from the "
        "ziglang package) unless -ffreestanding or -nostdinc. Other flags go to the compiler; "
        "the user's flags override the arch's defaults.",
        epilog="Compiler: zig cc -target ARCH's target, unless --cc or $DYNCC_CC. "
        "Link mode passes -L, -l, -Wl,/-Xlinker, -nostdlib, -nodefaultlibs, -nostartfiles, -static, "
        "-s (--strip-all) and -rdynamic (--export-dynamic) to dynlink, and adds -lc unless "
        "-nostdlib/-nodefaultlibs.",
        allow_abbrev=False,
    )
    p.add_argument("-a", "--arch", help="target architecture: 386, amd64, arm (or 8, 6, 5); default: this machine's")
    p.add_argument("-c", action="store_true", help="compile each source to an object")
    p.add_argument("-S", action="store_true", help="compile to assembly (no directives)")
    p.add_argument("-E", action="store_true", help="preprocess only (to standard output or -o)")
    p.add_argument("-M", action="store_true", help="print make dependencies (-MM: without system headers)")
    p.add_argument("-o", dest="output", help="output file (default: SOURCE.o with -c, a.out when linking)")
    p.add_argument("--cc", help="compiler command to use instead of zig (also $DYNCC_CC)")
    p.add_argument(PRAGMA_STAGE_ONLY, action="store_true", help="only print the directive text of the source")
    p.add_argument("-l", metavar="LIB", action="append", help="link with libLIB (dynlink -l)")
    p.add_argument("-L", metavar="DIR", action="append", help="library search directory (dynlink -L)")
    p.add_argument("-Wl,", dest="wl", metavar="ARG,...", help="arguments for dynlink")
    p.add_argument("-nostdlib", action="store_true", help="no -lc and no start files")
    p.add_argument("-rdynamic", action="store_true", help="export the program's symbols (--export-dynamic)")
    p.add_argument("-dumpmachine", action="store_true", help="print the target triple")
    p.add_argument("-dumpversion", action="store_true", help="print the compiler version")
    p.add_argument("inputs", nargs="*", help="C sources (.c .i .s .S), objects, archives")
    return p


def _version_banner(arch: Arch) -> str:
    """``--version``: clang's banner (build systems recognise the compiler by it) and ours."""
    from .. import __version__

    zig = _zig_clang_version()
    return (
        f"clang version {zig} (dyncc, dyntools {__version__})\n"
        f"Target: {_triple(arch)}\n"
        "Thread model: posix\n"
        f"dyncc (dyntools) {__version__}: zig cc with the dynimport/dynexport pragma stage\n"
    )


def _zig_clang_version() -> str:
    p = subprocess.run(
        [*zig_command(), "cc", "--version"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=zig_env(dict(os.environ)),
    )
    first = p.stdout.split("\n", 1)[0]
    words = first.split()
    return words[2] if len(words) > 2 and words[:2] == ["clang", "version"] else "0.0.0"


def _triple(arch: Arch) -> str:
    """The target triple as gcc's ``-dumpmachine`` spells it."""
    return arch.gnu_machine


def _linker_banner() -> str:
    from .. import __version__

    return f"dynlink (dyntools) {__version__}, options compatible with GNU ld\n"


def parse_command_line(argv: Sequence[str]) -> tuple[Invocation | None, str | None]:
    """Parse dyncc's command line: (invocation, None), or (None, text to print) for queries."""
    args = list(argv)
    flags: list[str] = []
    inputs: list[tuple[str, str | None]] = []
    link_args: list[str] = []
    link_flags: list[str] = []
    arch_name: str | None = None
    output: str | None = None
    cc_text: str | None = None
    modes: list[str] = []
    query: str | None = None
    language: str | None = None
    i = 0

    def value(opt: str) -> str:
        nonlocal i
        if i + 1 >= len(args):
            raise UsageError(f"{opt} needs a value")
        i += 1
        return args[i]

    while i < len(args):
        a = args[i]
        if a in ("-h", "--help"):
            query = "--help"
        elif a in _QUERIES or a.startswith(("-print-file-name=", "-print-prog-name=")):
            query = query or a
        elif a == PRAGMA_STAGE_ONLY:
            modes.append("pragmas")
        elif a in _MODES:
            modes.append(_MODES[a])
            if a != "-c":
                flags.append(a)
        elif a in ("-a", "--arch"):
            arch_name = value(a)
        elif a.startswith("--arch="):
            arch_name = a[len("--arch=") :]
        elif a.startswith("-a") and a[2:].lower() in _ARCH_NAMES:
            arch_name = a[2:]
        elif a == "--cc":
            cc_text = value(a)
        elif a.startswith("--cc="):
            cc_text = a[len("--cc=") :]
        elif a == "-o":
            output = value(a)
        elif a.startswith("-o"):
            output = a[2:]
        elif a in ("-l", "-L"):
            link_args += [a, value(a)]
        elif a.startswith(("-l", "-L")):
            link_args += [a[:2], a[2:]]
        elif a.startswith("-Wl,"):
            link_args += [w for w in a[4:].split(",") if w]
        elif a == "-Xlinker":
            link_args.append(value(a))
        elif a in _LINK_FLAGS:
            link_flags.append(a)
        elif a in _UNSUPPORTED_LINK:
            raise UsageError(f"{a} is not supported (dynlink makes no {_UNSUPPORTED_LINK[a]})")
        elif a == "-flto" or a.startswith("-flto="):
            raise UsageError(f"{a} is not supported (it makes LLVM bitcode, and dynlink links ELF objects)")
        elif a == "-x":
            language = value(a)
            language = None if language == "none" else language
        elif a.startswith("-x") and len(a) > 2:
            language = None if a[2:] == "none" else a[2:]
        elif a == "-pthread":
            flags.append(a)
        elif a in SEPARATE_VALUE:
            flags += [a, value(a)]
        elif a.startswith("-") and a != "-":
            flags.append(a)
        else:
            link_args.append(f"{_INPUT_MARK}{len(inputs)}")  # where it stands among -l and -Wl, arguments
            inputs.append((a, language))
        i += 1

    if query == "--help":
        return None, build_parser().format_help()
    arch = arch_argument(arch_name) if arch_name is not None else None
    if query is not None:
        return None, _answer(query, arch or host_arch(), link_args)
    if not inputs and "-v" in flags:  # cc -v alone: the version, on standard error as gcc and clang print it
        return None, ToStandardError(_version_banner(arch or host_arch()))
    if "--version" in link_args and not (set(modes) - {"link"}):
        return None, _linker_banner()  # gcc -Wl,--version: the linker's banner, nothing else done
    if len(set(modes)) > 1 and not set(modes) <= {"preprocess", "compile"}:
        raise UsageError(f"conflicting modes: {', '.join(sorted(set(modes)))}")
    mode = "pragmas" if "pragmas" in modes else "preprocess" if "preprocess" in modes else (modes or ["link"])[0]
    if arch is None:
        arch = host_arch() if mode == "pragmas" else default_arch()
    if not inputs and not (mode == "link" and "-l" in link_args):  # as gcc: -lfoo alone is a link's input
        raise UsageError("no input files")
    if mode in ("compile", "assemble") and output is not None and len(inputs) > 1:
        opt = "-c" if mode == "compile" else "-S"
        raise UsageError(f"-o with {opt} and {len(inputs)} inputs: name one output each")
    if mode == "pragmas" and len(inputs) != 1:
        raise UsageError("--pragmas takes one source file")
    if cc_text is None:
        cc_text = os.environ.get("DYNCC_CC") or None
    cc = shlex.split(cc_text) if cc_text is not None else None
    if cc_text is not None and not cc:
        raise UsageError("empty --cc")
    return Invocation(arch, mode, inputs, output, flags, link_args, link_flags, cc), None


class ToStandardError(str):
    """Text ``parse_command_line`` gives for standard error rather than standard output."""


#: what dyncc answers without compiling, as gcc does (and the -print-file-name=/-print-prog-name= forms)
_QUERIES = frozenset(
    {
        "--version",
        "-dumpmachine",
        "-dumpversion",
        "-print-search-dirs",
        "-print-libgcc-file-name",
        "-print-multi-os-directory",
        "-print-multi-directory",
        "-print-multiarch",
    }
)


def _answer(query: str, arch: Arch, link_args: Sequence[str]) -> str:
    del link_args
    if query == "--version":
        return _version_banner(arch)
    if query in ("-dumpmachine", "-print-multiarch"):
        return _triple(arch) + "\n"
    if query == "-dumpversion":
        return _zig_clang_version() + "\n"
    if query == "-print-search-dirs":
        return f"install: /\nprograms: =\nlibraries: ={':'.join(arch.lib_dirs)}\n"
    if query == "-print-libgcc-file-name":  # compiler-rt, which the C library directory holds as libgcc.a
        from ..linker.glibc import c_library

        return os.path.join(c_library(arch).directory, "libgcc.a") + "\n"
    if query == "-print-multi-os-directory":
        return "../lib\n"
    if query == "-print-multi-directory":
        return ".\n"
    if query.startswith("-print-prog-name="):  # the program gcc would run: dynlink for ld, else the name
        name = query.split("=", 1)[1]
        return ("dynlink" if name == "ld" else name) + "\n"
    name = query.split("=", 1)[1]  # -print-file-name=NAME: the path, or NAME itself when not found (as gcc)
    for d in arch.lib_dirs:
        if name and os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name) + "\n"
    return name + "\n"


def _object_name(src: str, suffix: str) -> str:
    base = os.path.basename(src)
    stem, ext = os.path.splitext(base)
    return (stem if ext else base) + suffix


def _is_source(path: str, language: str | None) -> bool:
    return language is not None or path.endswith(SOURCE_SUFFIXES)


def _preprocess(inv: Invocation) -> int:
    cmd = compiler_command(inv.arch, inv.flags, inv.cc)
    if not any(f in ("-E", "-M", "-MM") for f in inv.flags):
        cmd.append("-E")
    for path, lang in inv.inputs:
        cmd += ["-x", lang, path] if lang else [path]
    if inv.output is not None:
        cmd += ["-o", inv.output]
    rc = _run_through(cmd, inv.source)
    if rc != 0:
        raise DynError(f"preprocessing failed (compiler exit status {rc})", inv.source)
    return 0


def _assemble(inv: Invocation) -> int:
    cmd = compiler_command(inv.arch, inv.flags, inv.cc)
    for path, lang in inv.inputs:
        out = inv.output or _object_name(path, ".s")
        if path != STDIN:
            _assemble_one(cmd, path, lang, out, path)
            continue
        with _standard_input_copy(lang) as (copy, maps):
            _assemble_one([*cmd, *maps], copy, lang, out, STDIN_NAME)
    return 0


def _assemble_one(cmd: list[str], path: str, lang: str | None, out: str, name: str) -> None:
    p = _run_captured([*cmd, *(["-x", lang] if lang else []), "-S", path, "-o", out], name)
    _emit(p.stderr)
    if p.returncode != 0:
        raise DynError(f"compilation failed (compiler exit status {p.returncode})", name)


def _compile(inv: Invocation) -> int:
    for path, lang in inv.inputs:
        out = inv.output or _object_name(path, ".o")
        compile_c(inv.arch, path, out, inv.flags, inv.cc, lang)
    return 0


def _dynlink_options() -> frozenset[str]:
    """The option strings dynlink accepts (it grows options in parallel work: start files, exports)."""
    import contextlib
    import io

    from ..linker import main as dynlink_main

    build = getattr(dynlink_main, "build_parser", None)
    buf = io.StringIO()
    if build is not None:
        text = build().format_help()
    else:
        with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit, DynError):
            dynlink_main.parse_args(["--help"])
        text = buf.getvalue()
    return frozenset(re.findall(r"(?<![\w-])--?[A-Za-z][\w-]*", text))


def link_command(inv: Invocation, objects: Sequence[str]) -> list[str]:
    """dynlink's arguments for a dyncc link of ``objects`` (inputs in order, sources compiled)."""
    known = _dynlink_options()
    opts: list[str] = ["-a", inv.arch.name, "-o", inv.output or "a.out"]
    flags = set(inv.link_flags)
    for f, linker_opt in (("-static", "-static"), ("-rdynamic", "--export-dynamic"), ("-s", "--strip-all")):
        if f in flags:
            if linker_opt not in known:
                raise UsageError(f"{f} is not supported by this dynlink ({linker_opt})")
            opts.append(linker_opt)
    if flags & {"-nostdlib", "-nostartfiles"} and "-nostartfiles" in known:
        opts.append("-nostartfiles")
    # the inputs, -l, -L and -Wl, arguments in the order given, as gcc passes them: positional
    # switches (-Bstatic, --as-needed, --whole-archive) apply to what follows them
    ordered: list[str] = []
    for a in inv.link_args:
        if a.startswith(_INPUT_MARK):
            ordered.append(objects[int(a[len(_INPUT_MARK) :])])
        elif a in ("-E", "--export-dynamic", "-export-dynamic"):
            if "--export-dynamic" not in known:
                raise UsageError(f"-Wl,{a} is not supported by this dynlink (--export-dynamic)")
            ordered.append("--export-dynamic")
        else:  # dynlink takes GNU ld's options that ask for what it always does (main.GNU_LD_DEFAULTS)
            ordered.append(a)
    if not flags & {"-nostdlib", "-nodefaultlibs"}:
        ordered += ["-l", "c"]
    return [*opts, *ordered]


def _link(inv: Invocation) -> int:
    import tempfile

    from ..linker import main as dynlink_main

    with tempfile.TemporaryDirectory(prefix="dyncc-") as tmp:
        objects = []
        for n, (path, lang) in enumerate(inv.inputs):
            if _is_source(path, lang):
                obj = os.path.join(tmp, f"{n}-{_object_name(path, '.o')}")
                compile_c(inv.arch, path, obj, inv.flags, inv.cc, lang)
                objects.append(obj)
            else:
                objects.append(path)
        cmd = link_command(inv, objects)
        _verbose(["dynlink", *cmd])
        sys.stdout.flush()
        sys.stderr.flush()
        return dynlink_main.main(cmd)


def _body(argv: Sequence[str]) -> int:
    if os.environ.get(NESTED):
        raise DynError("the compiler command runs dyncc again (does --cc or $DYNCC_CC name dyncc?)")
    inv, text = parse_command_line(argv)
    if inv is None:
        (sys.stderr if isinstance(text, ToStandardError) else sys.stdout).write(text or "")
        return 0
    refuse_output_over_input([inv.output], [path for path, _lang in inv.inputs])  # as gcc: -o x.c x.c
    if inv.mode == "pragmas":
        from ..directives import format_directives

        res = preprocess_and_scan(inv.arch, inv.source, inv.flags, inv.cc)
        _report(res)
        sys.stdout.flush()
        sys.stdout.buffer.write(format_directives(res.directives))  # bytes: a library path may not be UTF-8
        return 0
    if inv.mode == "preprocess":
        return _preprocess(inv)
    if inv.mode == "assemble":
        return _assemble(inv)
    if inv.mode == "compile":
        return _compile(inv)
    return _link(inv)


def main(argv: Sequence[str] | None = None) -> int:
    """dyncc's command-line entry point."""
    return run_main(PROG, _body, argv)


if __name__ == "__main__":
    sys.exit(main())
