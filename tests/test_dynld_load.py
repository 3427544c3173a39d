"""How the dynld runtime loads: file-mapped text and data (copy-on-write, only relocated pages
copied), Inferno's layout after dynlegacy(1) only, many modules with mode-2 relocations at
once and from many threads, and 386 -fPIC modules that keep relocations out of text.

Modules are hand-built (tests/dynld_build.py) or linked by dyncc + dynlink -u; the hosts are
tests/c/dynld_harness.c and tests/c/dynld_many.c.  What /proc/self/maps and smaps say is
checked on the native arches only (qemu-user shows its own view of them)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys

import pytest
from conftest import run_dyncc, tool_env
from dynld_build import HOST, Spec, build, standard
from test_module_refload import MODULE_C
from test_runtime import _build_harness, _refused, _shared_root

from toolchain.arch import get_arch
from toolchain.dynld import config
from toolchain.dynld.module import (
    CLASSIC,
    FILE_MAPPED,
    LEGACY,
    PAGE,
    Module,
    decode,
    encode,
    header_size,
    module_kind,
    relocate,
)
from toolchain.errors import DynError

ARCHES = ("386", "amd64", "arm")
NATIVE = ("386", "amd64")
MANY_SRC = os.path.join(os.path.dirname(__file__), "c", "dynld_many.c")


def _harness(tmp_path_factory, arch: str) -> list[str]:
    return [*get_arch(arch).runner(), _build_harness(_shared_root(tmp_path_factory), arch)]


def _run(cmd: list[str], path: str, data: bytes, *opts: str) -> subprocess.CompletedProcess:
    with open(path, "wb") as f:
        f.write(data)
    return subprocess.run([*cmd, *opts, path], capture_output=True, text=True, errors="surrogateescape", timeout=120)


def _maps(stdout: str) -> list[tuple[int, int, str, int, str]]:
    """The harness's -W "map LO-HI PERMS COPIED-KB FILE" lines."""
    return [
        (int(m[1], 16), int(m[2], 16), m[3], int(m[4]), m[5])
        for m in re.finditer(r"^map (\w+)-(\w+) (\S+) (\d+) (\S+)$", stdout, re.M)
    ]


def _wx(stdout: str) -> list[tuple[int, int]]:
    return [(int(m[1], 16), int(m[2], 16)) for m in re.finditer(r"^wx (\w+)-(\w+)$", stdout, re.M)]


def _image(stdout: str) -> tuple[int, int]:
    m = re.search(r"^image (\w+)-(\w+)$", stdout, re.M)
    assert m, stdout
    return int(m[1], 16), int(m[2], 16)


# ----------------------------------------------------------------- the three layouts


@pytest.mark.parametrize("arch", ARCHES)
def test_layouts_are_told_apart_from_the_header(arch):
    hdr = header_size(arch)
    assert hdr == (40 if arch == "amd64" else 32)
    mapped = encode(standard(arch, code=True, text_size=PAGE - hdr))
    classic = encode(standard(arch, code=True))
    inferno = encode(standard(arch, code=True, text_size=0x1808), validate=False)
    data_only = encode(standard(arch))
    assert [module_kind(d) for d in (mapped, classic, inferno, data_only)] == [
        FILE_MAPPED,
        CLASSIC,
        LEGACY,
        FILE_MAPPED,
    ]
    with pytest.raises(DynError) as e:
        decode(inferno, "m.dlm")
    assert e.value.msg == (
        "text size 0x1808 is not a multiple of the page size (4096): Inferno's layout, loaded only after dynlegacy(1)"
    )
    assert decode(inferno, check_pages=False).text == standard(arch, code=True, text_size=0x1808).text


def test_dyninfo_says_which_layout(tmp_path):
    files = {
        "file-mapped": encode(standard("386", code=True, text_size=PAGE - 32)),
        "page-aligned": encode(standard("386", code=True)),
        "inferno": encode(standard("386", code=True, text_size=0x1808), validate=False),
    }
    for kind, data in files.items():
        path = tmp_path / f"{kind}.dlm"
        path.write_bytes(data)
        text = subprocess.run(
            [sys.executable, "-m", "toolchain.info", str(path)], capture_output=True, text=True, env=tool_env()
        )
        assert text.returncode == 0, text.stderr
        assert f"\nLayout: {kind} (" in text.stdout
        js = subprocess.run(
            [sys.executable, "-m", "toolchain.info", "--json", str(path)], capture_output=True, env=tool_env()
        )
        assert json.loads(js.stdout)["layout"] == kind
    assert "dynlegacy(1)" in text.stdout


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("reader", ["fd", "gen"])
def test_file_mapped_code_module_runs(tmp_path, tmp_path_factory, arch, reader):
    """Text ending on a file page: mapped from the file with dynloadfd, read with dynloadgen; same result."""
    m = standard(arch, code=True, text_size=PAGE - header_size(arch))
    data = encode(m)
    opts = ["-c", "answer", "-c", "callhost", "-c", "gethost", "-c", "getint", "-P", "-D", str(tmp_path / "img")]
    opts = (["-g"] if reader == "gen" else []) + opts
    r = _run(_harness(tmp_path_factory, arch), str(tmp_path / "m.dlm"), data, *opts)
    assert r.returncode == 0, r.stderr
    for line in ("call answer = 42", "call callhost = 7", "call gethost = 1234", "call getint = 4242"):
        assert line in r.stdout.splitlines()
    assert "prot text=r-x data=rw-" in r.stdout
    # the loaded image is what the reference loader makes of it at that base
    lines = r.stdout.splitlines()
    base = int(next(ln.split()[1] for ln in lines if ln.startswith("base ")), 16)
    host = {ln.split()[1]: int(ln.split()[2], 16) for ln in lines if ln.startswith("host ")}
    assert base % PAGE == header_size(arch)  # the header shares the first page: text ends on a page
    want = relocate(m, base, {n: (HOST[n], a) for n, a in host.items()})
    assert (tmp_path / "img").read_bytes() == want


@pytest.mark.parametrize("arch", NATIVE)
def test_file_mapped_pages_come_from_the_file(tmp_path, tmp_path_factory, arch):
    """dynloadfd maps text and data from the module file; only the pages relocations patch are copied."""
    m = standard(arch, code=True, text_size=2 * PAGE - header_size(arch))  # relocations in the first text page only
    r = _run(_harness(tmp_path_factory, arch), str(tmp_path / "m.dlm"), encode(m), "-W", "-c", "getint")
    assert r.returncode == 0, r.stderr
    assert "call getint = 4242" in r.stdout
    lo, hi = _image(r.stdout)
    maps = _maps(r.stdout)
    assert maps and maps[0][0] == lo and maps[-1][1] == hi
    path = str(tmp_path / "m.dlm")
    text = [x for x in maps if x[2] == "r-xp"]
    data = [x for x in maps if x[2] == "rw-p"]
    assert [x[4] for x in text] == [path] and [x[4] for x in data] == [path]
    assert text[0][1] - text[0][0] == 2 * PAGE
    assert text[0][3] == 4  # the one text page with relocations was copied; the other is the file's
    assert not _wx(r.stdout)


@pytest.mark.parametrize("arch", NATIVE)
@pytest.mark.parametrize("start", [0, 100, PAGE])
def test_dynloadfd_at_an_offset_leaves_it_there(tmp_path, tmp_path_factory, arch, start):
    """A module inside a bigger file: mapped when it starts on a page, read otherwise; same result."""
    m = standard(arch, code=True, text_size=PAGE - header_size(arch))
    data = bytes(start) + encode(m) + b"trailing bytes"
    r = _run(_harness(tmp_path_factory, arch), str(tmp_path / "m.dlm"), data, "-o", str(start), "-W", "-c", "getint")
    assert r.returncode == 0, r.stderr
    assert "call getint = 4242" in r.stdout.splitlines()
    assert f"offset after {start}" in r.stdout.splitlines()
    files = {x[4] for x in _maps(r.stdout)}
    if start % PAGE == 0:
        assert files == {str(tmp_path / "m.dlm")}
    else:  # anonymous memory (placed near the host, it may sit right below the brk heap and merge with it)
        assert files <= {"-", "[heap]"}


@pytest.mark.parametrize("arch", NATIVE)
def test_dynloadfd_on_truncated_files(tmp_path, tmp_path_factory, arch):
    """Cut in the header, text, data and relocations: dynloadfd says what decode says."""
    data = encode(standard(arch, code=True, text_size=PAGE - header_size(arch)))
    cmd = _harness(tmp_path_factory, arch)
    for cut in (10, 200, PAGE + 8, len(data) - 20, len(data) - 1):
        path = str(tmp_path / f"cut{cut}.dlm")
        msg = _refused(_run(cmd, path, data[:cut]), path)
        with pytest.raises(DynError) as e:
            decode(data[:cut], "m.dlm")
        assert msg == e.value.msg and msg.startswith("truncated module: cannot read ")


@pytest.mark.parametrize("reader", ["fd", "gen"])
def test_short_file_with_a_wrong_magic(tmp_path, tmp_path_factory, reader):
    """36 bytes: fewer than amd64's 40-byte header, but the magic is judged first, as decode judges it."""
    data = b"\x7fELF" + bytes(32)
    path = str(tmp_path / "m.dlm")
    msg = _refused(_run(_harness(tmp_path_factory, "amd64"), path, data, *(["-g"] if reader == "gen" else [])), path)
    with pytest.raises(DynError) as e:
        decode(data, "m.dlm")
    assert msg.startswith("not dynamic object file or wrong platform")
    assert e.value.msg.startswith("not dynamic object file or wrong platform")


# --------------------------------------------------------------- Inferno's layout


@pytest.mark.parametrize("arch", ARCHES)
def test_inferno_layout_refused_by_default_naming_dynlegacy(tmp_path, tmp_path_factory, arch):
    data = encode(standard(arch, code=True, text_size=0x1808), validate=False)
    path = str(tmp_path / "m.dlm")
    r = _run(_harness(tmp_path_factory, arch), path, data, "-c", "answer")
    msg = _refused(r, path)
    assert "dynlegacy(1)" in msg
    with pytest.raises(DynError) as e:
        decode(data, "m.dlm")
    assert e.value.msg == msg


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("reader", ["fd", "gen"])
def test_inferno_layout_runs_after_dynlegacy(tmp_path, tmp_path_factory, arch, reader):
    """Text 0x1808 bytes: one page read+execute, the page shared with data read+write+execute, nothing else."""
    data = encode(standard(arch, code=True, text_size=0x1808), validate=False)
    opts = ["-L", "-W", "-c", "answer", "-c", "callhost", "-c", "gethost", "-c", "getint", "-i", "value"]
    opts = (["-g"] if reader == "gen" else []) + opts
    r = _run(_harness(tmp_path_factory, arch), str(tmp_path / "m.dlm"), data, *opts)
    assert r.returncode == 0, r.stderr
    calls = ("call answer = 42", "call callhost = 7", "call gethost = 1234", "call getint = 4242")
    for line in (*calls, "int value = 4242"):
        assert line in r.stdout.splitlines()
    if arch in NATIVE:
        lo, _hi = _image(r.stdout)
        assert _wx(r.stdout) == [(lo + PAGE, lo + 2 * PAGE)]  # the boundary page, and no other in the process
        perms = {(a - lo) // PAGE: p for a, _b, p, _d, _f in _maps(r.stdout)}
        assert perms == {0: "r-xp", 1: "rwxp"}


# ------------------------------------------------------------- 386 -fPIC modules


def _link_module(tmp_path, arch: str, *cflags: str) -> str:
    src = tmp_path / "m.c"
    src.write_text(MODULE_C)
    obj, out = str(tmp_path / "m.o"), str(tmp_path / "m.dlm")
    r = run_dyncc(["-a", arch, "-c", str(src), "-o", obj, "-O2", *cflags])
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "toolchain.linker.main", "-a", arch, "-u", "-o", out, obj],
        capture_output=True,
        text=True,
        env=tool_env(),
    )
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.parametrize(("arch", "cflags"), [("386", ("-fPIC",)), ("amd64", ())])
def test_pic_module_text_is_never_copied(tmp_path, tmp_path_factory, arch, cflags):
    """A position-independent module (amd64's default, 386 with -fPIC) relocates only data and its
    import stubs; loaded, it computes what the reference loader says, and its code pages are the file's."""
    path = _link_module(tmp_path, arch, *cflags)
    raw = open(path, "rb").read()
    mod = decode(raw, path)
    assert module_kind(raw) == FILE_MAPPED
    in_text = [(off, mode) for off, mode in mod.relocs if off < len(mod.text)]
    if arch == "386":  # one jmp rel32 stub per called import
        assert in_text and all(mode == 2 for _, mode in in_text)
    else:
        assert in_text == []
    dump = str(tmp_path / "img")
    r = subprocess.run(
        [*_harness(tmp_path_factory, arch), "-W", "-D", dump, "-c", "mod_value", path],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "call mod_value = 1288" in r.stdout.splitlines()  # 7 + 1234 + 30 + 9 + 7 + 1, as in test_module_refload
    lines = r.stdout.splitlines()
    base = int(next(ln.split()[1] for ln in lines if ln.startswith("base ")), 16)
    host = {ln.split()[1]: int(ln.split()[2], 16) for ln in lines if ln.startswith("host ")}
    assert open(dump, "rb").read() == relocate(mod, base, {n: (HOST[n], a) for n, a in host.items()})
    text = [x for x in _maps(r.stdout) if "x" in x[2]]
    stub_pages = {(header_size(arch) + off) // PAGE for off, _ in in_text}
    assert sum(x[3] for x in text) == 4 * len(stub_pages)  # KiB copied: the stub page (386) or none
    assert all(x[4] == path for x in text)


# ------------------------------------------------------------------ many at once


def _build_many(root: str, compiler: str) -> str:
    srcs = [MANY_SRC, *config.sources()]
    h = hashlib.sha256(compiler.encode())
    for s in srcs + sorted(os.path.join(config.runtime_dir(), n) for n in os.listdir(config.runtime_dir())):
        with open(s, "rb") as f:
            h.update(f.read())
    out = os.path.join(root, f"dynld-many-{compiler}-{h.hexdigest()[:12]}")
    if not os.path.exists(out):
        cc = ["gcc"] if compiler == "gcc" else [sys.executable, "-m", "ziglang", "cc", "-target", "x86_64-linux-gnu"]
        flags = ["-O2", "-fPIE", "-pie", "-pthread", "-Wall", "-Wextra", "-Werror", *config.cflags()]
        r = subprocess.run(
            [*cc, *flags, "-o", out + f".{os.getpid()}", *srcs], capture_output=True, text=True, env=tool_env()
        )
        assert r.returncode == 0, r.stderr
        os.replace(out + f".{os.getpid()}", out)
    return out


@pytest.mark.parametrize("compiler", ["gcc", "zig"])
def test_64_modules_with_mode_2_and_8_threads(tmp_path, tmp_path_factory, compiler):
    """A PIE host keeps 64 amd64 modules that call into it loaded, while 8 threads load and free 1000 each."""
    host = _build_many(_shared_root(tmp_path_factory), compiler)
    m = standard("amd64", code=True, text_size=PAGE - header_size("amd64"))
    assert any(mode == 2 for _, mode in m.relocs)
    path = tmp_path / "m.dlm"
    path.write_bytes(encode(m))
    r = subprocess.run([host, str(path), "64", "8", "1000"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["held 64 distinct 64", "cycles 8000 refused 0 wrong 0"]


def test_unplaceable_module_is_explained(tmp_path, tmp_path_factory):
    """Branches to two imports farther apart than rel32 reaches: refused, saying why."""
    host = _build_many(_shared_root(tmp_path_factory), "gcc")
    m = build(Spec("amd64", imports=[("host_answer", 0), ("libc_abs", 0)], code=["callhost"], text_size=PAGE - 40))
    text = bytearray(m.text)
    text[16:21] = b"\xe9" + (1 << 22).to_bytes(4, "little")  # jmp libc_abs (mode 2)
    m = Module("amd64", bytes(text), m.data, 0, m.entry, m.imports, sorted(m.relocs + [(17, 2)]))
    path = tmp_path / "m.dlm"
    path.write_bytes(encode(m))
    r = subprocess.run([host, str(path), "1", "0", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "first refusal: cannot place the module: the imports it branches to (0x" in r.stdout
    assert "are too far apart for rel32 (+-2 GiB)" in r.stdout


# ------------------------------------------------------------ C and Python agree


RUNTIME_ONLY = (
    "undefined symbol:",
    "signature mismatch:",
    "cannot place the module",
    "out of rel32 reach",
    "module too big for this address space",
)


@pytest.mark.parametrize("arch", NATIVE)
def test_runtime_and_decode_agree_on_mutated_modules(tmp_path, tmp_path_factory, arch):
    """Random byte changes to a file-mapped code module: the C runtime and module.decode accept and
    refuse the same files with the same texts (but for what only a loader can know: the host's
    symbols, and where the module lands)."""
    rnd = random.Random(11)
    good = encode(standard(arch, code=True, text_size=PAGE - header_size(arch)))
    cmd = _harness(tmp_path_factory, arch)
    hot = list(range(PAGE, len(good)))  # data (the export table) and the relocation blob
    agreed = refused = 0
    for k in range(150):
        data = bytearray(good)
        for _ in range(rnd.choice((1, 1, 2, 4))):
            at = rnd.choice(hot) if rnd.random() < 0.7 else rnd.randrange(len(data))
            data[at] = rnd.randrange(256)
        path = str(tmp_path / f"x{k}.dlm")
        r = _run(cmd, path, bytes(data))
        assert r.returncode in (0, 1), (k, r.returncode, r.stderr)
        try:
            decode(bytes(data), "m.dlm")
            want = None
        except DynError as e:
            want = e.msg
        got = None if r.returncode == 0 else _refused(r, path)
        if got is not None and got.startswith(RUNTIME_ONLY):
            continue
        if any(not (c.isascii() and c.isprintable()) for c in (got or "") + (want or "")):
            continue  # names with other bytes are printed differently (escaping them is issue 10's #7)
        if want is not None and want.startswith("not dynamic object file"):
            assert got is not None and got.startswith("not dynamic object file")
        else:
            assert got == want, (k, bytes(data).hex())
        agreed += 1
        refused += got is not None
    assert agreed > 100 and refused > 30
