"""dynlink's error cases: one line naming the file, exit status 1 (2 for bad usage), no traceback,
and no output file (nor map, nor temporary file) left behind.

Objects are compiled with dyncc (and a few assembly files with zig cc) once per module;
the bad inputs are made from them by patching bytes.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import struct
import subprocess
import sys

import pytest
from conftest import tool_env
from elftools.elf.elffile import ELFFile

from toolchain.cc.driver import compile_c
from toolchain.linker.main import main as dynlink_main

SOURCES = {
    # a.o references bar, which nobody defines
    "a.c": "int bar(int);\nint foo(int x) { return bar(x) + 1; }\nvoid _start(void) { foo(1); for (;;); }\n",
    # b.o defines foo again
    "b.c": "int foo(int x) { return x; }\n",
    # c.o links on its own
    "c.c": "int foo(int x) { return x * 2; }\nint data = 3;\nint *ptr = &data;\n"
    "void _start(void) { foo(*ptr); for (;;); }\n",
    # calls a function whose absolute address is far away (arm branch range)
    "callfar.c": "void far(void);\nvoid _start(void) { far(); for (;;); }\n",
    # needs foo, which only an archive member defines
    "needfoo.c": "int foo(int x);\nvoid _start(void) { foo(3); for (;;); }\n",
}
ASM = {
    # an absolute symbol above 4 GiB, and an R_X86_64_32 against it
    ("huge.s", "amd64"): ".globl huge\n.set huge, 0x123456789\n",
    ("use32.s", "amd64"): ".text\n.globl _start\n_start:\n\tmovl $huge, %eax\n\thlt\n",
    # arm: a BL to an absolute address 512 MiB away (R_ARM_CALL reaches +-32 MiB)
    ("far.s", "arm"): ".globl far\n.set far, 0x20000000\n",
    # 386: a jecxz (R_386_PC8) to a label 300 bytes into another object's .text
    ("pc8.s", "386"): ".text\n.globl _start\n_start:\n\tjecxz target\n\thlt\n",
    ("tgt.s", "386"): ".text\n.space 300\n.globl target\ntarget:\n\thlt\n",
}
ZIG_TARGET = {"amd64": "x86_64-linux-none", "386": "x86-linux-none", "arm": "arm-linux-none"}


@pytest.fixture(scope="module")
def objs(tmp_path_factory) -> str:
    """A directory with the compiled objects (amd64 unless the name says otherwise)."""
    d = str(tmp_path_factory.mktemp("linkerr"))
    for name, text in SOURCES.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
        compile_c("amd64", os.path.join(d, name), os.path.join(d, name[:-2] + ".o"))
    compile_c("arm", os.path.join(d, "callfar.c"), os.path.join(d, "callfar-arm.o"))
    for (name, arch), text in ASM.items():
        src = os.path.join(d, name)
        with open(src, "w") as f:
            f.write(text)
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "ziglang",
                "cc",
                "-target",
                ZIG_TARGET[arch],
                "-c",
                src,
                "-o",
                os.path.join(d, name[:-2] + ".o"),
            ],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
    r = subprocess.run(["ar", "rcs", os.path.join(d, "libfoo.a"), os.path.join(d, "b.o")], capture_output=True)
    assert r.returncode == 0
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "toolchain.linker.main",
            "-a",
            "amd64",
            "-o",
            os.path.join(d, "exe"),
            os.path.join(d, "c.o"),
        ],
        capture_output=True,
        env=tool_env(),
    )
    assert r.returncode == 0, r.stderr
    return d


@pytest.fixture
def work(objs, tmp_path, monkeypatch) -> str:
    """A fresh directory holding copies of the objects; the current directory for the test."""
    for name in os.listdir(objs):
        if name.endswith((".o", ".a")) or name == "exe":
            shutil.copy(os.path.join(objs, name), tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return str(tmp_path)


def run_cli(args: list[str], cwd: str) -> subprocess.CompletedProcess:
    """dynlink as its own process."""
    return subprocess.run(
        [sys.executable, "-m", "toolchain.linker.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=tool_env(),
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def run_inproc(args: list[str]) -> tuple[int, str, str]:
    """dynlink's main() here: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = dynlink_main(args)
    return rc, out.getvalue(), err.getvalue()


def assert_clean_failure(
    cwd: str, err: str, rc: int, expected: str, status: int = 1, leftovers: tuple[str, ...] = ("out", "out.map")
) -> None:
    """One line ``dynlink: ...`` containing ``expected``, the status, and nothing written."""
    assert rc == status, err
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    assert err.startswith("dynlink: "), err
    assert "Traceback" not in err and "internal error" not in err, err
    assert expected in err, err
    for name in leftovers:
        assert not os.path.exists(os.path.join(cwd, name)), f"{name} left behind"
    assert not [n for n in os.listdir(cwd) if n.startswith(".dyntmp")], "temporary file left behind"


def check(cwd: str, args: list[str], expected: str, status: int = 1) -> None:
    r = run_cli(["-o", "out", "--map", "out.map", *args], cwd)
    assert r.stdout == ""
    assert_clean_failure(cwd, r.stderr, r.returncode, expected, status)


def test_good_link_works(work):
    """The fixture objects are fine: the same command line succeeds (so the failures below mean something)."""
    r = run_cli(["-a", "amd64", "-o", "out", "--map", "out.map", "c.o"], work)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(work, "out")) and os.path.exists(os.path.join(work, "out.map"))


def test_undefined_symbol(work):
    check(work, ["-a", "amd64", "a.o"], "dynlink: a.o: undefined symbol: bar")


def test_duplicate_definition(work):
    check(work, ["-a", "amd64", "a.o", "b.o", "c.o"], "duplicate definition of foo")
    r = run_cli(["-a", "amd64", "-o", "out", "c.o", "b.o"], work)
    assert r.stderr == "dynlink: b.o: duplicate definition of foo (first defined in c.o)\n"


def _patch_reloc_type(path: str, new_type: int) -> int:
    """Rewrite the type of the first relocation against .text; returns its offset in the section."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
        f.seek(0)
        e = ELFFile(f)
        for sec in e.iter_sections():
            if sec["sh_type"] in ("SHT_RELA", "SHT_REL") and e.get_section(sec["sh_info"]).name == ".text":
                rel = next(iter(sec.iter_relocations()))
                at = sec["sh_offset"]
                if e.elfclass == 64:
                    info = struct.unpack_from("<Q", data, at + 8)[0]
                    struct.pack_into("<Q", data, at + 8, (info & ~0xFFFFFFFF) | new_type)
                else:
                    info = struct.unpack_from("<I", data, at + 4)[0]
                    struct.pack_into("<I", data, at + 4, (info & ~0xFF) | new_type)
                offset = rel["r_offset"]
                break
        else:
            raise AssertionError("no relocation against .text")
    with open(path, "wb") as f:
        f.write(data)
    return offset


def test_unsupported_relocation(work):
    offset = _patch_reloc_type(os.path.join(work, "c.o"), 200)
    with open(os.path.join(work, "c.o"), "rb") as f:  # independent check that the patch took
        rel = next(s for s in ELFFile(f).iter_sections() if s["sh_type"] == "SHT_RELA" and s.name == ".rela.text")
        assert next(iter(rel.iter_relocations()))["r_info_type"] == 200
    check(
        work,
        ["-a", "amd64", "c.o"],
        f"dynlink: c.o: unsupported relocation type 200 in section .text at offset {offset:#x}",
    )


def test_overflow_amd64_32(work):
    check(
        work,
        ["-a", "amd64", "use32.o", "huge.o"],
        "dynlink: use32.o: relocation R_X86_64_32 against huge in section .text at offset 0x1 overflows",
    )


def test_overflow_arm_branch(work):
    check(
        work,
        ["-a", "arm", "callfar-arm.o", "far.o"],
        "dynlink: callfar-arm.o: relocation R_ARM_CALL against far in section .text",
    )
    r = run_cli(["-a", "arm", "-o", "out", "callfar-arm.o", "far.o"], work)
    assert "overflows" in r.stderr


def test_overflow_386_pc8(work):
    check(
        work,
        ["-a", "386", "pc8.o", "tgt.o"],
        "dynlink: pc8.o: relocation R_386_PC8 against target in section .text at offset 0x1 overflows",
    )


def test_not_elf(work):
    with open(os.path.join(work, "t.o"), "w") as f:
        f.write("hello, I am not an object\n")
    check(work, ["-a", "amd64", "c.o", "t.o"], "dynlink: t.o: not an ELF file")


def test_llvm_bitcode_is_named(work):
    """An object compiled with -flto (zig's own, LLVM bitcode), alone or as an archive member."""
    zig = [sys.executable, "-m", "ziglang", "cc", "-target", "x86_64-linux-gnu", "-flto", "-c"]
    with open(os.path.join(work, "lto.c"), "w") as f:
        f.write("int foo(void) { return 1; }\n")
    subprocess.run([*zig, "lto.c", "-o", "lto.o"], cwd=work, check=True, env=tool_env(), timeout=300)
    check(work, ["-a", "amd64", "c.o", "lto.o"], "dynlink: lto.o: not an ELF file: LLVM bitcode (compiled with -flto?)")
    with open(os.path.join(work, "lto.o"), "rb") as f:
        bitcode = f.read()
    index = struct.pack(">II", 1, 8 + 60 + 12) + b"foo\0"
    member = _member_header("lto.o/", len(bitcode)) + bitcode
    with open(os.path.join(work, "liblto.a"), "wb") as f:
        f.write(b"!<arch>\n" + _member_header("/", len(index)) + index + member)
    check(work, ["-a", "amd64", "needfoo.o", "liblto.a"], "dynlink: liblto.a(lto.o): not an ELF file: LLVM bitcode")


def test_output_that_is_an_input_is_refused_and_the_input_kept(work):
    """As GNU ld: "input file is the same as output file", named, nothing replaced; through a
    hard link and through -l too."""
    with open(os.path.join(work, "c.o"), "rb") as f:
        before = f.read()
    os.link(os.path.join(work, "c.o"), os.path.join(work, "alias.o"))
    for out, args in (("c.o", ["c.o"]), ("alias.o", ["c.o"]), ("libc1.a", ["c.o", "-L.", "-lc1"])):
        if out == "libc1.a":
            shutil.copy(os.path.join(work, "needfoo.o"), os.path.join(work, "libc1.a"))
        r = run_cli(["-a", "amd64", "-o", out, *args], work)
        want = "dynlink: ./libc1.a: " if out == "libc1.a" else "dynlink: c.o: "
        assert r.returncode == 1 and r.stderr == want + "input file is the same as the output file\n", r.stderr
    with open(os.path.join(work, "c.o"), "rb") as f:
        assert f.read() == before
    with open(os.path.join(work, "list"), "w") as f:  # a side file read, then the output
        f.write("{ foo; };\n")
    r = run_cli(["-a", "amd64", "-o", "list", "--dynamic-list", "list", "c.o"], work)
    assert r.returncode == 1 and r.stderr == "dynlink: list: input file is the same as the output file\n"
    with open(os.path.join(work, "list")) as f:
        assert f.read() == "{ foo; };\n"


def test_empty_file(work):
    open(os.path.join(work, "empty.o"), "wb").close()
    check(work, ["-a", "amd64", "empty.o"], "dynlink: empty.o: not an ELF file")


def test_not_relocatable(work):
    check(work, ["-a", "amd64", "exe"], "dynlink: exe: not a relocatable object")


def test_wrong_arch(work):
    check(work, ["-a", "arm", "c.o"], "dynlink: c.o: object is for amd64, not arm")
    check(work, ["-a", "386", "callfar-arm.o"], "dynlink: callfar-arm.o: object is for arm, not 386")


def test_truncated_object(work):
    """Every cut of a valid object is a one-line error naming it; never a traceback, never an output."""
    with open(os.path.join(work, "c.o"), "rb") as f:
        data = f.read()
    cuts = sorted(
        {
            0,
            1,
            4,
            15,
            16,
            17,
            40,
            52,
            63,
            64,
            65,
            100,
            len(data) // 4,
            len(data) // 2,
            len(data) - 65,
            len(data) - 64,
            len(data) - 40,
            len(data) - 1,
        }
        | set(range(0, len(data), max(1, len(data) // 40)))
    )
    for cut in cuts:
        with open(os.path.join(work, "cut.o"), "wb") as f:
            f.write(data[:cut])
        rc, out, err = run_inproc(["-a", "amd64", "-o", "out", "cut.o"])
        assert out == ""
        assert_clean_failure(work, err, rc, "dynlink: cut.o: ")
    r = run_cli(["-a", "amd64", "-o", "out", "cut.o"], work)  # and once as a process
    assert_clean_failure(work, r.stderr, r.returncode, "dynlink: cut.o: ")


def _corrupt_section_header(data: bytes, section: str, field_off: int, fmt: str, value: int) -> bytes:
    """A copy of a 64-bit object with one field of a section header replaced."""
    e = ELFFile(io.BytesIO(data))
    idx = next(i for i, s in enumerate(e.iter_sections()) if s.name == section)
    out = bytearray(data)
    struct.pack_into(fmt, out, e["e_shoff"] + idx * e["e_shentsize"] + field_off, value)
    return bytes(out)


@pytest.mark.parametrize(
    "section,field_off,fmt,value",
    [
        (".symtab", 40, "<I", 999),  # sh_link: no such string table
        (".rela.text", 44, "<I", 999),  # sh_info: no such target section
        (".symtab", 32, "<Q", 7),  # sh_size: not a multiple of the entry size
        (".rela.text", 24, "<Q", 1 << 40),  # sh_offset: far past the end
    ],
    ids=["symtab-link", "rela-info", "symtab-size", "rela-offset"],
)
def test_corrupt_object(work, section, field_off, fmt, value):
    """Garbage in section headers: one-line error naming the object, no traceback."""
    with open(os.path.join(work, "c.o"), "rb") as f:
        data = f.read()
    with open(os.path.join(work, "bad.o"), "wb") as f:
        f.write(_corrupt_section_header(data, section, field_off, fmt, value))
    rc, _out, err = run_inproc(["-a", "amd64", "-o", "out", "bad.o"])
    assert_clean_failure(work, err, rc, "dynlink: bad.o: ")


def test_huge_section_alignment(work):
    with open(os.path.join(work, "c.o"), "rb") as f:
        data = f.read()
    with open(os.path.join(work, "bad.o"), "wb") as f:
        f.write(_corrupt_section_header(data, ".text", 48, "<Q", 0x9700000000000000))
    rc, _out, err = run_inproc(["-a", "amd64", "-o", "out", "bad.o"])
    assert_clean_failure(work, err, rc, "dynlink: bad.o: ")


def test_symbol_value_outside_section(objs, work):
    compile_c("386", os.path.join(objs, "c.c"), os.path.join(work, "c386.o"))
    with open(os.path.join(work, "c386.o"), "rb") as f:
        data = bytearray(f.read())
        f.seek(0)
        e = ELFFile(f)
        symtab = e.get_section_by_name(".symtab")
        i = next(i for i, s in enumerate(symtab.iter_symbols()) if s.name == "_start")
        struct.pack_into("<I", data, symtab["sh_offset"] + 16 * i + 4, 0xFF000000)  # st_value
    with open(os.path.join(work, "bad.o"), "wb") as f:
        f.write(data)
    rc, _out, err = run_inproc(["-a", "386", "-o", "out", "bad.o"])
    assert_clean_failure(work, err, rc, "dynlink: bad.o: ")


def test_unknown_arch_is_usage_error(work):
    check(work, ["-a", "vax", "c.o"], "unknown arch", status=2)


def test_usage_errors(work):
    check(work, ["-a", "amd64", "--hash-style", "fancy", "c.o"], "--hash-style", status=2)
    check(work, ["-a", "amd64", "-m", "x.yaml", "c.o"], "-m needs -u", status=2)


def test_unknown_arch_message(work):
    r = run_cli(["-a", "vax", "-o", "out", "c.o"], work)
    assert r.returncode != 0
    assert_clean_failure(work, r.stderr, r.returncode, "unknown arch: 'vax'", status=r.returncode)


def test_missing_entry(work):
    check(work, ["-a", "amd64", "b.o"], "entry symbol _start is not defined")
    check(work, ["-a", "amd64", "-e", "nowhere", "c.o"], "entry symbol nowhere is not defined")


def test_missing_input(work):
    check(work, ["-a", "amd64", "c.o", "nothere.o"], "dynlink: nothere.o: No such file or directory")


def test_fifo_or_directory_input_is_refused_not_waited_on(work):
    os.mkfifo(os.path.join(work, "fifo.o"))
    os.mkdir(os.path.join(work, "dir.o"))
    check(work, ["-a", "amd64", "c.o", "fifo.o"], "dynlink: fifo.o: not a regular file")
    check(work, ["-a", "amd64", "c.o", "dir.o"], "dynlink: dir.o: not a regular file")


def test_no_inputs(work):
    check(work, ["-a", "amd64"], "no input files")


def test_missing_library(work):
    check(work, ["-a", "amd64", "-L", ".", "-l", "nosuch", "needfoo.o"], "cannot find -lnosuch")


def test_archive_ok(work):
    """The archive used below links when it is well formed (so the bad-archive failures mean something)."""
    r = run_cli(["-a", "amd64", "-o", "out", "needfoo.o", "-L", ".", "-l", "foo"], work)
    assert r.returncode == 0, r.stderr


def _member_header(name: str, size: int) -> bytes:
    return f"{name:<16}{0:<12}{0:<6}{0:<6}{644:<8}{size:<10}`\n".encode()


@pytest.mark.parametrize(
    "contents,expected",
    [
        (b"!<arch>\ngarbage", "truncated archive member header"),
        (b"!<arch>\n" + b"x" * 60, "bad archive member header at offset 8"),
        (b"!<arch>\n" + _member_header("b.o/", 10)[:48] + b"abcdefghij`\n", "bad archive member size at offset 8"),
        (b"!<arch>\n" + _member_header("b.o/", 5000) + b"\x7fELF", "truncated archive member at offset 8"),
        # a symbol index entry that points at no member
        (
            b"!<arch>\n" + _member_header("/", 12) + struct.pack(">II", 1, 4242) + b"foo\0",
            "archive symbol table points at no member (offset 4242)",
        ),
    ],
    ids=["short-header", "bad-header", "bad-size", "truncated-member", "bad-index"],
)
def test_bad_archive(work, contents, expected):
    with open(os.path.join(work, "libbad.a"), "wb") as f:
        f.write(contents)
    check(work, ["-a", "amd64", "needfoo.o", "libbad.a"], f"dynlink: libbad.a: {expected}")


def test_archive_member_not_elf(work):
    """An indexed member that the link needs but that is not an object: named as archive(member)."""
    junk = b"this is not an object\n"
    index = struct.pack(">II", 1, 8 + 60 + 12) + b"foo\0"
    contents = b"!<arch>\n" + _member_header("/", len(index)) + index + _member_header("junk.o/", len(junk)) + junk
    with open(os.path.join(work, "libbad.a"), "wb") as f:
        f.write(contents)
    check(work, ["-a", "amd64", "needfoo.o", "libbad.a"], "dynlink: libbad.a(junk.o): not an ELF file")


def test_archive_truncated_everywhere(work):
    """Every cut of a valid archive: a clean error or a link that simply lacks the member (never a traceback)."""
    with open(os.path.join(work, "libfoo.a"), "rb") as f:
        data = f.read()
    for cut in sorted(set(range(8, len(data), max(1, len(data) // 30))) | {len(data) - 1}):
        with open(os.path.join(work, "libcut.a"), "wb") as f:
            f.write(data[:cut])
        rc, _out, err = run_inproc(["-a", "amd64", "-o", "out", "needfoo.o", "libcut.a"])
        assert_clean_failure(work, err, rc, "dynlink: ")
