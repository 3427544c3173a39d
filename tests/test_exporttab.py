"""dynexport: the generated _exporttab compiles, is sorted by strcmp order, and holds the right entries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

import toolchain.dynld
from toolchain.dynld.cli import dynexport_main
from toolchain.dynld.exporttab import generate_c
from toolchain.dynld.manifest import load_manifest

SIG_INT_FN_INT_INT = 0xB67674FA
SIG_CHAR_PTR = 0xF2611A7A
SIG_PRINT = 0x00918875
SIG_VOID_FN_VOID = 0x4C81A129
SIG_NODE = 0x677CB31F
SIG_INT = 0x4151D5BD

HEADER = """#ifndef API_H
#define API_H
struct Node { int v; struct Node *next; char name[8]; };
extern char *Z9;
void ab(void);
#endif
"""

# Listed out of order; names differ in case and by prefixes.
MANIFEST = """headers: [api.h]
exports:
  - int b;
  - ab
  - char *B;
  - int a(int, int);
  - {decl: "int _x;", sig: 0}
  - struct Node A;
  - {name: Z9}
  - int a_(char *, ...);
  - {decl: "int aB;", sig: 0x12345678}
imports:
  - int print(char *, ...);
"""

# strcmp order, worked out by hand: 'A'(41) 'B'(42) 'Z'(5a) '_'(5f) 'a'(61) 'b'(62); a prefix sorts first.
EXPECTED = [
    ("A", SIG_NODE),
    ("B", SIG_CHAR_PTR),
    ("Z9", SIG_CHAR_PTR),
    ("_x", 0),
    ("a", SIG_INT_FN_INT_INT),
    ("aB", 0x12345678),
    ("a_", SIG_PRINT),
    ("ab", SIG_VOID_FN_VOID),
    ("b", SIG_INT),
]

TARGETS = {  # arch: (zig target, word size)
    "amd64": ("x86_64-linux-none", 8),
    "386": ("x86-linux-none", 4),
    "arm": ("arm-linux-none", 4),
}


@pytest.fixture(scope="session")
def runtime_dir(tmp_path_factory) -> str:
    real = Path(toolchain.dynld.__file__).parent / "runtime"
    if (real / "dynld.h").is_file():
        return str(real)
    d = tmp_path_factory.mktemp("runtime")  # a minimal stand-in until the runtime exists
    (d / "dynld.h").write_text(
        "typedef unsigned long ulong;\ntypedef struct { ulong sig; ulong addr; char *name; } Dynsym;\n"
        "extern Dynsym _exporttab[];\n"
    )
    return str(d)


def compile_c(src: str, target: str, runtime: str, out: str, cwd: str | None = None) -> None:
    cmd = [sys.executable, "-m", "ziglang", "cc", "-target", target, "-ffreestanding", "-fno-pic", "-I", runtime]
    cmd += ["-c", src, "-o", out]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="session")
def project(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("proj")
    (d / "api.h").write_text(HEADER)
    (d / "dyn.yaml").write_text(MANIFEST)
    (d / "build").mkdir()
    assert dynexport_main([str(d / "dyn.yaml"), "-o", str(d / "build" / "exporttab.c")]) == 0
    return d


@pytest.fixture(scope="session")
def objects(project, runtime_dir) -> dict[str, str]:
    out = {}
    for arch, (target, _) in TARGETS.items():
        obj = str(project / "build" / f"exporttab-{arch}.o")
        compile_c(str(project / "build" / "exporttab.c"), target, runtime_dir, obj)
        out[arch] = obj
    return out


def read_table(path: str, word: int):
    """(entry size, [(sig, addr symbol, addr addend, name string)], relocation count, raw table)."""
    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        symtab = elf.get_section_by_name(".symtab")
        syms = list(symtab.iter_symbols())
        tab = next(s for s in syms if s.name == "_exporttab")
        shndx = tab["st_shndx"]
        sec = elf.get_section(shndx)
        base, size = tab["st_value"], tab["st_size"]
        data = sec.data()[base : base + size]
        rels = {}
        for rs in elf.iter_sections():
            if isinstance(rs, RelocationSection) and rs["sh_info"] == shndx:
                for r in rs.iter_relocations():
                    if base <= r["r_offset"] < base + size:
                        rels[r["r_offset"] - base] = (r, rs.is_RELA())
        entsize = 3 * word

        def resolve(off):
            r, rela = rels[off]
            addend = r["r_addend"] if rela else int.from_bytes(data[off : off + word], "little")
            return syms[r["r_info_sym"]], addend

        entries = []
        for i in range(size // entsize - 1):
            e = i * entsize
            sig = int.from_bytes(data[e : e + word], "little")
            asym, aadd = resolve(e + word)
            nsym, nadd = resolve(e + 2 * word)
            target = elf.get_section(nsym["st_shndx"]).data()
            start = nsym["st_value"] + nadd
            name = target[start : target.index(b"\0", start)].decode()
            entries.append((sig, asym.name, aadd, name))
        return size, entsize, entries, len(rels), data


@pytest.mark.parametrize("arch", list(TARGETS))
def test_table_in_object(objects, arch):
    size, entsize, entries, nrel, data = read_table(objects[arch], TARGETS[arch][1])
    n = len(EXPECTED)
    assert size == (n + 1) * entsize
    assert nrel == 2 * n  # addr and name of each entry; none for the terminator
    assert data[n * entsize :] == bytes(entsize)
    assert [(name, sig) for sig, _, _, name in entries] == EXPECTED
    assert [(asym, aadd) for _, asym, aadd, _ in entries] == [(name, 0) for name, _ in EXPECTED]


def test_generated_text(project):
    text = (project / "build" / "exporttab.c").read_text()
    assert '#include "dynld.h"\n#include "../api.h"\n' in text
    assert "extern char *B;" in text and "\nint a(int, int);" in text and "extern struct Node A;" in text
    rows = [ln.strip() for ln in text.splitlines() if ln.startswith("\t{")]
    assert rows == [f'{{0x{sig:08x}, (ulong)&{name}, "{name}"}},' for name, sig in EXPECTED] + ["{0, 0, 0}"]
    assert str(project) not in text  # no absolute paths


def test_deterministic_and_order_independent(project, tmp_path):
    m = load_manifest(str(project / "dyn.yaml"))
    out = str(project / "build" / "exporttab.c")
    assert generate_c(m, out) == generate_c(m, out) == Path(out).read_text()
    # the same exports listed in another order give the same table
    lines = MANIFEST.splitlines()
    exports = lines[2:11]
    shuffled = "\n".join(lines[:2] + exports[::-1] + lines[11:]) + "\n"
    (project / "shuffled.yaml").write_text(shuffled)
    assert generate_c(load_manifest(str(project / "shuffled.yaml")), out) == Path(out).read_text()


def test_include_relative_to_manifest_without_output(project):
    text = generate_c(load_manifest(str(project / "dyn.yaml")))
    assert '#include "api.h"\n' in text


def test_compiles_from_any_directory(project, runtime_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    compile_c(str(project / "build" / "exporttab.c"), "x86_64-linux-none", runtime_dir, "x.o", cwd=str(elsewhere))


def test_empty_table(tmp_path, runtime_dir):
    (tmp_path / "m.yaml").write_text("imports:\n  - int print(char *, ...);\n")
    assert dynexport_main([str(tmp_path / "m.yaml"), "-o", str(tmp_path / "e.c")]) == 0
    compile_c(str(tmp_path / "e.c"), "x86_64-linux-none", runtime_dir, str(tmp_path / "e.o"))
    size, entsize, entries, nrel, data = read_table(str(tmp_path / "e.o"), 8)
    assert (size, entries, nrel, data) == (24, [], 0, bytes(24))


def test_cli_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text("exports:\n  - int x;\n")
    out = tmp_path / "out.c"
    assert dynexport_main([str(good), "-o", str(out)]) == 0
    assert out.is_file() and capsys.readouterr().err == ""

    def fails(argv, code, fragment=""):
        assert dynexport_main(argv) == code
        err = capsys.readouterr().err
        assert err.startswith("dynexport: ") and err.count("\n") == 1, err
        assert fragment in err

    bad = tmp_path / "bad.yaml"
    bad.write_text("exports:\n  - int x;\n  - int f(;\n")
    fails([str(bad), "-o", str(tmp_path / "none.c")], 1, f"{bad}:3: ")
    bad.write_text("exports:\n  - int _exporttab;\n")
    fails([str(bad), "-o", str(tmp_path / "none.c")], 1, "_exporttab")
    fails([str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "none.c")], 1, "No such file")
    fails([str(good), "-o", str(tmp_path / "no" / "dir" / "none.c")], 1, "cannot create output")
    assert not (tmp_path / "none.c").exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".dyntmp")]
    fails([], 2)
    fails([str(good)], 2, "-o")
    fails([str(good), "-o", str(out), "--bogus"], 2)
    assert dynexport_main(["--help"]) == 0
    assert "MANIFEST" in capsys.readouterr().out


def test_an_output_over_the_manifest_is_refused_and_the_manifest_kept(tmp_path, capsys):
    """``-o`` or ``--depfile`` naming the manifest would replace it with C or make text."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text("exports:\n  - int x;\n")
    for argv in (
        [str(manifest), "-o", str(manifest)],
        [str(manifest), "-o", str(tmp_path / "t.c"), "-MF", str(manifest)],
    ):
        assert dynexport_main(argv) == 1
        assert capsys.readouterr().err == f"dynexport: {manifest}: input file is the same as the output file\n"
        assert manifest.read_text() == "exports:\n  - int x;\n" and not (tmp_path / "t.c").exists()
