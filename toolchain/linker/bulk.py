"""Relocations applied in bulk: many sections' relocations as one set of arrays, applied by C.

``relocate`` queues sections in a ``Batch`` and applies them together when the batch is
full, with the C library of ``native`` (``bulkreloc.c``). Each section is applied there
wholly, or handed back to ``relocate``'s per-section path, which also writes every error
message: a section goes back when any of its relocations is unusual (a type that is not a
plain integer field computed as S + A, S + A - P or G + A - P, an import, a place or symbol
index out of range, a value that does not fit, fields that overlap or are not in
increasing order). Both paths write the same bytes; the tests link with each and compare.

Links of ``PAYS`` relocation entries or more use it, when the library can be had (built
by zig into the cache directory the first time). ``DYNTOOLS_NATIVE=0`` turns it off, ``=1``
uses it for every link.
"""

from __future__ import annotations

import os
import sys
from array import array
from operator import attrgetter

from .. import elf
from ..records import TYPE_CHECKING
from .reloc import Kind, entry_size

if TYPE_CHECKING:
    from .context import LinkState
    from .inputs import InputSection

#: Relocation entries from which a link uses the C library: below, loading it (ctypes) and
#: the calls cost more than they save (measured: see bench/README.md).
PAYS = 10_000
#: Relocation entries applied together (bounds the arrays' memory).
BATCH_ENTRIES = 1 << 16

# What a relocation type is to the bulk path (bulkreloc.c's MODE_*).
_BACK, _SKIP, _PLAIN, _GOT = 0, 1, 2, 3
ROW = 6  # values per section in Batch.rows
TYPE_ROW = 5  # values per relocation type in TypeTable.rows
_GOT_INDEX = attrgetter("got_index")


def wanted(ctx: LinkState) -> bool:
    """Should this link's relocations be applied in bulk (and can they be)?"""
    setting = os.environ.get("DYNTOOLS_NATIVE", "")
    if setting == "0" or sys.byteorder != "little":
        return False
    if setting != "1" and sum(obj.relocation_entries for obj in ctx.objects) < PAYS:
        return False
    from . import native  # (imported only by links that may use it: it imports ctypes)

    return native.library() is not None


class TypeTable:
    """The facts of every relocation type of one pass, indexed by type: ``rows`` holds ``TYPE_ROW``
    values per type (mode, whether S + A - P, field size, lowest and highest value)."""

    def __init__(self, steps: dict[int, tuple], plain: set[int], got: set[int]) -> None:
        rows = [(_SKIP, 0, 0, 0, 0)] * (max(steps, default=0) + 1)  # R_*_NONE, and types with nothing to write
        for rt, step in steps.items():
            kind, size, _howto, _read, _write, lowest, highest, _mask = step
            if rt in plain or rt in got:
                rows[rt] = (
                    _GOT if rt in got else _PLAIN,
                    kind is not Kind.ABS,
                    size,
                    lowest,
                    min(highest, (1 << 63) - 1),  # values are within int64
                )
            else:
                rows[rt] = (_BACK, 0, 0, 0, 0)
        self.rows = array("q", [v for row in rows for v in row])
        self.has_got = bool(got)


class Batch:
    """Sections queued to be relocated together: where each one's bytes are and its relocations."""

    def __init__(self, ctx: LinkState, table: TypeTable, buf: bytearray, got0: int) -> None:
        self.table = table
        self.buf = buf
        self.got0 = got0
        self.word = ctx.arch.word  # every object of a link is of its arch's ELF class
        self._clear()

    def _clear(self) -> None:
        self.rela: bool | None = None  # whether every queued section's entries are SHT_RELA
        self.entry_size = 0
        self.sections: list[InputSection] = []
        self.records: list[memoryview] = []
        self.counts = array("q")  # each section's entries
        #: per section, ``ROW`` values: where it starts in ``buf``, its address (P at offset 0), where
        #: it ends in ``buf``, where its object's values start in ``values`` and how many there
        #: are, and the value for references into dropped code
        self.rows = array("q")
        self.values: list[int] = []
        #: with GOT-relative types, each value's symbol's GOT slot (-1 for none), else empty
        self.slots: list[int] = []
        self.tables: dict[int, int] = {}  # id(values table) -> its base
        self.entries = 0

    def add(self, sec: InputSection, start: int, values: list[int], tomb: int) -> bool:
        """Queue ``sec`` (its bytes at ``buf[start:]``, its object's values table ``values``); False
        when the bulk path cannot take it."""
        raw = sec.relocation_bytes()
        if raw is None:
            return False
        rela = sec.rel_type == elf.SHT_RELA
        if self.rela is None:
            self.rela = rela
            self.entry_size = entry_size(rela, self.word)
        elif rela is not self.rela:
            return False
        count, rest = divmod(len(raw), self.entry_size)
        if rest:
            return False
        base = self.tables.get(id(values))
        if base is None:
            base = self.tables[id(values)] = len(self.values)
            self.values += values
            if self.table.has_got:
                self.slots += map(_GOT_INDEX, sec.file.symbols)
        self.sections.append(sec)
        self.records.append(raw)
        self.counts.append(count)
        self.rows.extend((start, sec.addr, start + sec.size, base, len(values), tomb))
        self.entries += count
        return True

    def apply(self) -> list[tuple[InputSection, int]]:
        """Apply the queued sections; the ones to apply one by one instead, with their starts."""
        if not self.sections:
            return []
        from . import native

        back = native.apply(self)
        sent = [(self.sections[i], self.rows[i * ROW]) for i in back]
        self._clear()
        return sent
