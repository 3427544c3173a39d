"""Pass: assign addresses to output sections and segments; define the linker's symbols.

``layout`` reads ``outputs`` and ``relro_sections`` and writes each output and input
section's address, ``base``, ``segments``, ``end_addr``, ``tls`` and ``relro_range``;
``define_linker_symbols`` gives ``__bss_start``, ``_end``, ``__init_array_start`` and the
rest their values.
"""

from __future__ import annotations

from .. import elf
from ..errors import DynError
from .context import LinkState, OutputSection
from .inputs import InputSection

# Output sections in address order, grouped by segment permissions.
SEGMENT_ORDER: list[tuple[int, tuple[str, ...]]] = [
    (
        elf.PF_R,
        (
            ".interp",
            ".note.gnu.build-id",
            ".hash",
            ".gnu.hash",
            ".dynsym",
            ".dynstr",
            ".gnu.version",
            ".gnu.version_r",
            ".rela.dyn",
            ".rel.dyn",
            ".rela.plt",
            ".rel.plt",
            ".rodata",
        ),
    ),
    (elf.PF_R | elf.PF_X, (".plt", ".text", ".stubs")),
    (
        elf.PF_R | elf.PF_W,
        (
            ".tdata",
            ".tbss",
            ".preinit_array",
            ".init_array",
            ".fini_array",
            ".data",
            ".dynamic",
            ".got",
            ".got.plt",
            ".exporttab",
            ".dynbss",
            ".bss",
        ),
    ),
]

_ORDER = {n: (i, j) for i, (_f, names) in enumerate(SEGMENT_ORDER) for j, n in enumerate(names)}


def align_up(value: int, align: int) -> int:
    """``value`` rounded up to a multiple of ``align`` (a positive integer)."""
    return (value + align - 1) // align * align


def layout(ctx: LinkState, base: int, header_size: int, page: int, pack_segments: bool = False) -> None:
    """Assign addresses from ``base + header_size``: segments in SEGMENT_ORDER, each on a new page.

    With ``pack_segments`` (dynld modules) the read-only segments are packed together
    as text, and the writable one starts on the next page.
    """
    unknown = [o.name for o in ctx.outputs if o.name not in _ORDER]
    if unknown:
        raise DynError(f"internal: no place for output sections {unknown}")
    order = dict(_ORDER)
    relro = ctx.relro_sections
    for j, name in enumerate(relro):  # first in their segment, in the order given
        order[name] = (order[name][0], j - len(relro))
    ctx.outputs.sort(key=lambda o: order[o.name])
    ctx.outputs = [o for o in ctx.outputs if o.inputs]
    for i, o in enumerate(ctx.outputs, start=1):
        o.index = i
    ctx.base = base
    addr = base + header_size
    ctx.segments = []
    for segno, (flags, _names) in enumerate(SEGMENT_ORDER):
        outs = [o for o in ctx.outputs if _ORDER[o.name][0] == segno]
        if not outs:
            continue
        if ctx.segments and (not pack_segments or flags & elf.PF_W):
            addr = align_up(addr, page)
        for out in outs:
            off = 0
            for sec in out.inputs:
                off = align_up(off, sec.align)
                sec.offset = off
                off += sec.size
                out.align = max(out.align, sec.align)
            addr = align_up(addr, out.align)
            out.addr = addr
            out.size = off
            for sec in out.inputs:
                sec.addr = addr + sec.offset
                sec.out = out
            if out.name != ".tbss":  # the TLS template's bss occupies no memory of its own
                addr += off
            at = outs.index(out)
            if out.name in relro and (at + 1 == len(outs) or outs[at + 1].name not in relro):
                addr = align_up(addr, page)  # ld.so protects whole pages: the rest starts on the next
                ctx.relro_range = (outs[0].addr, addr)
        ctx.segments.append((flags, outs))
    ctx.end_addr = addr
    tls = [ctx.by_name[n] for n in (".tdata", ".tbss") if n in ctx.by_name and ctx.by_name[n].inputs]
    if tls:
        start = tls[0].addr
        ctx.tls = (start, tls[-1].addr + tls[-1].size - start, max(o.align for o in tls))
    if addr >= 1 << ctx.arch.bits:
        raise DynError(f"output does not fit the {ctx.arch.bits}-bit address space (ends at {addr:#x})")
    if ctx.tls is not None and ctx.tls[0] + ctx.tls[1] >= 1 << ctx.arch.bits:
        end = ctx.tls[0] + ctx.tls[1]
        raise DynError(f"thread-local storage does not fit the {ctx.arch.bits}-bit address space (ends at {end:#x})")


def define_linker_symbols(ctx: LinkState) -> None:
    """Give values to ``__bss_start``, ``_end``, ``__init_array_start`` ... when they are referenced
    (absolute in an executable, relative to a section in a dynld module, which is relocated), and
    ``__start_X``/``__stop_X`` (in the first and last section named X)."""
    data_end = ctx.data_end()

    def bounds(name: str) -> tuple[int, int]:
        o = ctx.by_name.get(name)
        if o is None or not o.inputs:
            return data_end, data_end
        return o.addr, o.addr + o.size

    bss: OutputSection | None = ctx.by_name.get(".bss")
    text = ctx.by_name.get(".text")
    values = {
        "__executable_start": ctx.base,
        "_etext": text.addr + text.size if text else ctx.base,
        "__bss_start": bss.addr if bss and bss.inputs else data_end,
        "_end": ctx.end_addr,
        "__dso_handle": ctx.base,  # names the executable to __cxa_atexit (crtbegin.o defines it elsewhere)
    }
    values["etext"] = values["_etext"]
    values["end"] = values["_end"]
    values["_edata"] = values["edata"] = values["__bss_start"]
    for arr in ("init_array", "fini_array", "preinit_array"):
        lo, hi = bounds("." + arr)
        values[f"__{arr}_start"], values[f"__{arr}_end"] = lo, hi
    for x in ctx.encapsulated:  # assign_output_sections put the sections named X together
        group = sorted((sec for out in ctx.outputs for sec in out.inputs if sec.name == x), key=lambda sec: sec.addr)
        for name, sec, offset in ((f"__start_{x}", group[0], 0), (f"__stop_{x}", group[-1], group[-1].size)):
            g = ctx.globals.get(name)
            if g is not None and not g.defined:  # in a section, not absolute: a dynld module relocates it
                g.section, g.value, g.shndx, g.bind, g.type = sec, offset, sec.index, elf.STB_GLOBAL, elf.STT_NOTYPE
    if ".got" in ctx.synthetic:
        values["_GLOBAL_OFFSET_TABLE_"] = ctx.got_base()
    dyn = ctx.synthetic.get(".dynamic")
    if dyn is not None:
        values["_DYNAMIC"] = dyn.addr
    # A dynld module is loaded at any address: its symbols are image addresses, relative to a
    # section, so each reference gets a relocation (an executable's are absolute, as in GNU ld).
    anchor = _image_anchor(ctx) if ctx.opts.module else None
    for name, v in values.items():
        g = ctx.globals.get(name)
        if g is not None and not g.defined:
            g.shndx, g.value, g.section, g.bind = elf.SHN_ABS, v, None, elf.STB_GLOBAL
            g.type = elf.STT_NOTYPE
            if anchor is not None:
                g.section, g.value, g.shndx = anchor, v - anchor.addr, anchor.index


def _image_anchor(ctx: LinkState) -> InputSection | None:
    """A live input section of the image that is not merged, for image addresses relative to it."""
    return next((sec for out in ctx.outputs for sec in out.inputs if sec.merged is None), None)
