"""Hostile input (issue 10): each tool survives any bytes with one clean line, exit 1 and no output.

One regression test per finding of the mutation campaign (the linker's own findings are
in test_hostile_linker.py), plus the escaping rule every message and text output follows.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time

import pytest
from elftools.elf.elffile import ELFFile

from fuzz.oracle import CONTROL_RE, check_failure, run_tool
from toolchain.errors import DynError, encode_text, printable, read_input, unreadable_reason, write_output

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME = os.path.join(ROOT, "toolchain", "dynld", "runtime")


# -- the escaping rule ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, shown",
    [
        (b"puts", "puts"),
        (b"l\xffibc.so.6", "l\\xffibc.so.6"),
        (b"a\nb", "a\\nb"),
        (b"\x1b[2J\x00\x0b\x7f", "\\x1b[2J\\x00\\x0b\\x7f"),
        ("caf\u00e9", "caf\u00e9"),
        ("x\u202ey", "x\\u202ey"),  # a right-to-left override would reorder what follows
        ("back\\slash", "back\\slash"),
        ("s\udcfe", "s\\xfe"),  # a byte kept by surrogateescape
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(name, shown):
    assert printable(name) == shown
    assert printable(shown) == shown  # escaping twice changes nothing
    assert not CONTROL_RE.search(printable(name))


def test_text_outputs_write_non_utf8_bytes_as_escapes(tmp_path):
    """Finding 2 (errors.write_output side): a str holding a byte that was not UTF-8 is written,
    as the four characters \\xNN, instead of failing with UnicodeEncodeError."""
    name = b"sym\xff".decode("utf-8", "surrogateescape")
    out = tmp_path / "x.map"
    write_output(str(out), f"0x1000 {name}\n")
    assert out.read_bytes() == b"0x1000 sym\\xff\n"
    assert encode_text("plain \u00e9") == "plain \u00e9".encode()


# -- finding 1: dyncc and a non-UTF-8 byte in a pragma's library path ------------------------


def test_dyncc_keeps_a_non_utf8_library_path_as_bytes(tmp_path):
    """The path's bytes reach the object's directives and the executable's DT_NEEDED unchanged."""
    src = tmp_path / "p.c"
    src.write_bytes(
        b'#pragma dynimport puts puts "l\xffibc.so.6"\nint puts(const char *);\n'
        b'void _start(void) { puts("x"); for (;;); }\n'
    )
    obj, exe = tmp_path / "p.o", tmp_path / "p"
    r = run_tool("dyncc", ["-a", "amd64", "-c", str(src), "-o", str(obj)], timeout=120)
    assert r.returncode == 0, r.stderr
    with open(obj, "rb") as f:
        pragma = ELFFile(f).get_section_by_name(".dynpragma").data()
    assert b"dynimport puts puts l\xffibc.so.6\n" in pragma
    r = run_tool("dyncc", ["-a", "amd64", "--pragmas", str(src)], timeout=120)
    assert r.returncode == 0 and b"dynimport puts puts l\xffibc.so.6\n" in r.stdout, r.stderr
    r = run_tool("dynlink", ["-a", "amd64", "-o", str(exe), str(obj)], timeout=120)
    assert r.returncode == 0, r.stderr
    with open(exe, "rb") as f:
        elf = ELFFile(f)
        dynstr = elf.get_section_by_name(".dynstr").data()
        offsets = [
            t.entry.d_val for t in elf.get_section_by_name(".dynamic").iter_tags() if t.entry.d_tag == "DT_NEEDED"
        ]
    assert [dynstr[o:].split(b"\0", 1)[0] for o in offsets] == [b"l\xffibc.so.6"]


def test_dyncc_error_naming_a_hostile_file_is_one_escaped_line(tmp_path):
    """Finding 7 (dyncc): a line marker's file name with ESC, NUL-free control bytes and a
    non-UTF-8 byte is printed escaped, on one line."""
    src = tmp_path / "p.c"
    src.write_bytes(b'#line 7 "ev\x1b[2Jil\x0b\xff.c"\n#pragma dynimport puts puts "l\x7fibc"\nint x;\n')
    obj = tmp_path / "p.o"
    start = time.monotonic()
    r = run_tool("dyncc", ["-a", "amd64", "-w", "-c", str(src), "-o", str(obj)], timeout=120)
    check_failure("dyncc", r.returncode, r.stderr, (str(obj),))
    assert r.stderr.decode() == 'dyncc: ev\\x1b[2Jil\\x0b\\xff.c:7: usage: #pragma dynimport local remote "path"\n'
    assert time.monotonic() - start < 120


# -- finding 6: a FIFO named as a header ----------------------------------------------------


@pytest.fixture
def fifo_dir(tmp_path):
    os.mkfifo(tmp_path / "fifo.h")
    (tmp_path / "m.yaml").write_text("headers: [fifo.h]\nexports:\n  - int x;\n")
    (tmp_path / "inc.h").write_text('#include "fifo.h"\nint y;\n')
    return tmp_path


def test_dynexport_refuses_a_fifo_header_without_opening_it(fifo_dir):
    out = fifo_dir / "t.c"
    r = run_tool("dynexport", [str(fifo_dir / "m.yaml"), "-o", str(out)], timeout=30)
    check_failure("dynexport", r.returncode, r.stderr, (str(out),))
    assert r.stderr.decode() == f"dynexport: {fifo_dir / 'm.yaml'}:1: cannot read header 'fifo.h': not a regular file\n"


def test_dynsig_and_dynexport_refuse_a_fifo_on_the_command_line(fifo_dir):
    r = run_tool("dynsig", [str(fifo_dir / "fifo.h")], timeout=30)
    check_failure("dynsig", r.returncode, r.stderr)
    assert r.stderr.decode() == f"dynsig: {fifo_dir / 'fifo.h'}: not a regular file\n"
    out = fifo_dir / "t.c"
    r = run_tool("dynexport", [str(fifo_dir / "fifo.h"), "-o", str(out)], timeout=30)
    check_failure("dynexport", r.returncode, r.stderr, (str(out),))
    assert "not a regular file" in r.stderr.decode()


def test_a_header_including_a_fifo_is_stopped_in_bounded_time(fifo_dir, monkeypatch, capsys):
    """The preprocessor itself would wait on the FIFO: it runs under a time limit, killed with its children."""
    from toolchain.dynld import cli, signatures

    monkeypatch.setattr(signatures, "PREPROCESS_TIMEOUT", 3.0)
    start = time.monotonic()
    rc = cli.dynsig_main([str(fifo_dir / "inc.h")])
    elapsed = time.monotonic() - start
    check_failure("dynsig", rc, capsys.readouterr().err)
    assert elapsed < 30
    # nothing is left reading the FIFO: opening it for writing without a reader fails
    with pytest.raises(OSError):
        os.close(os.open(fifo_dir / "fifo.h", os.O_WRONLY | os.O_NONBLOCK))


def test_dyncc_on_a_source_including_a_fifo_is_stopped_in_bounded_time(fifo_dir, monkeypatch, capsys):
    """The compiler would wait on the FIFO for ever: dyncc runs it under a time limit, killed with its children."""
    from toolchain.cc import driver

    monkeypatch.setenv("DYNCC_TIMEOUT", "3")
    src = fifo_dir / "uses.c"
    src.write_text('#include "fifo.h"\nint z;\n')
    out = str(fifo_dir / "uses.o")
    start = time.monotonic()
    rc = driver.main(["-a", "amd64", "-c", str(src), "-o", out])
    assert time.monotonic() - start < 30
    check_failure("dyncc", rc, capsys.readouterr().err, (out,))
    with pytest.raises(OSError):  # nothing is left reading the FIFO
        os.close(os.open(fifo_dir / "fifo.h", os.O_WRONLY | os.O_NONBLOCK))


def test_the_readability_checks_never_block(fifo_dir):
    fifo = str(fifo_dir / "fifo.h")
    assert unreadable_reason(fifo) == "not a regular file"
    assert unreadable_reason(str(fifo_dir)) == "not a regular file"
    assert unreadable_reason(str(fifo_dir / "nope.h")) == "No such file or directory"
    assert unreadable_reason(str(fifo_dir / "m.yaml")) is None
    with pytest.raises(Exception, match="not a regular file"):
        read_input(fifo)


def test_an_output_replaces_the_old_one_once_written(tmp_path, monkeypatch):
    """The old output stays until the new one is complete; then it is unlinked and the new one
    renamed into place (renaming over it made ext4 write the new file out first)."""
    out = tmp_path / "a.out"
    out.write_bytes(b"old")
    with pytest.raises(TypeError):  # a write that fails leaves the old file, and no temporary
        write_output(str(out), object())  # type: ignore[arg-type]
    assert out.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.out"]
    os.link(out, tmp_path / "kept")  # replaced, not rewritten: a link keeps the old bytes
    calls = []
    real_unlink, real_replace = os.unlink, os.replace

    def unlink(p, *a, **k):
        calls.append(("unlink", os.path.basename(p), out.read_bytes()))
        real_unlink(p, *a, **k)

    def replace(src, dst, *a, **k):
        calls.append(("replace", os.path.basename(dst), open(src, "rb").read()))
        real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(os, "replace", replace)
    write_output(str(out), b"new", executable=True)
    assert calls == [("unlink", "a.out", b"old"), ("replace", "a.out", b"new")]
    assert out.read_bytes() == b"new" and (tmp_path / "kept").read_bytes() == b"old"
    assert out.stat().st_mode & 0o777 == 0o755


def test_inputs_are_read_whole_whatever_size_stat_gave():
    """A file whose size is not known from ``stat`` (``/proc`` says 0) is still read to its end,
    by the same reader as objects (which reads the size it was told in one call)."""
    from toolchain.errors import map_input

    with open("/proc/self/maps", "rb") as f:
        expected_start = f.read(64)
    for reader in (read_input, map_input):
        data = reader("/proc/self/maps")
        assert isinstance(data, bytes) and len(data) > 4096 and data.startswith(expected_start.split(b"-")[0])
        assert data.endswith(b"\n")


# -- finding 7: control characters from the input, in every tool's messages ------------------


def test_dynlink_escapes_a_section_name_holding_a_newline(tmp_path):
    """A section name with '\\n' and ESC would have split the error in two and moved the cursor."""
    src = tmp_path / "s.c"
    src.write_text('__attribute__((section(".data.hostileQ"))) int v = 1;\nvoid _start(void) { for (;;); }\n')
    obj = tmp_path / "s.o"
    r = run_tool("dyncc", ["-a", "amd64", "-c", str(src), "-o", str(obj)], timeout=120)
    assert r.returncode == 0, r.stderr
    data = bytearray(obj.read_bytes())
    with open(obj, "rb") as f:
        elf = ELFFile(f)
        index = next(i for i, s in enumerate(elf.iter_sections()) if s.name == ".data.hostileQ")
        header_offset = elf["e_shoff"] + index * elf["e_shentsize"]
        names_offset = elf.get_section(elf["e_shstrndx"])["sh_offset"]
        name_offset = names_offset + elf.get_section(index)["sh_name"]
    assert data[name_offset : name_offset + 14] == b".data.hostileQ"
    data[name_offset + 13] = 0x0A
    data[header_offset + 48 : header_offset + 56] = (3).to_bytes(8, "little")  # sh_addralign 3: not a power of 2
    bad = tmp_path / "bad.o"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out"
    r = run_tool("dynlink", ["-a", "amd64", "-o", str(out), str(bad)], timeout=60)
    check_failure("dynlink", r.returncode, r.stderr, (str(out),))
    assert r.stderr.decode() == f"dynlink: {bad}: section .data.hostile\\n: bad alignment 0x3\n"


@pytest.mark.parametrize("prog", ["dyncc", "dynlink", "dyninfo", "dynsig", "dynexport"])
def test_a_hostile_file_name_is_printed_escaped(tmp_path, prog):
    name = str(tmp_path / "no\x1b]0;owned\x07such\n.o")
    args = {
        "dyncc": ["-a", "amd64", "-c", name, "-o", str(tmp_path / "out")],
        "dynlink": ["-a", "amd64", "-o", str(tmp_path / "out"), name],
        "dynexport": [name, "-o", "t.c"],
    }
    r = run_tool(prog, args.get(prog, [name]), timeout=60, cwd=str(tmp_path))
    check_failure(prog, r.returncode, r.stderr, (str(tmp_path / "out"), str(tmp_path / "t.c")))
    assert "no\\x1b]0;owned\\x07such\\n.o" in r.stderr.decode()


# -- finding 9: manifest declarations that are not C -----------------------------------------

NOT_C = [
    ("int f(void)[3];", "function returning an array"),
    ("int h(void)(void);", "function returning a function"),
    ("int a[3](void);", "array of functions"),
    ("int e(int a[](void));", "array of functions"),
    ("char big[-1];", "array size is negative (-1)"),
    ("int g(int x[-1]);", "array size is negative (-1)"),
    ("char z[0];", "array size is zero"),
    ("char k[1/0];", "array size is not an integer constant"),
    ("char s[sizeof(struct Undefined)];", "sizeof of incomplete type 'struct Undefined'"),
    ("char o[99999999999999999999999];", "integer literal 99999999999999999999999 is too large for any integer type"),
    ("void va[3];", "array of void"),
    ("struct U ua[2];", "array of incomplete type 'struct U'"),
    ("int arr2[3][];", "array of arrays of unknown size"),
    ("void pv(void, int);", "'void' must be the only parameter"),
    ("long long ll[536870912];", "'ll' is too large: 4294967296 bytes (a 32-bit host holds at most 4 GiB - 1)"),
    ("struct { int n; char d[-1]; } fl;", "array size is negative (-1)"),
]
STILL_C = [
    "int ok_f(void);",
    "int ok_vla(int n, int a[n]);",
    "struct Opaque *ok_p;",
    "struct { int n; char d[0]; } ok_flex;",
    "int ok_m[][3];",
    "char ok_s[sizeof(int) * 3];",
    "char ok_big[4294967295u];",
    "int ok_v(int, ...);",
]


@pytest.mark.parametrize("decl, msg", NOT_C)
def test_dynexport_refuses_declarations_that_are_not_c(tmp_path, decl, msg):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f'exports:\n  - int fine(void);\n  - "{decl}"\n')
    out = tmp_path / "t.c"
    r = run_tool("dynexport", [str(manifest), "-o", str(out)], timeout=60)
    check_failure("dynexport", r.returncode, r.stderr, (str(out),))
    assert r.stderr.decode() == f"dynexport: {manifest}:3: {msg}\n"


def test_the_compiler_agrees_with_the_declaration_checks(tmp_path):
    """Independent check: clang (zig cc) refuses each refused declaration and accepts the others."""
    good = tmp_path / "good.c"
    good.write_text("".join(f"extern {d}\n" for d in STILL_C))
    cmd = [sys.executable, "-m", "ziglang", "cc", "-target", "x86-linux-none", "-std=c11", "-c", "-o"]
    r = subprocess.run([*cmd, str(tmp_path / "good.o"), str(good)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "error" not in r.stderr, r.stderr
    bad = tmp_path / "bad.c"
    bad.write_text("".join(f"extern {d}\n" for d, _ in NOT_C))
    r = subprocess.run(
        [*cmd, str(tmp_path / "bad.o"), "-ferror-limit=0", str(bad)], capture_output=True, text=True, timeout=300
    )
    lines_with_errors = {int(ln.split(":")[1]) for ln in r.stderr.splitlines() if ": error:" in ln}
    zero_size = 1 + [d for d, _ in NOT_C].index("char z[0];")  # GNU C accepts it; ISO C does not
    assert lines_with_errors | {zero_size} == set(range(1, len(NOT_C) + 1)), r.stderr


def test_the_accepted_declarations_make_a_table(tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text("exports:\n" + "".join(f'  - "{d}"\n' for d in STILL_C))
    out = tmp_path / "t.c"
    r = run_tool("dynexport", [str(manifest), "-o", str(out)], timeout=60)
    assert r.returncode == 0, r.stderr
    assert out.read_text().count("(ulong)&ok_") == len(STILL_C)


# -- outputs that are devices or pipes --------------------------------------------------------


def _device_like(tmp_path) -> str:
    """A character device like /dev/null, made where the test may break it: a copy of
    /dev/null's node when running as root (as CI does), else a FIFO read by a thread."""
    path = str(tmp_path / "null")
    if os.geteuid() == 0:
        os.mknod(path, 0o644 | stat.S_IFCHR, os.makedev(1, 3))
    else:
        os.mkfifo(path)

        def drain() -> None:
            while True:
                with open(path, "rb") as f:
                    f.read()

        threading.Thread(target=drain, daemon=True).start()
    return path


def _same_kind(path: str) -> bool:
    mode = os.stat(path).st_mode
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def test_an_output_that_is_a_pipe_is_written_into_not_replaced(tmp_path):
    """``-o /dev/stdout`` or a FIFO: the bytes go through it, and it stays a FIFO."""
    fifo = str(tmp_path / "out")
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    time.sleep(0.2)  # the reader opens first: the writer must not wait for one
    write_output(fifo, b"\x7fELF and the rest")
    reader.join(timeout=30)
    assert got == [b"\x7fELF and the rest"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    t = time.monotonic()
    with pytest.raises(DynError, match="cannot write output: no process is reading it"):
        write_output(fifo, b"nobody reads this")
    assert time.monotonic() - t < 5 and stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize(
    "tool, args",
    [
        ("dyncc", ["-a", "amd64", "-c", "x.c"]),
        ("dyncc", ["-a", "amd64", "-ffreestanding", "-nostdlib", "x.c"]),
        ("dyncc", ["-a", "amd64", "-ffreestanding", "-nostdlib", "x.c", "-Wl,--map,MAP"]),
    ],
)
def test_output_to_a_device_leaves_the_device(tmp_path, tool, args):
    """``-o /dev/null`` (what configure scripts pass): as root, replacing the output by rename
    would put a regular file where /dev/null was. The device stays; nothing is left beside it."""
    (tmp_path / "x.c").write_text("void _start(void) { for (;;) ; }\n")
    dev = _device_like(tmp_path)
    args = [a.replace("MAP", dev) for a in args]
    r = run_tool(tool, [*args, "-o", dev], cwd=str(tmp_path), timeout=300)
    assert r.returncode == 0, r.stderr
    assert _same_kind(dev)
    assert sorted(os.listdir(tmp_path)) == ["null", "x.c"]


def test_an_output_that_is_a_directory_is_one_line(tmp_path):
    (tmp_path / "d").mkdir()
    for path in (str(tmp_path / "d"), str(tmp_path / "d") + "/"):
        with pytest.raises(DynError, match="cannot write output: Is a directory$"):
            write_output(path, b"x")
    assert os.listdir(tmp_path / "d") == [] and os.listdir(tmp_path) == ["d"]
