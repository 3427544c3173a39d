"""The bulk relocation loop in C (``bulkreloc.c``), built by the zig dyntools ships and loaded with ctypes.

It applies a ``bulk.Batch``: each section wholly, or handed back to ``relocate``'s
per-section path. The library is built the first time a link wants it (about 0.1 s) into
dyntools' cache directory (``cachedir``), named by a digest of its source, target and flags,
and loaded from there afterwards; only a file of this user's that no one else can write is
loaded. When it cannot be built or loaded, links go on without it (Python applies every
section), and a ``.failed`` file beside it, saying why, keeps later links from trying again.
"""

from __future__ import annotations

import os
from array import array

from ..arch import host_arch_name
from ..cachedir import cache_root, write_entry
from ..records import TYPE_CHECKING
from .bulk import TYPE_ROW
from .reloc import VALUE_DROPPED, VALUE_MERGED_PIECE

if TYPE_CHECKING:
    import ctypes

    from .bulk import Batch
    from .inputs import InputSection

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bulkreloc.c")
#: zig's target for the library, by the arch this Python runs as (``host_arch_name``).
TARGETS = {"amd64": "x86_64-linux-gnu", "386": "x86-linux-gnu", "arm": "arm-linux-gnueabihf"}
FLAGS = ("-mcpu=baseline", "-O2", "-shared", "-fPIC", "-nostdlib", "-fno-strict-aliasing")
BUILD_TIMEOUT = 300  # seconds zig may take to build the library

_library: list[ctypes.CDLL | None] = []  # the library once looked for (None: it cannot be had)


def library_path() -> str | None:
    """Where this machine's build of the library is (or goes) in the cache; None on a machine
    that is none of ours."""
    import hashlib

    arch = host_arch_name()
    if arch is None:
        return None
    with open(SOURCE, "rb") as f:
        source = f.read()
    key = hashlib.sha256(b"\0".join([source, TARGETS[arch].encode(), *(f.encode() for f in FLAGS)])).hexdigest()
    return os.path.join(cache_root(), "native", f"bulkreloc-{key[:20]}.so")


def library() -> ctypes.CDLL | None:
    """The loaded library, built first when the cache has none; None when it cannot be had."""
    if not _library:
        _library.append(_load())
    return _library[0]


def _load() -> ctypes.CDLL | None:
    try:
        path = library_path()
    except OSError:  # the source is missing from this installation
        return None
    if path is None or os.path.exists(path + ".failed"):
        return None
    if not os.path.exists(path):
        problem = build(path)
        if problem is not None:
            write_entry(path + ".failed", problem.encode())
            return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        return None  # code another user could have written is not loaded into this process
    import ctypes

    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    lib.dyn_bulk_prepare.restype = i64
    lib.dyn_bulk_prepare.argtypes = [
        ptr,
        i64,
        i64,
        i64,
        ptr,
        ptr,
        ptr,
        i64,
        ptr,
        i64,
        i64,
        ptr,
        i64,
        ptr,
        i64,
        i64,
        i64,
    ]
    lib.dyn_bulk_prepare.argtypes += [ptr] * 6
    lib.dyn_bulk_apply.restype = None
    lib.dyn_bulk_apply.argtypes = [ptr, i64, i64, i64, ptr, ptr, ptr, ptr, i64, ptr, ptr, ptr]
    return lib


def build(path: str) -> str | None:
    """Compile the library to ``path`` (atomically); None, or why it failed."""
    import subprocess

    from ..cc.driver import zig_command, zig_env
    from ..errors import open_temporary

    arch = host_arch_name()
    assert arch is not None
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = open_temporary(directory, ".tmp-")
        os.close(fd)
    except OSError as e:
        return f"cannot write {directory}: {e.strerror}"
    cmd = [*zig_command(), "cc", "-target", TARGETS[arch], *FLAGS, "-o", tmp, SOURCE]
    try:
        r = subprocess.run(
            cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT, env=zig_env(dict(os.environ)), check=False
        )
        if r.returncode != 0:
            return f"{' '.join(cmd)}: exit status {r.returncode}\n{r.stderr}"
        os.replace(tmp, path)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{' '.join(cmd)}: {e}"
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return None


def _address(a: array) -> int:
    return a.buffer_info()[0]


def apply(batch: Batch) -> list[int]:
    """Write every relocation of the batch's sections that can be; the indexes of the sections sent back."""
    import ctypes

    lib = library()
    assert lib is not None and batch.rela is not None
    nsec, total = len(batch.sections), batch.entries
    try:
        values = array("q", batch.values)
    except OverflowError:  # an absolute symbol past int64: every section goes back
        return list(range(nsec))
    records = b"".join(batch.records)
    table = batch.table.rows
    back = array("b", bytes(nsec))
    # per entry S and A, and the entries Python is to give S: their entry, section and symbol indexes
    columns = [array("q", bytes(8 * total)) for _ in range(5)]
    S, A, fix_entry, fix_section, fix_symbol = map(_address, columns)
    slots = array("q", batch.slots)
    buf = batch.buf
    held = ctypes.c_char.from_buffer(buf) if buf else None  # buf's address, and it kept from resizing
    try:
        base = ctypes.addressof(held) if held is not None else None
        rows = (records, batch.word, batch.rela, nsec, _address(batch.counts), _address(batch.rows))
        nfix = lib.dyn_bulk_prepare(
            *rows,
            *(_address(values), len(values), _address(slots), len(slots), batch.got0),
            *(_address(table), len(table) // TYPE_ROW, base, len(buf), VALUE_MERGED_PIECE, VALUE_DROPPED),
            *(_address(back), S, A, fix_entry, fix_section, fix_symbol),
        )
        if nfix < 0:
            return list(range(nsec))
        if nfix:
            try:
                _fix(batch.sections, columns, nfix)
            except OverflowError:  # an address Python gave past int64
                return list(range(nsec))
        lib.dyn_bulk_apply(*rows, _address(table), base, VALUE_DROPPED, _address(back), S, A)
    finally:
        del held
    return [i for i, b in enumerate(back) if b]


def _fix(objects: list[InputSection], columns: list[array], n: int) -> None:
    """S of the entries only Python can give: a piece of merged strings, picked by the addend."""
    from .context import merged_piece_base

    S, A, entries, sections, symbols = columns
    for k in range(n):
        i = entries[k]
        S[i] = merged_piece_base(objects[sections[k]].file.symbols[symbols[k]], A[i])
