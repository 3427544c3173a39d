"""The link, pass by pass: the one sequence every output runs (like mold's ``main.cc`` or Go's ``ld.Main``).

An ``Output`` (the ELF executable writer or the dynld module writer) plugs into the
sequence through a few hooks; it never restates it. As one ``8l`` ran one sequence for
``a.out`` and ``-u`` modules, module output is a choice of hooks, not a second pipeline.
"""

from __future__ import annotations

from ..errors import DynError
from . import hosted
from .context import LinkState
from .gc import mark_live
from .inputs import InputSection, Symbol
from .layout import define_linker_symbols, layout
from .reloc import Howto
from .relocate import (
    AbsoluteHook,
    apply_relocations,
    copy_contents,
    create_got,
    fill_got,
    fill_thunks,
    scan_relocations,
)
from .resolve import apply_directives, load_inputs, supply_linker_functions
from .sections import assign_output_sections
from .undefined import report_undefined


class Output:
    """What an output format decides in the link; the defaults suit a plain executable."""

    #: Can the output hold thread-local storage?
    supports_tls = True

    def __init__(self, ctx: LinkState):
        self.ctx = ctx

    def wanted_names(self) -> tuple[str, ...]:
        """Names that must be defined, pulling archive members though nothing references them."""
        return ()

    def roots(self) -> list[tuple[Symbol, str]]:
        """(symbol, why) pairs the live sections are marked from."""
        raise NotImplementedError

    def bind_undefined(self) -> None:
        """Decide how the symbols that no object defines are bound at load time."""

    def scan_import(self, sec: InputSection, offset: int, sym: Symbol, howto: Howto) -> None:
        """Record what a reference to an import needs (PLT, GOT slot, stub, copy ...)."""

    def create_sections(self) -> None:
        """Make the output's own sections (dynamic tables, stubs, export table), sized."""

    def layout_start(self) -> tuple[int, int, int, bool]:
        """(base address, header bytes before the first section, page size, pack read-only segments)."""
        raise NotImplementedError

    def image_tail(self) -> int:
        """Bytes the file holds after the image that are written in place in it (after layout)."""
        return 0

    def fill_got(self) -> None:
        """Write the GOT."""
        fill_got(self.ctx)

    def fill_sections(self) -> None:
        """Write the output's own sections' contents into the image (before relocation)."""

    def import_value(self, sec: InputSection, offset: int, sym: Symbol, howto: Howto, P: int, A: int) -> int | None:
        """The value a relocation against an import writes (None: the output wrote it)."""
        raise DynError(f"{howto.name} against import {sym.name} cannot be bound", sec.file.name)

    def absolute_hook(self) -> AbsoluteHook | None:
        """What to tell of each absolute address relocation writes (None: nothing)."""
        return None

    def write(self) -> bytes | bytearray:
        """The output file's bytes, once the image is relocated."""
        raise NotImplementedError


def run(ctx: LinkState, out: Output) -> bytes | bytearray:
    """Run every pass of one link over ``ctx``, writing ``out``; the output file's bytes."""
    # Read objects, archives and shared libraries; pull archive members for undefined and
    # wanted symbols; add the C start files; import what the shared libraries define.
    load_inputs(ctx, out.wanted_names())
    # Bind the objects' dynimport/dynexport directives to their symbols; check the imports
    # against their libraries; export what -E, --dynamic-list and the shared inputs ask for.
    apply_directives(ctx)
    hosted.check_explicit_imports(ctx)
    hosted.export_symbols(ctx)
    # Define the arch's helper functions that are referenced and undefined.
    supply_linker_functions(ctx)
    # Mark the live sections, from the entry point, the dynexports, the module exports.
    mark_live(ctx, out.roots())
    # Bind what no object defines (a module's imports), and report what is left.
    out.bind_undefined()
    report_undefined(ctx)
    # Bin live input sections into output sections: commons, merged strings, arrays in order.
    assign_output_sections(ctx)
    if not out.supports_tls:
        _refuse_tls(ctx)
    # Find what relocations need: GOT slots, thunks, and the output's import strategy.
    scan_relocations(ctx, out.scan_import)
    # Create the linker's sections: the GOT, then the output's (dynamic tables, PLT, stubs, exports).
    create_got(ctx)
    out.create_sections()
    # Assign addresses, then give the linker-defined symbols their values.
    layout(ctx, *out.layout_start())
    define_linker_symbols(ctx)
    # Copy contents, write the linker's sections, and relocate.
    copy_contents(ctx, out.image_tail())
    out.fill_got()
    fill_thunks(ctx)
    out.fill_sections()
    apply_relocations(ctx, out.import_value, out.absolute_hook())
    # Write the file.
    return out.write()


def _refuse_tls(ctx: LinkState) -> None:
    for name in (".tdata", ".tbss"):
        out = ctx.by_name.get(name)
        if out is not None and out.inputs:
            sec = out.inputs[0]
            if sec.file is None:  # a section of the linker's (merged strings): blame what went into it
                merged = (s for o in ctx.objects for s in o.sections if s is not None and s.merged is sec)
                sec = next(merged, sec)
            file = sec.file.name if sec.file is not None else None
            raise DynError(f"thread-local storage ({sec.name}) cannot go into a dynld module", file)
