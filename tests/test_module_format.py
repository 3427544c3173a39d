"""toolchain.dynld.module: the dynld module file format, encode/decode/exports/describe.

Expected bytes here are worked out by hand from the format's rules (Inferno's
layout, docs/dynld-format.md), not produced by encode().
"""

from __future__ import annotations

import json
import struct

import pytest
from dynld_build import BAD, bad_cases, blob, pack, standard

from toolchain.dynld.module import DYN_MAGIC, Module, decode, describe, dyn_magic, encode, exports
from toolchain.errors import DynError

ARCHES = ("386", "amd64", "arm")

# DYN_MAGIC | _MAGIC(f, b) with _MAGIC(f, b) = f | ((4*b + 0)*b + 7):
# 386 I_MAGIC b=11 -> 491; arm E_MAGIC b=20 -> 1607; amd64 S_MAGIC HDR_MAGIC|b=26 -> 0x8000|2711.
MAGIC = {"386": 0x800001EB, "arm": 0x80000647, "amd64": 0x80008A97}


@pytest.mark.parametrize("arch", ARCHES)
def test_header_words_are_big_endian_with_inferno_magic(arch):
    m = standard(arch)
    b = encode(m)
    magic, text, data, bss, syms, entry, spsz, pcsz = struct.unpack_from(">8I", b)
    assert magic == MAGIC[arch] == dyn_magic(arch)
    assert (text, data, bss, syms, entry, spsz, pcsz) == (0, len(m.data), 0, 0, 0, 0, 0)
    hdr = 32
    if arch == "amd64":
        assert struct.unpack_from(">Q", b, 32) == (entry,)
        hdr = 40
    assert b[hdr : hdr + len(m.data)] == m.data


def test_relocation_blob_bytes_386():
    """Deltas in the smallest width: 1 byte, 1 byte, 2 bytes, 4 bytes; mode in the low bits."""
    m = Module("386", b"", bytes(0x31030), 0, 0, [("host_int", 0x33333333)], [])
    m.relocs = [(0x31020, 0), (0x1020, 2), (0x10, 0), (0x20, 1)]  # unsorted on purpose
    expected_blob = (
        bytes.fromhex("00000001")  # one import
        + bytes.fromhex("33333333")
        + b"host_int\0"
        + bytes.fromhex("00000004")  # four relocations
        + bytes.fromhex("0010")  # 0x10, mode 0
        + bytes.fromhex("0110")  # +0x10, mode 1
        + bytes.fromhex("421000")  # +0x1000, mode 2, 2-byte delta
        + bytes.fromhex("8000030000")  # +0x30000, mode 0, 4-byte delta
    )
    out = encode(m)
    assert out.endswith(struct.pack(">I", len(expected_blob)) + expected_blob)
    assert len(expected_blob) == 33
    assert out == pack("386", b"", m.data, 0, 0, expected_blob)


def test_arm_relocation_addresses_are_word_indices():
    m = Module("arm", b"", bytes(0x200), 0, 0x100, [], [(0x104, 0)])
    out = encode(m, validate=False)
    assert out.endswith(bytes.fromhex("0000000a00000000000000010041"))  # t, ni, nr, word index 0x41
    assert decode(out).relocs == [(0x104, 0)]
    with pytest.raises(DynError, match="word aligned"):
        encode(Module("arm", b"", bytes(0x200), 0, 0, [], [(0x102, 0)]))


def test_duplicate_relocation_address_is_an_error():
    with pytest.raises(DynError, match="duplicate relocation address 0x10"):
        encode(Module("386", b"", bytes(64), 0, 0, [], [(0x10, 0), (0x10, 0)]))


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("code", [False, True])
def test_round_trip(arch, code):
    m = standard(arch, code=code)
    m.relocs = list(reversed(m.relocs))
    d = decode(encode(m), "m.dlm")
    assert d.relocs == sorted(m.relocs)
    m.relocs = sorted(m.relocs)
    assert d == m
    assert encode(d) == encode(m)


def test_skipped_bytes_round_trip():
    m = standard("386")
    m.skipped = b"symbols and pc tables"
    b = encode(m)
    assert struct.unpack_from(">I", b, 16) == (len(m.skipped),)
    assert decode(b).skipped == m.skipped


def test_exports_and_describe():
    m = standard("amd64")
    ex = exports(m)
    assert [n for n, _, _ in ex] == ["negative", "to_array", "to_int", "to_self", "value"]
    assert dict((n, s) for n, s, _ in ex)["value"] == 0x0BADF00D
    d = describe(m)
    assert json.loads(json.dumps(d)) == d
    assert d["arch"] == "amd64" and d["magic"] == MAGIC["amd64"]
    assert d["size"] == len(m.data) and d["entry"] == 0
    assert [e["name"] for e in d["exports"]] == [n for n, _, _ in ex]
    assert d["imports"] == [
        {"name": "host_array", "sig": 0x22222222},
        {"name": "host_int", "sig": 0x33333333},
        {"name": "host_answer", "sig": 0},
    ]
    # 5 exports x (addr, name) + the module-internal pointer are mode 0; two host pointers are mode 1.
    assert d["relocs"] == {"total": 13, "by_mode": {"0": 11, "1": 2, "2": 0}}


def test_code_module_relocation_modes():
    d = describe(standard("arm", code=True))
    assert d["relocs"]["by_mode"] == {"0": 9 * 2 + 1 + 1, "1": 2 + 1, "2": 1}
    assert d["text"] == 4096


@pytest.mark.parametrize(("case", "arch"), bad_cases())
def test_decode_refuses(case, arch):
    make, want, _ = BAD[case]
    with pytest.raises(DynError) as e:
        decode(make(arch), "bad.dlm")
    assert want in e.value.msg
    assert e.value.file == "bad.dlm"
    assert str(e.value).startswith("bad.dlm: ")


@pytest.mark.parametrize("arch", ARCHES)
def test_decode_truncated_at_every_offset(arch):
    data = encode(standard(arch, code=True))
    for n in range(len(data)):
        with pytest.raises(DynError, match="^t.dlm: truncated module: cannot read "):
            decode(data[:n], "t.dlm")
    decode(data, "t.dlm")


def test_text_page_rule_can_be_relaxed_for_inferno_modules():
    rblob = blob([], [])
    data = pack("386", bytes(104), bytes(12), 0, 104, rblob)
    with pytest.raises(DynError, match="page size"):
        decode(data)
    assert decode(data, check_pages=False).text == bytes(104)


def test_encode_validates_by_default():
    m = standard("386")
    m.relocs = m.relocs + [(len(m.data), 0)]
    with pytest.raises(DynError, match="outside text and data"):
        encode(m)
    with pytest.raises(DynError, match="outside text and data"):
        decode(encode(m, validate=False))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.imports.append(("bad\0name", 0)), "contains NUL"),
        (lambda m: m.imports.append(("", 0)), "empty name"),
        (lambda m: m.imports.append(("x", 1 << 32)), "signature 0x100000000 does not fit"),
        (lambda m: m.imports.extend([("x", 0)] * (8001 - len(m.imports))), "too many imports: 8001"),
        (lambda m: m.relocs.append((0, 16)), "does not fit in 4 bits"),
        (lambda m: setattr(m, "bss", 1 << 32), "bss size 0x100000000 does not fit"),
    ],
)
def test_encode_refuses_what_the_format_cannot_hold(change, message):
    m = standard("386")
    change(m)
    with pytest.raises(DynError, match=message):
        encode(m, validate=False)


def test_unknown_arch_magic():
    data = struct.pack(">I", DYN_MAGIC | 0x1234) + encode(standard("386"))[4:]
    with pytest.raises(DynError, match=r"not dynamic object file or wrong platform \(magic 0x80001234\)"):
        decode(data, "x.dlm")


def test_bss_only_names_and_exports_in_bss():
    """An export table in the bss is all zero: an empty table (the runtime agrees, see test_runtime)."""
    m = Module("386", b"", b"", 64, 16, [], [])
    assert exports(decode(encode(m))) == []
