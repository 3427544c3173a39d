"""Pictures for ``dyninfo --svg``: a memory map of an executable or dynld module, a size treemap of a link map.

The memory map draws each PT_LOAD segment (or a module's text, data and bss) as a band,
the sections inside it to scale, the other segments as thin bars beside it, exported
symbols on the left, relocation targets as ticks on the right and the imports that the
relocations bind, with a line to each slot.  Bands are scaled one by one (a band is at
least ``MIN_BAND`` high) and the gaps between them are not drawn to scale.

The treemap (from a ``dynlink --map`` file) gives each input file a rectangle whose area
is the bytes it contributes to the image, split by output section (coloured by kind);
``.bss``, which takes no bytes in the file, is counted in the caption, not drawn.

Both are plain SVG written by hand, deterministic (same input, same bytes).  Every drawn
segment, section, symbol, relocation and file carries ``data-*`` attributes with its
numbers, so a program can check the picture against the file.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from . import elf
from .arch import get_arch
from .errors import DynError

WIDTH = 980
BAR_X, BAR_W = 340, 200
MIN_BAND, MAX_BAND, BAND_GAP = 70, 420, 44
LABEL_STEP = 13
MAX_LABELS = 60
FONT = "font-family='DejaVu Sans Mono, monospace' font-size='11'"
BAND_FILL = {"R--": "#eceff1", "R-X": "#ffe0b2", "RW-": "#e3f2fd", "RWX": "#ffcdd2"}
MODE_COLOURS = {0: "#d32f2f", 1: "#6a1b9a", 2: "#00838f"}


def draw(data: bytes, name: str) -> str:
    """The SVG picture of an ELF executable or shared library, a dynld module, or a ``dynlink --map`` file."""
    if data.startswith(b"# dynlink map"):
        return treemap_svg(parse_link_map(data.decode("utf-8", "surrogateescape"), name), name)
    try:
        if data[:4] == b"\x7fELF":
            return _render(_elf_map(data, name))
        from .info import module_magics

        if len(data) >= 4 and struct.unpack(">I", data[:4])[0] in module_magics():
            return _render(_module_map(data, name))
    except (struct.error, IndexError, ValueError, OverflowError) as e:
        raise DynError(f"malformed file: {e}", name) from None
    raise DynError("not an ELF file, a dynld module or a dynlink map", name)


# ------------------------------------------------------------ the model
@dataclass
class Band:
    """A stretch of memory drawn to scale: a PT_LOAD segment or a module's text/data/bss."""

    kind: str
    flags: str
    vaddr: int
    memsz: int
    offset: int
    filesz: int


@dataclass
class MemoryMap:
    """What the memory map shows, in addresses (ELF) or image offsets (module)."""

    title: str
    bands: list[Band]
    other_segments: list[Band] = field(default_factory=list)
    sections: list[tuple[str, int, int, str]] = field(default_factory=list)  # name, addr, size, fill
    exports: list[tuple[str, int]] = field(default_factory=list)
    imports: list[tuple[str, list[int]]] = field(default_factory=list)  # label, slot addresses
    relocs: list[tuple[int, str, str]] = field(default_factory=list)  # addr, type name, colour


def _section_fill(sec: elf.Section) -> str:
    if sec.flags & elf.SHF_TLS:
        return "#ab47bc"
    if sec.flags & elf.SHF_EXECINSTR:
        return "#f57c00"
    if sec.flags & elf.SHF_WRITE:
        return "#81d4fa" if sec.type == elf.SHT_NOBITS else "#1e88e5"
    return "#90a4ae"


def _elf_map(data: bytes, name: str) -> MemoryMap:
    f = elf.ElfFile(data, name)
    segs = f.segments()
    loads = sorted((s for s in segs if s.type == elf.PT_LOAD and s.memsz), key=lambda s: s.vaddr)
    if not loads:
        raise DynError("no loadable segments to draw (an object file has no memory map)", name)

    def band(s: elf.Segment) -> Band:
        kind = elf.segment_type_name(s.type, f.machine)
        return Band(kind, elf.segment_flags_letters(s.flags), s.vaddr, s.memsz, s.offset, s.filesz)

    m = MemoryMap(
        f"{name}: ELF{f.bits} {elf.elf_type_name(f.type)}, {elf.machine_name(f.machine)}",
        [band(s) for s in loads],
        [band(s) for s in segs if not (s.type == elf.PT_LOAD and s.memsz)],
    )
    for sec in f.sections:
        if sec.flags & elf.SHF_ALLOC and sec.size and not (sec.flags & elf.SHF_TLS and sec.type == elf.SHT_NOBITS):
            m.sections.append((sec.name, sec.addr, sec.size, _section_fill(sec)))
    dynsym = f.first_section(elf.SHT_DYNSYM)
    syms = f.symbols(dynsym) if dynsym is not None else []
    m.exports = sorted(((s.name, s.value) for s in syms[1:] if s.shndx != elf.SHN_UNDEF), key=lambda e: (e[1], e[0]))
    slots: dict[int, list[int]] = {}
    for sec in f.sections:
        if sec.type in (elf.SHT_REL, elf.SHT_RELA) and sec.flags & elf.SHF_ALLOC:
            for r in f.relocation_records(sec):
                m.relocs.append((r.offset, elf.reloc_type_name(f.machine, r.type), "#d32f2f"))
                if dynsym is not None and sec.link == dynsym.index and 0 < r.sym < len(syms):
                    slots.setdefault(r.sym, []).append(r.offset)
    versions = f.version_names()
    versym = f.versym()
    for i, s in enumerate(syms[1:], start=1):
        if s.shndx == elf.SHN_UNDEF:
            v = versym[i] & 0x7FFF if i < len(versym) else 0
            label = s.name + (f"@{versions[v]}" if v > elf.VER_NDX_GLOBAL and v in versions else "")
            m.imports.append((label, sorted(slots.get(i, []))))
    return m


def _module_map(data: bytes, name: str) -> MemoryMap:
    from .dynld import module as dlm

    mod = dlm.decode(data, name, check_pages=False)
    text, dat = len(mod.text), len(mod.data)
    m = MemoryMap(
        f"{name}: dynld module, {mod.arch}",
        [
            b
            for b in (
                Band("text", "R-X", 0, text, 0, text),
                Band("data", "RW-", text, dat, text, dat),
                Band("bss", "RW-", text + dat, mod.bss, text + dat, 0),
            )
            if b.memsz
        ],
    )
    exports = dlm.exports(mod)
    width = 3 * get_arch(mod.arch).word
    m.sections.append(("export table", mod.entry, width * (len(exports) + 1), "#9575cd"))
    m.exports = sorted(((n, a) for n, _sig, a in exports), key=lambda e: (e[1], e[0]))
    m.imports = [(n, []) for n, _sig in mod.imports]
    m.relocs = [
        (off, dlm.MODE_NAMES.get(mode, str(mode)), MODE_COLOURS.get(mode, "#d32f2f")) for off, mode in mod.relocs
    ]
    return m


# ----------------------------------------------------------- the drawing
def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _text(s: str) -> str:
    return escape(s.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def _attr(s: str) -> str:
    return quoteattr(s.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def _spread(wanted: list[float], top: float) -> list[float]:
    """Label positions near the wanted ones, in order, at least LABEL_STEP apart."""
    out: list[float] = []
    y = top
    for w in wanted:
        y = max(w, y)
        out.append(y)
        y += LABEL_STEP
    return out


def _render(m: MemoryMap) -> str:
    total = sum(b.memsz for b in m.bands) or 1
    heights = [max(MIN_BAND, min(MAX_BAND, 560 * b.memsz / total)) for b in m.bands]
    tops: list[float] = []
    y = 70.0
    for h in heights:
        tops.append(y)
        y += h + BAND_GAP
    bottom = y - BAND_GAP

    def at(addr: int, end: bool = False) -> float | None:
        """The y of an address (``end``: of the end of a range, which may be a band's end)."""
        for b, top, h in zip(m.bands, tops, heights, strict=True):
            if b.vaddr <= addr < b.vaddr + b.memsz or (end and addr == b.vaddr + b.memsz):
                return top + h * (addr - b.vaddr) / max(b.memsz, 1)
        return None

    body: list[str] = []
    # bands (the loadable segments)
    for b, top, h in zip(m.bands, tops, heights, strict=True):
        body.append(
            f"<rect class='segment' data-type={_attr(b.kind)} data-flags='{b.flags}' data-vaddr='{b.vaddr}' "
            f"data-memsz='{b.memsz}' data-offset='{b.offset}' data-filesz='{b.filesz}' x='{BAR_X}' y='{_num(top)}' "
            f"width='{BAR_W}' height='{_num(h)}' fill='{BAND_FILL.get(b.flags, '#eeeeee')}' stroke='#37474f'>"
            f"<title>{_text(b.kind)} {b.flags} 0x{b.vaddr:x}+0x{b.memsz:x}</title></rect>"
        )
        body.append(
            f"<text x='{BAR_X}' y='{_num(top - 5)}'>{_text(b.kind)} {b.flags} 0x{b.vaddr:x}, {b.memsz} bytes</text>"
        )
    # sections inside the bands, labelled on the right
    placed = []
    for name, addr, size, fill in m.sections:
        y0, y1 = at(addr), at(addr + size, end=True)
        if y0 is None or y1 is None:
            continue
        body.append(
            f"<rect class='section' data-name={_attr(name)} data-addr='{addr}' data-size='{size}' x='{BAR_X + 14}' "
            f"y='{_num(y0)}' width='{BAR_W - 28}' height='{_num(max(y1 - y0, 1))}' fill='{fill}' stroke='#ffffff' "
            f"stroke-width='0.5'><title>{_text(name)} 0x{addr:x}+0x{size:x}</title></rect>"
        )
        placed.append(((y0 + max(y1, y0 + 1)) / 2, name, size))
    lx = BAR_X + BAR_W + 30
    for (mid, name, size), ly in zip(placed, _spread([p[0] for p in placed], 70), strict=True):
        body.append(
            f"<path d='M{BAR_X + BAR_W - 14} {_num(mid)} L{lx - 4} {_num(ly - 4)}' stroke='#90a4ae' fill='none'/>"
        )
        body.append(f"<text x='{lx}' y='{_num(ly)}'>{_text(name)} ({size})</text>")
    # the other segments: thin bars left of the bands, or listed under them when they hold no memory
    listed = 0
    column = 0
    for b in m.other_segments:
        y0, y1 = at(b.vaddr), at(b.vaddr + b.memsz, end=True)
        attrs = (
            f"class='segment' data-type={_attr(b.kind)} data-flags='{b.flags}' data-vaddr='{b.vaddr}' "
            f"data-memsz='{b.memsz}' data-offset='{b.offset}' data-filesz='{b.filesz}'"
        )
        tip = f"<title>{_text(b.kind)} {b.flags} 0x{b.vaddr:x}+0x{b.memsz:x}</title>"
        if b.memsz and y0 is not None and y1 is not None:
            x = BAR_X - 10 - 9 * column
            column += 1
            body.append(
                f"<rect {attrs} x='{x}' y='{_num(y0)}' width='6' height='{_num(max(y1 - y0, 2))}' fill='#546e7a'>"
                f"{tip}</rect>"
            )
            body.append(
                f"<text x='{x + 3}' y='{_num(y0 - 3)}' text-anchor='middle' font-size='8'>{_text(b.kind)}</text>"
            )
        else:
            ly = bottom + 30 + LABEL_STEP * listed
            listed += 1
            body.append(
                f"<rect {attrs} x='{BAR_X}' y='{_num(ly - 9)}' width='10' height='10' fill='#546e7a'>{tip}</rect>"
            )
            body.append(
                f"<text x='{BAR_X + 16}' y='{_num(ly)}'>{_text(b.kind)} {b.flags} 0x{b.vaddr:x} "
                f"({b.memsz} bytes)</text>"
            )
    # exports, labelled on the left
    shown = [(n, a, ey) for n, a in m.exports if (ey := at(a)) is not None][:MAX_LABELS]
    ex = BAR_X - 40 - 9 * column
    export_y = _spread([s[2] for s in shown], 70)
    for (name, addr, ey), ly in zip(shown, export_y, strict=True):
        body.append(
            f"<circle class='export' data-name={_attr(name)} data-addr='{addr}' cx='{BAR_X}' cy='{_num(ey)}' r='3' "
            f"fill='#2e7d32'/>"
        )
        body.append(f"<path d='M{BAR_X - 3} {_num(ey)} L{ex + 4} {_num(ly - 4)}' stroke='#a5d6a7' fill='none'/>")
        body.append(f"<text x='{ex}' y='{_num(ly)}' text-anchor='end' fill='#2e7d32'>{_text(name)}</text>")
    more = len(m.exports) - len(shown)
    # relocations: a tick where each one lands
    rx = BAR_X + BAR_W
    for addr, tname, colour in m.relocs:
        ry = at(addr)
        if ry is not None:
            body.append(
                f"<path class='reloc' data-offset='{addr}' data-type={_attr(tname)} d='M{rx} {_num(ry)} h10' "
                f"stroke='{colour}' stroke-width='1.5'/>"
            )
    # imports, on the far right, with a line to each slot a relocation fills
    ix = WIDTH - 190
    import_y = _spread([(at(s[0]) or 70.0) if s else 70.0 for _label, s in m.imports[:MAX_LABELS]], 70)
    for (label, slots), ly in zip(m.imports[:MAX_LABELS], import_y, strict=True):
        body.append(
            f"<text class='import' data-name={_attr(label)} x='{ix}' y='{_num(ly)}' fill='#6a1b9a'>"
            f"{_text(label)}</text>"
        )
        for slot in slots:
            sy = at(slot)
            if sy is not None:
                body.append(f"<path d='M{rx + 10} {_num(sy)} L{ix - 4} {_num(ly - 4)}' stroke='#ce93d8' fill='none'/>")
    # what the relocation ticks' colours mean
    kinds = sorted({(colour, tname) for _a, tname, colour in m.relocs}, key=lambda k: k[1])
    if len(kinds) <= 12:
        for colour, tname in kinds:
            ly = bottom + 30 + LABEL_STEP * listed
            listed += 1
            body.append(f"<path d='M{BAR_X} {_num(ly - 4)} h10' stroke='{colour}' stroke-width='2'/>")
            body.append(f"<text x='{BAR_X + 16}' y='{_num(ly)}'>relocation: {_text(tname)}</text>")
    notes = [f"{len(m.exports)} exports", f"{len(m.imports)} imports", f"{len(m.relocs)} relocations"]
    if more > 0:
        notes.append(f"{more} exports not labelled")
    if len(m.imports) > MAX_LABELS:
        notes.append(f"{len(m.imports) - MAX_LABELS} imports not labelled")
    height = max(
        [bottom + 40 + LABEL_STEP * listed]
        + [y + 20 for y in _spread([p[0] for p in placed], 70)[-1:]]
        + [y + 20 for y in import_y[-1:]]
        + [y + 20 for y in export_y[-1:]]
    )
    head = [
        f"<text x='10' y='22' font-size='14' font-weight='bold'>{_text(m.title)}</text>",
        f"<text x='10' y='40'>{_text(', '.join(notes))}; bands to scale one by one, gaps not to scale</text>",
        f"<text x='{ex}' y='58' text-anchor='end' fill='#2e7d32'>exports</text>",
        f"<text x='{lx}' y='58'>sections</text>",
        f"<text x='{ix}' y='58' fill='#6a1b9a'>imports</text>",
    ]
    # labels last, with a white halo, so that lines pass behind them
    shapes = [x for x in body if not x.startswith("<text")]
    labels = [x for x in body if x.startswith("<text")]
    return _svg(WIDTH, height, [_HALO, *head, *shapes, *labels])


_HALO = "<style>text { paint-order: stroke; stroke: #ffffff; stroke-width: 3px; stroke-linejoin: round; }</style>"


def _svg(width: float, height: float, body: list[str]) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{_num(width)}' height='{_num(height)}' "
        f"viewBox='0 0 {_num(width)} {_num(height)}' {FONT}>\n"
        f"<rect x='0' y='0' width='{_num(width)}' height='{_num(height)}' fill='#ffffff'/>\n"
        + "\n".join(body)
        + "\n</svg>\n"
    )


# --------------------------------------------------------------- treemap
@dataclass
class LinkMap:
    """Bytes per input file and output section, from a ``dynlink --map`` file."""

    outputs: list[str]
    sizes: dict[str, dict[str, int]]  # file -> output section -> bytes


_OUTPUT_LINE = re.compile(r"^(\S+)\s+0x[0-9a-fA-F]+\s+0x([0-9a-fA-F]+) align \d+$")
_INPUT_LINE = re.compile(r"^\s+0x[0-9a-fA-F]+\s+0x([0-9a-fA-F]+) (.*)  <- .*$")


def _split_input(desc: str) -> tuple[str, str]:
    """``file(section)`` -> (file, section); the section is the last balanced parenthesised group."""
    depth = 0
    for i in range(len(desc) - 1, -1, -1):
        if desc[i] == ")":
            depth += 1
        elif desc[i] == "(":
            depth -= 1
            if depth == 0:
                return desc[:i], desc[i + 1 : -1]
    return desc, ""


def parse_link_map(text: str, name: str) -> LinkMap:
    """The output sections and the bytes each input file puts in them."""
    lines = text.splitlines()
    try:
        start = lines.index("Output sections:")
    except ValueError:
        raise DynError("link map without an 'Output sections:' part", name) from None
    outputs: list[str] = []
    sizes: dict[str, dict[str, int]] = {}
    current = None
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        if mo := _OUTPUT_LINE.match(line):
            current = mo.group(1)
            outputs.append(current)
        elif (mi := _INPUT_LINE.match(line)) and current is not None:
            file, _sec = _split_input(mi.group(2))
            per = sizes.setdefault(file, {})
            per[current] = per.get(current, 0) + int(mi.group(1), 16)
        else:
            raise DynError(f"link map: cannot read line {line.strip()!r}", name)
    return LinkMap(outputs, sizes)


def _squarify(
    items: list[tuple[str, float]], x: float, y: float, w: float, h: float
) -> list[tuple[str, float, float, float, float]]:
    """Squarified treemap: (key, x, y, w, h) for items of positive weight, largest first."""
    out: list[tuple[str, float, float, float, float]] = []
    total = sum(v for _k, v in items)
    if not items or total <= 0:
        return out
    scale = w * h / total
    rest = [(k, v * scale) for k, v in items]
    while rest:
        short = min(w, h)
        row = [rest[0]]

        i = 1
        while i < len(rest) and _worst([*row, rest[i]], short) <= _worst(row, short):
            row.append(rest[i])
            i += 1
        rest = rest[i:]
        s = sum(a for _k, a in row)
        thick = s / short
        pos = 0.0
        for k, a in row:
            length = a / thick
            if w >= h:  # a column on the left
                out.append((k, x, y + pos, thick, length))
            else:  # a row on top
                out.append((k, x + pos, y, length, thick))
            pos += length
        if w >= h:
            x, w = x + thick, w - thick
        else:
            y, h = y + thick, h - thick
    return out


def _worst(row: list[tuple[str, float]], short: float) -> float:
    """The worst aspect ratio of a row of areas laid along a side of length ``short``."""
    s = sum(a for _k, a in row)
    return max(max(short * short * a / (s * s), (s * s) / (short * short * a)) for _k, a in row)


# Output sections by kind, for the treemap's colours: (kind, colour, name prefixes).
_KINDS = (
    ("code", "#f57c00", (".text", ".plt", ".init", ".fini", ".stubs", ".iplt")),
    ("read-only data", "#fdd835", (".rodata", ".eh_frame", ".ARM.ex", ".gcc_except_table", ".note")),
    ("bss", "#81d4fa", (".bss", ".tbss")),
    ("TLS data", "#ab47bc", (".tdata",)),
    ("data", "#1e88e5", (".data", ".got", ".dynamic", ".init_array", ".fini_array", ".preinit_array")),
    (
        "dynamic linking",
        "#90a4ae",
        (".interp", ".hash", ".gnu.hash", ".dynsym", ".dynstr", ".gnu.version", ".rel"),
    ),
    ("debug", "#66bb6a", (".debug", ".comment")),
)
_OTHER = ("other", "#e0e0e0")
_NOT_DRAWN = ("bss",)  # no bytes in the file; would dwarf everything else


def _kind(section: str) -> tuple[str, str]:
    """(kind, colour) of an output section."""
    for kind, colour, prefixes in _KINDS:
        if section.startswith(prefixes):
            return kind, colour
    return _OTHER


def treemap_svg(lm: LinkMap, name: str) -> str:
    """The treemap of a link map: one rectangle per input file, split by output section."""
    image = {f: {o: v for o, v in per.items() if _kind(o)[0] not in _NOT_DRAWN} for f, per in lm.sizes.items()}
    bss = sum(v for per in lm.sizes.values() for o, v in per.items() if _kind(o)[0] in _NOT_DRAWN)
    files = sorted(((f, sum(per.values())) for f, per in image.items()), key=lambda t: (-t[1], t[0]))
    files = [(f, v) for f, v in files if v > 0]
    colour = {o: _kind(o)[1] for o in lm.outputs}
    total = sum(v for _f, v in files)
    top, w, h = 50.0, WIDTH - 20.0, 600.0
    body = [
        f"<text x='10' y='22' font-size='14' font-weight='bold'>{_text(name)}: link map, {total} bytes "
        f"from {len(files)} inputs (not drawn: {bss} bytes of bss)</text>",
    ]
    legend_x = 10.0
    used = {_kind(o) for per in image.values() for o in per}
    for kind, col in [(k, c) for k, c, _p in _KINDS] + [_OTHER]:
        if (kind, col) in used:
            body.append(f"<rect x='{_num(legend_x)}' y='30' width='10' height='10' fill='{col}'/>")
            body.append(f"<text x='{_num(legend_x + 13)}' y='39'>{_text(kind)}</text>")
            legend_x += 30 + 7 * len(kind)
    for f, fx, fy, fw, fh in _squarify([(f, float(v)) for f, v in files], 10.0, top, w, h):
        per = image[f]
        size = sum(per.values())
        body.append(f"<g class='file' data-file={_attr(f)} data-size='{size}'><title>{_text(f)}: {size} bytes</title>")
        parts = [(o, float(per[o])) for o in lm.outputs if per.get(o)]
        pos = 0.0
        for o, v in parts:
            share = v / size
            if fw >= fh:
                rect = (fx + pos * fw, fy, fw * share, fh)
            else:
                rect = (fx, fy + pos * fh, fw, fh * share)
            pos += share
            body.append(
                f"<rect class='part' data-section={_attr(o)} data-size='{int(v)}' x='{_num(rect[0])}' "
                f"y='{_num(rect[1])}' width='{_num(rect[2])}' height='{_num(rect[3])}' fill='{colour[o]}' "
                f"stroke='#ffffff' stroke-width='0.5'><title>{_text(o)}: {int(v)} bytes</title></rect>"
            )
        body.append(
            f"<rect x='{_num(fx)}' y='{_num(fy)}' width='{_num(fw)}' height='{_num(fh)}' fill='none' "
            f"stroke='#263238' stroke-width='1.5'/>"
        )
        label = f.rsplit("/", 1)[-1]
        if fw > 7 * min(len(label), 4) and fh > 14:
            chars = max(int(fw / 7) - 1, 1)
            shown = label if len(label) <= chars else label[: max(chars - 1, 1)] + "~"
            body.append(f"<text x='{_num(fx + 3)}' y='{_num(fy + 12)}'>{_text(shown)}</text>")
            if fh > 28:
                body.append(f"<text x='{_num(fx + 3)}' y='{_num(fy + 25)}'>{size} B</text>")
        body.append("</g>")
    return _svg(WIDTH, top + h + 10, body)
