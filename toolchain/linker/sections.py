"""Pass: bin live input sections into output sections; the linker's own sections.

``assign_output_sections`` reads the live input sections and the common symbols, and
writes ``outputs``, ``by_name``, ``discarded`` and the synthetic COMMON and merged
sections; ``add_synthetic_section`` is how every pass adds a section of the linker's.
"""

from __future__ import annotations

from .. import elf
from .context import LinkState, OutputSection, SyntheticSection
from .inputs import InputSection

ARRAY_SECTIONS = (".init_array", ".fini_array", ".preinit_array")


def output_section_name(sec: InputSection) -> str:
    """Which output section an allocated input section belongs to."""
    n = sec.name
    if sec.flags & elf.SHF_TLS:  # by its flag, whatever its name says
        return ".tbss" if sec.type == elf.SHT_NOBITS else ".tdata"
    for prefix in (".text", ".rodata", ".data", ".bss", *ARRAY_SECTIONS):
        if n == prefix or n.startswith(prefix + "."):
            return prefix
    if n.startswith((".tdata", ".tbss")) or sec.flags & elf.SHF_TLS:
        return ".tbss" if sec.type == elf.SHT_NOBITS else ".tdata"
    if sec.type == elf.SHT_INIT_ARRAY:
        return ".init_array"
    if sec.type == elf.SHT_FINI_ARRAY:
        return ".fini_array"
    if sec.type == elf.SHT_PREINIT_ARRAY:
        return ".preinit_array"
    if sec.flags & elf.SHF_EXECINSTR:
        return ".text"
    if sec.flags & elf.SHF_WRITE:
        return ".bss" if sec.type == elf.SHT_NOBITS else ".data"
    return ".rodata"


def add_synthetic_section(
    ctx: LinkState, name: str, type_: int, flags: int, align: int, entsize: int = 0, output: str | None = None
) -> SyntheticSection:
    """Make a section of the linker's and put it into output section ``output`` (default: its name)."""
    sec = SyntheticSection(name, type_, flags, align, entsize)
    ctx.synthetic[name] = sec
    if name != "COMMON":
        output_section(ctx, output or name, sec).inputs.append(sec)
    return sec


def output_section(ctx: LinkState, name: str, sec: InputSection) -> OutputSection:
    """The output section ``name`` (made on first use, typed after ``sec``)."""
    out = ctx.by_name.get(name)
    if out is None:
        type_ = sec.type if sec.type != elf.SHT_NOTE else elf.SHT_PROGBITS
        flags = sec.flags & (elf.SHF_ALLOC | elf.SHF_WRITE | elf.SHF_EXECINSTR | elf.SHF_TLS)
        if name in (".text", ".plt", ".stubs"):
            type_, flags = elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_EXECINSTR
        elif name == ".rodata":
            type_, flags = elf.SHT_PROGBITS, elf.SHF_ALLOC
        elif name == ".data":
            type_, flags = elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_WRITE
        elif name == ".bss":
            type_, flags = elf.SHT_NOBITS, elf.SHF_ALLOC | elf.SHF_WRITE
        if name.startswith(".note"):
            type_ = elf.SHT_NOTE  # the linker's notes (.note.gnu.build-id) stay notes
        out = OutputSection(name, type_, flags)
        ctx.by_name[name] = out
        ctx.outputs.append(out)
    if isinstance(sec, SyntheticSection):
        out.entsize = sec.entsize
        out.flags |= sec.flags & elf.SHF_INFO_LINK
    if sec.type != elf.SHT_NOBITS and out.type == elf.SHT_NOBITS:
        out.type = elf.SHT_PROGBITS  # initialised data in a .bss-named section: the output carries bytes
    return out


def assign_output_sections(ctx: LinkState) -> None:
    """Put every live allocated input section into its output section; place commons; merge
    strings; put the sections named X of each ``__start_X``/``__stop_X`` together, last."""
    _place_commons(ctx)
    merge_groups: dict[tuple[str, int, int, int], list[InputSection]] = {}
    names: dict[tuple[str, int, int], str] = {}  # output_section_name of each kind of section met
    ALLOC = elf.SHF_ALLOC
    for obj in ctx.objects:
        for sec in obj.sections:
            if sec is None or not sec.flags & ALLOC:
                continue
            if not sec.live or sec.discarded:
                ctx.discarded.append(sec)
                continue
            kind = (sec.name, sec.flags, sec.type)
            name = names.get(kind) or names.setdefault(kind, output_section_name(sec))
            if sec.flags & elf.SHF_MERGE and _mergeable(sec):
                key = (name, sec.flags & (elf.SHF_WRITE | elf.SHF_EXECINSTR | elf.SHF_STRINGS), sec.entsize, sec.align)
                merge_groups.setdefault(key, []).append(sec)
                continue
            output_section(ctx, name, sec).inputs.append(sec)
    for key, group in merge_groups.items():
        _merge(ctx, key[0], group)
    common = ctx.synthetic.get("COMMON")
    if common is not None:
        output_section(ctx, ".bss", common).inputs.append(common)
    for out in ctx.outputs:
        if out.name in ARRAY_SECTIONS:
            out.inputs.sort(key=_array_priority)
        elif ctx.encapsulated:  # the sections named X together, last, for __start_X and __stop_X
            grouped = ctx.encapsulated
            out.inputs.sort(key=lambda sec: (sec.name in grouped, sec.name if sec.name in grouped else ""))


def _place_commons(ctx: LinkState) -> None:
    COMMON = elf.SHN_COMMON
    commons = [g for g in ctx.globals.values() if g.shndx == COMMON and g.section is None]  # is_common
    if not commons:
        return
    csec = add_synthetic_section(ctx, "COMMON", elf.SHT_NOBITS, elf.SHF_ALLOC | elf.SHF_WRITE, 1)
    off = 0
    by_alignment = ctx.opts.sort_common  # --sort-common: largest alignment first (less padding)
    for g in sorted(commons, key=lambda s: (-s.common_align if by_alignment else 0, s.name)):
        align = max(g.common_align, 1)
        off = (off + align - 1) // align * align
        csec.align = max(csec.align, align)
        g.section, g.value, g.shndx = csec, off, 1
        off += g.size
    csec.size = off


def _mergeable(sec: InputSection) -> bool:
    """Can this section's strings or constants be deduplicated? Only whole pieces nothing relocates."""
    if not sec.flags & elf.SHF_MERGE or sec.type != elf.SHT_PROGBITS or sec.rel_type or sec.entsize <= 0:
        return False
    if sec.flags & elf.SHF_STRINGS:
        return sec.entsize == 1
    return sec.size % sec.entsize == 0 and sec.align <= sec.entsize


def _merge(ctx: LinkState, out_name: str, group: list[InputSection]) -> None:
    """Deduplicate the strings or constants of mergeable sections into one section of the linker's."""
    first = group[0]
    msec = add_synthetic_section(
        ctx,
        f"{first.name} (merged {len(ctx.synthetic)})",
        elf.SHT_PROGBITS,
        first.flags,
        first.align,
        first.entsize,
        output=out_name,
    )
    strings = bool(first.flags & elf.SHF_STRINGS)
    align, size = first.align, first.entsize
    seen: dict[bytes, int] = {}
    data = bytearray()
    for sec in group:
        raw = bytes(sec.data)
        starts: list[int] = []
        outs: list[int] = []
        off = 0
        while off < len(raw):
            if strings:
                end = raw.find(b"\0", off)
                end = len(raw) if end < 0 else end + 1
            else:
                end = min(off + size, len(raw))
            piece = raw[off:end]
            at = seen.get(piece)
            if at is None:
                data.extend(b"\0" * (-len(data) % align))
                at = seen[piece] = len(data)
                data.extend(piece)
            starts.append(off)
            outs.append(at)
            off = end
        sec.merged, sec.merge_map = msec, (starts, outs)
    msec.data = bytes(data)
    msec.size = len(data)
    msec.live_reason = f"{len(group)} mergeable section{'s' if len(group) > 1 else ''} deduplicated"


def _array_priority(sec: InputSection) -> int:
    tail = sec.name.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else 1 << 20
