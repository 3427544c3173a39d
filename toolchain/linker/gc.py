"""Pass: mark the live sections (garbage collection of sections), rooted at the output's roots.

Reads the objects' sections and relocations; writes each input section's ``live`` and
``live_reason`` (for a section reached through a relocation, ``live_via``: the reason is
spelled when read), ``external_refs``: for each global symbol that no section defines,
the live objects that refer to it (what ``report_undefined`` and the imports work from),
and ``encapsulated``: the X of each ``__start_X``/``__stop_X`` referenced, whose sections it keeps.
"""

from __future__ import annotations

from .. import elf
from .context import LinkState
from .inputs import InputSection, Symbol, no_such_symbol
from .sections import ARRAY_SECTIONS, output_section_name

SHF_GNU_RETAIN = 0x200000
_ARRAY_TYPES = frozenset((elf.SHT_INIT_ARRAY, elf.SHT_FINI_ARRAY, elf.SHT_PREINIT_ARRAY))


def mark_live(ctx: LinkState, roots: list[tuple[Symbol, str]]) -> None:
    """Mark every section reachable from ``roots`` ((symbol, why) pairs), init/fini arrays and retained sections."""
    work: list[InputSection] = []

    def mark(sec: InputSection | None, why: str) -> None:
        if sec is not None and not sec.live and not sec.discarded:
            sec.live = True
            sec.live_reason = why
            work.append(sec)

    for sym, why in roots:
        mark(sym.section, why)
    ALLOC = elf.SHF_ALLOC
    for obj in ctx.objects:
        for sec in filter(None, obj.sections):
            if not sec.flags & ALLOC or sec.discarded:
                continue
            if sec.type in _ARRAY_TYPES or (
                sec.name.startswith(ARRAY_SECTIONS) and output_section_name(sec) in ARRAY_SECTIONS
            ):
                mark(sec, "an init/fini array is always kept")
            elif sec.flags & SHF_GNU_RETAIN:
                mark(sec, "SHF_GNU_RETAIN")
    _follow(ctx, work)
    # __start_X/__stop_X referenced: keep every section named X (GNU ld's rule), and follow them
    done: set[str] = set()
    while wanted := {x for name in ctx.external_refs if (x := encapsulated_section(name)) is not None} - done:
        done |= wanted
        for obj in ctx.objects:
            for sec in filter(None, obj.sections):
                if sec.name in wanted and sec.flags & ALLOC:
                    mark(sec, f"__start_{sec.name} or __stop_{sec.name} is referenced")
        _follow(ctx, work)
    ctx.encapsulated = {
        x for x in done for obj in ctx.objects for sec in obj.sections if sec is not None and sec.name == x and sec.live
    }


def encapsulated_section(symbol: str) -> str | None:
    """X, for ``__start_X`` or ``__stop_X`` where X is a C identifier: the linker defines them as
    the bounds of the sections named X (GNU ld's encapsulation symbols)."""
    for prefix in ("__start_", "__stop_"):
        if symbol.startswith(prefix):
            name = symbol[len(prefix) :]
            return name if name.isascii() and name.isidentifier() else None
    return None


def _follow(ctx: LinkState, work: list[InputSection]) -> None:
    """Mark what the sections on ``work`` reach through their relocations, until none is left."""
    external = ctx.external_refs
    find_refs = external.get
    UNDEF = elf.SHN_UNDEF
    while work:
        sec = work.pop()
        file = sec.file
        syms = file.symbols
        symbols = sec.relocs.symbols
        if not syms and symbols:  # not even symbol 0
            raise no_such_symbol(sec, symbols)
        referenced = dict.fromkeys(symbols)  # each symbol once, in order of first reference
        referenced.pop(0, None)
        try:
            for sym in map(syms.__getitem__, referenced):
                target = sym.section
                if target is not None:
                    if not target.live and not target.discarded:
                        target.live = True
                        target.live_via = (sec, sym)  # live_reason says it when asked
                        work.append(target)
                elif sym.shndx == UNDEF and sym.is_global:  # undefined (neither defined nor common)
                    refs = find_refs(sym.name)
                    if refs is None:
                        external[sym.name] = [file]
                    elif refs[-1] is not file:
                        refs.append(file)
        except IndexError:  # the link stops here: what was marked so far does not matter
            raise no_such_symbol(sec, symbols) from None
