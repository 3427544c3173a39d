"""``dynlink``: the linker's command line."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Sequence

from ..arch import arch_argument
from ..errors import ArgumentParser, DynError, run_main, write_output
from .context import LinkOptions
from .libsearch import split_inputs

PROG = "dynlink"


def build_parser() -> ArgumentParser:
    """dynlink's argument parser (the inputs and positional switches are taken out first: ``split_inputs``)."""
    p = ArgumentParser(
        prog=PROG,
        description="Link ELF objects, archives and shared libraries into an ELF executable, "
        "or with -u into a dynld module.",
        epilog="Inputs, -l NAME (-l:FILE), -Bstatic/-Bdynamic/-static and --as-needed (default)/--no-as-needed "
        "may be mixed in any order; the switches affect the inputs after them.",
    )
    p.add_argument("-a", "--arch", required=True, help="target: 386, amd64, arm (or 8, 6, 5)")
    p.add_argument("-o", "--output", required=True, help="output file")
    p.add_argument("-e", "--entry", help="entry symbol (default _start)")
    p.add_argument("-L", dest="lib_dirs", action="append", default=[], metavar="DIR", help="library search dir")
    p.add_argument("--map", dest="map_file", metavar="FILE", help="write a link map")
    p.add_argument("-I", "--interp", "--dynamic-linker", dest="interp", help="dynamic loader (default: the arch's)")
    p.add_argument("--hash-style", choices=("sysv", "gnu", "both"), default="both")
    p.add_argument("-S", "--strip-debug", action="store_true", help="leave out the objects' .debug_* sections")
    p.add_argument("-u", "--module", action="store_true", help="write a dynld module")
    p.add_argument("-m", "--manifest", help="export manifest (YAML) for -u")
    p.add_argument(
        "--depfile", "-MF", dest="depfile", metavar="FILE", help="with -m: write a depfile (manifest, headers)"
    )
    p.add_argument("--host", metavar="HOST.yaml", help="with -m: fail unless this host manifest exports the imports")
    p.add_argument("-nostartfiles", dest="start_files", action="store_false", help="no C start files (crt1.o) with -lc")
    p.add_argument(
        "-E", "--export-dynamic", action="store_true", help="export every global symbol (for dlopen'ed plugins)"
    )
    p.add_argument("--dynamic-list", metavar="FILE", help="export the symbols the file lists ({ name; ... };)")
    p.add_argument("-z", dest="z", action="append", default=[], metavar="KEYWORD", help="relro, norelro, now, lazy")
    p.add_argument("-rpath", "-R", dest="rpath", action="append", default=[], metavar="DIR", help="DT_RUNPATH entry")
    p.add_argument(
        "--build-id",
        nargs="?",
        const="sha1",
        default="none",
        metavar="STYLE",
        help="write a .note.gnu.build-id: sha1 (no STYLE), md5, uuid, 0xHEX or none (default)",
    )
    p.add_argument(
        "inputs",
        nargs="*",
        help="objects (.o), archives (.a), shared libraries (.so), linker scripts; -l NAME, -l:FILE",
    )
    return p


_Z_KEYWORDS = ("relro", "norelro", "now", "lazy")


def parse_args(argv: Sequence[str]) -> LinkOptions:
    """The link's options from a command line."""
    return parse_command_line(argv)[0]


def parse_command_line(argv: Sequence[str]) -> tuple[LinkOptions, str | None]:
    """The link's options (inputs and -l in order, with their positional switches) and the ``--depfile`` path."""
    p = build_parser()
    rest, input_args = split_inputs(argv, _takes_value(p))
    a = p.parse_args(rest)
    if a.inputs:  # only what split_inputs left: a value an option did not take
        p.error(f"unexpected argument {a.inputs[0]!r}")
    if a.manifest and not a.module:
        p.error("-m needs -u")
    if a.depfile and not a.manifest:
        p.error("--depfile needs -m")
    if a.host and not a.manifest:
        p.error("--host needs -u and -m")
    if a.host:  # before linking: a mismatch fails the build with nothing written
        from ..dynld.hostcheck import check_host

        check_host(a.manifest, a.host)
    relro, now = True, False
    for kw in a.z:
        if kw not in _Z_KEYWORDS:
            p.error(f"-z {kw}: unknown keyword (known: {', '.join(_Z_KEYWORDS)})")
        if kw in ("relro", "norelro"):
            relro = kw == "relro"
        elif kw in ("now", "lazy"):
            now = kw == "now"
    if a.build_id not in ("none", "sha1", "md5", "uuid") and not _is_hex_build_id(a.build_id):
        p.error(f"--build-id={a.build_id}: expected sha1, md5, uuid, none or 0xHEX")
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
        strip_debug=a.strip_debug,
        start_files=a.start_files,
        export_dynamic=a.export_dynamic,
        dynamic_list=a.dynamic_list,
        relro=relro,
        bind_now=now,
        rpath=a.rpath,
        build_id=a.build_id,
    ), a.depfile


def _takes_value(p: ArgumentParser) -> Callable[[str], bool]:
    """Does an option of ``p`` consume the next argument?"""

    def takes_value(opt: str) -> bool:
        action = p._option_string_actions.get(opt)  # argparse has no public lookup
        return action is not None and action.nargs is None and bool(action.option_strings) and action.const is None

    return takes_value


def _is_hex_build_id(text: str) -> bool:
    digits = text[2:] if text.lower().startswith("0x") else ""
    return bool(digits) and len(digits) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in digits)


def link(opts: LinkOptions) -> bytes | bytearray:
    """Run one link and write the output (and map) files atomically; the output's bytes."""
    from . import outputs
    from .mapfile import write_map

    # A link makes hundreds of thousands of small objects and frees them all at the end:
    # the cyclic collector would only re-scan them over and over (a third of the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        data, ctx = outputs.link(opts)
        if opts.map_file:
            write_output(opts.map_file, write_map(ctx))
    finally:
        if collecting:
            gc.enable()
    write_output(opts.output, data, executable=not opts.module)
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
