"""Hostile input to dynlink (issue 10, findings 2-5): objects patched the way the mutation
campaign broke the linker; each must link correctly or fail with one clean line.

The objects are compiled by dyncc (or assembled by zig cc) and then patched with the
byte changes the campaign found; pyelftools locates what to patch.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time

import pytest
from elftools.elf.elffile import ELFFile

from fuzz.oracle import CONTROL_RE, check_failure, run_tool
from toolchain.dynld import module

SOURCES = {
    "names.c": "int fooQ(int x) { return x + 1; }\nint barQ;\nvoid _start(void) { barQ = fooQ(2); for (;;); }\n",
    "imports.c": "extern int impQ(int);\n#pragma dynexport g g\nint g(void) { return impQ(1); }\n",
    "common.c": "int commonQ[4];\nvoid _start(void) { commonQ[1] = 1; for (;;); }\n",
    "usetls.c": "extern int tf(void);\n#pragma dynexport g g\nint g(void) { return tf(); }\n",
    "tlsvar.c": "_Thread_local int tzero;\nvoid _start(void) { tzero = 1; for (;;); }\n",
    "dynimp.c": '#pragma dynimport puts puts "libc.so.6"\nint puts(const char *);\n'
    'void _start(void) { puts("x"); for (;;); }\n',
}
# a mergeable string section that is also thread-local (flags M, S and T)
TLS_MERGE_ASM = (
    '\t.section .tm,"aMST",@progbits,1\n\t.globl tstr\ntstr:\t.asciz "hello"\n'
    "\t.text\n\t.globl tf\ntf:\tmovq tstr@tpoff, %rax\n\tret\n"
)


@pytest.fixture(scope="module")
def objs(tmp_path_factory) -> str:
    d = str(tmp_path_factory.mktemp("hostile-link"))
    for name, text in SOURCES.items():
        src = os.path.join(d, name)
        with open(src, "w") as f:
            f.write(text)
        flags = ["-fcommon"] if name == "common.c" else []
        r = run_tool("dyncc", ["-a", "amd64", *flags, "-c", src, "-o", src[:-2] + ".o"], timeout=300)
        assert r.returncode == 0, r.stderr
    with open(os.path.join(d, "tm.s"), "w") as f:
        f.write(TLS_MERGE_ASM)
    cmd = [sys.executable, "-m", "ziglang", "cc", "-target", "x86_64-linux-none", "-c"]
    r = subprocess.run([*cmd, os.path.join(d, "tm.s"), "-o", os.path.join(d, "tm.o")], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return d


def patched(objs: str, tmp_path, name: str, old: bytes, new: bytes) -> str:
    """A copy of object ``name`` with ``old`` replaced by ``new`` (same length) wherever it stands.

    dyncc's pragma stage appends a new name table and leaves the old one in place, so a
    symbol name can stand twice in the file (once where nothing reads it any more).
    """
    with open(os.path.join(objs, name), "rb") as f:
        data = f.read()
    assert data.count(old) >= 1 and len(old) == len(new)
    out = str(tmp_path / name)
    with open(out, "wb") as f:
        f.write(data.replace(old, new))
    return out


def with_common_alignment(objs: str, tmp_path, align: int) -> str:
    """common.o with the alignment of COMMON symbol commonQ (its st_value) set to ``align``."""
    src = os.path.join(objs, "common.o")
    with open(src, "rb") as f:
        data = bytearray(f.read())
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        index = next(i for i, s in enumerate(symtab.iter_symbols()) if s.name == "commonQ")
        assert symtab.get_symbol(index)["st_shndx"] == "SHN_COMMON"
        offset = symtab["sh_offset"] + index * symtab["sh_entsize"] + 8  # Elf64_Sym.st_value
    struct.pack_into("<Q", data, offset, align)
    out = str(tmp_path / "common.o")
    with open(out, "wb") as f:
        f.write(bytes(data))
    return out


def test_map_file_names_symbols_escaped(objs, tmp_path):
    """Finding 2: symbol names with a non-UTF-8 byte, ESC and a newline link, and the map
    names them escaped, one symbol per line."""
    obj = patched(objs, tmp_path, "names.o", b"fooQ\0", b"fo\x1b\xff\0")
    obj = patched(str(tmp_path), tmp_path, "names.o", b"barQ\0", b"ba\n\xfe\0")
    out, map_file = str(tmp_path / "out"), str(tmp_path / "out.map")
    r = run_tool("dynlink", ["-a", "amd64", "--map", map_file, "-o", out, obj], timeout=60)
    assert r.returncode == 0, r.stderr
    with open(map_file, "rb") as f:
        text = f.read().decode()  # valid UTF-8
    assert not any(CONTROL_RE.search(line) for line in text.splitlines())
    assert "fo\\x1b\\xff" in text and "ba\\n\\xfe" in text


def test_module_keeps_a_non_utf8_import_name_as_bytes(objs, tmp_path):
    """Finding 3: an import whose name is not UTF-8 is written to the module byte for byte."""
    obj = patched(objs, tmp_path, "imports.o", b"impQ\0", b"imp\xff\0")
    out = str(tmp_path / "m.dlm")
    r = run_tool("dynlink", ["-a", "amd64", "-u", "-o", out, obj], timeout=60)
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        data = f.read()
    assert b"imp\xff\0" in data
    names = [name.encode("utf-8", "surrogateescape") for name, _sig in module.decode(data, out).imports]
    assert names == [b"imp\xff"]


def test_module_refuses_a_merged_thread_local_section(objs, tmp_path):
    """Finding 4: a mergeable section flagged thread-local is refused (TLS cannot go into a
    module), naming the object, instead of an AttributeError on the merged section."""
    out = str(tmp_path / "m.dlm")
    tm, use = os.path.join(objs, "tm.o"), os.path.join(objs, "usetls.o")
    r = run_tool("dynlink", ["-a", "amd64", "-u", "-o", out, use, tm], timeout=60)
    check_failure("dynlink", r.returncode, r.stderr, (out,))
    assert "thread-local" in r.stderr.decode() and tm in r.stderr.decode()


def test_common_alignment_beyond_the_output_is_refused_before_allocating(objs, tmp_path):
    """Finding 5: a COMMON symbol asking for alignment 0x40000000008 is refused at once,
    naming the file and the symbol, instead of trying to allocate 4 TiB."""
    obj = with_common_alignment(objs, tmp_path, 0x40000000008)
    out = str(tmp_path / "out")
    start = time.monotonic()
    r = run_tool("dynlink", ["-a", "amd64", "-o", out, obj], timeout=60)
    check_failure("dynlink", r.returncode, r.stderr, (out,))
    assert time.monotonic() - start < 30
    assert r.stderr.decode().startswith(f"dynlink: {obj}: symbol commonQ: alignment 0x40000000008 too large")


def test_a_large_common_alignment_does_not_blow_up_the_output(objs, tmp_path):
    """Finding 5, the 1 GiB case: either refused cleanly or linked into a small file, in bounded time."""
    obj = with_common_alignment(objs, tmp_path, 1 << 30)
    out = str(tmp_path / "out")
    start = time.monotonic()
    r = run_tool("dynlink", ["-a", "amd64", "-o", out, obj], timeout=60)
    if r.returncode != 0:
        check_failure("dynlink", r.returncode, r.stderr, (out,))
    else:
        assert os.path.getsize(out) < 1 << 20
    assert time.monotonic() - start < 30


def test_a_non_utf8_interpreter_path_is_written_as_given(objs, tmp_path):
    """-I takes a path as bytes (the command line is decoded with surrogateescape): PT_INTERP holds them."""
    out = str(tmp_path / "out")
    interp = b"/lib/ld-\xff.so".decode("utf-8", "surrogateescape")
    r = run_tool("dynlink", ["-a", "amd64", "-I", interp, "-o", out, os.path.join(objs, "dynimp.o")], timeout=60)
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        segment = next(s for s in ELFFile(f).iter_segments() if s["p_type"] == "PT_INTERP")
        assert segment.data() == b"/lib/ld-\xff.so\0"


def test_a_thread_local_symbol_outside_a_thread_local_section_is_refused(objs, tmp_path):
    """Found by the linker fuzz target: .tbss with its TLS flag cleared made the symbol table
    writer fail on a negative TLS offset (struct.error: an internal error)."""
    src = os.path.join(objs, "tlsvar.o")
    with open(src, "rb") as f:
        data = bytearray(f.read())
        elf = ELFFile(f)
        index = next(i for i, s in enumerate(elf.iter_sections()) if s.name == ".tbss")
        flags_at = elf["e_shoff"] + index * elf["e_shentsize"] + 8  # Elf64_Shdr.sh_flags
    struct.pack_into("<Q", data, flags_at, 0x3)  # SHF_WRITE | SHF_ALLOC, no SHF_TLS
    obj = str(tmp_path / "tlsvar.o")
    with open(obj, "wb") as f:
        f.write(bytes(data))
    out = str(tmp_path / "out")
    r = run_tool("dynlink", ["-a", "amd64", "-o", out, obj], timeout=60)
    check_failure("dynlink", r.returncode, r.stderr, (out,))
    assert (
        r.stderr.decode()
        == f"dynlink: {obj}: symbol tzero is thread-local but its section .tbss is not thread-local storage\n"
    )


def test_a_thread_local_section_goes_to_tls_whatever_its_name(objs, tmp_path):
    """Found by the linker fuzz target: .tbss renamed .text went into .text, and the symbol
    table writer failed on a negative TLS offset. The TLS flag decides."""
    src = os.path.join(objs, "tlsvar.o")
    with open(src, "rb") as f:
        data = bytearray(f.read())
        elf = ELFFile(f)
        sections = list(elf.iter_sections())
        tbss = next(i for i, s in enumerate(sections) if s.name == ".tbss")
        text = next(i for i, s in enumerate(sections) if s.name == ".text")
        name_at = elf["e_shoff"] + tbss * elf["e_shentsize"]  # Elf64_Shdr.sh_name
        struct.pack_into("<I", data, name_at, sections[text]["sh_name"])
    obj = str(tmp_path / "tlsvar.o")
    with open(obj, "wb") as f:
        f.write(bytes(data))
    out = str(tmp_path / "out")
    r = run_tool("dynlink", ["-a", "amd64", "-o", out, obj], timeout=60)
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        tls = [s for s in ELFFile(f).iter_segments() if s["p_type"] == "PT_TLS"]
    assert len(tls) == 1 and tls[0]["p_memsz"] >= 4
