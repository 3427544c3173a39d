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
from . import hosted
from .context import LinkState, SyntheticSection
from .inputs import Archive, ObjectFile, Symbol, comdat_groups, load_object, open_object
from .libsearch import KIND_ARCHIVE, KIND_SHARED
from .sections import add_synthetic_section

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
    """Load every input; archive members are pulled for undefined references and ``wanted`` names.

    Shared libraries are read (``hosted``); with libc among them, the C start files join
    the objects; what is still undefined is then imported from the shared libraries or
    pulled from compiler-rt (``hosted.bind_shared``).
    """
    for name in wanted:
        ctx.global_symbol(name).bind = elf.STB_GLOBAL
        ctx.wanted.add(name)
    found = hosted.find_inputs(ctx)
    if not found:
        raise DynError("no input files")
    for inp in found:
        if inp.kind == KIND_SHARED:
            hosted.add_shared(ctx, inp)
        elif inp.kind == KIND_ARCHIVE:
            ar = Archive(read_input(inp.path), inp.path)
            ctx.archives.append(ar)
            _add_archive(ctx, ar)
        else:
            _add_object(ctx, open_object(inp.path, ctx.arch, len(ctx.objects)))
    hosted.add_start_files(ctx)
    hosted.bind_shared(ctx)
    ctx.flush_errors()


def _add_archive(ctx: LinkState, ar: Archive) -> None:
    index = ar.index
    if not index:
        index = []
        for off in sorted(ar.members):
            mname, data = ar.member_data(off)
            if not bytes(data[:4]) == b"\x7fELF":
                continue  # not an object (a text file kept in the archive): nothing to index
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
    _add_object(ctx, load_object(data, mname, ctx.arch, len(ctx.objects)))


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
    symbols = obj.symbols
    LOCAL = elf.STB_LOCAL
    for i in range(obj.first_global, len(symbols)):
        sym = symbols[i]
        if sym.bind == LOCAL:
            continue
        if sym.section is not None and sym.section.discarded:
            sym.section, sym.shndx = None, elf.SHN_UNDEF
        symbols[i] = _resolve(ctx, obj, sym, pending)
    for name in pending:
        if name in ctx.dynimported:
            continue
        lz = ctx.lazy.pop(name, None)
        if lz is not None:
            _load_member(ctx, *lz)


def _resolve(ctx: LinkState, obj: ObjectFile, s: Symbol, pending: list[str]) -> Symbol:
    """Merge object ``obj``'s global symbol ``s`` into the global table by rank; returns the global."""
    g = ctx.globals.get(s.name)
    if g is None:
        g = ctx.globals[s.name] = Symbol(s.name, True)
        g.bind = s.bind
        old = RANK_UNDEFINED  # a new global is an undefined reference
    else:
        old = rank(g)
    # rank(s), inlined: this runs for every global symbol of every object.
    shndx = s.shndx
    if s.section is not None or (shndx != elf.SHN_UNDEF and shndx != elf.SHN_COMMON):
        new = RANK_WEAK if s.bind == elf.STB_WEAK else RANK_STRONG
    else:
        new = RANK_COMMON if shndx == elf.SHN_COMMON else RANK_UNDEFINED
    if ctx.loading_fallback and g.dynimport is not None and old == RANK_UNDEFINED:
        return g  # compiler-rt's definitions never replace what a shared library provides
    if new == RANK_UNDEFINED:
        if g.referenced_by is None:
            g.referenced_by = obj
        if old == RANK_UNDEFINED and s.bind != elf.STB_WEAK:
            g.bind = elf.STB_GLOBAL
            pending.append(s.name)
    elif new < old:
        _take_definition(g, s)
    elif new == old == RANK_STRONG:
        ctx.errors.append(
            f"{obj.name}: duplicate definition of {s.name} (first defined in {g.file.name if g.file else '?'})"
        )
    elif new == old == RANK_COMMON:
        g.size = max(g.size, s.size)
        g.common_align = max(g.common_align, s.common_align)
    return g


def _take_definition(g: Symbol, s: Symbol) -> None:
    g.file, g.section, g.value, g.size = s.file, s.section, s.value, s.size
    g.bind, g.type, g.shndx, g.visibility, g.common_align = s.bind, s.type, s.shndx, s.visibility, s.common_align


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
