"""Shared libraries as link inputs: what an ELF shared object offers a program.

Reads, with ``struct`` over the file's bytes, the library's ``DT_SONAME`` and
``DT_NEEDED`` and every symbol its ``.dynsym`` defines, each with the version it is
defined under (``.gnu.version`` + ``.gnu.version_d``) and whether that is the
symbol's *default* version (``name@@VER``, what a new link binds to) or a hidden
older one (``name@VER``, kept for programs linked long ago).

A library is read once per process (memoised by path, size and modification time).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from .. import elf
from ..errors import DynError, read_input

STT_GNU_IFUNC = 10
STV_PROTECTED = 3


class DynamicSymbol(NamedTuple):
    """One definition a shared library exports (a tuple: libc has thousands)."""

    name: str
    type: int  # STT_FUNC, STT_OBJECT, STT_GNU_IFUNC, STT_TLS, ...
    size: int
    bind: int  # STB_GLOBAL or STB_WEAK
    version: str  # "" when the definition is unversioned
    default: bool  # the version a new link binds to (``name@@VER`` or unversioned)

    @property
    def is_function(self) -> bool:
        """Code (called through the PLT), as opposed to data."""
        return self.type in (elf.STT_FUNC, STT_GNU_IFUNC)

    @property
    def is_data(self) -> bool:
        """Data with a known size: what a copy relocation can copy."""
        return self.type == elf.STT_OBJECT and self.size > 0


@dataclass
class SharedLibrary:
    """The parts of a shared object a static linker needs."""

    path: str
    soname: str  # DT_SONAME, or the file's base name when it has none
    machine: int
    bits: int
    needed: tuple[str, ...] = ()
    versions: frozenset[str] = frozenset()  # version names the library defines
    undefined: frozenset[str] = frozenset()  # names the library expects another module (the program) to define
    symbols: dict[str, list[DynamicSymbol]] = field(default_factory=dict)

    def default_definition(self, name: str) -> DynamicSymbol | None:
        """The definition of ``name`` that an unversioned reference binds to, or None."""
        for sym in self.symbols.get(name, ()):
            if sym.default:
                return sym
        return None

    def definition(self, name: str, version: str = "") -> DynamicSymbol | None:
        """``name`` at exactly ``version`` (hidden or default); with no version, the default one."""
        if not version:
            return self.default_definition(name)
        for sym in self.symbols.get(name, ()):
            if sym.version == version:
                return sym
        return None

    def missing(self, name: str, version: str = "") -> str | None:
        """Why ``name`` (at ``version``) cannot be imported from this library, or None when it can."""
        defs = self.symbols.get(name)
        if not defs:
            return f"{self.soname} ({self.path}) does not define {name}"
        if version and self.definition(name, version) is None:
            have = ", ".join(sorted({d.version for d in defs if d.version})) or "unversioned"
            return f"{self.soname} ({self.path}) has no {name} at version {version} (it has: {have})"
        if not version and self.default_definition(name) is None:
            return f"{self.soname} ({self.path}) defines {name} only at old versions (name one with #VERSION)"
        return None


_MEMO: dict[tuple[str, int, int], SharedLibrary] = {}


def read_shared_library(path: str) -> SharedLibrary:
    """Read the shared object at ``path`` (memoised by path, size and mtime); DynError if it is not one."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise DynError(e.strerror or "cannot read", path) from None
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    lib = _MEMO.get(key)
    if lib is None:
        lib = _MEMO[key] = parse_shared_library(read_input(path), path)
    return lib


def parse_shared_library(data: bytes | memoryview, path: str) -> SharedLibrary:
    """Parse the bytes of an ELF shared object (``ET_DYN``) named ``path``."""
    f = elf.ElfFile(data, path)
    if f.type != elf.ET_DYN:
        raise DynError("not a shared library (ELF type is not ET_DYN)", path)
    dynsym = f.first_section(elf.SHT_DYNSYM)
    if dynsym is None:
        raise DynError("shared library has no dynamic symbol table (.dynsym)", path)
    soname, needed = _dynamic_names(f)
    version_names: dict[int, str] = {}
    versions: list[str] = []
    for d in f.version_defs():
        if d.flags & elf.VER_FLG_BASE:
            version_names[d.ndx] = ""  # the file's own name: symbols at this index are unversioned
        elif d.names:
            version_names[d.ndx] = d.names[0]
            versions.append(d.names[0])
    entries = f.symbol_tuples(dynsym)
    indexes: Sequence[int] = f.versym() if f.first_section(elf.SHT_GNU_VERSYM) else [elf.VER_NDX_GLOBAL] * len(entries)
    if len(indexes) < len(entries):
        raise DynError("symbol version table (.gnu.version) is shorter than .dynsym", path)
    symbols: dict[str, list[DynamicSymbol]] = {}
    undefined: set[str] = set()
    for (name, _value, size, info, other, shndx), ver in zip(entries, indexes[: len(entries)], strict=True):
        bind = info >> 4
        if not name or bind == elf.STB_LOCAL:
            continue
        if shndx == elf.SHN_UNDEF:
            undefined.add(name)
            continue
        if other & 3 not in (elf.STV_DEFAULT, STV_PROTECTED):  # hidden/internal: not visible outside
            continue
        index = ver & ~elf.VERSYM_HIDDEN
        if index == elf.VER_NDX_LOCAL:
            continue
        if index > elf.VER_NDX_GLOBAL and index not in version_names:
            raise DynError(f"symbol {name!r}: version index {index} is not defined in .gnu.version_d", path)
        version = version_names.get(index, "")
        sym = DynamicSymbol(name, info & 0xF, size, bind, version, not ver & elf.VERSYM_HIDDEN)
        symbols.setdefault(name, []).append(sym)
    return SharedLibrary(
        path=path,
        soname=soname or os.path.basename(path),
        machine=f.machine,
        bits=f.bits,
        needed=tuple(needed),
        versions=frozenset(versions),
        undefined=frozenset(undefined),
        symbols=symbols,
    )


def _dynamic_names(f: elf.ElfFile) -> tuple[str, list[str]]:
    """DT_SONAME and the DT_NEEDED names, in order."""
    entries = f.dynamic_entries()
    if not entries:
        return "", []
    strtab = f.dynamic_strings()
    soname, needed = "", []
    for tag, val in entries:
        if tag == elf.DT_SONAME:
            soname = elf.string_at(strtab, val, "DT_SONAME", f.name)
        elif tag == elf.DT_NEEDED:
            needed.append(elf.string_at(strtab, val, "DT_NEEDED", f.name))
    return soname, needed


def is_shared_library(head: bytes) -> bool:
    """True if ``head`` (the first 18 or more bytes of a file) starts an ELF shared object."""
    return len(head) >= 18 and head[:4] == b"\x7fELF" and struct.unpack_from("<H", head, 16)[0] == elf.ET_DYN
