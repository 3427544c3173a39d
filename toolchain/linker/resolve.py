"""Passes: load inputs, resolve symbols, apply directives, supply the arch's helper functions.

Reads the options' inputs; writes ``objects``, ``archives``, ``globals``, ``lazy``,
``comdat_seen``, ``wanted``, ``dynimported`` (load_inputs; with ``hosted`` for shared
libraries, start files and automatic imports), ``dynexports`` and ``dynexport_origin``
(apply_directives), and synthetic sections for helper functions.
"""

from __future__ import annotations

from .. import elf
from ..directives import read_object_directives
from ..errors import DynError, read_input
from ..records import TYPE_CHECKING
from . import hosted
from .context import LinkState, SyntheticSection
from .inputs import (
    Archive,
    ObjectFile,
    Symbol,
    SymbolEntry,
    comdat_groups,
    entry_symbol,
    load_object,
    open_object,
    read_object,
)
from .libsearch import KIND_ARCHIVE, KIND_SHARED
from .sections import add_synthetic_section

if TYPE_CHECKING:
    import mmap

# Symbol ranks, best first. When two files define or name the same global symbol, the
# one of better (lower) rank wins:
#   strong definition > weak definition > common symbol > undefined reference.
# Ties keep the symbol of the file loaded first, except that two strong definitions are
# an error, and two common symbols merge into one with the larger size and alignment.
RANK_STRONG, RANK_WEAK, RANK_COMMON, RANK_UNDEFINED = 1, 2, 3, 4


def rank(sym: Symbol) -> int:
    """The precedence of ``sym``'s definition (see the rule above)."""
    if sym.defined:
        return RANK_WEAK if sym.bind == elf.STB_WEAK else RANK_STRONG
    return RANK_COMMON if sym.is_common else RANK_UNDEFINED


def load_inputs(ctx: LinkState, wanted: tuple[str, ...] = ()) -> None:
    """Load every input; archive members are pulled for undefined references and ``wanted`` names
    (all of them for an archive named under ``--whole-archive``).

    Shared libraries are read (``hosted``); with libc among them, the C start files join
    the objects; what is still undefined is then imported from the shared libraries or
    pulled from compiler-rt (``hosted.bind_shared``).
    """
    for name in wanted:
        ctx.global_symbol(name).bind = elf.STB_GLOBAL
        ctx.wanted.add(name)
    contents: dict[str, mmap.mmap | bytes] = {}  # objects' and archives' bytes, read while their kind was
    found = hosted.find_inputs(ctx, contents)
    if not found:
        raise DynError("no input files")
    for inp in found:
        if inp.kind == KIND_SHARED:
            hosted.add_shared(ctx, inp)
        elif inp.kind == KIND_ARCHIVE:
            data = contents.pop(inp.path, None)
            ar = Archive(data if isinstance(data, bytes) else read_input(inp.path), inp.path)
            ctx.archives.append(ar)
            if inp.whole:  # --whole-archive: every object member, in the archive's order
                for off, _name, _data in ar.object_members():
                    _load_member(ctx, ar, off)
            _add_archive(ctx, ar)
        else:
            _add_object(ctx, open_object(inp.path, ctx.arch, len(ctx.objects), contents.pop(inp.path, None)))
    hosted.add_start_files(ctx)
    hosted.bind_shared(ctx)
    ctx.flush_errors()


def _add_archive(ctx: LinkState, ar: Archive) -> None:
    index = ar.index
    if not index:
        index = []
        for off, mname, data in ar.object_members():
            obj = load_object(data, mname, ctx.arch, 0)
            index.extend((s.name, off) for s in obj.symbols[obj.first_global :] if s.defined or s.is_common)
    for name, off in index:
        if name in ctx.dynimported:
            continue
        g = ctx.globals.get(name)
        if (
            g is not None
            and rank(g) == RANK_UNDEFINED
            and g.bind != elf.STB_WEAK
            and (g.referenced_by or name in ctx.wanted)
        ):
            _load_member(ctx, ar, off)
        elif name not in ctx.lazy:
            ctx.lazy[name] = (ar, off)


def _load_member(ctx: LinkState, ar: Archive, off: int) -> None:
    if off in ar.loaded:
        return
    ar.loaded.add(off)
    mname, data = ar.member_data(off)
    _add_object(ctx, read_object(data, mname, ctx.arch, len(ctx.objects)))


def _add_object(ctx: LinkState, obj: ObjectFile) -> None:
    ctx.objects.append(obj)
    assert obj.elf is not None
    obj.directives = read_object_directives(obj.elf)
    if obj.directives is not None and obj.directives.arch not in ("", ctx.arch.name):
        raise DynError(f"directives are for {obj.directives.arch}, not {ctx.arch.name}", obj.name)
    if obj.directives is not None:
        ctx.dynimported.update(imp.local for imp in obj.directives.imports)
    for sig, members in comdat_groups(obj):
        if sig in ctx.comdat_seen:
            for i in members:
                sec = obj.sections[i]
                if sec is not None:
                    sec.discarded = True
        else:
            ctx.comdat_seen[sig] = obj
    obj.elf = None  # its section headers are not needed again: the sections have their bytes
    pending: list[str] = []
    _resolve_globals(ctx, obj, pending)
    for name in pending:
        if name in ctx.dynimported:
            continue
        lz = ctx.lazy.pop(name, None)
        if lz is not None:
            _load_member(ctx, *lz)


def _wrapped(entry: SymbolEntry, wrap: frozenset[str]) -> SymbolEntry:
    """``entry`` as ``--wrap`` binds it: an undefined reference to S names __wrap_S, and one to
    __real_S names S (GNU ld's rule; definitions keep their names)."""
    name, value, size, info, other, shndx = entry
    if shndx != elf.SHN_UNDEF:
        return entry
    if name in wrap:
        return ("__wrap_" + name, value, size, info, other, shndx)
    if name.startswith("__real_") and name[7:] in wrap:
        return (name[7:], value, size, info, other, shndx)
    return entry


def _resolve_globals(ctx: LinkState, obj: ObjectFile, pending: list[str]) -> None:
    """Merge each of ``obj``'s unresolved global symbols into the global table by rank, in table
    order, and append the global (or the file's own symbol, for one bound STB_LOCAL) to its symbols.

    The names a new undefined reference wants go to ``pending``. With ``--wrap``, undefined
    entries are renamed first (``_wrapped``).
    """
    entries = obj.unresolved
    assert entries is not None, "an object is resolved once"
    obj.unresolved = None
    if ctx.opts.wrap:
        entries = [_wrapped(entry, ctx.opts.wrap) for entry in entries]
    sections = obj.sections
    symbols = obj.symbols
    append = symbols.append
    table = ctx.globals
    find = table.get
    fallback = ctx.loading_fallback
    LOCAL, GLOBAL, WEAK = elf.STB_LOCAL, elf.STB_GLOBAL, elf.STB_WEAK
    UNDEF, ABS, COMMON = elf.SHN_UNDEF, elf.SHN_ABS, elf.SHN_COMMON
    for entry in entries:
        name, value, size, info, other, shndx = entry
        bind = info >> 4
        if bind == LOCAL:
            append(entry_symbol(obj, entry))
            continue
        section = sections[shndx] if 0 < shndx < ABS else None  # read_object checked the index
        common_align = 0
        if section is not None:
            if section.discarded:  # in a COMDAT group another file brought first
                section, shndx = None, UNDEF
        elif shndx == COMMON:
            common_align, value = max(value, 1), 0
        # rank() of the entry, inlined: this runs for every global symbol of every object.
        if section is not None or (shndx != UNDEF and shndx != COMMON):
            new = RANK_WEAK if bind == WEAK else RANK_STRONG
        else:
            new = RANK_COMMON if shndx == COMMON else RANK_UNDEFINED
        g = find(name)
        if g is None:  # the first file to name it: a new global (what the rule below gives)
            if new == RANK_UNDEFINED:
                g = table[name] = Symbol(name, True, None, 0, 0, bind if bind == WEAK else GLOBAL)
                g.referenced_by = obj
                if bind != WEAK:
                    pending.append(name)
            else:
                g = table[name] = Symbol(name, True, obj, value, size, bind, info & 0xF, shndx, section, other & 3)
                g.common_align = common_align
            append(g)
            continue
        append(g)
        # rank(g), inlined as above
        gsh = g.shndx
        if g.section is not None or (gsh != UNDEF and gsh != COMMON):
            old = RANK_WEAK if g.bind == WEAK else RANK_STRONG
        else:
            old = RANK_COMMON if gsh == COMMON else RANK_UNDEFINED
        if fallback and old == RANK_UNDEFINED and g.dynimport is not None:
            pass  # compiler-rt's definitions never replace what a shared library provides
        elif new == RANK_UNDEFINED:
            if g.referenced_by is None:
                g.referenced_by = obj
            if old == RANK_UNDEFINED and bind != WEAK:
                g.bind = GLOBAL
                pending.append(name)
        elif new < old:
            g.file, g.section, g.value, g.size = obj, section, value, size
            g.bind, g.type, g.shndx, g.visibility, g.common_align = bind, info & 0xF, shndx, other & 3, common_align
        elif new == old == RANK_STRONG:
            ctx.errors.append(
                f"{obj.name}: duplicate definition of {name} (first defined in {g.file.name if g.file else '?'})"
            )
        elif new == old == RANK_COMMON:
            g.size = max(g.size, size)
            g.common_align = max(g.common_align, common_align)


def apply_directives(ctx: LinkState) -> None:
    """Bind each ``#pragma dynimport``/``dynexport`` of the objects to its global symbol, checking them."""
    imported: dict[str, tuple[str, str, str]] = {}
    for obj in ctx.objects:
        d = obj.directives
        if d is None:
            continue
        for imp in d.imports:
            prev = imported.get(imp.local)
            if prev is not None and prev[:2] != (imp.remote, imp.path):
                ctx.errors.append(
                    f"{obj.name}: {imp.local} imported as {imp.remote} from {imp.path}, "
                    f"but as {prev[0]} from {prev[1]} in {prev[2]}"
                )
                continue
            imported[imp.local] = (imp.remote, imp.path, obj.name)
            ctx.global_symbol(imp.local).dynimport = imp
        for exp in d.exports:
            sym = ctx.global_symbol(exp.local)
            if sym.dynexport is not None and sym.dynexport != exp.remote:
                ctx.errors.append(f"{obj.name}: {exp.local} exported as both {sym.dynexport} and {exp.remote}")
            if sym.dynexport is None:
                sym.dynexport = exp.remote
                sym.referenced_by = sym.referenced_by or obj
                ctx.dynexports.append(sym)
                ctx.dynexport_origin[sym.name] = obj
    for name, (_remote, _path, fname) in imported.items():
        if ctx.globals[name].dynexport is not None:
            ctx.errors.append(f"{fname}: symbol is both dynimport and dynexport {name}")
    remotes = {remote: fname for remote, _path, fname in imported.values()}
    remote_names = {r.partition("#")[0] for r in remotes}
    for sym in ctx.dynexports:
        origin = ctx.dynexport_origin[sym.name].name
        assert sym.dynexport is not None
        if rank(sym) == RANK_UNDEFINED:
            ctx.errors.append(f"{origin}: dynexport of undefined symbol {sym.name}")
        elif sym.dynexport.partition("#")[0] in remote_names:
            ctx.errors.append(
                f"{origin}: {sym.dynexport} is both dynexported (by {sym.name}) and "
                f"dynimported (in {remotes.get(sym.dynexport) or 'a directive'})"
            )
    ctx.flush_errors()


def supply_linker_functions(ctx: LinkState) -> None:
    """Define the arch's helper functions (e.g. arm's ``__aeabi_read_tp``) that are referenced but undefined."""
    for name, code in ctx.target.linker_functions.items():
        g = ctx.globals.get(name)
        if g is None or rank(g) != RANK_UNDEFINED or g.dynimport is not None or g.referenced_by is None:
            continue
        sec: SyntheticSection = add_synthetic_section(
            ctx, f".text.{name}", elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_EXECINSTR, 4, output=".text"
        )
        sec.data, sec.size = code, len(code)
        g.section, g.value, g.shndx, g.type, g.size = sec, 0, 1, elf.STT_FUNC, len(code)
        g.bind = elf.STB_GLOBAL
