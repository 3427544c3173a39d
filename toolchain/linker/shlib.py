"""Shared libraries as link inputs: what an ELF shared object offers a program.

Reads, with ``struct`` over the file's bytes, the library's ``DT_SONAME`` and
``DT_NEEDED`` and every symbol its ``.dynsym`` defines, each with the version it is
defined under (``.gnu.version`` + ``.gnu.version_d``) and whether that is the
symbol's *default* version (``name@@VER``, what a new link binds to) or a hidden
older one (``name@VER``, kept for programs linked long ago).

A library is read once per process (memoised by path, size and modification time), and
what was read is kept between processes in dyntools' cache directory, keyed by the SHA-256
of the file's bytes (with a CRC-32 of the record against damage): a link reads libc's few
thousand definitions from a ``marshal`` record
instead of parsing its ``.dynsym`` again. Like git's index, the hash of a file is remembered
under the file's identity (device, inode, size, modification and change times), so an
unchanged library is not even read. A missing, unreadable or damaged record is parsed again
and rewritten; an unwritable cache directory only costs the parse. Libraries under 64 KiB
are not recorded (they parse in well under a millisecond), so the cache holds the C
libraries and the like, not every small library a build or a test suite makes.
"""

from __future__ import annotations

import marshal
import os
import struct
import zlib
from collections.abc import Sequence

from .. import elf
from ..cachedir import cache_root, read_entry, write_entry
from ..errors import DynError, read_input
from ..records import NamedTuple

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


_Row = tuple[str, int, int, int, str, bool]  # a DynamicSymbol's fields, as the cache keeps them


class SharedLibrary:
    """The parts of a shared object a static linker needs.

    Its definitions are kept as plain rows by name and made ``DynamicSymbol`` records when
    asked for: a link looks up a few hundred of libc's thousands of names.
    """

    __slots__ = ("path", "soname", "machine", "bits", "needed", "versions", "undefined", "_rows", "_symbols")

    def __init__(
        self,
        path: str,
        soname: str,  # DT_SONAME, or the file's base name when it has none
        machine: int,
        bits: int,
        needed: tuple[str, ...] = (),
        versions: frozenset[str] = frozenset(),  # version names the library defines
        undefined: frozenset[str] = frozenset(),  # names the library expects another module (the program) to define
        symbols: dict[str, list[DynamicSymbol]] | None = None,
        rows: dict[str, list[_Row]] | None = None,
    ) -> None:
        self.path = path
        self.soname = soname
        self.machine = machine
        self.bits = bits
        self.needed = needed
        self.versions = versions
        self.undefined = undefined
        self._symbols = symbols
        self._rows = rows if rows is not None else {n: [tuple(d) for d in defs] for n, defs in (symbols or {}).items()}

    @property
    def symbols(self) -> dict[str, list[DynamicSymbol]]:
        """Every definition, by name."""
        if self._symbols is None:
            make = tuple.__new__
            self._symbols = {name: [make(DynamicSymbol, d) for d in defs] for name, defs in self._rows.items()}
        return self._symbols

    def definitions(self, name: str) -> list[DynamicSymbol]:
        """The definitions of ``name`` (several when it has several versions); [] when none."""
        if self._symbols is not None:
            return self._symbols.get(name, [])
        return [tuple.__new__(DynamicSymbol, d) for d in self._rows.get(name, ())]

    def default_definition(self, name: str) -> DynamicSymbol | None:
        """The definition of ``name`` that an unversioned reference binds to, or None."""
        for sym in self.definitions(name):
            if sym.default:
                return sym
        return None

    def definition(self, name: str, version: str = "") -> DynamicSymbol | None:
        """``name`` at exactly ``version`` (hidden or default); with no version, the default one."""
        if not version:
            return self.default_definition(name)
        for sym in self.definitions(name):
            if sym.version == version:
                return sym
        return None

    def missing(self, name: str, version: str = "") -> str | None:
        """Why ``name`` (at ``version``) cannot be imported from this library, or None when it can."""
        defs = self.definitions(name)
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
    """Read the shared object at ``path`` (memoised, and cached by content); DynError if it is not one."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise DynError(e.strerror or "cannot read", path) from None
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    lib = _MEMO.get(key)
    if lib is None:
        if st.st_size < CACHE_MIN_SIZE:  # parsed in well under a millisecond: not worth a record
            lib = parse_shared_library(read_input(path), path)
        else:
            lib = _read_through_cache(path, st)
        _MEMO[key] = lib
    return lib


CACHE_FORMAT = 3  # bump when the record's shape or what parse_shared_library keeps changes
CACHE_MIN_SIZE = 64 * 1024  # smaller libraries (a test's, a plugin's) are not recorded: the cache holds libc & co.


def cache_entry_path(digest: str) -> str:
    """Where the record of the library whose bytes have this SHA-256 (hex) is kept."""
    return os.path.join(cache_root(), "shlib", f"{digest}.{CACHE_FORMAT}")


def _stamp_path(st: os.stat_result) -> str:
    """Where the content hash of the file with this identity (device, inode, size, modification
    and change times) is remembered: git's index, one file per library."""
    identity = f"{st.st_dev:x}-{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}-{st.st_ctime_ns:x}"
    return os.path.join(cache_root(), "shlib", "stat", identity)


def _read_through_cache(path: str, st: os.stat_result) -> SharedLibrary:
    """The library at ``path``: from its cache record when the file is unchanged since it was
    last read, else by content, else parsed (and then recorded)."""
    stamp = _stamp_path(st)
    known = read_entry(stamp)
    if known is not None and len(known) == 64:
        lib = _from_record(read_entry(cache_entry_path(known.decode("ascii", "replace"))), path)
        if lib is not None:
            return lib
    import hashlib  # only when a library is read: its OpenSSL costs a command 2 ms to load

    data = read_input(path)
    digest = hashlib.sha256(data).hexdigest()
    entry = cache_entry_path(digest)
    lib = _from_record(read_entry(entry), path)
    if lib is None:
        lib = parse_shared_library(data, path)
        write_entry(entry, _to_record(lib, path))
    write_entry(stamp, digest.encode())
    return lib


def _to_record(lib: SharedLibrary, path: str) -> bytes:
    soname = "" if lib.soname == os.path.basename(path) else lib.soname
    fields = (soname, lib.machine, lib.bits, lib.needed, sorted(lib.versions), sorted(lib.undefined), lib._rows)
    payload = marshal.dumps((CACHE_FORMAT, *fields))
    return zlib.crc32(payload).to_bytes(4, "little") + payload


def _from_record(record: bytes | None, path: str) -> SharedLibrary | None:
    """The library a record describes, or None when there is none, or it is damaged or from other code."""
    if record is None or len(record) < 4:
        return None
    payload = memoryview(record)[4:]
    if zlib.crc32(payload).to_bytes(4, "little") != record[:4]:
        return None
    try:
        fmt, soname, machine, bits, needed, versions, undefined, rows = marshal.loads(payload)
        if fmt != CACHE_FORMAT:
            return None
        return SharedLibrary(
            path=path,
            soname=soname or os.path.basename(path),
            machine=machine,
            bits=bits,
            needed=tuple(needed),
            versions=frozenset(versions),
            undefined=frozenset(undefined),
            rows=rows,
        )
    except (ValueError, TypeError, EOFError, AttributeError):
        return None


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
    rows: dict[str, list[_Row]] = {}
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
        row = (name, info & 0xF, size, bind, version, not ver & elf.VERSYM_HIDDEN)
        rows.setdefault(name, []).append(row)
    return SharedLibrary(
        path=path,
        soname=soname or os.path.basename(path),
        machine=f.machine,
        bits=f.bits,
        needed=tuple(needed),
        versions=frozenset(versions),
        undefined=frozenset(undefined),
        rows=rows,
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
