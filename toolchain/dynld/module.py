"""Encode and decode dynld modules (Inferno's dynamically loadable a.out variant).

The layout is Inferno's (see docs/dynld-format.md): a big-endian a.out ``Exec``
header whose magic is ``DYN_MAGIC | <arch a.out magic>`` (amd64 adds one 64-bit
word, our documented extension), the text and data image, skipped symbol bytes,
then the relocation blob: size, imports, and delta-compressed relocations.

``decode`` checks everything the C runtime (toolchain/dynld/runtime) checks,
with the same rules and wording, so a module it accepts is one the runtime loads
unless an import is missing from the host or a signature differs.
"""

from __future__ import annotations

import bisect
import struct

from ..arch import ARCHES, Arch, get_arch
from ..errors import DynError
from ..records import Record

DYN_MAGIC = 0x80000000
PAGE = 4096  # text layouts are judged against this page size (the runtime maps text R+X, data R+W)
MAX_IMPORTS = 8000
MAX_RELOC_DATA = 0x7FFFFFFF  # largest relocation blob size the runtime accepts
KNOWN_MODES = (0, 1, 2)
MODE_NAMES = {0: "module address", 1: "import address", 2: "call/branch to import"}

_HDR = struct.Struct(">8I")  # magic text data bss syms entry spsz pcsz

# The three text layouts (docs/dynld-format.md, "Text layouts"), as module_kind names them.
FILE_MAPPED = "file-mapped"  # header + text a multiple of PAGE (or no text): mapped from the file
CLASSIC = "page-aligned"  # text a multiple of PAGE: copied onto a page
LEGACY = "inferno"  # anything else (Inferno's 8l -u / 5l -u): loaded only after dynlegacy(1)


class Module(Record):
    """A dynld module: its image, imports and relocations.

    ``relocs`` are ``(byte offset into the image, mode)``; ``imports`` are
    ``(name, signature)``; ``entry`` is the image offset of the export table;
    ``skipped`` is the symbol/pc-table bytes the loader skips.
    """

    __slots__ = ("arch", "text", "data", "bss", "entry", "imports", "relocs", "skipped")

    def __init__(
        self,
        arch: str,
        text: bytes,
        data: bytes,
        bss: int,
        entry: int,
        imports: list[tuple[str, int]] | None = None,
        relocs: list[tuple[int, int]] | None = None,
        skipped: bytes = b"",
    ) -> None:
        self.arch = arch
        self.text = text
        self.data = data
        self.bss = bss
        self.entry = entry
        self.imports: list[tuple[str, int]] = imports if imports is not None else []
        self.relocs: list[tuple[int, int]] = relocs if relocs is not None else []
        self.skipped = skipped

    @property
    def size(self) -> int:
        """Bytes of the loaded image: text + data + bss."""
        return len(self.text) + len(self.data) + self.bss


def dyn_magic(arch: str | Arch) -> int:
    """The module magic for an arch: ``DYN_MAGIC | aout_magic``."""
    a = arch if isinstance(arch, Arch) else get_arch(arch)
    return DYN_MAGIC | a.aout_magic


def header_size(arch: str | Arch) -> int:
    """Bytes of the module header: 32, and 40 on amd64 (the extra 64-bit entry word)."""
    a = arch if isinstance(arch, Arch) else get_arch(arch)
    return _HDR.size + (8 if a.word == 8 else 0)  # 64-bit arches repeat the entry as a 64-bit word


def text_layout(arch: str | Arch, text: int) -> str:
    """Which text layout a module with ``text`` bytes of text has (FILE_MAPPED, CLASSIC or LEGACY)."""
    if text == 0 or (header_size(arch) + text) % PAGE == 0:
        return FILE_MAPPED
    if text % PAGE == 0:
        return CLASSIC
    return LEGACY


def module_kind(data: bytes) -> str:
    """The text layout of a module file, from its header alone (``decode`` checks the rest).

    ``file-mapped`` (what ``dynlink -u`` writes: header and text end on a page boundary
    of the file, so the runtime maps text and data from it), ``page-aligned`` (text a
    multiple of the page: loaded by copying), or ``inferno`` (Inferno's own layout: text
    and data share a page; the runtime loads it only after ``dynlegacy(1)``).
    """
    if len(data) < _HDR.size:
        raise DynError("truncated module: cannot read header")
    magic, text = struct.unpack_from(">2I", data)
    arch = _arch_for_magic(magic)
    if arch is None:
        raise DynError(f"not dynamic object file or wrong platform (magic 0x{magic:08x})")
    return text_layout(arch, text)


def _arch_for_magic(magic: int) -> Arch | None:
    for a in ARCHES.values():
        if magic == dyn_magic(a):
            return a
    return None


def reloc_width(arch: Arch, mode: int) -> int:
    """Bytes a relocation of ``mode`` patches (0 for an unknown mode)."""
    if mode not in KNOWN_MODES:
        return 0
    if mode in (0, 1):
        return arch.word
    return 4


def _name_bytes(name: str, what: str, filename: str | None) -> bytes:
    b = name.encode("utf-8", "surrogateescape")
    if not b:
        raise DynError(f"{what}: empty name", filename)
    if b"\0" in b:
        raise DynError(f"{what}: name {name!r} contains NUL", filename)
    return b


def _u32(v: int, what: str, filename: str | None) -> int:
    if not 0 <= v <= 0xFFFFFFFF:
        raise DynError(f"{what} 0x{v:x} does not fit in 32 bits", filename)
    return v


def encode(mod: Module, *, validate: bool = True, filename: str | None = None) -> bytes:
    """The module file for ``mod``.

    Relocations are written sorted by address with the smallest delta width;
    duplicate addresses are an error.  With ``validate`` (the default) the result
    is also checked the way the runtime checks it (see ``decode``), so the caller
    never writes a module the loader would refuse.
    """
    arch = get_arch(mod.arch)
    text, data = bytes(mod.text), bytes(mod.data)
    _u32(len(text), "text size", filename)
    _u32(len(data), "data size", filename)
    _u32(mod.bss, "bss size", filename)
    _u32(mod.entry, "entry", filename)
    _u32(len(mod.skipped), "skipped tables size", filename)
    if len(mod.imports) > MAX_IMPORTS:
        raise DynError(f"too many imports: {len(mod.imports)} (limit {MAX_IMPORTS})", filename)

    blob = bytearray()
    blob += struct.pack(">I", len(mod.imports))
    for name, sig in mod.imports:
        blob += struct.pack(">I", _u32(sig, f"import {name}: signature", filename))
        blob += _name_bytes(name, "import", filename) + b"\0"

    relocs = sorted(mod.relocs)
    blob += struct.pack(">I", len(relocs))
    shift = arch.dlm_addr_shift
    last = 0
    prev: int | None = None
    for off, mode in relocs:
        if not 0 <= mode <= 0xF:
            raise DynError(f"relocation at 0x{off:x}: mode {mode} does not fit in 4 bits", filename)
        if off < 0:
            raise DynError(f"relocation at negative offset {off}", filename)
        if prev is not None and off == prev:
            raise DynError(f"duplicate relocation address 0x{off:x}", filename)
        if shift and off & 3:
            raise DynError(f"relocation at 0x{off:x}: arm relocations must be word aligned", filename)
        prev = off
        addr = off >> shift
        delta = addr - last
        last = addr
        if delta < 0x100:
            blob += bytes((mode,)) + struct.pack(">B", delta)
        elif delta < 0x10000:
            blob += bytes((0x40 | mode,)) + struct.pack(">H", delta)
        else:
            blob += bytes((0x80 | mode,)) + struct.pack(">I", _u32(delta, "relocation delta", filename))

    if len(blob) > MAX_RELOC_DATA:
        raise DynError("relocation data too large", filename)
    header = _HDR.pack(dyn_magic(arch), len(text), len(data), mod.bss, len(mod.skipped), mod.entry, 0, 0)
    if arch.word == 8:
        header += struct.pack(">Q", mod.entry)
    out = header + text + data + bytes(mod.skipped) + struct.pack(">I", len(blob)) + bytes(blob)
    if validate:
        decode(out, filename or "<module>")
    return out


class _Reader:
    """Bounds-checked big-endian reading of a byte string with a stage name for errors."""

    def __init__(self, data: bytes, filename: str):
        self.data = data
        self.pos = 0
        self.filename = filename

    def take(self, n: int, what: str) -> bytes:
        if n > len(self.data) - self.pos:
            raise DynError(f"truncated module: cannot read {what}", self.filename)
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b


def decode(data: bytes, filename: str = "<module>", *, check_pages: bool = True) -> Module:
    """Parse and validate a module file; DynError naming ``filename`` if it is bad.

    ``check_pages=False`` accepts Inferno's text layout (``module_kind`` ``inferno``),
    as the runtime does after ``dynlegacy(1)``; by default it is refused as the runtime
    refuses it.
    """
    r = _Reader(bytes(data), filename)
    magic, text, data_n, bss, syms, entry, spsz, pcsz = _HDR.unpack(r.take(_HDR.size, "header"))
    arch = _arch_for_magic(magic)
    if arch is None:
        raise DynError(f"not dynamic object file or wrong platform (magic 0x{magic:08x})", filename)
    if arch.word == 8:
        (entry64,) = struct.unpack(">Q", r.take(8, "header"))
        if entry64 != entry:
            raise DynError(f"{arch.name} header: 64-bit entry 0x{entry64:x} differs from entry 0x{entry:x}", filename)
    size = text + data_n + bss
    _check_sizes(arch, text, size, entry, filename, check_pages)
    image = r.take(text + data_n, "text and data")
    skipped = r.take(syms + spsz + pcsz, "symbol tables")
    (t,) = struct.unpack(">I", r.take(4, "relocation data size"))
    if t < 4:
        raise DynError(f"relocation data size {t} too small", filename)
    if t > MAX_RELOC_DATA:
        raise DynError(f"relocation data size {t} too large", filename)
    blob = r.take(t, "relocation data")
    imports, relocs = _parse_blob(arch, blob, image, filename)
    mod = Module(arch.name, image[:text], image[text:], bss, entry, imports, relocs, skipped)
    _exports(mod, arch, filename)
    return mod


def _check_sizes(arch: Arch, text: int, size: int, entry: int, filename: str, check_pages: bool) -> None:
    align = arch.word
    if entry >= size or entry % align:
        raise DynError(
            f"invalid export table pointer (entry point) 0x{entry:x}: image is 0x{size:x} bytes, "
            f"entry must be a multiple of {align}",
            filename,
        )
    if check_pages and text_layout(arch, text) == LEGACY:
        raise DynError(
            f"text size 0x{text:x} is not a multiple of the page size ({PAGE}): Inferno's layout, "
            "loaded only after dynlegacy(1)",
            filename,
        )


def _parse_blob(
    arch: Arch, blob: bytes, image: bytes, filename: str
) -> tuple[list[tuple[str, int]], list[tuple[int, int]]]:
    """Imports and relocations (byte offsets) from the relocation blob, checked against the image."""
    n = len(blob)
    (ni,) = struct.unpack_from(">I", blob, 0)
    pos = 4
    if ni > MAX_IMPORTS:
        raise DynError(f"too many imports: {ni} (limit {MAX_IMPORTS})", filename)
    imports: list[tuple[str, int]] = []
    for i in range(ni):
        if pos + 5 > n:
            raise DynError(f"relocation data: import {i} runs past the end", filename)
        (sig,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        end = blob.find(b"\0", pos)
        if end < 0:
            raise DynError(f"relocation data: import {i} name not NUL-terminated", filename)
        if end == pos:
            raise DynError(f"relocation data: import {i} has an empty name", filename)
        imports.append((blob[pos:end].decode("utf-8", "surrogateescape"), sig))
        pos = end + 1
    if pos + 4 > n:
        raise DynError("relocation data: missing relocation count", filename)
    (nr,) = struct.unpack_from(">I", blob, pos)
    pos += 4
    limit = len(image)
    shift = arch.dlm_addr_shift
    relocs: list[tuple[int, int]] = []
    addr = 0
    prev_end = 0
    for i in range(nr):
        if pos >= n:
            raise DynError(f"relocation data: relocation {i} runs past the end", filename)
        m = blob[pos]
        pos += 1
        w = m >> 6
        if w == 3:
            raise DynError(f"relocation {i}: bad delta width in 0x{m:02x}", filename)
        if m & 0x30:
            raise DynError(f"relocation {i}: reserved bits set in 0x{m:02x}", filename)
        width = 1 << w
        if pos + width > n:
            raise DynError(f"relocation data: relocation {i} runs past the end", filename)
        addr += int.from_bytes(blob[pos : pos + width], "big")
        pos += width
        off = addr << shift
        mode = m & 0xF
        rw = reloc_width(arch, mode)
        if rw == 0:
            raise DynError(f"relocation {i} at 0x{off:x}: bad relocation mode {mode}", filename)
        if off + rw > limit:
            raise DynError(f"relocation {i} at 0x{off:x}: outside text and data (0x{limit:x} bytes)", filename)
        if off < prev_end:
            raise DynError(f"relocation {i} at 0x{off:x}: duplicate or overlapping address", filename)
        prev_end = off + rw
        if mode != 0:
            idx = _import_index(arch, mode, image, off)
            if idx >= ni:
                raise DynError(f"relocation {i} at 0x{off:x}: bad relocation index {idx} ({ni} imports)", filename)
        relocs.append((off, mode))
    if pos != n:
        raise DynError(f"relocation data: {n - pos} unused bytes at the end", filename)
    return imports, relocs


def _import_index(arch: Arch, mode: int, image: bytes, off: int) -> int:
    """The import index a mode 1/2 relocation encodes in the word it patches."""
    width = reloc_width(arch, mode)
    v = int.from_bytes(image[off : off + width], "little")
    if mode == 2 and arch.dlm_call == "branch24":
        return v & ((1 << arch.dlm_index_bits) - 1)
    return v >> (8 * width - (arch.dlm_index_bits if mode == 1 else 10))


def exports(mod: Module) -> list[tuple[str, int, int]]:
    """``(name, sig, addr)`` of each export, read from the table at ``entry``.

    Addresses are image offsets (the values before relocation).
    """
    return _exports(mod, get_arch(mod.arch), "<module>")


def _exports(mod: Module, arch: Arch, filename: str) -> list[tuple[str, int, int]]:
    """The export table, checked on the bytes as stored (before relocation), as the runtime checks it."""
    image = mod.text + mod.data
    size = mod.size
    w = arch.word
    esz = 3 * w
    relocs = sorted(mod.relocs)
    starts = [off for off, _ in relocs]
    ends = [off + reloc_width(arch, m) for off, m in relocs]
    mode_at = dict(relocs)

    def relocated(lo: int, hi: int) -> int | None:
        """Where the first relocation patching a byte of [lo, hi) starts, if any."""
        k = bisect.bisect_right(ends, lo)
        return starts[k] if k < len(starts) and starts[k] < hi else None

    def word(off: int) -> int:
        chunk = image[off : off + w]
        return int.from_bytes(chunk + bytes(w - len(chunk)), "little")

    out: list[tuple[str, int, int]] = []
    prev: bytes | None = None
    k = 0
    pos = mod.entry
    while True:
        if pos + esz > size:
            if k == 0:
                raise DynError("export table: entry 0 outside the image", filename)
            raise DynError("export table: not terminated within the image", filename)
        sig, addr, name_off = word(pos), word(pos + w), word(pos + 2 * w)
        name_field = pos + 2 * w
        if name_off == 0 and relocated(name_field, name_field + w) is None:
            return out
        if mode_at.get(name_field) != 0 or name_off >= size:
            raise DynError(f"export table: entry {k}: name outside the module image", filename)
        end = image.find(b"\0", name_off) if name_off < len(image) else name_off
        if end < 0:
            if size == len(image):
                raise DynError(f"export table: entry {k}: name not NUL-terminated", filename)
            end = len(image)
        name = image[name_off:end]
        if not name:
            raise DynError(f"export table: entry {k}: empty name", filename)
        at = relocated(name_off, end + 1)
        if at is not None:
            raise DynError(f"export table: entry {k}: name overlaps the relocation at 0x{at:x}", filename)
        shown = name.decode("utf-8", "surrogateescape")
        if mode_at.get(pos + w) != 0 or addr >= size:
            raise DynError(f"export table: entry {k} ({shown}): address outside the module image", filename)
        at = relocated(pos, pos + w)
        if at is not None:
            raise DynError(f"export table: entry {k} ({shown}): signature is relocated (at 0x{at:x})", filename)
        if prev is not None and not prev < name:
            before = prev.decode("utf-8", "surrogateescape")
            raise DynError(f"export table: not sorted: '{before}' before '{shown}'", filename)  # as the runtime
        prev = name
        out.append((shown, sig, addr))
        k += 1
        pos += esz


def describe(mod: Module) -> dict:
    """A JSON-ready summary for ``dyninfo``: header, sizes, exports, imports, relocation counts."""
    arch = get_arch(mod.arch)
    by_mode: dict[str, int] = {str(m): 0 for m in KNOWN_MODES}
    for _, m in mod.relocs:
        by_mode[str(m)] = by_mode.get(str(m), 0) + 1
    return {
        "format": "dynld",
        "arch": arch.name,
        "layout": text_layout(arch, len(mod.text)),
        "magic": dyn_magic(arch),
        "text": len(mod.text),
        "data": len(mod.data),
        "bss": mod.bss,
        "size": mod.size,
        "entry": mod.entry,
        "skipped": len(mod.skipped),
        "exports": [{"name": n, "sig": s, "addr": a} for n, s, a in exports(mod)],
        "imports": [{"name": n, "sig": s} for n, s in mod.imports],
        "relocs": {"total": len(mod.relocs), "by_mode": dict(sorted(by_mode.items(), key=lambda kv: int(kv[0])))},
    }


def relocate(mod: Module, base: int, host: dict[str, tuple[int, int]]) -> bytes:
    """The image (text and data) as a loader places it at ``base``: a reference loader in Python.

    ``host`` maps each exported name to ``(sig, addr)``. The modes are applied exactly as
    Inferno's loader applies them (see docs/dynld-format.md), plus our amd64 extension.
    Raises DynError for an import the host lacks or whose signature differs.
    """
    arch = get_arch(mod.arch)
    image = bytearray(mod.text + mod.data)
    imports = []
    for name, sig in mod.imports:
        if name not in host:
            raise DynError(f"import {name} not exported by the host")
        hsig, addr = host[name]
        if sig and hsig and sig != hsig:
            raise DynError(f"signature mismatch: {name} (module 0x{sig:08x}, host 0x{hsig:08x})")
        imports.append(addr)
    m32 = 0xFFFFFFFF
    for off, mode in mod.relocs:
        p = base + off
        if mode in (0, 1):  # a word of the arch's size
            w = arch.word
            mask, shift = (1 << (8 * w)) - 1, 8 * w - arch.dlm_index_bits
            v = int.from_bytes(image[off : off + w], "little")
            v = (v + base) & mask if mode == 0 else ((v & ((1 << shift) - 1)) + imports[v >> shift]) & mask
            image[off : off + w] = v.to_bytes(w, "little")
            continue
        v = struct.unpack_from("<I", image, off)[0]
        if arch.dlm_call == "branch24":
            index_mask = (1 << arch.dlm_index_bits) - 1
            v = (v & ~index_mask & m32) | (((imports[v & index_mask] - p - 8) >> 2) & 0xFFFFFF)
        else:  # rel32
            v = (imports[v >> 22] - p - 4) & m32
        struct.pack_into("<I", image, off, v)
    return bytes(image)
