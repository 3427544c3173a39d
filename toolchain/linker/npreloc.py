"""Relocations applied in bulk with numpy: many sections' relocations as one set of arrays.

``relocate`` queues sections in a ``Batch`` and applies them together when the batch is
full. Each section is applied here wholly, or handed back to ``relocate``'s per-section
path, which also writes every error message: a section goes back when any of its
relocations is unusual (a type that is not a plain integer field computed as S + A,
S + A - P or G + A - P, an import, a place or symbol index out of range, a value that
does not fit, fields that overlap or are not in increasing order). Both paths write
the same bytes; the tests link with each and compare.

numpy costs about 55 ms to import, so ``wanted`` uses it only for links with enough
relocations to pay for that, or when something has already imported it (a long-lived
process such as a build worker pays once). ``DYNTOOLS_NUMPY=0`` turns it off, ``=1``
uses it for every link.
"""

from __future__ import annotations

import os
import sys
from array import array

from .. import elf
from ..records import TYPE_CHECKING
from .reloc import VALUE_DROPPED, VALUE_MERGED_PIECE, Kind, entry_size

if TYPE_CHECKING:
    from typing import Any

    from .context import LinkState
    from .inputs import InputSection

#: Relocation entries from which importing numpy costs less than it saves (measured: see
#: bench/README.md); with numpy imported already, from ``SMALL_LINK`` entries.
IMPORT_PAYS = 250_000
SMALL_LINK = 4_000
#: Relocation entries applied together (bounds the arrays' memory).
BATCH_ENTRIES = 1 << 16

# What a relocation type is to the bulk path.
_BACK, _SKIP, _PLAIN, _GOT = 0, 1, 2, 3
# |S| and |A| below this keep S + A - P inside int64.
_SAFE = 1 << 61
_BLAS_THREADS = "OPENBLAS_NUM_THREADS"


def wanted(ctx: LinkState) -> bool:
    """Should this link's relocations go through numpy?"""
    setting = os.environ.get("DYNTOOLS_NUMPY", "")
    if setting == "0" or sys.byteorder != "little":
        return False
    entries = sum(obj.relocation_entries for obj in ctx.objects)
    if setting != "1":
        if entries < SMALL_LINK or ("numpy" not in sys.modules and entries < IMPORT_PAYS):
            return False
    return _import_numpy()


def _import_numpy() -> bool:
    """Import numpy (True when it is there), its BLAS set to one thread while it starts: the
    linker uses no BLAS, and OpenBLAS's pool of spinning threads costs a link 0.1 s of CPU."""
    if "numpy" in sys.modules:
        return sys.modules["numpy"] is not None
    saved = os.environ.get(_BLAS_THREADS)
    os.environ[_BLAS_THREADS] = "1"
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    finally:
        if saved is None:
            del os.environ[_BLAS_THREADS]
        else:
            os.environ[_BLAS_THREADS] = saved
    return True


class TypeTable:
    """The facts of every relocation type of one pass, as arrays indexed by type."""

    def __init__(self, steps: dict[int, tuple], plain: set[int], got: set[int]) -> None:
        import numpy as np

        self.np = np
        n = max(steps, default=0) + 1
        self.count = n
        self.mode = np.full(n, _SKIP, np.int8)  # R_*_NONE, and types with nothing to write
        self.pc = np.zeros(n, np.bool_)
        self.size = np.zeros(n, np.int64)
        self.lowest = np.zeros(n, np.int64)
        self.highest = np.zeros(n, np.int64)
        for rt, step in steps.items():
            kind, size, _howto, _read, _write, lowest, highest, _mask = step
            if rt in plain or rt in got:
                self.mode[rt] = _GOT if rt in got else _PLAIN
                self.pc[rt] = kind is not Kind.ABS
                self.size[rt] = size
                self.lowest[rt] = lowest
                self.highest[rt] = min(highest, (1 << 63) - 1)  # values are within int64 (``_SAFE``)
            else:
                self.mode[rt] = _BACK


class Batch:
    """Sections queued to be relocated together: where each one's bytes are and its relocations."""

    def __init__(self, ctx: LinkState, table: TypeTable, buf: bytearray, got0: int) -> None:
        self.ctx = ctx
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
        #: per section, ``_ROW`` values: where it starts in ``buf``, its address (P at offset 0), where
        #: it ends in ``buf``, where its object's values start in ``values`` and how many there
        #: are, and the value for references into dropped code
        self.rows = array("q")
        self.values: list[int] = []
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
        back = _apply(self)
        sent = [(self.sections[i], self.rows[i * _ROW]) for i in back]
        self._clear()
        return sent


_ROW = 6  # values per section in Batch.rows


def _records(np: Any, word: int, rela: bool, data: bytes) -> tuple[Any, Any, Any, Any]:
    """Offsets, types, symbol indexes and explicit addends (None for SHT_REL) of packed entries."""
    if word == 8:
        fields = [("off", "<u8"), ("type", "<u4"), ("sym", "<u4")] + ([("add", "<i8")] if rela else [])
        rec = np.frombuffer(data, np.dtype(fields))
        return rec["off"].astype(np.int64), rec["type"], rec["sym"].astype(np.int64), rec["add"] if rela else None
    fields = [("off", "<u4"), ("info", "<u4")] + ([("add", "<i4")] if rela else [])
    rec = np.frombuffer(data, np.dtype(fields))
    info = rec["info"]
    addends = rec["add"].astype(np.int64) if rela else None
    return rec["off"].astype(np.int64), info & 0xFF, (info >> 8).astype(np.int64), addends


def _apply(batch: Batch) -> list[int]:
    """Write every relocation of the batch's sections that can be; the indexes of the sections sent back."""
    table = batch.table
    np = table.np
    assert batch.rela is not None
    nsec = len(batch.sections)
    off, types, symi, addends = _records(np, batch.word, batch.rela, b"".join(batch.records))
    counts = np.frombuffer(batch.counts, np.int64)
    rows = np.frombuffer(batch.rows, np.int64).reshape(nsec, _ROW)
    owner = np.repeat(np.arange(nsec), counts)  # each entry's section
    back = np.zeros(nsec, np.bool_)

    def send_back(where: Any) -> None:
        back[owner[where]] = True

    known = types < table.count
    send_back(~known)
    types = np.where(known, types, 0)
    mode = table.mode[types]
    send_back(mode == _BACK)
    size = np.where(mode >= _PLAIN, table.size[types], 0)
    pos = np.repeat(rows[:, 0], counts) + off
    send_back((pos + size > np.repeat(rows[:, 2], counts)) | (off < 0))
    # Fields in increasing order without overlaps: reading every addend before any write
    # is then what applying them one by one does.
    send_back(np.nonzero((owner[1:] == owner[:-1]) & (pos[1:] < pos[:-1] + size[:-1]))[0] + 1)
    send_back(symi >= np.repeat(rows[:, 4], counts))
    try:
        values = np.asarray(batch.values, np.int64)
    except OverflowError:  # an absolute symbol past int64: every section goes back
        return list(range(nsec))
    index = np.repeat(rows[:, 3], counts) + symi
    S = values[np.where(back[owner], 0, index)]

    buf = batch.buf
    if addends is None:  # SHT_REL: the addend is the field's contents, signed
        addends = np.zeros(len(off), np.int64)
        for width in (1, 2, 4, 8):
            sel = np.nonzero((size == width) & ~back[owner])[0]
            if len(sel):
                addends[sel] = _fields(np, buf, f"<i{width}")[pos[sel]]
    else:
        addends = addends.astype(np.int64)
    send_back((addends >= _SAFE) | (addends <= -_SAFE) | (S >= _SAFE))
    send_back((S < 0) & (S != VALUE_MERGED_PIECE) & (S != VALUE_DROPPED))  # imports: the output decides
    taken = ~back[owner]
    dropped = np.nonzero(taken & (S == VALUE_DROPPED))[0]
    S[dropped] = 0
    pieces = np.nonzero(taken & (S == VALUE_MERGED_PIECE))[0]
    if len(pieces):
        S[pieces] = _merged_addresses(batch, owner[pieces], symi[pieces], addends[pieces])
    got = np.nonzero(taken & (mode == _GOT))[0]
    if len(got):
        S[got] = _got_addresses(batch, owner[got], symi[got])

    places = pos + np.repeat(rows[:, 1] - rows[:, 0], counts)
    v = S + addends - np.where(table.pc[types], places, 0)
    if len(dropped):
        v[dropped] = rows[owner[dropped], 5]
    send_back((mode >= _PLAIN) & ((v < table.lowest[types]) | (v > table.highest[types])))

    write = (mode >= _PLAIN) & ~back[owner]
    for width in (1, 2, 4, 8):
        sel = np.nonzero(write & (size == width))[0]
        if len(sel):
            _fields(np, buf, f"<u{width}")[pos[sel]] = v[sel]
    return np.nonzero(back)[0].tolist()


def _fields(np: Any, buf: bytearray, dtype: str) -> Any:
    """``buf`` as overlapping integers of ``dtype``, one starting at each byte: element ``i`` is
    the field at ``buf[i:]``."""
    width = int(dtype[2:])
    return np.ndarray(shape=(len(buf) - width + 1,), dtype=dtype, buffer=buf, strides=(1,))


def _merged_addresses(batch: Batch, owners: Any, symbols: Any, addends: Any) -> list[int]:
    """S for relocations against a section symbol of merged strings (``merged_piece_base``)."""
    from .context import merged_piece_base

    sections = batch.sections
    return [
        merged_piece_base(sections[i].file.symbols[symi], A)
        for i, symi, A in zip(owners.tolist(), symbols.tolist(), addends.tolist(), strict=True)
    ]


def _got_addresses(batch: Batch, owners: Any, symbols: Any) -> list[int]:
    """G, the address of each symbol's GOT slot."""
    got0, word = batch.got0, batch.word
    sections = batch.sections
    return [
        got0 + sections[i].file.symbols[symi].got_index * word
        for i, symi in zip(owners.tolist(), symbols.tolist(), strict=True)
    ]
