"""Hand-built dynld modules for the format and runtime tests.

The modules are laid out here byte by byte from the format's rules (not by the
linker), so the tests can make exactly the good and bad modules they need.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from toolchain.arch import get_arch
from toolchain.dynld.module import PAGE, Module

# The test host's export table (tests/c/dynld_harness.c), sorted by name.
HOST = {"host_answer": 0x11111111, "host_array": 0x22222222, "host_int": 0x33333333, "host_nosig": 0}


@dataclass
class Spec:
    """What to put in a test module.

    ``ints``: exported int data; ``ptrs``: exported pointer words, each
    ``(import name or None for a module-internal pointer, offset)``; ``code``:
    exported functions from ``code_functions``; ``imports``: (name, sig).
    """

    arch: str
    imports: list[tuple[str, int]] = field(default_factory=list)
    ints: dict[str, int] = field(default_factory=dict)
    ptrs: dict[str, tuple[str | None, int]] = field(default_factory=dict)
    code: list[str] = field(default_factory=list)
    sigs: dict[str, int] = field(default_factory=dict)
    bss: int = 0
    text_size: int = PAGE  # with code: text is padded to this (any size: the layout under test)


def _code(arch: str, fn: str, at: int, imp: dict[str, int], ints_at: dict[str, int]) -> tuple[bytes, list]:
    """Machine code for a test function placed at text offset ``at``: (bytes, relocs)."""
    if arch in ("386", "amd64"):
        if fn == "answer":  # mov eax, 42; ret
            return b"\xb8\x2a\x00\x00\x00\xc3", []
        if fn == "callhost":  # jmp host_answer (rel32, mode 2)
            return b"\xe9" + struct.pack("<I", imp["host_answer"] << 22), [(at + 1, 2)]
        target_mode, value = _load_target(arch, fn, imp, ints_at)
        if arch == "amd64":  # movabs rax, imm64; mov eax, [rax]; ret
            return b"\x48\xb8" + struct.pack("<Q", value) + b"\x8b\x00\xc3", [(at + 2, target_mode)]
        return b"\xa1" + struct.pack("<I", value) + b"\xc3", [(at + 1, target_mode)]  # mov eax, [imm32]; ret
    if fn == "answer":  # mov r0, #42; bx lr
        return struct.pack("<2I", 0xE3A0002A, 0xE12FFF1E), []
    if fn == "callhost":  # b host_answer (mode 2, import index in the low 10 bits)
        return struct.pack("<I", 0xEA000000 | imp["host_answer"]), [(at, 2)]
    target_mode, value = _load_target(arch, fn, imp, ints_at)
    # ldr r0, [pc, #4]; ldr r0, [r0]; bx lr; .word value
    return struct.pack("<4I", 0xE59F0004, 0xE5900000, 0xE12FFF1E, value), [(at + 12, target_mode)]


def _load_target(arch: str, fn: str, imp: dict[str, int], ints_at: dict[str, int]) -> tuple[int, int]:
    if fn == "gethost":  # read host_int through a mode 1 address
        shift = 48 if arch == "amd64" else 22
        return 1, imp["host_int"] << shift
    if fn == "getint":  # read the module's own int "value" through a mode 0 address
        return 0, ints_at["value"]
    raise ValueError(fn)


def build(spec: Spec) -> Module:
    """Lay out a module: text (code, page-padded), then in data the export table, names, ints, pointers."""
    arch = get_arch(spec.arch)
    w = arch.word
    imp = {name: i for i, (name, _) in enumerate(spec.imports)}
    names = sorted(list(spec.ints) + list(spec.ptrs) + list(spec.code))
    n = len(names)
    tab_size = (n + 1) * 3 * w

    # Decide the data layout first: table, names, then ints and pointers, word aligned.
    text_len = 0
    if spec.code:
        text_len = spec.text_size
    strings = bytearray()
    name_off: dict[str, int] = {}
    for name in names:
        name_off[name] = text_len + tab_size + len(strings)
        strings += name.encode() + b"\0"
    while (tab_size + len(strings)) % w:
        strings += b"\0"
    addr: dict[str, int] = {}
    pos = text_len + tab_size + len(strings)
    for name in spec.ints:
        addr[name] = pos
        pos += w
    for name in spec.ptrs:
        addr[name] = pos
        pos += w

    relocs: list[tuple[int, int]] = []
    text = bytearray()
    for fn in spec.code:
        addr[fn] = len(text)
        code, rel = _code(arch.name, fn, len(text), imp, addr)
        text += code
        relocs += rel
        while len(text) % 16:
            text += b"\0"
    if spec.code:
        text += bytes(text_len - len(text))

    fmt = "<3Q" if w == 8 else "<3I"
    data = bytearray()
    for k, name in enumerate(names):
        ent = text_len + k * 3 * w
        data += struct.pack(fmt, spec.sigs.get(name, 0), addr[name], name_off[name])
        relocs += [(ent + w, 0), (ent + 2 * w, 0)]
    data += bytes(3 * w)
    data += strings
    wfmt = "<Q" if w == 8 else "<I"
    for value in spec.ints.values():
        data += struct.pack(wfmt, value & (2 ** (8 * w) - 1))
    for target, off in spec.ptrs.values():
        here = text_len + len(data)
        if target is None:
            data += struct.pack(wfmt, off)
            relocs.append((here, 0))
        else:
            shift = 48 if w == 8 else 22
            data += struct.pack(wfmt, imp[target] << shift | off)
            relocs.append((here, 1))
    return Module(arch.name, bytes(text), bytes(data), spec.bss, text_len, list(spec.imports), sorted(relocs))


def standard(arch: str, code: bool = False, text_size: int = PAGE) -> Module:
    """The module most tests start from: ints, module and host pointers, optional code (padded to text_size)."""
    spec = Spec(
        arch,
        text_size=text_size,
        imports=[("host_array", HOST["host_array"]), ("host_int", HOST["host_int"]), ("host_answer", 0)],
        ints={"value": 4242, "negative": -7},
        ptrs={"to_array": ("host_array", 8), "to_int": ("host_int", 0), "to_self": (None, 0)},
        sigs={"value": 0x0BADF00D},
        code=["answer", "callhost", "gethost", "getint"] if code else [],
    )
    return build(spec)


def blob(imports: list[tuple[bytes, int]], relocs: list[bytes], extra: bytes = b"", nr: int | None = None) -> bytes:
    """A relocation blob written directly from the format's rules (not by ``encode``).

    ``relocs`` are the raw entries (the mode/width byte and the big-endian delta).
    """
    out = struct.pack(">I", len(imports))
    for name, sig in imports:
        out += struct.pack(">I", sig) + name
    out += struct.pack(">I", len(relocs) if nr is None else nr)
    return out + b"".join(relocs) + extra


def pack(
    arch: str, text: bytes, data: bytes, bss: int, entry: int, rblob: bytes, skipped: bytes = b"", t: int | None = None
) -> bytes:
    """A module file written directly from the format's rules (not by ``encode``)."""
    a = get_arch(arch)
    magic = 0x80000000 | a.aout_magic
    hdr = struct.pack(">8I", magic, len(text), len(data), bss, len(skipped), entry, 0, 0)
    if arch == "amd64":
        hdr += struct.pack(">Q", entry)
    return hdr + text + data + skipped + struct.pack(">I", len(rblob) if t is None else t) + rblob


def reloc_entry(mode: int, delta: int, width: int | None = None) -> bytes:
    """One raw relocation: the mode byte and the delta in the smallest (or given) width."""
    if width is None:
        width = 0 if delta < 0x100 else 1 if delta < 0x10000 else 2
    return bytes((width << 6 | mode,)) + delta.to_bytes(1 << width, "big")


# ---- bad modules: each refused by decode() and by the C runtime with the given text ----


def _word(arch: str) -> int:
    return get_arch(arch).word


def _put(data: bytes, off: int, value: int, w: int) -> bytes:
    return data[:off] + value.to_bytes(w, "little") + data[off + w :]


def _slot(m: Module, name: str) -> int:
    """Image offset of a data export of the standard module."""
    from toolchain.dynld.module import exports

    return {n: a for n, _, a in exports(m)}[name]


def _enc(m: Module) -> bytes:
    from toolchain.dynld.module import encode

    return encode(m, validate=False)


def _std(arch: str) -> Module:
    return standard(arch)


def _bad_magic(arch):
    return struct.pack(">I", 0x80001234) + _enc(_std(arch))[4:]


def _not_dynamic(arch):
    return struct.pack(">I", get_arch(arch).aout_magic) + _enc(_std(arch))[4:]


def _text_not_page(arch):
    m = _std(arch)
    return _enc(Module(arch, bytes(104), m.data, 0, 0, [], []))


def _entry_past_end(arch):
    m = _std(arch)
    m.entry = m.size
    return _enc(m)


def _entry_misaligned(arch):
    m = _std(arch)
    m.entry = 2
    return _enc(m)


def _with_reloc(arch, off, mode, value=None):
    m = _std(arch)
    if value is not None:
        m.data = _put(m.data, off, value, 4)
    m.relocs = sorted(m.relocs + [(off, mode)])
    return _enc(m)


def _reloc_outside(arch):
    return _with_reloc(arch, len(_std(arch).data), 0)


def _reloc_straddles(arch):
    n = len(_std(arch).data)
    return _with_reloc(arch, n + 0x40000 if arch == "arm" else n - 2, 0)


def _bad_mode(arch):
    return _with_reloc(arch, _slot(_std(arch), "negative"), 3)


def _bad_mode_15(arch):
    return _with_reloc(arch, _slot(_std(arch), "negative"), 15)


def _bad_index_1(arch):
    m = _std(arch)
    off = _slot(m, "negative")
    if arch == "amd64":
        m.data = _put(m.data, off, 9 << 48, 8)
        m.relocs = sorted(m.relocs + [(off, 1)])
        return _enc(m)
    return _with_reloc(arch, off, 1, 9 << 22)


def _bad_index_2(arch):
    off = _slot(_std(arch), "negative")
    return _with_reloc(arch, off, 2, 9 if arch == "arm" else 9 << 22)


def _raw(arch, rblob, t=None):
    return pack(arch, b"", _std(arch).data, 0, 0, rblob, t=t)


def _overlap(arch):
    return _raw(arch, blob([], [reloc_entry(0, 0), reloc_entry(0, 0 if arch == "arm" else 2)]))


def _export_not_terminated(arch):
    w = _word(arch)
    data = b"abc\0" + bytes((-4) % w)
    tab = len(data)
    data += bytes(3 * w)
    data = _put(data, tab + 2 * w, 0, w)
    return _enc(Module(arch, b"", data, 0, tab, [], [(tab + w, 0), (tab + 2 * w, 0)]))


def _swap_entries(arch, i, j):
    m = _std(arch)
    esz = 3 * _word(arch)
    d = bytearray(m.data)
    a, b = bytes(d[i * esz : (i + 1) * esz]), bytes(d[j * esz : (j + 1) * esz])
    d[i * esz : (i + 1) * esz], d[j * esz : (j + 1) * esz] = b, a
    m.data = bytes(d)
    return _enc(m)


def _duplicate_export(arch):
    m = _std(arch)
    esz = 3 * _word(arch)
    m.data = m.data[:esz] + m.data[:esz] + m.data[2 * esz :]
    return _enc(m)


def _set_field(arch, field_index, value, drop_reloc=False, extra=b""):
    m = _std(arch)
    w = _word(arch)
    m.data = _put(m.data + extra, field_index * w, value, w)
    if drop_reloc:
        m.relocs = [r for r in m.relocs if r[0] != field_index * w]
    return _enc(m)


def _name_unterminated(arch):
    n = len(_std(arch).data)
    return _set_field(arch, 2, n, extra=b"zzzz")


def _name_outside(arch):
    return _set_field(arch, 2, _std(arch).size + 64)


def _name_no_reloc(arch):
    return _set_field(arch, 2, _slot(_std(arch), "value") - 8, drop_reloc=True)


def _addr_outside(arch):
    return _set_field(arch, 1, _std(arch).size)


def _empty_name(arch):
    esz = 3 * _word(arch)
    n_exports = 5
    return _set_field(arch, 2, n_exports * esz)  # the terminator entry: all zero bytes


def _name_field(m: Module, k: int) -> int:
    """The stored (image-relative) name pointer of export entry k of the standard module."""
    w = _word(m.arch)
    off = m.entry - len(m.text) + k * 3 * w + 2 * w
    return int.from_bytes(m.data[off : off + w], "little")


def _reloc_in_name(arch, mode=0):
    """A relocation patching the bytes of export 0's name ("negative"); its stored bytes stay letters."""
    m = _std(arch)
    m.relocs = sorted(m.relocs + [(_name_field(m, 0) + 4, mode)])
    return _enc(m)


def _name_is_relocated_zeros(arch):
    """Export 0's name points at a zero word that a mode-0 relocation patches: empty as stored."""
    m = _std(arch)
    w = _word(arch)
    slot = m.size
    m.data = m.data + bytes(w)
    m.data = _put(m.data, 2 * w, slot, w)
    m.relocs = sorted(m.relocs + [(slot, 0)])
    return _enc(m)


def _sig_relocated(arch):
    m = _std(arch)
    m.relocs = sorted(m.relocs + [(m.entry, 0)])
    return _enc(m)


def _amd64_entry64(arch):
    b = bytearray(_enc(_std(arch)))
    b[32:40] = struct.pack(">Q", 8)
    return bytes(b)


BAD: dict[str, tuple] = {
    # name: (make(arch) -> bytes, expected text, arches or None for all)
    "bad_magic": (_bad_magic, "not dynamic object file or wrong platform", None),
    "not_dynamic": (_not_dynamic, "not dynamic object file or wrong platform", None),
    "text_not_page": (_text_not_page, "text size 0x68 is not a multiple of the page size (4096)", None),
    "entry_past_end": (_entry_past_end, "invalid export table pointer (entry point)", None),
    "entry_misaligned": (_entry_misaligned, "invalid export table pointer (entry point) 0x2", None),
    "amd64_entry64": (_amd64_entry64, "amd64 header: 64-bit entry 0x8 differs from entry 0x0", ("amd64",)),
    "reloc_outside": (_reloc_outside, "outside text and data", None),
    "reloc_straddles": (_reloc_straddles, "outside text and data", None),
    "bad_mode": (_bad_mode, "bad relocation mode 3", None),
    "bad_mode_15": (_bad_mode_15, "bad relocation mode 15", None),
    "bad_index_mode1": (_bad_index_1, "bad relocation index 9 (3 imports)", None),
    "bad_index_mode2": (_bad_index_2, "bad relocation index 9 (3 imports)", None),
    "reserved_bits": (lambda a: _raw(a, blob([], [b"\x10\x00"])), "relocation 0: reserved bits set in 0x10", None),
    "bad_width": (lambda a: _raw(a, blob([], [b"\xc0\0\0\0\0\0\0\0\0"])), "relocation 0: bad delta width", None),
    "overlapping_reloc": (_overlap, "relocation 1 at 0x", None),
    "duplicate_reloc": (
        lambda a: _raw(a, blob([], [reloc_entry(0, 4), reloc_entry(0, 0)])),
        "duplicate or overlapping address",
        None,
    ),
    "t_too_small": (lambda a: _raw(a, b"\0\0\0", t=3), "relocation data size 3 too small", None),
    "t_too_large": (lambda a: _raw(a, b"", t=0x80000000), "relocation data size 2147483648 too large", None),
    "too_many_imports": (lambda a: _raw(a, struct.pack(">I", 8001) + bytes(8)), "too many imports: 8001", None),
    "import_runs_past": (lambda a: _raw(a, struct.pack(">II", 1, 5)), "import 0 runs past the end", None),
    "import_unterminated": (
        lambda a: _raw(a, struct.pack(">II", 1, 0) + b"host_int"),
        "import 0 name not NUL-terminated",
        None,
    ),
    "import_empty_name": (lambda a: _raw(a, blob([(b"\0", 0)], [])), "import 0 has an empty name", None),
    "missing_reloc_count": (lambda a: _raw(a, struct.pack(">I", 0)), "missing relocation count", None),
    "reloc_runs_past": (lambda a: _raw(a, blob([], [reloc_entry(0, 0)], nr=2)), "relocation 1 runs past the end", None),
    "delta_runs_past": (lambda a: _raw(a, blob([], [b"\x80\x00\x00"])), "relocation 0 runs past the end", None),
    "unused_blob_bytes": (lambda a: _raw(a, blob([], [], extra=b"\0\0")), "2 unused bytes at the end", None),
    "export_entry_outside": (lambda a: _with_entry(a), "export table: entry 0 outside the image", None),
    "export_not_terminated": (_export_not_terminated, "export table: not terminated within the image", None),
    "export_unsorted": (
        lambda a: _swap_entries(a, 0, 1),
        "export table: not sorted: 'to_array' before 'negative'",
        None,
    ),
    "export_duplicate": (_duplicate_export, "export table: not sorted: 'negative' before 'negative'", None),
    "export_name_unterminated": (_name_unterminated, "export table: entry 0: name not NUL-terminated", None),
    "export_name_outside": (_name_outside, "export table: entry 0: name outside the module image", None),
    "export_name_no_reloc": (_name_no_reloc, "export table: entry 0: name outside the module image", None),
    "export_addr_outside": (_addr_outside, "export table: entry 0 (negative): address outside the module image", None),
    "export_empty_name": (_empty_name, "export table: entry 0: empty name", None),
    # issue 10 #8: the rules hold on the bytes as stored, whatever the load address
    "export_name_relocated": (_reloc_in_name, "export table: entry 0: name overlaps the relocation at 0x", None),
    "export_name_relocated_zeros": (_name_is_relocated_zeros, "export table: entry 0: empty name", None),
    "export_sig_relocated": (
        _sig_relocated,
        "export table: entry 0 (negative): signature is relocated (at 0x0)",
        None,
    ),
}


def _with_entry(arch):
    m = _std(arch)
    m.entry = m.size - _word(arch)
    return _enc(m)


def bad_cases() -> list[tuple[str, str]]:
    """(case, arch) pairs of BAD, for parametrizing."""
    out = []
    for name, (_, _, arches) in BAD.items():
        for arch in arches or ("386", "amd64", "arm"):
            out.append((name, arch))
    return out
