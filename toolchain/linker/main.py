"""``dynlink``: the linker's command line."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence

from ..arch import arch_argument
from ..errors import DynError, UsageError, refuse_output_over_input, run_main, write_output
from ..records import TYPE_CHECKING, NamedTuple
from .context import LinkOptions
from .libsearch import split_inputs

if TYPE_CHECKING:
    from argparse import Namespace
    from typing import Any, NoReturn

    from ..argparsing import ArgumentParser

PROG = "dynlink"


#: GNU ld options build systems pass that ask for what dynlink always does: it drops the
#: sections nothing references, reports every undefined symbol of an executable, does not
#: check a shared library's own undefined symbols, and does no link-time optimisation.
GNU_LD_DEFAULTS = (
    "--gc-sections",
    "--no-undefined",
    "--allow-shlib-undefined",
    "--no-allow-shlib-undefined",
    "-O0",
    "-O1",
    "-O2",
    "--enable-new-dtags",
)
#: GNU ld options with nothing for dynlink to do: no .eh_frame is kept (so no header for it),
#: and the shared libraries' own DT_NEEDED are not read (so no -rpath-link to find them by)
GNU_LD_NOTHING_TO_DO = ("--eh-frame-hdr",)
#: what GNU ld writes that dynlink does not, by the options that ask for it
NOT_WRITTEN = {
    "-r": "relocatable objects (ld -r)",
    "-i": "relocatable objects (ld -r)",
    "--relocatable": "relocatable objects (ld -r)",
    "-shared": "shared libraries",
    "-Bshareable": "shared libraries",
    "-pie": "position-independent executables",
    "--pic-executable": "position-independent executables",
    "--no-dynamic-linker": "static position-independent executables",
}


class _Option(NamedTuple):
    """One of dynlink's options: how argparse declares it, and how ``_parse_simple`` reads it."""

    flags: tuple[str, ...]
    dest: str
    action: str  # store, append, store_true, store_false, or optional (a value or ``const``)
    help: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    default: str | None = None
    const: str | None = None


_OPTIONS = (
    _Option(("-a", "--arch"), "arch", "store", "target: 386, amd64, arm (or 8, 6, 5); default: this machine's"),
    _Option(("-o", "--output"), "output", "store", "output file (default a.out)", default="a.out"),
    _Option(("-e", "--entry"), "entry", "store", "entry symbol (default _start)"),
    _Option(("-L",), "lib_dirs", "append", "library search dir", "DIR"),
    _Option(("--map", "-Map"), "map_file", "store", "write a link map", "FILE"),
    _Option(("-I", "--interp", "--dynamic-linker"), "interp", "store", "dynamic loader (default: the arch's)"),
    _Option(("--hash-style",), "hash_style", "store", choices=("sysv", "gnu", "both"), default="both"),
    _Option(("-S", "--strip-debug"), "strip_debug", "store_true", "leave out the objects' .debug_* sections"),
    _Option(("-s", "--strip-all"), "strip_all", "store_true", "leave out .symtab and .strtab too"),
    _Option(("-u", "--module"), "module", "store_true", "write a dynld module"),
    _Option(("-m", "--manifest"), "manifest", "store", "export manifest (YAML) for -u"),
    _Option(("--depfile", "-MF"), "depfile", "store", "with -m: write a depfile (manifest, headers)", "FILE"),
    _Option(("--host",), "host", "store", "with -m: fail unless this host manifest exports the imports", "HOST.yaml"),
    _Option(("-nostartfiles",), "start_files", "store_false", "no C start files (crt1.o) with -lc"),
    _Option(
        ("-E", "--export-dynamic"), "export_dynamic", "store_true", "export every global symbol (for dlopen'ed plugins)"
    ),
    _Option(("--dynamic-list",), "dynamic_list", "store", "export the symbols the file lists ({ name; ... };)", "FILE"),
    _Option(
        ("-z",),
        "z",
        "append",
        "relro, norelro, now, lazy, noexecstack, execstack, defs; accepted as what dynlink does anyway: "
        "separate-code, noseparate-code, max-page-size=4096, common-page-size=4096",
        "KEYWORD",
    ),
    _Option(("-rpath", "-R"), "rpath", "append", "DT_RUNPATH entry", "DIR"),
    _Option(("--disable-new-dtags",), "old_dtags", "store_true", "-rpath as DT_RPATH (--enable-new-dtags: DT_RUNPATH)"),
    _Option(
        ("-rpath-link",), "rpath_link", "append", "accepted and ignored (libraries' DT_NEEDED are not read)", "DIR"
    ),
    _Option(
        ("--export-dynamic-symbol",),
        "export_symbols",
        "append",
        "export SYMBOL (a glob pattern too), as a --dynamic-list naming it",
        "SYMBOL",
    ),
    _Option(("--sort-common",), "sort_common", "store_true", "place common symbols by alignment, largest first"),
    _Option(("--wrap",), "wrap", "append", "calls of SYMBOL go to __wrap_SYMBOL, of __real_SYMBOL to SYMBOL", "SYMBOL"),
    _Option(
        ("--build-id",),
        "build_id",
        "optional",
        "write a .note.gnu.build-id: sha1 (no STYLE), md5, uuid, 0xHEX or none (default)",
        "STYLE",
        default="none",
        const="sha1",
    ),
    _Option(
        GNU_LD_DEFAULTS,
        "gnu_ld_defaults",
        "store_true",
        "GNU ld options that ask for what dynlink always does; accepted and ignored",
    ),
    _Option(
        GNU_LD_NOTHING_TO_DO,
        "gnu_ld_nothing_to_do",
        "store_true",
        "accepted and ignored: no .eh_frame is kept, so there is no header to write for it",
    ),
)
_BY_FLAG = {flag: o for o in _OPTIONS for flag in o.flags}
#: the options that take the next argument as their value (``split_inputs`` leaves it to them)
_TAKES_VALUE = frozenset(flag for o in _OPTIONS if o.action in ("store", "append") for flag in o.flags)


def build_parser() -> ArgumentParser:
    """dynlink's argument parser (the inputs and positional switches are taken out first: ``split_inputs``)."""
    from ..argparsing import ArgumentParser

    p = ArgumentParser(
        prog=PROG,
        description="Link ELF objects, archives and shared libraries into an ELF executable, "
        "or with -u into a dynld module.",
        epilog="Inputs, -l NAME (-l:FILE), -Bstatic/-Bdynamic/-static and --as-needed (default)/--no-as-needed "
        "may be mixed in any order; the switches affect the inputs after them. "
        "Environment: DYNTOOLS_CACHE_DIR, where the C library, shared-library symbol tables and the "
        "relocation library are cached; DYNTOOLS_NATIVE=0 or 1, never or always apply relocations in "
        "bulk with the relocation library, built in C by zig on first use (by default, links of "
        "10,000 relocation entries or more).",
    )
    p.add_argument("-v", action="version", version=p.version_text, help="show the version (as GNU ld -v)")
    for o in _OPTIONS:
        kwargs: dict[str, object] = {"dest": o.dest, "help": o.help}
        if o.action in ("store_true", "store_false"):
            kwargs["action"] = o.action
        else:
            if o.metavar:
                kwargs["metavar"] = o.metavar
            if o.action == "append":
                kwargs.update(action="append", default=[])
            elif o.action == "optional":
                kwargs.update(nargs="?", const=o.const, default=o.default)
            else:
                kwargs.update(choices=o.choices, default=o.default)
        p.add_argument(*o.flags, **kwargs)  # type: ignore[arg-type]
    p.add_argument(
        "inputs",
        nargs="*",
        help="objects (.o), archives (.a), shared libraries (.so), linker scripts; -l NAME, -l:FILE",
    )
    return p


class _Parsed:
    """The values of the options, as argparse's namespace holds them."""

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...

    def __init__(self) -> None:
        for o in _OPTIONS:
            value: object = [] if o.action == "append" else o.default
            if o.action.startswith("store_"):
                value = o.action == "store_false"
            setattr(self, o.dest, value)
        self.inputs: list[str] = []


def _parse_simple(rest: list[str]) -> _Parsed | None:
    """The options of a command line that only spells them the plain ways (``-o FILE``,
    ``-LDIR``, ``--output=FILE``, ``--build-id``), as argparse reads them; None for any other
    (abbreviations, ``--help``, a value that looks like an option, a missing or bad value):
    argparse then reads it and reports what is wrong. It spares a link argparse's import and
    set-up, a tenth of a small link's command."""
    a = _Parsed()
    i = 0
    while i < len(rest):
        arg = rest[i]
        i += 1
        o = _BY_FLAG.get(arg)
        value: str | None = None
        if o is None and "=" in arg:  # --output=FILE (-o=FILE too)
            flag, value = arg.split("=", 1)
            o = _BY_FLAG.get(flag)
            if o is not None and o.action.startswith("store_"):
                return None
        if o is None:  # -LDIR: a one-letter option and its value, unless an option begins with it all
            o = _BY_FLAG.get(arg[:2])
            if o is None or o.action not in ("store", "append") or any(f.startswith(arg) for f in _BY_FLAG):
                return None  # an abbreviation or an unknown option among them
            value = arg[2:]
        elif value is None and o.action in ("store", "append"):
            if i >= len(rest) or rest[i].startswith("-"):
                return None
            value = rest[i]
            i += 1
        if o.action.startswith("store_"):
            setattr(a, o.dest, o.action == "store_true")
        elif o.action == "optional":
            setattr(a, o.dest, o.const if value is None else value)
        elif o.choices is not None and value not in o.choices:
            return None
        elif o.action == "append":
            getattr(a, o.dest).append(value)
        else:
            setattr(a, o.dest, value)
    return a


_Z_KEYWORDS = ("relro", "norelro", "now", "lazy", "noexecstack", "execstack", "defs")
#: -z keywords that ask for what dynlink does anyway: code in its own segment, on 4096-byte pages
_Z_ALREADY = ("separate-code", "noseparate-code", "max-page-size=0x1000", "common-page-size=0x1000")


def parse_args(argv: Sequence[str]) -> LinkOptions:
    """The link's options from a command line."""
    return parse_command_line(argv)[0]


def _usage(message: str) -> NoReturn:
    raise UsageError.see_help(message)


def parse_command_line(argv: Sequence[str]) -> tuple[LinkOptions, str | None]:
    """The link's options (inputs and -l in order, with their positional switches) and the ``--depfile`` path."""
    rest, input_args = split_inputs(argv, _TAKES_VALUE.__contains__)
    for arg in rest:
        if arg in NOT_WRITTEN:
            what = NOT_WRITTEN[arg]
            raise UsageError(f"{arg} is not supported: dynlink writes executables and dynld modules, not {what}")
    a: _Parsed | Namespace | None = _parse_simple(rest)
    if a is None:
        a = build_parser().parse_args(rest)
    if a.inputs:  # only what split_inputs left: a value an option did not take
        _usage(f"unexpected argument {a.inputs[0]!r}")
    if a.manifest and not a.module:
        _usage("-m needs -u")
    if a.depfile and not a.manifest:
        _usage("--depfile needs -m")
    if a.host and not a.manifest:
        _usage("--host needs -u and -m")
    if a.host:  # before linking: a mismatch fails the build with nothing written
        from ..dynld.hostcheck import check_host

        check_host(a.manifest, a.host)
    relro, now, exec_stack = True, False, None
    for kw in a.z:
        if _page_size_keyword(kw) in _Z_ALREADY:
            continue
        if kw not in _Z_KEYWORDS:
            known = ", ".join([*_Z_KEYWORDS, *_Z_ALREADY[:2], "max-page-size=4096", "common-page-size=4096"])
            _usage(f"-z {kw}: unknown keyword, or a value dynlink does not lay out by (known: {known})")
        if kw in ("relro", "norelro"):
            relro = kw == "relro"
        elif kw in ("now", "lazy"):
            now = kw == "now"
        elif kw in ("execstack", "noexecstack"):
            exec_stack = kw == "execstack"
    # the files a link writes must not be the side files it reads (its objects: resolve_inputs)
    refuse_output_over_input([a.output, a.map_file, a.depfile], [a.manifest, a.dynamic_list, a.host])
    if a.build_id not in ("none", "sha1", "md5", "uuid") and not _is_hex_build_id(a.build_id):
        _usage(f"--build-id={a.build_id}: expected sha1, md5, uuid, none or 0xHEX")
    return LinkOptions(
        arch=arch_argument(a.arch),
        output=a.output,
        inputs=[i.name for i in input_args if not i.is_library],
        input_args=input_args,
        entry=a.entry,
        lib_dirs=a.lib_dirs,
        libs=[i.name for i in input_args if i.is_library],
        map_file=a.map_file,
        interp=a.interp,
        hash_style=a.hash_style,
        module=a.module,
        manifest=a.manifest,
        strip_debug=a.strip_debug or a.strip_all,
        strip_all=a.strip_all,
        exec_stack=exec_stack,
        start_files=a.start_files,
        export_dynamic=a.export_dynamic,
        dynamic_list=a.dynamic_list,
        relro=relro,
        bind_now=now,
        rpath=a.rpath,
        build_id=a.build_id,
        wrap=a.wrap,
        new_dtags=_last_of(rest, "--enable-new-dtags", "--disable-new-dtags") != "--disable-new-dtags",
        export_symbols=a.export_symbols,
        sort_common=a.sort_common,
    ), a.depfile


def _page_size_keyword(kw: str) -> str:
    """``max-page-size=4096`` (any spelling of the number) as ``max-page-size=0x1000``."""
    name, _, value = kw.partition("=")
    if name not in ("max-page-size", "common-page-size") or not value:
        return kw
    try:
        return f"{name}={int(value, 0):#x}"
    except ValueError:
        return kw


def _last_of(args: Sequence[str], *flags: str) -> str | None:
    """Which of ``flags`` comes last in ``args`` (the one that holds, as in GNU ld)."""
    return next((arg for arg in reversed(args) if arg in flags), None)


def _is_hex_build_id(text: str) -> bool:
    digits = text[2:] if text.lower().startswith("0x") else ""
    return bool(digits) and len(digits) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in digits)


def link(opts: LinkOptions) -> bytes | bytearray:
    """Run one link and write the output (and map) files atomically; the output's bytes."""
    from . import outputs

    # A link makes hundreds of thousands of small objects and frees them all at the end:
    # the cyclic collector would only re-scan them over and over (a third of the time),
    # writing the output included (the first allocation after it is back on would scan
    # every object the link still holds: 20 ms of a 1,000-object link).
    collecting = gc.isenabled()
    gc.disable()
    try:
        data, ctx = outputs.link(opts)
        if opts.map_file:
            from .mapfile import write_map

            write_output(opts.map_file, write_map(ctx))
        write_output(opts.output, data, executable=not opts.module)
    finally:
        if collecting:
            gc.enable()
    return data


def _body(argv: Sequence[str]) -> int:
    opts, depfile = parse_command_line(argv)
    try:
        link(opts)
        if depfile and opts.manifest:
            from ..dynld.depfile import depfile_text

            write_output(depfile, depfile_text(opts.output, [opts.manifest]))
    except DynError as e:
        if e.file is None and not str(e).startswith(tuple(opts.inputs)):
            raise DynError(str(e), opts.output) from None
        raise
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """dynlink in this process (dyncc's link mode, workers, tests): the exit status."""
    return run_main(PROG, _body, argv)


def command_main() -> None:
    """dynlink as a command: exit as soon as the files are written.

    A link leaves millions of small objects; freeing them one by one at interpreter exit
    costs as much as a third of the link on large inputs, and nothing is left to clean up.
    """
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    command_main()
