"""Passes for shared-library inputs and the C library: find inputs, start files, automatic imports, exports.

Run by ``load_inputs`` and the pipeline; each reads and writes the link state as said:

- ``find_inputs``: the command line's inputs, found (``-l`` search, linker scripts
  followed; ``libsearch``). The C library directory (``glibc``) is searched after the
  ``-L`` directories for the C library's names (``-lc``, ``-lm``, ``-lpthread``, ...)
  and before the arch's library directories, so links are hermetic and the same on
  every machine. Writes ``c_library``.
- ``add_shared``: a shared input read (``shlib``) and checked; appends to ``shared``.
- ``add_start_files``: with ``libc.so.6`` among the inputs and nothing defining
  ``_start``, glibc's ``crt1.o`` (whose ``__libc_start_main`` runs the constructors,
  ``main``, then ``exit``: ``atexit`` handlers, destructors, stdio flushed),
  ``libc_nonshared.a``, and compiler-rt in ``fallback_archives``.
- ``bind_shared``: automatic imports (``autoimport``) for what the shared inputs
  define, then fallback archive members for the rest, until nothing changes. Writes
  the symbols' ``dynimport``, ``dynimported``, ``auto_imports``, ``shared_set``.
- ``check_explicit_imports``: each ``#pragma dynimport`` against its library when the
  library is available (an error naming the pragma's object otherwise).
- ``export_symbols``: ``-E``, ``--dynamic-list`` and the definitions the shared inputs
  expect from the program become dynexports (``dynexports``).
- ``needed_libraries`` and ``check_against_machine``: for the dynamic section, the
  ``DT_NEEDED`` list, and each import bound to the hermetic C library looked up in this
  machine's own copy of the library, when it has one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from .. import elf
from ..errors import DynError, DynErrors, read_input
from ..records import TYPE_CHECKING
from . import libsearch
from .context import LinkState
from .inputs import Archive, Symbol, read_object
from .ldscript import parse_dynamic_list
from .libsearch import LinkInput
from .undefined import LINKER_SYMBOLS

if TYPE_CHECKING:
    import mmap

    from .autoimport import SharedSet
    from .shlib import DynamicSymbol, SharedLibrary

# ``glibc``, ``shlib`` and ``autoimport`` (with ``zlib`` and the cache directory) are imported
# by the functions that need them: a static link has no shared input and no C library.

# The names glibc answers for (glibc 2.34 folded pthread, dl, rt, util and anl into libc).
FOLDED_INTO_LIBC = ("pthread", "dl", "rt", "util", "anl")
C_LIBRARY_NAMES = frozenset({"c", "m", "resolv", *FOLDED_INTO_LIBC})
LIBC_SONAME = "libc.so.6"


def _uses_c_library(ctx: LinkState) -> bool:
    """Does a ``-l`` name the C library that no ``-L`` directory holds?"""
    user = list(ctx.opts.lib_dirs)
    return any(
        a.is_library and a.name in C_LIBRARY_NAMES and libsearch.find_library(a.name, user, a.static, ctx.arch) is None
        for a in ctx.opts.input_args
    )


def search_dirs(ctx: LinkState) -> list[str]:
    """``-L`` directories, the C library directory (when in use), the arch's library directories."""
    cdir = ctx.c_library.directory if ctx.c_library is not None else None
    return libsearch.search_dirs(ctx.opts.lib_dirs, cdir, ctx.arch.lib_dirs)


def find_inputs(ctx: LinkState, contents: dict[str, mmap.mmap | bytes] | None = None) -> list[LinkInput]:
    """Every input file of the link, found, in order (``contents``: see ``libsearch.resolve_inputs``)."""
    if _uses_c_library(ctx):
        from . import glibc

        ctx.c_library = glibc.c_library(ctx.arch)
    return libsearch.resolve_inputs(ctx.opts.input_args, search_dirs(ctx), contents, ctx.opts.output, ctx.arch)


def add_shared(ctx: LinkState, inp: LinkInput) -> None:
    """Read a shared input and add it to the link's shared libraries."""
    if ctx.opts.module:
        raise DynError("a dynld module cannot link against a shared library (its host provides the imports)", inp.path)
    from .autoimport import SharedInput
    from .shlib import read_shared_library

    lib = read_shared_library(inp.path)
    if lib.machine != ctx.arch.machine or lib.bits != ctx.arch.bits:
        raise DynError(f"shared library is not for {ctx.arch.name}", inp.path)
    ctx.shared.append(SharedInput(lib, inp.as_needed, inp.origin))


def add_start_files(ctx: LinkState) -> None:
    """crt1.o, libc_nonshared.a and compiler-rt, when the program links against libc."""
    from .resolve import _add_archive, _add_object

    if ctx.opts.module or not any(s.soname == LIBC_SONAME for s in ctx.shared):
        return
    from . import glibc

    clib = ctx.c_library = ctx.c_library or glibc.c_library(ctx.arch)
    start = ctx.globals.get("_start")
    if ctx.opts.start_files and ctx.opts.entry is None and (start is None or not start.defined):
        _add_object(ctx, read_object(read_input(clib.crt1), clib.crt1, ctx.arch, len(ctx.objects)))
    if os.path.realpath(clib.nonshared) not in {os.path.realpath(ar.name) for ar in ctx.archives}:
        ar = Archive(read_input(clib.nonshared), clib.nonshared)
        ctx.archives.append(ar)
        _add_archive(ctx, ar)
    for path in clib.compiler_rt:
        ctx.fallback_archives.append(Archive(read_input(path), path))


def shared_set(ctx: LinkState) -> SharedSet:
    """The shared inputs as a SharedSet (made once)."""
    if ctx.shared_set is None:
        from .autoimport import SharedSet

        ctx.shared_set = SharedSet(ctx.shared)
    return ctx.shared_set


def _wants_definition(ctx: LinkState, name: str, g: Symbol) -> bool:
    return (
        not g.defined
        and not g.is_common
        and g.dynimport is None
        and name not in ctx.dynimported
        and (g.referenced_by is not None or name in ctx.wanted)
        and name not in LINKER_SYMBOLS
    )


def bind_shared(ctx: LinkState) -> None:
    """Import what the shared inputs define; pull fallback archive members for the rest; repeat."""
    if not ctx.shared and not ctx.fallback_archives:
        return
    from .autoimport import automatic_imports
    from .resolve import _load_member

    shared = shared_set(ctx)
    fallback: dict[str, tuple[Archive, int]] = {}
    for ar in ctx.fallback_archives:
        for name, off in ar.index:
            fallback.setdefault(name, (ar, off))
    while True:
        pending = [name for name, g in ctx.globals.items() if _wants_definition(ctx, name, g)]
        imports = automatic_imports(pending, shared)
        for imp in imports:
            ctx.globals[imp.local].dynimport = imp
            ctx.dynimported.add(imp.local)
        ctx.auto_imports.extend(imports)
        provided = {imp.local for imp in imports}
        pulled = False
        for name in pending:
            member = fallback.get(name)
            if name in provided or ctx.globals[name].weak or member is None or member[1] in member[0].loaded:
                continue
            ctx.loading_fallback = True
            try:
                _load_member(ctx, *member)
            finally:
                ctx.loading_fallback = False
            pulled = True
        if not pulled:
            return


def _read_or_none(path: str) -> SharedLibrary | None:
    from .shlib import read_shared_library

    try:
        return read_shared_library(path)
    except DynError:
        return None


def _named_library(ctx: LinkState, path: str, dirs: Sequence[str]) -> SharedLibrary | None:
    from .autoimport import find_named_library

    lib = find_named_library(path, dirs, shared_set(ctx), _read_or_none)
    if lib is None or lib.machine != ctx.arch.machine or lib.bits != ctx.arch.bits:
        return None
    return lib


def check_explicit_imports(ctx: LinkState) -> None:
    """Each object's dynimport directives against their libraries, when the libraries are available."""
    pragmas = [(obj, imp) for obj in ctx.objects if obj.directives is not None for imp in obj.directives.imports]
    if pragmas:
        from .autoimport import check_explicit_import

        dirs = search_dirs(ctx)
        for obj, imp in pragmas:
            lib = _named_library(ctx, imp.path, dirs)
            why = check_explicit_import(imp, lib) if lib is not None else None
            if why is not None:
                ctx.errors.append(f'{obj.name}: #pragma dynimport {imp.local} {imp.remote} "{imp.path}": {why}')
    ctx.flush_errors()


def library_definition(ctx: LinkState, sym: Symbol) -> DynamicSymbol | None:
    """The definition in its shared library that an import binds to, when the library is available."""
    imp = sym.dynimport
    if imp is None:
        return None
    name, _, version = imp.remote.partition("#")
    lib = _named_library(ctx, imp.path, search_dirs(ctx))
    return lib.definition(name, version) if lib is not None else None


def export_symbols(ctx: LinkState) -> None:
    """Export what ``-E``/``--dynamic-list``/``--export-dynamic-symbol`` ask for and the definitions the
    shared inputs expect from us."""
    if ctx.opts.module:
        return
    if not ctx.shared and not any(o.directives is not None and o.directives.imports for o in ctx.objects):
        return  # a static executable has no dynamic symbol table to export through
    wanted: set[str] = set()
    patterns: list[str] = []
    for inp in ctx.shared:
        wanted |= inp.library.undefined
    entries = list(ctx.opts.export_symbols)  # --export-dynamic-symbol
    if ctx.opts.dynamic_list:
        text = read_input(ctx.opts.dynamic_list).decode("utf-8", "replace")
        entries += parse_dynamic_list(text, ctx.opts.dynamic_list)
    for entry in entries:
        if any(c in entry for c in "*?["):
            patterns.append(entry)
        else:
            wanted.add(entry)
    matches_a_pattern = _pattern_matcher(patterns)
    for name in sorted(ctx.globals):
        g = ctx.globals[name]
        if g.dynexport is not None or g.dynimport is not None or not g.defined or g.section is None:
            continue
        if g.visibility not in (elf.STV_DEFAULT, 3):  # hidden and internal symbols stay inside
            continue
        if ctx.opts.export_dynamic or name in wanted or matches_a_pattern(name):
            g.dynexport = name
            g.referenced_by = g.referenced_by or g.file
            ctx.dynexports.append(g)
            if g.file is not None:
                ctx.dynexport_origin[name] = g.file


def used_libraries(ctx: LinkState, used: Sequence[Symbol]) -> list[str]:
    """``DT_NEEDED``: the shared inputs that are used or ``--no-as-needed``, then directive-only libraries."""
    from .autoimport import needed_libraries

    used_libs = {s.dynimport.path for s in used if s.dynimport is not None}
    directive_libs: list[str] = []
    for obj in ctx.objects:
        if obj.directives is not None:
            for imp in obj.directives.imports:
                if imp.path not in directive_libs:
                    directive_libs.append(imp.path)
    return needed_libraries(shared_set(ctx), used_libs, directive_libs)


def check_against_machine(ctx: LinkState, used: Sequence[Symbol]) -> None:
    """Each import bound to the hermetic C library must be in this machine's copy of it, when there is one."""
    clib = ctx.c_library
    if clib is None:
        return
    from . import glibc

    real: dict[str, SharedLibrary | None] = {}
    problems = []
    for sym in used:
        imp = sym.dynimport
        if imp is None or imp.path not in clib.shared:
            continue
        if imp.path not in real:
            path = glibc.real_library(ctx.arch, imp.path)
            real[imp.path] = _read_or_none(path) if path else None
        lib = real[imp.path]
        name, _, version = imp.remote.partition("#")
        if lib is not None and lib.definition(name, version) is None:
            problems.append(
                f"{sym.name}: {name}@{version} is in glibc {ctx.arch.glibc_version} (zig's) but not in this "
                f"machine's {lib.path}: the program would not start here"
            )
    if problems:
        raise DynErrors(problems)


def _pattern_matcher(patterns: list[str]) -> Callable[[str], bool]:
    """Does a name match one of the glob ``patterns``? (``fnmatch`` imports ``re``: only when there are some.)"""
    if not patterns:
        return lambda name: False
    import fnmatch

    return lambda name: any(fnmatch.fnmatchcase(name, p) for p in patterns)
