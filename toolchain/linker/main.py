"""``dynlink``: the linker's command line."""

from __future__ import annotations

import gc
from collections.abc import Sequence

from toolchain.arch import arch_argument
from toolchain.errors import ArgumentParser, DynError, run_main, write_output
from toolchain.linker.context import LinkOptions

PROG = "dynlink"


def parse_args(argv: Sequence[str]) -> LinkOptions:
    p = ArgumentParser(
        prog=PROG, description="Link ELF objects and archives into an ELF executable, or with -u into a dynld module."
    )
    p.add_argument("-a", "--arch", required=True, help="target: 386, amd64, arm (or 8, 6, 5)")
    p.add_argument("-o", "--output", required=True, help="output file")
    p.add_argument("-e", "--entry", help="entry symbol (default _start)")
    p.add_argument("-L", dest="lib_dirs", action="append", default=[], metavar="DIR", help="archive search dir")
    p.add_argument("-l", dest="libs", action="append", default=[], metavar="NAME", help="link libNAME.a")
    p.add_argument("--map", dest="map_file", metavar="FILE", help="write a link map")
    p.add_argument("-I", "--interp", help="dynamic loader path (default: the arch's)")
    p.add_argument("--hash-style", choices=("sysv", "gnu", "both"), default="both")
    p.add_argument("-S", "--strip-debug", action="store_true", help="leave out the objects' .debug_* sections")
    p.add_argument("-u", "--module", action="store_true", help="write a dynld module")
    p.add_argument("-m", "--manifest", help="export manifest (YAML) for -u")
    p.add_argument("inputs", nargs="*", help="objects (.o) and archives (.a)")
    a = p.parse_args(list(argv))
    if a.manifest and not a.module:
        p.error("-m needs -u")
    return LinkOptions(
        arch=arch_argument(a.arch),
        output=a.output,
        inputs=a.inputs,
        entry=a.entry,
        lib_dirs=a.lib_dirs,
        libs=a.libs,
        map_file=a.map_file,
        interp=a.interp,
        hash_style=a.hash_style,
        module=a.module,
        manifest=a.manifest,
        strip_debug=a.strip_debug,
    )


def link(opts: LinkOptions) -> bytes:
    """Run one link and write the output (and map) files atomically."""
    from toolchain.linker import pipeline
    from toolchain.linker.mapfile import write_map

    # A link makes hundreds of thousands of small objects and frees them all at the end:
    # the cyclic collector would only re-scan them over and over (a third of the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        data, ctx = pipeline.link(opts)
        if opts.map_file:
            write_output(opts.map_file, write_map(ctx))
    finally:
        if collecting:
            gc.enable()
    write_output(opts.output, data, executable=not opts.module)
    return data


def _body(argv: Sequence[str]) -> int:
    opts = parse_args(argv)
    try:
        link(opts)
    except DynError as e:
        if e.file is None and not str(e).startswith(tuple(opts.inputs)):
            raise DynError(str(e), opts.output) from None
        raise
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(PROG, _body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
