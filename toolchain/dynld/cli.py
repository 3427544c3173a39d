"""Command-line tools of the dynld side: ``dynsig``, ``dynexport`` and ``dynld-config``."""

from __future__ import annotations

from collections.abc import Sequence

from ..argparsing import ArgumentParser
from ..errors import run_main


def _dynsig(argv: Sequence[str]) -> int:
    from .signatures import header_declarations

    ap = ArgumentParser(
        prog="dynsig",
        description="Print the Plan 9 C type signature (signof) of every function and object "
        "declared in the given header files, as 'NAME 0xXXXXXXXX', in declaration order.",
    )
    ap.add_argument("headers", nargs="+", metavar="FILE.h", help="header files (one translation unit, in order)")
    ap.add_argument("-I", dest="include_dirs", action="append", default=[], metavar="DIR", help="include directory")
    ap.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VALUE]", help="define a macro")
    args = ap.parse_args(argv)
    out = [f"{d.name} 0x{d.sig:08x}\n" for d in header_declarations(args.headers, args.include_dirs, args.defines)]
    print("".join(out), end="")
    return 0


def _dynexport(argv: Sequence[str]) -> int:
    from ..errors import refuse_output_over_input, write_output
    from .exporttab import generate_c
    from .manifest import load_manifest

    ap = ArgumentParser(
        prog="dynexport",
        description="Write the C source of a host's _exporttab (dynld's table of exported symbols, "
        "sorted by name) from a manifest. Compile it with -I the dynld runtime directory.",
    )
    ap.add_argument("manifest", metavar="MANIFEST", help="YAML manifest (headers, exports, imports)")
    ap.add_argument("-o", dest="output", required=True, metavar="FILE.c", help="output C file")
    ap.add_argument(
        "--depfile", "-MF", dest="depfile", metavar="FILE", help="also write a make-style depfile (manifest, headers)"
    )
    args = ap.parse_args(argv)
    refuse_output_over_input([args.output, args.depfile], [args.manifest])
    text = generate_c(load_manifest(args.manifest), args.output)
    if args.depfile:
        from .depfile import depfile_text

        write_output(args.depfile, depfile_text(args.output, [args.manifest]))
    write_output(args.output, text)
    return 0


def dynsig_main(argv: Sequence[str] | None = None) -> int:
    """``dynsig FILE.h...``: signatures of the declared functions and objects."""
    return run_main("dynsig", _dynsig, argv)


def dynexport_main(argv: Sequence[str] | None = None) -> int:
    """``dynexport MANIFEST -o exporttab.c``: a host's export table."""
    return run_main("dynexport", _dynexport, argv)


def config_main(argv=None) -> int:
    """``dynld-config --cflags | --sources`` (implemented in toolchain.dynld.config)."""
    from .config import main

    return main(argv)
