"""dyncc: compile one C file to an ELF object that carries its dynimport/dynexport directives.

    dyncc -a ARCH -c file.c [-o file.o] [--cc CC] [compiler flags...]
    dyncc --pragmas [-a ARCH] file.c [compiler flags...]

Steps: preprocess with the compiler (``-E``, same flags); scan the output for
``#pragma dynimport local remote "path"`` and ``#pragma dynexport local remote``
(the preprocessor's line markers name the original file and line of each pragma,
headers included); compile the preprocessed text (dyn pragma lines blanked, other
pragmas kept, ``-Wno-unknown-pragmas``) to a temporary object; append the
directive text as a non-allocated ``SHF_EXCLUDE`` section ``.dynpragma`` (always,
even with no directives, so the linker can check the architecture line of every
object); write the object atomically.

The default compiler is ``python -m ziglang cc -target <arch.cc_target>
<arch.cc_flags> -fno-sanitize=undefined`` (zig turns UBSan with a runtime on by
default at -O0, which a freestanding program cannot link); dyncc runs the ``zig``
binary of the ``ziglang`` package directly, which is what ``python -m ziglang``
execs.  ``--cc CC`` or the
environment variable ``CC`` choose another compiler (split like a shell word list);
then dyncc adds no target or arch flags, and only checks that the object's ELF
machine and class fit the arch.

Outputs are reproducible: the current directory is mapped to ``.`` and the
temporary directory to the source's directory in debug info and ``__FILE__``
(``-ffile-prefix-map``), so the same source compiled from two directories gives
the same bytes.  Preprocessor-only flags (``-D``, ``-U``, ``-I``, ``-include``,
``-M...``) are given to the preprocessing step only; with ``-MD``/``-MMD`` the
dependency file is ``OUT.d`` with target ``OUT`` unless ``-MF``/``-MT`` say otherwise.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from toolchain import elf as elfmod
from toolchain.arch import Arch, arch_argument, get_arch
from toolchain.cc.pragmas import ScanResult, scan_preprocessed
from toolchain.directives import SECTION, Directives, format_directives
from toolchain.errors import ArgumentParser, DynError, UsageError, read_input, report, run_main, write_output

PROG = "dyncc"
PRAGMA_STAGE_ONLY = "--pragmas"  # the option that only runs the pragma stage and prints the directive text

#: flags dyncc adds after the arch's defaults when it runs zig itself
EXTRA_ZIG_FLAGS = ("-fno-sanitize=undefined",)

# compiler flags whose value is the next argument
_SEPARATE_ARG = frozenset(
    {
        "-I",
        "-D",
        "-U",
        "-include",
        "-imacros",
        "-isystem",
        "-iquote",
        "-idirafter",
        "-iprefix",
        "-iwithprefix",
        "-iwithprefixbefore",
        "-isysroot",
        "--sysroot",
        "-MF",
        "-MT",
        "-MQ",
        "-Xclang",
        "-mllvm",
        "-Xpreprocessor",
        "-Xassembler",
        "-target",
        "-x",
    }
)
# flags that only mean something to the preprocessor
_PP_ONLY_EXACT = frozenset(
    {"-nostdinc", "-undef", "-C", "-CC", "-H", "-MD", "-MMD", "-MP", "-MG", "-Xpreprocessor", "-trigraphs"}
)
_PP_ONLY_PREFIX = (
    "-D",
    "-U",
    "-I",
    "-MF",
    "-MT",
    "-MQ",
    "-include",
    "-imacros",
    "-isystem",
    "-iquote",
    "-idirafter",
    "-iprefix",
    "-iwithprefix",
    "-isysroot",
    "--sysroot",
    "-nostdinc",
    "-Wp,",
)
# flags that would make the compiler produce something other than an object (or, -P, drop the
# line markers the pragma stage needs)
_REFUSED = frozenset({"-E", "-S", "-M", "-MM", "-P", "-fsyntax-only", "-emit-llvm", "-"})


@dataclass
class Invocation:
    """A parsed dyncc command line."""

    arch: Arch
    source: str
    output: str
    flags: list[str] = field(default_factory=list)
    cc: list[str] | None = None
    pragmas_only: bool = False


def zig_command() -> list[str]:
    """How to run zig: ``python -m ziglang``, or directly the binary that would exec (saves a Python start-up)."""
    spec = importlib.util.find_spec("ziglang")
    if os.name == "posix" and spec is not None and spec.origin:
        exe = os.path.join(os.path.dirname(spec.origin), "zig")
        if os.access(exe, os.X_OK):
            return [exe]
    return [sys.executable, "-m", "ziglang"]


def default_compiler(arch: Arch) -> list[str]:
    """The zig command line dyncc uses for ``arch`` when no ``--cc``/``CC`` is given."""
    return [*zig_command(), "cc", "-target", arch.cc_target, *arch.cc_flags, *EXTRA_ZIG_FLAGS]


def host_arch() -> Arch:
    """The arch of this machine (amd64 when unknown)."""
    m = platform.machine().lower()
    name = {"x86_64": "amd64", "amd64": "amd64", "i386": "386", "i686": "386"}.get(m)
    if name is None and m.startswith("arm"):
        name = "arm"
    return get_arch(name or "amd64")


def _split_flags(flags: Sequence[str]) -> list[list[str]]:
    """Group flags with their separate values: ``["-I", "dir"]`` stays one group."""
    groups: list[list[str]] = []
    i = 0
    while i < len(flags):
        f = flags[i]
        if f in _SEPARATE_ARG:
            if i + 1 >= len(flags):
                raise UsageError(f"{f} needs a value")
            groups.append([f, flags[i + 1]])
            i += 2
        else:
            groups.append([f])
            i += 1
    return groups


def _is_pp_only(flag: str) -> bool:
    return flag in _PP_ONLY_EXACT or flag.startswith(_PP_ONLY_PREFIX)


def split_pp_flags(flags: Sequence[str]) -> tuple[list[str], list[str]]:
    """(flags for the preprocessing step, flags for compiling the preprocessed text)."""
    pp: list[str] = []
    comp: list[str] = []
    for g in _split_flags(flags):
        if g[0] in _REFUSED:
            raise UsageError(f"{g[0]} is not supported (dyncc only compiles to an object)")
        pp += g
        if not _is_pp_only(g[0]):
            comp += g
    return pp, comp


def _prefix_maps(cwd: str) -> list[str]:
    return [f"-ffile-prefix-map={cwd}=."]


def _display_dir(src: str, cwd: str) -> str:
    d = os.path.dirname(src)
    if os.path.isabs(d):
        rel = os.path.relpath(d, cwd)
        if rel == "." or not rel.startswith(".."):
            d = rel
    return d or "."


def _run(cmd: list[str], what: str, src: str, cwd: str | None = None) -> bytes:
    if os.environ.get("DYNCC_VERBOSE"):
        print(f"{PROG}: running {shlex.join(cmd)}", file=sys.stderr)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, cwd=cwd)
    except OSError as e:
        raise DynError(f"cannot run compiler {cmd[0]}: {e.strerror}", src) from None
    if p.stderr:
        sys.stderr.write(p.stderr.decode("utf-8", "replace"))
        sys.stderr.flush()
    if p.returncode != 0:
        raise DynError(f"{what} failed (compiler exit status {p.returncode})", src)
    return p.stdout


def _compiler(arch: Arch, cc: Sequence[str] | str | None) -> list[str]:
    if cc is None:
        return default_compiler(arch)
    cmd = shlex.split(cc) if isinstance(cc, str) else list(cc)
    if not cmd:
        raise UsageError("empty compiler command")
    return cmd


def _dependency_flags(pp_flags: Sequence[str], out: str | None) -> list[str]:
    """With -MD/-MMD, name the object as the target and put the .d file next to it, as cc -c -o does."""
    if out is None or not any(f in ("-MD", "-MMD") for f in pp_flags):
        return []
    extra = []
    if not any(f.startswith(("-MT", "-MQ")) for f in pp_flags):
        extra += ["-MT", out]
    if not any(f.startswith("-MF") for f in pp_flags):
        extra += ["-MF", os.path.splitext(out)[0] + ".d"]
    return extra


def preprocess_and_scan(
    arch: Arch | str, src: str, flags: Sequence[str] = (), cc: Sequence[str] | str | None = None, out: str | None = None
) -> ScanResult:
    """Run the preprocessor on ``src`` and the pragma stage on its output (errors are in the result).

    ``out``: the object being made, for the target of ``-MD``/``-MMD`` dependency files.
    """
    if isinstance(arch, str):
        arch = get_arch(arch)
    read_input(src)  # a clear error for a missing source, before the compiler's
    cmd = _compiler(arch, cc)
    pp_flags, _comp = split_pp_flags(flags)
    pp_flags += _dependency_flags(pp_flags, out)
    cwd = os.getcwd()
    out = _run([*cmd, *_prefix_maps(cwd), *pp_flags, "-E", src], "preprocessing", src)
    return scan_preprocessed(out.decode("utf-8", "surrogateescape"), arch.name, src)


def _report(res: ScanResult, src: str) -> None:
    if not res.errors:
        return
    for e in res.errors[:-1]:
        report(PROG, e)
    last = res.errors[-1]
    raise DynError(last.msg, f"{last.file}:{last.line}")


def check_object(data: bytes, arch: Arch, name: str) -> None:
    """DynError unless ``data`` is an ELF relocatable object for ``arch``."""
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
    arch: Arch | str, src: str, out: str, flags: Sequence[str] = (), cc: Sequence[str] | str | None = None
) -> Directives:
    """Compile ``src`` to the object ``out`` for ``arch``; return its directives.

    ``cc``: a compiler command (list, or a string split like a shell would) instead of zig.
    Raises DynError (compiler messages already written to stderr); ``out`` is then untouched.
    """
    if isinstance(arch, str):
        arch = get_arch(arch)
    res = preprocess_and_scan(arch, src, flags, cc, out)
    _report(res, src)
    cmd = _compiler(arch, cc)
    _pp, comp_flags = split_pp_flags(flags)
    if cc is None and not any(f.startswith("-g") for f in comp_flags):
        # zig's driver writes DWARF even without -g (and ignores a -g after -g0): ask for none
        comp_flags = ["-g0", *comp_flags]
    cwd = os.getcwd()
    base = os.path.basename(src)
    if not base.endswith(".c"):
        base += ".c"
    with tempfile.TemporaryDirectory(prefix="dyncc-") as tmp:
        tmp = os.path.realpath(tmp)
        tsrc = os.path.join(tmp, base)
        tobj = os.path.join(tmp, "out.o")
        with open(tsrc, "w", encoding="utf-8", errors="surrogateescape", newline="") as f:
            f.write(res.text)
        maps = [*_prefix_maps(cwd), f"-ffile-prefix-map={tmp}={_display_dir(src, cwd)}"]
        _run([*cmd, *maps, *comp_flags, "-Wno-unknown-pragmas", "-x", "c", "-c", tsrc, "-o", tobj], "compilation", src)
        try:
            with open(tobj, "rb") as f:
                data = f.read()
        except OSError:
            raise DynError("compiler wrote no object", src) from None
    check_object(data, arch, src)
    data = elfmod.add_section(data, SECTION, format_directives(res.directives), fname=src)
    write_output(out, data)
    return res.directives


def _default_output(src: str) -> str:
    base = os.path.basename(src)
    stem = base[:-2] if base.endswith(".c") else base
    return stem + ".o"


def parse_command_line(argv: Sequence[str]) -> Invocation:
    """Separate dyncc's own options from the compiler flags and the source file."""
    ours: list[str] = []
    flags: list[str] = []
    sources: list[str] = []
    args = list(argv)
    i = 0

    def value(opt: str) -> str:
        nonlocal i
        if i + 1 >= len(args):
            raise UsageError(f"{opt} needs a value")
        i += 1
        return args[i]

    arch_aliases = {"386", "amd64", "arm", "8", "6", "5", "i386", "x86", "x86_64", "x86-64", "armhf", "arm32"}
    while i < len(args):
        a = args[i]
        if a in ("-h", "--help", "--pragmas", "-c"):
            ours.append(a)
        elif a in ("-a", "--arch", "-o", "--cc"):
            ours += [a, value(a)]
        elif a.startswith(("--arch=", "--cc=")):
            ours.append(a)
        elif a.startswith("-a") and a[2:].lower() in arch_aliases:
            ours += ["-a", a[2:]]
        elif a.startswith("-o") and len(a) > 2:
            ours += ["-o", a[2:]]
        elif a in _SEPARATE_ARG:
            flags += [a, value(a)]
        elif a.startswith("-") and a != "-":
            flags.append(a)
        else:
            sources.append(a)
        i += 1

    p = ArgumentParser(
        prog=PROG,
        description="Compile one C file to an object carrying its dynimport/dynexport "
        "directives (section .dynpragma). Other flags go to the compiler.",
        epilog="Compiler: python -m ziglang cc -target ARCH's target, unless --cc or $CC.",
        allow_abbrev=False,
    )
    p.add_argument("-a", "--arch", help="target architecture: 386, amd64, arm (or 8, 6, 5)")
    p.add_argument("-c", action="store_true", help="compile to an object (required unless --pragmas)")
    p.add_argument("-o", dest="output", help="output object (default: source name with .o, here)")
    p.add_argument("--cc", help="compiler command to use instead of zig (also $CC)")
    p.add_argument("--pragmas", action="store_true", help="only print the directive text of the source")
    ns = p.parse_args(ours)
    if len(sources) != 1:
        raise UsageError(
            "exactly one C source file is needed" if not sources else f"one source file at a time, not {len(sources)}"
        )
    src = sources[0]
    if ns.arch is None:
        if not ns.pragmas:
            raise UsageError("-a ARCH is required")
        arch = host_arch()
    else:
        arch = arch_argument(ns.arch)
    if not ns.pragmas and not ns.c:
        raise UsageError("-c is required: dyncc only compiles (link with dynlink)")
    cc_text = ns.cc if ns.cc is not None else os.environ.get("CC") or None
    cc = shlex.split(cc_text) if cc_text else None
    if cc_text is not None and not cc:
        raise UsageError("empty --cc")
    return Invocation(arch, src, ns.output or _default_output(src), flags, cc, ns.pragmas)


def _body(argv: Sequence[str]) -> int:
    inv = parse_command_line(argv)
    if inv.pragmas_only:
        res = preprocess_and_scan(inv.arch, inv.source, inv.flags, inv.cc)
        _report(res, inv.source)
        sys.stdout.buffer.write(format_directives(res.directives))  # bytes: a library path may not be UTF-8
        return 0
    compile_c(inv.arch, inv.source, inv.output, inv.flags, inv.cc)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """dyncc's command-line entry point."""
    return run_main(PROG, _body, argv)


if __name__ == "__main__":
    sys.exit(main())
