"""Automatic imports: what ``cgo -dynimport`` wrote by hand, derived from the shared inputs.

After objects and archives are resolved, each global that is still undefined but
that a shared input defines becomes, in effect, the directive::

    dynimport name name#VERSION "SONAME"

with ``VERSION`` the library's default version of the symbol (``name@@VERSION``),
so that the ``.gnu.version_r`` machinery records it and ld.so checks it at load
time. The first shared input on the command line that defines the symbol provides
it (GNU ld's rule). Explicit ``#pragma dynimport`` directives are checked against
the library they name when that library is available: a symbol or version the
library lacks is an error naming the pragma's object.

Which libraries get ``DT_NEEDED``: those named ``--no-as-needed`` always; the others
(``--as-needed``, the default) only when the program imports something from them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

from ..directives import DynImport
from ..records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .shlib import DynamicSymbol, SharedLibrary

MAX_REFERENCES_SHOWN = 3  # objects named per undefined symbol before "and N more"


class SharedInput(NamedTuple):
    """A shared library on the link's command line (or found through ``-l`` / a script)."""

    library: SharedLibrary
    as_needed: bool = True
    origin: str = ""  # how the user named it, for messages

    @property
    def soname(self) -> str:
        return self.library.soname


class SharedSet:
    """The shared inputs of a link, in command-line order, and who provides each symbol."""

    def __init__(self, inputs: Sequence[SharedInput]):
        self.inputs = list(inputs)
        self._provider: dict[str, tuple[SharedInput, DynamicSymbol] | None] = {}

    def provider(self, name: str) -> tuple[SharedInput, DynamicSymbol] | None:
        """The first input whose default definition of ``name`` an unversioned reference binds to;
        for ``name@VERSION`` (an object's ``.symver`` reference), its definition at that version."""
        try:
            return self._provider[name]
        except KeyError:
            pass
        base, at, version = name.partition("@")
        found = None
        for inp in self.inputs:
            d = inp.library.definition(base, version) if at and version else inp.library.default_definition(name)
            if d is not None:
                found = (inp, d)
                break
        self._provider[name] = found
        return found

    def by_soname(self, soname: str) -> SharedInput | None:
        """The input whose ``DT_SONAME`` (or file name) is ``soname``."""
        for inp in self.inputs:
            if inp.soname == soname or os.path.basename(inp.library.path) == soname:
                return inp
        return None


def remote_name(sym: DynamicSymbol) -> str:
    """The directive spelling of an import of ``sym``: ``name#VERSION``, or ``name`` if unversioned."""
    return f"{sym.name}#{sym.version}" if sym.version else sym.name


def automatic_imports(undefined: Iterable[str], shared: SharedSet) -> list[DynImport]:
    """The directives that bind each of ``undefined`` a shared input provides, in the given order."""
    out = []
    for name in undefined:
        found = shared.provider(name)
        if found is not None:
            inp, sym = found
            out.append(DynImport(name, remote_name(sym), inp.soname))
    return out


def check_explicit_import(imp: DynImport, library: SharedLibrary) -> str | None:
    """Why the library an explicit ``dynimport`` names cannot provide it, or None when it can."""
    name, _, version = imp.remote.partition("#")
    return library.missing(name, version)


def needed_libraries(shared: SharedSet, used: set[str], directive_libraries: Sequence[str]) -> list[str]:
    """``DT_NEEDED`` entries in order: the shared inputs that are used or ``--no-as-needed``,
    then libraries named only by explicit directives (first-seen order), each once."""
    out: list[str] = []
    for inp in shared.inputs:
        if (inp.soname in used or not inp.as_needed) and inp.soname not in out:
            out.append(inp.soname)
    for lib in directive_libraries:
        if lib in used and lib not in out:
            out.append(lib)
    return out


def find_named_library(
    path: str, dirs: Sequence[str], shared: SharedSet, read: Callable[[str], SharedLibrary | None]
) -> SharedLibrary | None:
    """The library a directive names (``libc.so.6`` or a path): a shared input first, else a file in ``dirs``."""
    inp = shared.by_soname(os.path.basename(path))
    if inp is not None:
        return inp.library
    candidates = [path] if "/" in path else [os.path.join(d, path) for d in dirs]
    for cand in candidates:
        if os.path.isfile(cand):
            lib = read(cand)
            if lib is not None:
                return lib
    return None


def undefined_report(
    references: dict[str, list[str]], objects: Sequence[str], hints: dict[str, str] | None = None
) -> list[str]:
    """One line per undefined symbol: ``first.o: undefined symbol: NAME (also referenced by ...)``.

    ``references`` maps each name to the objects that reference it, in link order
    (``objects``); lines are ordered by the first referencing object's place, then name.
    """
    hints = hints or {}
    place = {name: i for i, name in enumerate(objects)}
    lines = []
    for name, refs in sorted(references.items(), key=lambda kv: (place.get(kv[1][0], len(place)), kv[0])):
        line = f"{refs[0]}: undefined symbol: {name}{hints.get(name, '')}"
        others = refs[1:]
        if others:
            shown = others[:MAX_REFERENCES_SHOWN]
            more = len(others) - len(shown)
            line += f" (also referenced by {', '.join(shown)}" + (f" and {more} more" if more else "") + ")"
        lines.append(line)
    return lines
