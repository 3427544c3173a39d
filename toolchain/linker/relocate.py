"""Passes: scan relocations (GOT, thunks, imports), copy section contents, apply relocations.

``scan_relocations`` reads the live sections' relocations and writes ``got``,
``tls_got``, ``got_base_needed`` and ``thunks`` (and the output's import needs, through
its hook). ``copy_contents`` writes ``image``; ``fill_got``/``fill_thunks`` write the
linker's GOT and thunk bytes into it; ``apply_relocations`` and ``write_debug``
relocate code, data and debug sections through one read/compute/check/write path:
sections whose relocations are all S + A or S + A - P into plain integer fields are
computed as whole columns, the others one relocation at a time. In links large enough
(``bulk.wanted``) both passes queue sections in batches applied by C, and only the
sections a batch hands back take that path.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from itertools import compress, count
from operator import add, attrgetter, sub

from .. import elf
from ..errors import DynError
from ..records import NamedTuple
from . import bulk
from .context import LinkState, OutputSection, merged_addr, merged_piece_base
from .inputs import InputSection, ObjectFile, Symbol, no_such_symbol, release_input
from .reloc import VALUE_DROPPED, VALUE_IMPORT, VALUE_MERGED_PIECE, Howto, Kind, Overflow, Relocs, fast_fields
from .sections import add_synthetic_section

#: ``on_import(section, offset, symbol, howto)``: an output's decision for a reference to an import.
ImportScan = Callable[[InputSection, int, Symbol, Howto], None]
#: ``import_value(section, offset, symbol, howto, P, A)``: the value to write for a reference to an
#: import, or None when the output has written the place itself.
ImportValue = Callable[[InputSection, int, Symbol, Howto, int, int], "int | None"]
#: ``on_absolute(section, P, symbol, howto, S, A)``: told of each absolute address (dynld modules record them).
AbsoluteHook = Callable[[InputSection, int, Symbol, Howto, int, int], None]

# Relocation kinds that need a GOT slot holding an address, one holding a TLS offset,
# or the GOT's own address.
_GOT_SLOT_KINDS = frozenset({Kind.GOT_PC, Kind.GOT_386})
_TLS_SLOT_KINDS = frozenset({Kind.GOT_TP_PC, Kind.GOT_TP, Kind.GOT_TP_GOTREL})
_GOT_BASE_KINDS = frozenset({Kind.GOT_BASE_PC, Kind.GOT_OFF}) | _GOT_SLOT_KINDS | _TLS_SLOT_KINDS
_SCAN_KINDS = _GOT_BASE_KINDS | {Kind.TLS_GD}
_DEBUG_KINDS = frozenset({Kind.ABS, Kind.PC, Kind.DTP})


def is_import_ref(sym: Symbol) -> bool:
    """Is a reference to ``sym`` bound at load time rather than by this link?"""
    return (sym.dynimport is not None or sym.import_index >= 0) and sym.is_global and not sym.defined


def scan_relocations(ctx: LinkState, on_import: ImportScan) -> None:
    """Find GOT, TLS-GOT, thunk and import needs of the live sections, before layout."""
    target = ctx.target
    howtos = target.howtos
    thunks = target.thunk_size > 0
    special = {rt: h.kind for rt, h in howtos.items() if h.kind in _SCAN_KINDS or (thunks and h.kind is Kind.CALL)}
    special_types = frozenset(special)
    none = {rt for rt, h in howtos.items() if h.kind is Kind.NONE}
    known = frozenset(howtos)
    import_refs: dict[int, list[bool] | None] = {}  # per object: is each symbol an import reference?
    # Only globals are imported: with none to import, no object has an import reference.
    imported = any(map(is_import_ref, ctx.globals.values()))
    for sec in ctx.live_sections():
        r = sec.relocs
        if not r:
            continue
        syms = sec.file.symbols  # mark_live checked the symbol indexes of every live section
        types = set(r.types)
        if not types <= known:
            off, rtype = next((o, t) for o, t in zip(r.offsets, r.types, strict=True) if t not in known)
            raise DynError(
                f"unsupported relocation type {rtype} in section {sec.name} at offset {off:#x}", sec.file.name
            )
        key = id(sec.file)
        if key in import_refs:
            imports = import_refs[key]
        else:
            refs = [is_import_ref(sym) for sym in syms] if imported else []
            imports = import_refs[key] = refs if any(refs) else None
        present = types & special_types
        if not present and imports is None:
            continue  # nothing here needs a GOT slot, a thunk or an import
        if imports is None and {special[t] for t in present} <= _GOT_BASE_KINDS - _TLS_SLOT_KINDS:
            # Only GOT slots (and the GOT's base): each symbol's slot in the order of its first
            # reference, as the loop below gives them, with the symbols picked out in C.
            slotted = {t for t in present if special[t] in _GOT_SLOT_KINDS}
            for symi in dict.fromkeys(compress(r.symbols, map(slotted.__contains__, r.types))):
                need_got(ctx, syms[symi])
            ctx.got_base_needed = True
            continue
        for off, rtype, symi in zip(r.offsets, r.types, r.symbols, strict=True):
            if rtype in none:
                continue
            if imports is not None and imports[symi]:
                on_import(sec, off, syms[symi], howtos[rtype])
                continue
            kind = special.get(rtype)
            if kind is None:
                continue
            sym = syms[symi]
            howto = howtos[rtype]
            if kind is Kind.CALL:
                if sym.section is not None:
                    _maybe_thunk(ctx, howto, sym)
                continue
            if kind is Kind.TLS_GD:
                raise DynError(
                    f"{howto.name} against {sym.name}: the general/local-dynamic TLS models need "
                    f"__tls_get_addr: compile with -ftls-model=initial-exec (dyncc's default)",
                    sec.file.name,
                )
            if kind in _GOT_SLOT_KINDS:
                need_got(ctx, sym)
            elif kind in _TLS_SLOT_KINDS and sym.tls_got_index < 0:
                sym.tls_got_index = len(ctx.tls_got)
                ctx.tls_got.append(sym)
            ctx.got_base_needed = True


def need_got(ctx: LinkState, sym: Symbol) -> None:
    """Give ``sym`` a GOT slot holding its address."""
    if sym.got_index < 0:
        sym.got_index = len(ctx.got)
        ctx.got.append(sym)


def create_got(ctx: LinkState) -> None:
    """Make ``.got`` when any slot or the GOT's address is needed."""
    if ctx.got or ctx.tls_got or ctx.got_base_needed:
        got = add_synthetic_section(ctx, ".got", elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_WRITE, ctx.arch.word)
        got.size = ctx.got_size()


def _target_is_thumb(sym: Symbol) -> bool:
    return sym.type == elf.STT_FUNC and bool(sym.value & 1)


def _maybe_thunk(ctx: LinkState, howto: Howto, sym: Symbol) -> None:
    target = ctx.target
    kind = target.thunk_kind(howto, _target_is_thumb(sym))
    if kind is None or (id(sym), kind) in ctx.thunks:
        return
    sec = ctx.synthetic.get(".text.thunks")
    if sec is None:
        sec = add_synthetic_section(
            ctx, ".text.thunks", elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_EXECINSTR, 4, output=".text"
        )
    ctx.thunks[(id(sym), kind)] = (sym, kind, sec.size)
    sec.size += target.thunk_size


def thunk_target(ctx: LinkState, howto: Howto, sym: Symbol) -> int | None:
    """The thunk a branch goes through instead of its symbol, if it needs one."""
    if not ctx.thunks:
        return None
    kind = ctx.target.thunk_kind(howto, _target_is_thumb(sym))
    t = ctx.thunks.get((id(sym), kind)) if kind else None
    if t is None or kind is None:
        return None
    return ctx.target.thunk_entry(kind, ctx.synthetic[".text.thunks"].addr + t[2])


def fill_thunks(ctx: LinkState) -> None:
    """Write the interworking thunks once addresses are known."""
    if not ctx.thunks:
        return
    sec = ctx.synthetic[".text.thunks"]
    for sym, kind, off in ctx.thunks.values():
        at = sec.addr + off
        code = ctx.target.thunk_code(kind, at, ctx.sym_addr(sym))
        ctx.image[at - ctx.base : at - ctx.base + len(code)] = code


def copy_contents(ctx: LinkState, tail: int = 0) -> None:
    """Copy every input section's bytes into the image (at address - base), made ``tail``
    bytes longer for what the output writes after it in place (``Output.image_tail``)."""
    ctx.image = bytearray(ctx.data_end() - ctx.base + tail)
    for out in ctx.outputs:
        if out.type == elf.SHT_NOBITS:
            continue
        for sec in out.inputs:
            if sec.type == elf.SHT_NOBITS or not sec.size:
                continue
            data = sec.data
            if len(data) != sec.size:
                continue  # synthetic sections are filled in place later
            start = sec.addr - ctx.base
            ctx.image[start : start + sec.size] = data


def fill_got(ctx: LinkState) -> None:
    """Write the GOT's address slots (imports are the loader's) and TLS offset slots."""
    got = ctx.synthetic.get(".got")
    if got is None:
        return
    w = ctx.arch.word
    start = got.addr - ctx.base
    for sym in ctx.got:
        if ctx.is_import(sym):
            continue
        v = ctx.sym_addr(sym)
        ctx.image[start + sym.got_index * w : start + (sym.got_index + 1) * w] = v.to_bytes(w, "little")
    for sym in ctx.tls_got:
        at = start + (len(ctx.got) + sym.tls_got_index) * w
        ctx.image[at : at + w] = (ctx.tp_offset(ctx.sym_addr(sym)) & ((1 << (8 * w)) - 1)).to_bytes(w, "little")


def apply_relocations(ctx: LinkState, import_value: ImportValue, on_absolute: AbsoluteHook | None) -> None:
    """Apply every live section's relocations to the image."""
    plan = _Plan(ctx, plain_abs=on_absolute is None)
    image = ctx.image
    batch = _batch(ctx, plan, image, debug=False)

    def one_by_one(sec: InputSection, start: int) -> None:
        table = sec.file.symbol_values
        assert table is not None
        _relocate(ctx, sec, image, start, plan, table, import_value, on_absolute, None)
        sec.release_relocs()  # the last pass to read them

    for sec in ctx.live_sections():
        if not sec.has_relocs or sec.type == elf.SHT_NOBITS:
            continue
        obj = sec.file
        table = obj.symbol_values
        if table is None:  # kept for the debug sections (``write_debug``)
            table = obj.symbol_values = _symbol_values(ctx, obj.symbols, debug=False)
        start = sec.addr - ctx.base
        if batch is None or not batch.add(sec, start, table, 0):
            one_by_one(sec, start)
        elif batch.entries >= bulk.BATCH_ENTRIES:
            _apply_batch(batch, one_by_one)
    if batch is not None:
        _apply_batch(batch, one_by_one)


def _batch(ctx: LinkState, plan: _Plan, buf: bytearray, debug: bool) -> bulk.Batch | None:
    """A batch to relocate sections in bulk, when this link does (``bulk.wanted``)."""
    if not bulk.wanted(ctx):
        return None
    if debug:  # in debug sections only absolute and PC-relative fields are written here
        plain = {t for t in plan.plain if plan.steps[t][0] in (Kind.ABS, Kind.PC)}
        got: set[int] = set()
    else:
        plain, got = set(plan.plain), set(plan.got_pc)
    return bulk.Batch(ctx, bulk.TypeTable(plan.steps, plain, got), buf, plan.got0)


def _apply_batch(batch: bulk.Batch, one_by_one: Callable[[InputSection, int], None]) -> None:
    """Apply a batch, then the sections it sent back one by one (they report any error)."""
    for sec, start in batch.apply():
        one_by_one(sec, start)


def collect_debug(ctx: LinkState) -> list[OutputSection]:
    """Gather the objects' ``.debug_*`` sections into non-allocated output sections.

    Addresses in them are offsets within their output section (DWARF's convention). The
    files of the C library directory (``crt1.o``, ``libc_nonshared.a``, compiler-rt) bring
    none, as a distribution's stripped ones do: zig built them with its install path and a
    temporary directory in their DWARF, which would make every program depend on both.
    """
    outs: dict[str, OutputSection] = {}
    clib = os.path.join(ctx.c_library.directory, "") if ctx.c_library is not None else None
    ALLOC, NOBITS = elf.SHF_ALLOC, elf.SHT_NOBITS
    for obj in ctx.objects:
        if clib is not None and obj.name.startswith(clib):
            continue
        for sec in obj.sections:
            if sec is None or sec.flags & ALLOC or sec.discarded or sec.type == NOBITS:
                continue
            name = sec.name
            out: OutputSection | None = outs.get(name)
            if out is None:
                if not name.startswith(".debug_"):
                    continue  # (read_object makes no other non-allocated input sections)
                out = outs[name] = OutputSection(name, elf.SHT_PROGBITS, sec.flags & (elf.SHF_MERGE | elf.SHF_STRINGS))
                out.entsize = sec.entsize
            align = sec.align  # a power of 2 (read_object checked)
            at = (out.size + align - 1) & -align
            if align > out.align:
                out.align = align
            sec.addr = sec.offset = at
            sec.out = out
            out.size = at + sec.size
            out.inputs.append(sec)
    return list(outs.values())


def place_debug(outs: list[OutputSection], start: int) -> int:
    """Give the debug output sections their file offsets, aligned one after the other from
    ``start`` (the image's end); where the last one ends."""
    end = start
    for o in outs:
        end += -end % o.align
        o.offset = end
        end += o.size
    return end


def write_debug(ctx: LinkState, outs: list[OutputSection], out: bytearray) -> None:
    """Write the debug output sections into ``out`` at their offsets (``place_debug``), relocated.

    References into dropped code read 0; a dropped function's range must not end a range or
    location list: those read 1, as lld does. This is the last pass to read the inputs, so it
    goes object by object: each object's debug sections are copied to their places in ``out``
    and relocated there, their relocations read and forgotten (debug relocations are most of a
    link's), and the object is released (``release_input``): its bytes go as the output fills.
    In bulk (``bulk.wanted``), an object is released once the batch holding its sections is applied.
    """
    plan = _Plan(ctx, plain_abs=True)
    debug_outs = {id(o) for o in outs}
    batch = _batch(ctx, plan, out, debug=True)
    pending: list[ObjectFile] = []  # objects with sections in the batch, released once it is applied

    def one_by_one(sec: InputSection, start: int) -> None:
        table = sec.file.symbol_values  # ``_debug_values`` keeps it there
        assert table is not None
        _relocate(ctx, sec, out, start, plan, table, None, None, _tomb(sec))
        sec.release_relocs()

    for obj in ctx.objects:
        table = None
        queued = False
        for sec in obj.sections:
            if sec is None or id(sec.out) not in debug_outs:
                continue
            assert sec.out is not None
            at = sec.out.offset + sec.offset
            out[at : at + sec.size] = sec.data
            if not sec.has_relocs:
                continue
            if table is None:
                table = _debug_values(ctx, obj)
            if batch is not None and batch.add(sec, at, table, _tomb(sec)):
                queued = True
                continue
            one_by_one(sec, at)
        if not queued:
            release_input(obj)
            continue
        pending.append(obj)
        assert batch is not None
        if batch.entries >= bulk.BATCH_ENTRIES:
            _apply_batch(batch, one_by_one)
            for done in pending:
                release_input(done)
            pending.clear()
    if batch is not None:
        _apply_batch(batch, one_by_one)
    for done in pending:
        release_input(done)


def _symbol_values(ctx: LinkState, syms: list[Symbol], debug: bool) -> list[int]:
    """Each symbol's address for relocation, or one of the markers above."""
    out: list[int] = []
    append = out.append
    ALLOC, SECTION, ABS = elf.SHF_ALLOC, elf.STT_SECTION, elf.SHN_ABS
    for sym in syms:
        sec = sym.section
        if sec is None:
            append(VALUE_IMPORT if is_import_ref(sym) else (sym.value if sym.shndx == ABS else 0))
        elif debug and sec.flags & ALLOC and (not sec.live or sec.discarded):
            append(VALUE_DROPPED)
        elif sec.merged is None:
            append(sec.addr + sym.value)
        elif sym.type == SECTION:
            append(VALUE_MERGED_PIECE)
        else:
            append(merged_addr(sec, sym.value))
    return out


def _tomb(sec: InputSection) -> int:
    """What a debug section's references into dropped code read: 1 where 0 would end a range
    or location list, else 0."""
    return 1 if sec.name in (".debug_ranges", ".debug_loc") else 0


def _debug_values(ctx: LinkState, obj: ObjectFile) -> list[int]:
    """``_symbol_values`` of ``obj`` for its debug sections, kept on the object until it is
    released: the allocated sections' table when that pass made one (after ``collect_debug``
    placed the debug sections), with the symbols of dropped allocated sections marked
    ``VALUE_DROPPED``."""
    table = obj.symbol_values
    if table is None:
        table = obj.symbol_values = _symbol_values(ctx, obj.symbols, debug=True)
        return table
    ALLOC = elf.SHF_ALLOC
    dropped = {sec for sec in obj.sections if sec is not None and sec.flags & ALLOC and (not sec.live or sec.discarded)}
    if dropped:
        for i in compress(count(), map(dropped.__contains__, map(_section_of, obj.symbols))):
            table[i] = VALUE_DROPPED
    return table


_section_of = attrgetter("section")


#: How to apply one relocation type: (kind, field size, howto, then for a plain integer field
#: its addend reader, value writer, lowest and highest value and mask, else Nones and zeros).
_Step = tuple[Kind, int, Howto, "Callable | None", "Callable | None", int, int, int]
#: A relocation type whose value is S + A (``pc`` False) or S + A - P (``pc`` True) into a plain
#: integer field: (pc, addend reader, value writer, lowest, highest, mask).
_PlainStep = tuple[bool, Callable, Callable, int, int, int]


class _Plan:
    """How each relocation type is applied in one pass: ``steps`` for every type that does
    something, ``plain`` for the types needing nothing but the symbol's address (the common case)."""

    def __init__(self, ctx: LinkState, plain_abs: bool):
        fast = fast_fields(ctx.target.howtos)
        thunks = ctx.target.thunk_size > 0
        self.steps: dict[int, _Step] = {}
        self.plain: dict[int, _PlainStep] = {}
        # GOT-relative loads (G + A - P) join S + A - P sections' columns with G for S.
        self.got_pc: dict[int, _PlainStep] = {}
        got = ctx.synthetic.get(".got")
        self.got0, self.word = (got.addr if got is not None else 0), ctx.arch.word
        for rt, h in ctx.target.howtos.items():
            if h.kind is Kind.NONE or h.field is None:
                continue
            f = fast.get(rt)
            if f is None:
                self.steps[rt] = (h.kind, h.field.size, h, None, None, 0, 0, 0)
                continue
            read, write = struct.Struct(f.read).unpack_from, struct.Struct(f.write).pack_into
            self.steps[rt] = (h.kind, h.field.size, h, read, write, f.lowest, f.highest, f.mask)
            if h.kind is Kind.PC or (h.kind is Kind.CALL and not thunks) or (h.kind is Kind.ABS and plain_abs):
                self.plain[rt] = (h.kind is not Kind.ABS, read, write, f.lowest, f.highest, f.mask)
            elif h.kind is Kind.GOT_PC:
                self.got_pc[rt] = (True, read, write, f.lowest, f.highest, f.mask)
        self.plain_types = frozenset(self.plain)
        self._sets: dict[frozenset[int], _TypeSet] = {}

    def type_set(self, types: frozenset[int]) -> _TypeSet:
        """What applying a section whose relocations are of ``types`` needs (worked out once per set)."""
        facts = self._sets.get(types)
        if facts is None:
            steps = self.steps
            plain = {**self.plain, **self.got_pc}
            known = [t for t in types if t in steps]
            bad = next((steps[t][2].name for t in known if steps[t][0] not in _DEBUG_KINDS), None)
            widest = max((steps[t][1] for t in known), default=0)
            kinds = {plain[t][0] for t in types if t in plain}
            columns = types <= plain.keys() and len(kinds) == 1
            lowest = max((plain[t][3] for t in types if t in plain), default=0)
            highest = min((plain[t][4] for t in types if t in plain), default=0)
            one = plain[next(iter(types))] if columns and len(types) == 1 else None
            writers = {t: plain[t][2] for t in types if t in plain}
            facts = self._sets[types] = _TypeSet(
                bad,
                widest,
                types <= self.plain_types,
                columns,
                columns and kinds == {True},
                lowest,
                highest,
                one,
                writers,
                types & self.got_pc.keys(),
                masks.pop() if len(masks := {plain[t][5] for t in types if t in plain}) == 1 else 0,
            )
        return facts


class _TypeSet(NamedTuple):
    """Facts about a set of relocation types, for applying a section of them."""

    bad_in_debug: str | None  # the name of a type that cannot occur in a debug section
    widest: int  # the largest field
    plain: bool  # every type is a _PlainStep
    columns: bool  # every type is a _PlainStep or a GOT-relative load, all of one kind
    pc: bool  # that kind is S + A - P
    lowest: int  # a value in [lowest, highest] fits every type's field
    highest: int
    one: _PlainStep | None  # the step, when there is only one type
    writers: dict[int, Callable]  # each plain type's writer
    got_types: frozenset[int] | set[int]  # the GOT-relative loads among them
    mask: int  # the mask of every type's field when they share one, else 0


def _relocate(
    ctx: LinkState,
    sec: InputSection,
    buf: bytearray,
    pos0: int,
    plan: _Plan,
    values: list[int],
    import_value: ImportValue | None,
    on_absolute: AbsoluteHook | None,
    tomb: int | None,
) -> None:
    """Apply one section's relocations to its bytes at ``buf[pos0:]``: read, compute, check, write.

    ``values`` holds the address of each symbol of the section's object (``_symbol_values``).
    ``tomb`` is None for allocated sections; for a debug section it is the value written
    for references into dropped sections, and only absolute, PC-relative and DTP kinds occur.
    """
    r = sec.relocs
    offsets = r.offsets
    if not offsets:
        return
    syms = sec.file.symbols
    steps = plan.steps
    facts = plan.type_set(frozenset(r.types))
    if tomb is not None and facts.bad_in_debug is not None:
        raise DynError(f"unsupported relocation {facts.bad_in_debug} in debug section {sec.name}", sec.file.name)
    is_rel = sec.rel_type == elf.SHT_REL
    place0, size = sec.addr, sec.size
    # Check each relocation's place only when the farthest one might not fit.
    check_place = max(offsets) + facts.widest > size
    if not check_place and facts.columns and (not is_rel or facts.plain):
        if is_rel:  # the addends are the fields' contents
            r = _with_implicit_addends(r, buf, pos0, facts.one, plan.plain)
        try:
            if _relocate_columns(buf, pos0, place0, r, facts, values, syms, tomb, plan):
                return
        except IndexError:  # a symbol index past the table (mark_live checked the allocated sections')
            raise no_such_symbol(sec, r.symbols) from None
    if tomb is not None and max(r.symbols) >= len(syms):
        raise no_such_symbol(sec, r.symbols)
    if check_place or not facts.plain:
        _relocate_all(ctx, sec, buf, pos0, steps, values, import_value, on_absolute, tomb, check_place)
        return
    # Every relocation is S + A or S + A - P into a plain field: only symbols without a
    # plain address take the general path.
    plain = plan.plain
    for off, rtype, symi, A in zip(offsets, r.types, r.symbols, r.addends, strict=True):
        pc, read, write, lowest, highest, mask = plain[rtype]
        pos = pos0 + off
        if is_rel:
            A = read(buf, pos)[0]
        S = values[symi]
        if S < 0:
            _relocate_one(ctx, sec, buf, pos0, steps[rtype], off, symi, A, S, import_value, on_absolute, tomb)
            continue
        v = S + A - place0 - off if pc else S + A
        if lowest <= v <= highest:
            write(buf, pos, v & mask)
        else:
            _overflow(sec, steps[rtype][2], off, syms[symi], f"value {v:#x} does not fit in {steps[rtype][1] * 8} bits")


def _relocate_columns(
    buf: bytearray,
    pos0: int,
    place0: int,
    r: Relocs,
    facts: _TypeSet,
    values: list[int],
    syms: list[Symbol],
    tomb: int | None,
    plan: _Plan,
) -> bool:
    """Apply a section's plain relocations of one kind with explicit addends as whole columns,
    when no symbol is an import and every value fits every field's range (nothing to report).
    False when the section needs the per-relocation loop instead."""
    S = list(map(values.__getitem__, r.symbols))
    dropped: list[int] = []
    if min(S) < 0:
        if VALUE_IMPORT in S:
            return False  # the output decides
        dropped = _indexes(S, VALUE_DROPPED)
        for i in dropped:
            S[i] = 0
        for i in _indexes(S, VALUE_MERGED_PIECE):  # the addend picks the piece
            S[i] = merged_piece_base(syms[r.symbols[i]], r.addends[i])
    got_types = facts.got_types
    if got_types:  # G, the symbol's GOT slot, for S
        got0, word, symbols = plan.got0, plan.word, r.symbols
        for t in got_types:
            for i in _indexes(r.types, t):
                S[i] = got0 + syms[symbols[i]].got_index * word
    if facts.pc:  # S + A - P
        v = list(map(sub, map(add, S, r.addends), map(place0.__add__, r.offsets)))
    else:  # S + A
        v = list(map(add, S, r.addends))
    for i in dropped:
        v[i] = tomb or 0
    low = min(v)
    if low < facts.lowest or max(v) > facts.highest:
        return False
    if low < 0:  # negative values are written masked to their field
        if not facts.mask:
            return False
        v = list(map(facts.mask.__and__, v))
    with memoryview(buf)[pos0:] as section:  # written at the relocations' own offsets
        one = facts.one
        if one is not None:
            write = one[2]
            for off, value in zip(r.offsets, v, strict=True):
                write(section, off, value)
        else:
            writers = facts.writers
            for off, rtype, value in zip(r.offsets, r.types, v, strict=True):
                writers[rtype](section, off, value)
    return True


def _with_implicit_addends(
    r: Relocs, buf: bytearray, pos0: int, one: _PlainStep | None, plain: dict[int, _PlainStep]
) -> Relocs:
    """``r`` with the addends of SHT_REL relocations (plain fields' contents at ``buf[pos0:]``) as a
    column; ``one`` is the step when the section has one type."""
    if one is not None:
        read = one[1]
        addends = [read(buf, pos0 + off)[0] for off in r.offsets]
    else:
        addends = [plain[t][1](buf, pos0 + off)[0] for off, t in zip(r.offsets, r.types, strict=True)]
    return Relocs(r.offsets, r.types, r.symbols, addends)


def _indexes(column: list[int], value: int) -> list[int]:
    """Where ``value`` occurs in ``column`` (searched in C: markers are rare)."""
    found: list[int] = []
    i = -1
    index = column.index
    for _ in range(column.count(value)):
        i = index(value, i + 1)
        found.append(i)
    return found


def _overflow(sec: InputSection, howto: Howto, off: int, sym: Symbol, msg: str) -> None:
    raise DynError(
        f"relocation {howto.name} against {sym.name or sec.name} in section "
        f"{sec.name} at offset {off:#x} overflows: {msg}",
        sec.file.name,
    )


def _relocate_all(
    ctx: LinkState,
    sec: InputSection,
    buf: bytearray,
    pos0: int,
    steps: dict[int, _Step],
    values: list[int],
    import_value: ImportValue | None,
    on_absolute: AbsoluteHook | None,
    tomb: int | None,
    check_place: bool,
) -> None:
    """``_relocate`` for a section with relocations of any kind (the general loop)."""
    ABS, CALL, PC, GOT_PC = Kind.ABS, Kind.CALL, Kind.PC, Kind.GOT_PC
    r = sec.relocs
    syms = sec.file.symbols
    place0, size = sec.addr, sec.size
    is_rel = sec.rel_type == elf.SHT_REL
    got = ctx.synthetic.get(".got")
    got0, word = (got.addr if got is not None else 0), ctx.arch.word
    thunks = ctx.thunks
    steps_get = steps.get
    for off, rtype, symi, A in zip(r.offsets, r.types, r.symbols, r.addends, strict=True):
        step = steps_get(rtype)
        if step is None:
            continue  # R_*_NONE, or (debug sections only) a type the arch does not know
        kind, fsize, howto, read, write, lowest, highest, mask = step
        if check_place and off + fsize > size:
            raise DynError(f"relocation {howto.name} at offset {off:#x} is outside section {sec.name}", sec.file.name)
        pos = pos0 + off
        if is_rel:
            A = read(buf, pos)[0] if read is not None else howto.field.read_addend(buf, pos)  # type: ignore[union-attr]
        S = values[symi]
        if S < 0:
            _relocate_one(ctx, sec, buf, pos0, step, off, symi, A, S, import_value, on_absolute, tomb)
            continue
        P = place0 + off
        try:
            if kind is PC:
                v = S + A - P
            elif kind is ABS and on_absolute is None:
                v = S + A
            elif kind is GOT_PC:  # ctx.got_addr(sym) + A - P
                v = got0 + syms[symi].got_index * word + A - P
            elif kind is CALL:
                if thunks:
                    via = thunk_target(ctx, howto, syms[symi])
                    if via is not None:
                        S = via
                v = S + A - P
            else:
                v = _value(ctx, kind, howto, syms[symi], S, A, P, buf, pos, on_absolute, sec)
            _store(buf, pos, v, step, S)
        except Overflow as e:
            _overflow(sec, howto, off, syms[symi], e.msg)


def _relocate_one(
    ctx: LinkState,
    sec: InputSection,
    buf: bytearray,
    pos0: int,
    step: _Step,
    off: int,
    symi: int,
    A: int,
    S: int,
    import_value: ImportValue | None,
    on_absolute: AbsoluteHook | None,
    tomb: int | None,
) -> None:
    """Apply one relocation whose symbol has no plain address (``S``, its entry in the values
    table, is one of the markers): dropped, imported or a piece of merged strings."""
    kind, howto = step[0], step[2]
    syms = sec.file.symbols
    pos = pos0 + off
    P = sec.addr + off
    try:
        if S == VALUE_DROPPED:
            v = tomb or 0
            S = 0
        elif S == VALUE_IMPORT and import_value is not None:
            value = import_value(sec, off, syms[symi], howto, P, A)
            if value is None:
                return
            v, S = value, 0
        elif S == VALUE_IMPORT:
            S = 0
            v = _value(ctx, kind, howto, syms[symi], S, A, P, buf, pos, on_absolute, sec)
        else:  # a piece of merged strings, picked by the addend
            S = merged_piece_base(syms[symi], A)
            v = _value(ctx, kind, howto, syms[symi], S, A, P, buf, pos, on_absolute, sec)
        _store(buf, pos, v, step, S)
    except Overflow as e:
        _overflow(sec, howto, off, syms[symi], e.msg)


def _store(buf: bytearray, pos: int, v: int, step: _Step, S: int) -> None:
    """Check that ``v`` fits the field of ``step`` and write it (a branch to an odd ``S`` is to Thumb code)."""
    kind, fsize, howto, _read, write, lowest, highest, mask = step
    if write is not None:
        if not lowest <= v <= highest:
            raise Overflow(f"value {v:#x} does not fit in {fsize * 8} bits")
        write(buf, pos, v & mask)
    else:
        howto.field.write(buf, pos, v, bool(S & 1) if kind is Kind.CALL else False)  # type: ignore[union-attr]


def _value(ctx, kind, howto, sym, S, A, P, buf, pos, on_absolute, sec) -> int:
    """The value of any kind for an address ``S`` (the slower, general path)."""
    if kind is Kind.PC:
        return S + A - P
    if kind is Kind.ABS:
        if on_absolute is not None:
            on_absolute(sec, P, sym, howto, S, A)
        return S + A
    if kind is Kind.CALL:
        via = thunk_target(ctx, howto, sym) if ctx.thunks else None
        return (via if via is not None else S) + A - P
    return compute_value(ctx, kind, sym, S, A, P, buf, pos)


def compute_value(ctx: LinkState, kind: Kind, sym: Symbol, S: int, A: int, P: int, buf, pos: int) -> int:
    """The value of a GOT or TLS kind for symbol ``sym`` at ``S`` (the common kinds are computed inline).

    ``buf[pos]`` is the field (some 386 GOT loads need to see their instruction).
    """
    if kind is Kind.GOT_PC:
        return ctx.got_addr(sym) + A - P
    if kind is Kind.GOT_BASE_PC:
        return ctx.got_base() + A - P
    if kind is Kind.GOT_OFF:
        return S + A - ctx.got_base()
    if kind is Kind.GOT_386:
        v = ctx.got_addr(sym) + A
        return v - ctx.got_base() if ctx.target.got_has_base_register(buf, pos) else v
    if kind is Kind.TP:
        return ctx.tp_offset(S) + A
    if kind is Kind.TP_NEG:
        return A - ctx.tp_offset(S)
    if kind is Kind.GOT_TP_PC:
        return ctx.tls_got_addr(sym) + A - P
    if kind is Kind.GOT_TP:
        return ctx.tls_got_addr(sym) + A
    if kind is Kind.GOT_TP_GOTREL:
        return ctx.tls_got_addr(sym) + A - ctx.got_base()
    if kind is Kind.DTP:
        return S - ctx.tls[0] + A if ctx.tls else A
    raise Overflow(f"relocation kind {kind.value} cannot be applied here")
