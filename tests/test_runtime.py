"""The dynld C runtime, built into a test host for 386, amd64 and arm and run.

The host (tests/c/dynld_harness.c) exports host_answer, host_array, host_int and
host_nosig; modules are hand-built (tests/dynld_build.py) and encoded with
toolchain.dynld.module.encode.  arm runs under qemu-arm.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import struct
import subprocess
import sys

import pytest
from dynld_build import BAD, HOST, Spec, bad_cases, build, standard

from toolchain.arch import get_arch
from toolchain.dynld import config
from toolchain.dynld.module import Module, decode, encode, exports
from toolchain.errors import DynError

ARCHES = ("386", "amd64", "arm")
TARGETS = {n: get_arch(n).gnu_triple for n in ("386", "amd64", "arm")}  # zig targets linked against glibc
HARNESS_SRC = os.path.join(os.path.dirname(__file__), "c", "dynld_harness.c")


def _shared_root(tmp_path_factory) -> str:
    """A directory shared by all xdist workers of this run (so each arch is compiled once)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return str(base)


def _build_harness(root: str, arch: str) -> str:
    srcs = [HARNESS_SRC] + config.sources()
    h = hashlib.sha256()
    for s in srcs + sorted(os.path.join(config.runtime_dir(), n) for n in os.listdir(config.runtime_dir())):
        with open(s, "rb") as f:
            h.update(f.read())
    out = os.path.join(root, f"dynld-harness-{arch}-{h.hexdigest()[:12]}")
    with open(out + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(out):
            cmd = [
                sys.executable,
                "-m",
                "ziglang",
                "cc",
                "-target",
                TARGETS[arch],
                "-O2",
                "-Wall",
                "-Wextra",
                "-Werror",
                *config.cflags(),
                "-o",
                out + ".tmp",
                *srcs,
            ]
            r = subprocess.run(cmd, capture_output=True, text=True)
            assert r.returncode == 0, f"building the {arch} harness failed:\n{r.stderr}"
            os.replace(out + ".tmp", out)
    return out


@pytest.fixture(scope="session")
def harness(tmp_path_factory):
    """harness(arch) -> command prefix running the test host for arch (built once per session)."""
    root = _shared_root(tmp_path_factory)
    built: dict[str, list[str]] = {}

    def get(arch: str) -> list[str]:
        if arch not in built:
            built[arch] = get_arch(arch).runner() + [_build_harness(root, arch)]
        return built[arch]

    return get


@pytest.fixture
def run(harness, tmp_path):
    """run(arch, module bytes, *options) -> CompletedProcess of the harness on that module."""
    counter = iter(range(1000))

    def go(arch: str, data: bytes, *opts: str) -> subprocess.CompletedProcess:
        path = tmp_path / f"m{next(counter)}.dlm"
        path.write_bytes(data)
        r = subprocess.run(harness(arch) + list(opts) + [str(path)], capture_output=True, text=True, timeout=120)
        assert r.returncode >= 0, f"harness killed by signal {-r.returncode}: {r.stderr}"
        assert "UNEXPECTED" not in r.stdout, r.stdout
        go.path = str(path)
        return r

    return go


def _refused(r: subprocess.CompletedProcess, path: str) -> str:
    """The one-line error of a refused module, checked to be ``dynld_harness: FILE: msg``."""
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    prefix = f"dynld_harness: {path}: "
    assert lines[0].startswith(prefix), lines[0]
    return lines[0][len(prefix) :]


def _exports_out(stdout: str) -> list[tuple[str, int, int]]:
    return [
        (m[1], int(m[2], 16), int(m[3], 16))
        for m in re.finditer(r"^export (\S+) sig=(0x\w+) off=(0x\w+)$", stdout, re.M)
    ]


@pytest.mark.parametrize("arch", ARCHES)
def test_data_module_loads_and_binds(run, arch):
    m = standard(arch)
    r = run(arch, encode(m), "-i", "value", "-i", "negative", "-p", "to_array", "-p", "to_int", "-p", "to_self", "-P")
    assert r.returncode == 0, r.stderr
    # The runtime's view of the export table agrees with the format's (Python) reading of it.
    assert _exports_out(r.stdout) == exports(m)
    assert f"loaded text=0 data={len(m.data)} bss=0 size={m.size} nexport=5 nimport=3" in r.stdout
    assert "import 0 host_array\nimport 1 host_int\nimport 2 host_answer\n" in r.stdout
    assert "int value = 4242\n" in r.stdout
    assert "int negative = -7\n" in r.stdout
    assert "ptr to_array -> host host_array+8\n" in r.stdout  # mode 1 with an offset
    assert "ptr to_int -> host host_int+0\n" in r.stdout
    assert "ptr to_self -> module+0x0\n" in r.stdout  # mode 0
    assert "prot text=- data=rw-" in r.stdout


@pytest.mark.parametrize("arch", ARCHES)
def test_code_module_runs_with_text_read_execute(run, arch):
    """Hand-assembled functions: a constant, a mode-2 jump to the host, mode-1 and mode-0 loads."""
    m = standard(arch, code=True)
    r = run(arch, encode(m), "-g", "-c", "answer", "-c", "callhost", "-c", "gethost", "-c", "getint", "-P")
    assert r.returncode == 0, r.stderr
    assert "loadable=1" in r.stdout
    assert "call answer = 42\n" in r.stdout
    assert "call callhost = 7\n" in r.stdout
    assert "call gethost = 1234\n" in r.stdout
    assert "call getint = 4242\n" in r.stdout
    assert "prot text=r-x data=rw-" in r.stdout
    assert _exports_out(r.stdout) == exports(m)


@pytest.mark.parametrize("arch", ARCHES)
def test_all_delta_widths_and_bss(run, arch):
    """Relocations 1-, 2- and 4-byte deltas apart, and a pointer into the zeroed bss."""
    w = get_arch(arch).word
    word = "<Q" if w == 8 else "<I"
    names = [b"p_a", b"p_b", b"p_c"]
    slots = [0x100, 0x1000, 0x48000]  # deltas: 1, 2 and 4 bytes wide (arm counts words)
    data = bytearray(slots[2] + w)
    relocs = []
    strings = 4 * 3 * w
    for k, (name, slot) in enumerate(zip(names, slots, strict=True)):
        data[k * 3 * w : (k + 1) * 3 * w] = struct.pack("<3" + word[1], 0, slot, strings)
        data[strings : strings + 4] = name + b"\0"
        relocs += [(k * 3 * w + w, 0), (k * 3 * w + 2 * w, 0)]
        strings += 4
    bss = 0x100
    data[slots[0] : slots[0] + w] = struct.pack(word, 0x10)
    data[slots[1] : slots[1] + w] = struct.pack(word, 0 << (48 if w == 8 else 22) | 4)
    data[slots[2] : slots[2] + w] = struct.pack(word, len(data) + 0x40)
    relocs += [(slots[0], 0), (slots[1], 1), (slots[2], 0)]
    m = Module(arch, b"", bytes(data), bss, 0, [("host_array", 0)], sorted(relocs))
    blob = encode(m)
    widths = {b >> 6 for b in _reloc_mode_bytes(blob, arch)}
    assert widths == {0, 1, 2}
    r = run(arch, blob, "-p", "p_a", "-p", "p_b", "-p", "p_c")
    assert r.returncode == 0, r.stderr
    assert "ptr p_a -> module+0x10\n" in r.stdout
    assert "ptr p_b -> host host_array+4\n" in r.stdout
    assert f"ptr p_c -> module+0x{len(data) + 0x40:x}\n" in r.stdout


def _reloc_mode_bytes(blob: bytes, arch: str) -> list[int]:
    """The mode/width bytes of a module's relocations, parsed independently of decode()."""
    text, data, _bss, syms = struct.unpack_from(">4I", blob, 4)
    pos = 32 + (8 if arch == "amd64" else 0) + text + data + syms
    pos += 4
    (ni,) = struct.unpack_from(">I", blob, pos)
    pos += 4
    for _ in range(ni):
        pos = blob.index(b"\0", pos + 4) + 1
    (nr,) = struct.unpack_from(">I", blob, pos)
    pos += 4
    out = []
    for _ in range(nr):
        out.append(blob[pos])
        pos += 1 + (1 << (blob[pos] >> 6))
    assert pos == len(blob)
    return out


@pytest.mark.parametrize("arch", ARCHES)
def test_dynimport_signatures(run, arch):
    r = run(
        arch,
        encode(standard(arch)),
        "-s",
        "value=0x0badf00d",
        "-s",
        "value=0x1234",
        "-s",
        "value=0",
        "-s",
        "negative=0x99",
        "-s",
        "nosuch=0",
    )
    assert r.returncode == 0, r.stderr
    assert "dynimport value 0x0badf00d: found" in r.stdout
    assert (
        "dynimport value 0x1234: nil: dynimport: value: signature mismatch (caller 0x00001234, module 0x0badf00d)"
        in r.stdout
    )
    assert "dynimport value 0: found" in r.stdout
    assert "dynimport negative 0x99: found" in r.stdout  # the module's sig is 0: unchecked
    assert "dynimport nosuch 0: nil: dynimport: nosuch: not exported by the module" in r.stdout


@pytest.mark.parametrize("arch", ARCHES)
def test_signature_mismatch_names_symbol_and_both_sigs(run, arch):
    m = build(Spec(arch, imports=[("host_int", 0xDEADBEEF)], ptrs={"p": ("host_int", 0)}))
    r = run(arch, encode(m))
    assert _refused(r, run.path) == "signature mismatch: host_int (module 0xdeadbeef, host 0x33333333)"


@pytest.mark.parametrize("arch", ARCHES)
def test_zero_signature_on_either_side_is_unchecked(run, arch):
    m = build(
        Spec(
            arch,
            imports=[("host_int", 0), ("host_nosig", 0x12345678)],
            ptrs={"a": ("host_int", 0), "b": ("host_nosig", 0)},
        )
    )
    r = run(arch, encode(m), "-p", "a", "-p", "b")
    assert r.returncode == 0, r.stderr
    assert "ptr a -> host host_int+0" in r.stdout and "ptr b -> host host_nosig+0" in r.stdout


@pytest.mark.parametrize("arch", ARCHES)
def test_import_not_exported_by_host(run, arch):
    m = build(Spec(arch, imports=[("host_int", HOST["host_int"]), ("no_such_symbol", 0)], ints={"x": 1}))
    r = run(arch, encode(m))
    assert _refused(r, run.path) == "undefined symbol: no_such_symbol (not exported by the host)"


@pytest.mark.parametrize("arch", ARCHES)
def test_maxsize(run, arch):
    m = standard(arch)
    data = encode(m)
    assert run(arch, data, "-m", str(m.size)).returncode == 0
    r = run(arch, data, "-m", str(m.size - 1))
    assert _refused(r, run.path) == f"module too big: {m.size} bytes (maxsize {m.size - 1})"


@pytest.mark.parametrize("arch", ARCHES)
def test_wrong_arch_refused(run, arch):
    other = {"386": "amd64", "amd64": "arm", "arm": "386"}[arch]
    r = run(arch, encode(standard(other)))
    msg = _refused(r, run.path)
    assert msg.startswith("not dynamic object file or wrong platform")
    assert f"{arch} wants 0x{0x80000000 | get_arch(arch).aout_magic:08x}" in msg


@pytest.mark.parametrize("arch", ARCHES)
def test_truncated_at_every_offset(run, arch):
    """Every proper prefix of a code module is refused as truncated (in one harness run), offset restored."""
    data = encode(standard(arch, code=True))
    r = run(arch, data, "-T")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == f"refused {len(data)} prefixes"


@pytest.mark.parametrize(("case", "arch"), bad_cases())
def test_bad_module_refused(run, case, arch):
    """The runtime refuses each bad module with decode()'s error text, without crashing."""
    make, want, _ = BAD[case]
    data = make(arch)
    msg = _refused(run(arch, data), run.path)
    assert want in msg
    with pytest.raises(DynError) as e:
        decode(data, "m.dlm")
    if "magic" not in want and "wrong platform" not in want:
        assert e.value.msg == msg


@pytest.mark.parametrize("arch", ARCHES)
def test_empty_export_table_in_bss(run, arch):
    m = Module(arch, b"", b"", 64, 16, [], [])
    r = run(arch, encode(m))
    assert r.returncode == 0, r.stderr
    assert "loaded text=0 data=0 bss=64 size=64 nexport=0 nimport=0" in r.stdout


def test_dynld_config_cli(capsys):
    assert config.main(["--cflags"]) == 0
    assert capsys.readouterr().out.strip() == f"-I{config.runtime_dir()}"
    assert config.main(["--include-dir"]) == 0
    d = capsys.readouterr().out.strip()
    assert os.path.isfile(os.path.join(d, "dynld.h"))
    assert config.main(["--sources"]) == 0
    srcs = capsys.readouterr().out.split()
    assert sorted(os.path.basename(s) for s in srcs) == ["dynld-386.c", "dynld-amd64.c", "dynld-arm.c", "dynld.c"]
    assert all(os.path.isfile(s) for s in srcs)
    assert config.main([]) == 2
    assert "dynld-config:" in capsys.readouterr().err
    assert config.main(["--sources", "--cflags"]) == 0  # combined like pkg-config: flags first
    assert capsys.readouterr().out.split() == [f"-I{config.runtime_dir()}", *srcs]
    assert config.main(["--help"]) == 0


def test_module_dataclass_is_what_encode_takes():
    m = Module("386", b"", b"\0" * 12, 0, 0)
    assert decode(encode(m)) == m
