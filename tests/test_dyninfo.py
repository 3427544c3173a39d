"""dyninfo: its view of ELF files agrees with pyelftools' (an independent reader), its hash
figures with a computation from the dynamic symbol names, its view of dynld modules with
the source and the raw file; bad input is one line and exit 1.

Inputs are built here for each arch with dyncc and dynlink: a static executable, a dynamic
one (imports, a versioned import, many exports), a dynld module; plus an object file and a
shared library linked by zig's ld.lld (another producer).
"""

from __future__ import annotations

import contextlib
import io
import json
import struct
import subprocess
import sys
from collections import Counter

import pytest
from conftest import ARCHES, tool_env
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.hash import ELFHashTable, GNUHashTable

from toolchain.cc.driver import compile_c
from toolchain.info import main as dyninfo_main
from toolchain.linker.main import main as dynlink_main

VERSION = {"amd64": "GLIBC_2.2.5", "386": "GLIBC_2.0", "arm": "GLIBC_2.4"}
ZIG_TARGET = {"amd64": "x86_64-linux-none", "386": "x86-linux-none", "arm": "arm-linux-none"}
NEXPORTS = 40

STATIC_SOURCE = """
static int counter;
int table[4] = {1, 2, 3, 4};
const char *names[] = {"one", "two"};
int bump(int x) { counter += x; return counter; }
int (*fptr)(int) = bump;
void _start(void) { for (;;) fptr(table[1] + names[0][0]); }
"""

MODULE_EXPORTS = ("mod_add", "mod_value", "mod_name", "a_first")
MODULE_IMPORTS = ("host_answer", "host_int")
MODULE_SOURCE = """
#pragma dynexport mod_add mod_add
#pragma dynexport mod_value mod_value
#pragma dynexport mod_name mod_name
#pragma dynexport a_first a_first
extern int host_answer(void);
extern int host_int;
int mod_value = 5;
const char *mod_name = "module";
int *pv = &host_int;
int mod_add(int a, int b) { return a + b + host_answer() + *pv; }
int a_first(void) { return mod_value; }
"""


def dynamic_source(arch: str) -> str:
    lines = [
        '#pragma dynimport puts puts "libc.so.6"',
        f'#pragma dynimport exit exit#{VERSION[arch]} "libc.so.6"',
        "int puts(const char *);",
        "void exit(int);",
    ]
    for i in range(NEXPORTS):
        lines.append(f"#pragma dynexport e{i} export_{i}")
        lines.append(f"int e{i}(int x) {{ return x * {i}; }}" if i % 2 else f"int e{i} = {i};")
    lines.append('void _start(void) { puts("hi"); exit(0); }')
    return "\n".join(lines) + "\n"


def _link(argv: list[str]) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = dynlink_main(argv)
    assert rc == 0, err.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[tuple[str, str], str]:
    """(arch, kind) -> path, kind in static, dynamic, module, object, lldso."""
    d = tmp_path_factory.mktemp("dyninfo")
    out: dict[tuple[str, str], str] = {}
    for arch in ARCHES:
        for kind, text in (("static", STATIC_SOURCE), ("dynamic", dynamic_source(arch)), ("module", MODULE_SOURCE)):
            src = d / f"{kind}-{arch}.c"
            src.write_text(text)
            obj = str(d / f"{kind}-{arch}.o")
            compile_c(arch, str(src), obj)
            exe = str(d / f"{kind}-{arch}")
            _link(["-a", arch, "-o", exe, *(["-u"] if kind == "module" else []), obj])
            out[(arch, kind)] = exe
        out[(arch, "object")] = str(d / f"dynamic-{arch}.o")
        so = str(d / f"lib-{arch}.so")
        lib = d / "lib.c"
        lib.write_text(
            "".join(f"int lib_fn_{i}(int x) {{ return x + {i}; }}\nint lib_data_{i} = {i};\n" for i in range(30))
        )
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "ziglang",
                "cc",
                "-target",
                ZIG_TARGET[arch],
                "-shared",
                "-fPIC",
                "-nostdlib",
                "-Wl,--hash-style=both",
                "-o",
                so,
                str(lib),
            ],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
        out[(arch, "lldso")] = so
    return out


def dyninfo(*args: str) -> tuple[int, str, str]:
    """dyninfo's main() here: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = dyninfo_main(list(args))
    return rc, out.getvalue(), err.getvalue()


def info_json(path: str, *extra: str) -> dict:
    rc, out, err = dyninfo(path, "--json", *extra)
    assert rc == 0, err
    assert err == ""
    return json.loads(out)


# ------------------------------------------------------------ ELF vs pyelftools
_SHT_NAMES = {
    "SHT_GNU_versym": "VERSYM",
    "SHT_GNU_verneed": "VERNEED",
    "SHT_GNU_verdef": "VERDEF",
    "SHT_GNU_HASH": "GNU_HASH",
    "SHT_ARM_EXIDX": "ARM_EXIDX",
    "SHT_ARM_ATTRIBUTES": "ARM_ATTRIBUTES",
    "SHT_LLVM_ADDRSIG": "LLVM_ADDRSIG",
}


def _sht(name) -> str:
    if isinstance(name, int):  # types pyelftools does not name
        return {0x6FFF4C03: "LLVM_ADDRSIG"}.get(name, f"0x{name:x}")
    return _SHT_NAMES.get(name, name[4:] if name.startswith("SHT_") else name)


def _pt(name) -> str:
    if isinstance(name, int):
        return f"0x{name:x}"
    return name[3:] if name.startswith("PT_") else name


@pytest.mark.parametrize("kind", ["static", "dynamic", "object", "lldso"])
@pytest.mark.parametrize("arch", ARCHES)
def test_elf_matches_pyelftools(files, arch, kind):
    path = files[(arch, kind)]
    d = info_json(path)
    with open(path, "rb") as f:
        e = ELFFile(f)
        assert d["format"] == "elf"
        h = d["header"]
        assert h["class"] == f"ELF{e.elfclass}"
        assert h["arch"] == arch
        assert h["machine"] == {"amd64": 62, "386": 3, "arm": 40}[arch]
        assert h["type"] == e["e_type"][3:]
        assert h["entry"] == e["e_entry"]
        assert h["flags"] == e["e_flags"]

        secs = list(e.iter_sections())
        assert len(d["sections"]) == len(secs)
        for mine, theirs in zip(d["sections"], secs, strict=True):
            assert mine["name"] == theirs.name
            assert mine["type"] == _sht(theirs["sh_type"]), mine
            for k in ("addr", "offset", "size", "link", "info", "addralign", "entsize"):
                assert mine["align" if k == "addralign" else k] == theirs[f"sh_{k}"], (mine, k)
            fl = theirs["sh_flags"]
            assert ("W" in mine["flags"]) == bool(fl & 1) and ("A" in mine["flags"]) == bool(fl & 2)
            assert ("X" in mine["flags"]) == bool(fl & 4)

        segs = list(e.iter_segments())
        assert len(d["segments"]) == len(segs)
        assert (kind == "object") == (not segs)
        for mine, theirs in zip(d["segments"], segs, strict=True):
            assert mine["type"] == _pt(theirs["p_type"])
            fl = theirs["p_flags"]
            assert mine["flags"] == ("R" if fl & 4 else "-") + ("W" if fl & 2 else "-") + ("X" if fl & 1 else "-")
            for k in ("offset", "vaddr", "paddr", "filesz", "memsz", "align"):
                assert mine[k] == theirs[f"p_{k}"], (mine, k)

        symtab = e.get_section_by_name(".symtab")
        syms = list(symtab.iter_symbols())
        assert d["symbols"]["count"] == len(syms)
        glob = {
            (s.name, s["st_value"], s["st_size"])
            for s in syms
            if s["st_info"]["bind"] != "STB_LOCAL" and s["st_shndx"] != "SHN_UNDEF"
        }
        mine_glob = [(s["name"], s["value"], s["size"]) for s in d["symbols"]["defined_globals"]]
        assert set(mine_glob) == glob and len(mine_glob) == len(glob)
        assert glob, "the test files all define globals"

        dynsym = e.get_section_by_name(".dynsym")
        if dynsym is None:
            assert d["dynsyms"] is None
        else:
            ds = list(dynsym.iter_symbols())
            assert d["dynsyms"]["count"] == len(ds)
            imports = [s.name for s in ds[1:] if s["st_shndx"] == "SHN_UNDEF"]
            exports = [
                (s.name, s["st_value"], s["st_size"], s["st_info"]["type"][4:])
                for s in ds[1:]
                if s["st_shndx"] != "SHN_UNDEF"
            ]
            assert [s["name"] for s in d["dynsyms"]["imports"]] == imports
            assert [(s["name"], s["value"], s["size"], s["type"]) for s in d["dynsyms"]["exports"]] == exports

        dyn = next((s for s in secs if isinstance(s, DynamicSection)), None)
        if dyn is None:
            assert d["dynamic"] is None
        else:
            tags = []
            for t in dyn.iter_tags():
                tags.append(t)
                if t.entry.d_tag == "DT_NULL":
                    break
            assert [x["tag"] for x in d["dynamic"]["entries"]] == [t.entry.d_tag[3:] for t in tags]
            assert [x["value"] for x in d["dynamic"]["entries"]] == [t.entry.d_val for t in tags]
            assert d["dynamic"]["needed"] == [t.needed for t in tags if t.entry.d_tag == "DT_NEEDED"]


def test_dynamic_exe_details(files):
    """What the dynamic test program must show: libc needed, its imports (one versioned), its exports."""
    for arch in ARCHES:
        d = info_json(files[(arch, "dynamic")])
        assert d["dynamic"]["needed"] == ["libc.so.6"]
        assert d["dynamic"]["interp"]
        imports = {s["name"]: s["version"] for s in d["dynsyms"]["imports"]}
        assert imports == {"puts": None, "exit": VERSION[arch]}
        exports = {s["name"]: s for s in d["dynsyms"]["exports"]}
        assert set(exports) == {f"export_{i}" for i in range(NEXPORTS)}
        assert exports["export_1"]["type"] == "FUNC" and exports["export_0"]["type"] == "OBJECT"
        assert d["header"]["type"] == "EXEC"
        loads = [s for s in d["segments"] if s["type"] == "LOAD"]
        assert any("X" in s["flags"] for s in loads) and any("W" in s["flags"] for s in loads)
        assert not any("W" in s["flags"] and "X" in s["flags"] for s in loads)


def test_object_directives(files):
    d = info_json(files[("amd64", "object")])
    assert d["header"]["type"] == "REL"
    di = d["directives"]
    assert di["arch"] == "amd64"
    assert {(i["local"], i["remote"], i["path"]) for i in di["imports"]} == {
        ("puts", "puts", "libc.so.6"),
        ("exit", "exit#GLIBC_2.2.5", "libc.so.6"),
    }
    assert len(di["exports"]) == NEXPORTS


# ------------------------------------------------------------------ hash figures
def _figures(lengths: list[int]) -> dict:
    hist = Counter(lengths)
    used = [n for n in lengths if n]
    return {
        "chain_max": max(lengths),
        "chain_mean": round(sum(lengths) / len(lengths), 4),
        "chain_mean_nonempty": round(sum(used) / len(used), 4) if used else 0.0,
        "empty_buckets": lengths.count(0),
        "histogram": {str(k): hist[k] for k in sorted(hist)},
    }


@pytest.mark.parametrize("kind", ["dynamic", "lldso"])
@pytest.mark.parametrize("arch", ARCHES)
def test_hash_figures(files, arch, kind):
    """Chain lengths recomputed from the dynamic symbol names with pyelftools' hash functions."""
    path = files[(arch, kind)]
    h = info_json(path, "--hash")["hash"]
    with open(path, "rb") as f:
        e = ELFFile(f)
        names = [s.name for s in e.get_section_by_name(".dynsym").iter_symbols()]
        sysv = e.get_section_by_name(".hash")
        nbucket = sysv.params["nbuckets"]
        lengths = [0] * nbucket
        for n in names[1:]:
            lengths[ELFHashTable.elf_hash(n) % nbucket] += 1
        s = h["sysv"]
        assert s["nbucket"] == nbucket and s["nsyms"] == len(names) == sysv.get_number_of_symbols()
        assert s["hashed"] == len(names) - 1
        assert {k: s[k] for k in _figures(lengths)} == _figures(lengths)

        gnu = e.get_section_by_name(".gnu.hash")
        p = gnu.params
        lengths = [0] * p["nbuckets"]
        for n in names[p["symoffset"] :]:
            lengths[GNUHashTable.gnu_hash(n) % p["nbuckets"]] += 1
        g = h["gnu"]
        assert (g["nbucket"], g["symoffset"], g["bloom_size"], g["bloom_shift"]) == (
            p["nbuckets"],
            p["symoffset"],
            p["bloom_size"],
            p["bloom_shift"],
        )
        assert g["nsyms"] == len(names) == gnu.get_number_of_symbols()
        assert g["bloom_bits"] == p["bloom_size"] * e.elfclass
        assert g["bloom_bits_set"] == sum(bin(w).count("1") for w in p["bloom"])
        assert {k: g[k] for k in _figures(lengths)} == _figures(lengths)
    rc, text, _ = dyninfo(path, "--hash")
    assert rc == 0
    assert f".hash (SysV): {nbucket} buckets, {len(names)} symbols" in text
    assert f"Bloom filter {p['bloom_size']} words" in text


def test_hash_without_tables(files):
    d = info_json(files[("amd64", "static")], "--hash")
    assert d["hash"] == {"sysv": None, "gnu": None}
    rc, text, _ = dyninfo(files[("amd64", "static")], "--hash")
    assert rc == 0 and "Hash tables:\n  none" in text


# ----------------------------------------------------------------------- modules
@pytest.mark.parametrize("arch", ARCHES)
def test_module(files, arch):
    path = files[(arch, "module")]
    d = info_json(path)
    assert d["format"] == "dynld" and d["arch"] == arch
    assert [x["name"] for x in d["exports"]] == sorted(MODULE_EXPORTS)
    assert [x["name"] for x in d["imports"]] == sorted(MODULE_IMPORTS)
    # the sizes against the raw file: header, text, data, symbols, then the relocation blob
    with open(path, "rb") as f:
        raw = f.read()
    magic, text, data, bss, syms, entry, spsz, pcsz = struct.unpack_from(">8I", raw, 0)
    hdr = 40 if arch == "amd64" else 32
    assert (d["magic"], d["text"], d["data"], d["bss"], d["entry"]) == (magic, text, data, bss, entry)
    assert d["size"] == text + data + bss and (hdr + text) % 4096 == 0
    blob_at = hdr + text + data + syms + spsz + pcsz
    (blob_len,) = struct.unpack_from(">I", raw, blob_at)
    assert blob_at + 4 + blob_len == len(raw)
    blob = raw[blob_at + 4 :]
    (ni,) = struct.unpack_from(">I", blob, 0)
    pos = 4
    for _ in range(ni):
        pos = blob.index(b"\0", pos + 4) + 1
    (nr,) = struct.unpack_from(">I", blob, pos)
    assert ni == len(MODULE_IMPORTS)
    assert d["relocs"]["total"] == nr == sum(d["relocs"]["by_mode"].values())
    assert d["relocs"]["by_mode"]["1"] + d["relocs"]["by_mode"]["2"] >= len(MODULE_IMPORTS)
    # each export's address holds what the source says (mod_value = 5)
    image = raw[hdr : hdr + text + data]
    addr = {x["name"]: x["addr"] for x in d["exports"]}
    assert struct.unpack_from("<i", image, addr["mod_value"])[0] == 5
    rc, out, _ = dyninfo(path)
    assert rc == 0
    assert f"Exports ({len(MODULE_EXPORTS)}):" in out and f"Imports ({len(MODULE_IMPORTS)}):" in out
    assert f"Relocations: {nr} (" in out


# -------------------------------------------------------------------- the CLI
def test_text_output(files):
    rc, out, err = dyninfo(files[("386", "dynamic")])
    assert rc == 0 and err == ""
    for needle in (
        "ELF32 EXEC, Intel 80386 (386)",
        "Program headers (",
        "Sections (",
        ".dynsym",
        "Symbols: ",
        "Dynamic section (",
        "NEEDED         libc.so.6",
        "import exit@GLIBC_2.0",
        "export export_3",
    ):
        assert needle in out, needle


def test_json_is_stable(files):
    """The same JSON, keys in the same order, whatever the hash seed (run as a process)."""
    outs = []
    for seed in ("1", "99"):
        r = subprocess.run(
            [sys.executable, "-m", "toolchain.info", "--json", "--hash", files[("arm", "dynamic")]],
            capture_output=True,
            text=True,
            env=tool_env(PYTHONHASHSEED=seed),
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert outs[0] == outs[1]
    d = json.loads(outs[0])
    assert list(d) == ["file", "format", "header", "segments", "sections", "symbols", "dynamic", "dynsyms", "hash"]


def _bad(path: str, *extra: str) -> str:
    rc, out, err = dyninfo(path, *extra)
    assert rc == 1, (path, err)
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"dyninfo: {path}: "), err
    assert "Traceback" not in err and "internal error" not in err, err
    return err


def test_bad_inputs(files, tmp_path):
    p = tmp_path / "text.o"
    p.write_text("hello, not an object\n")
    assert "not an ELF file or a dynld module" in _bad(str(p))
    p = tmp_path / "empty"
    p.write_bytes(b"")
    _bad(str(p))
    assert "No such file" in _bad(str(tmp_path / "missing"))
    p = tmp_path / "garbage.dlm"
    p.write_bytes(struct.pack(">I", info_json(files[("386", "module")])["magic"]) + b"\x01" * 50)
    _bad(str(p), "--json")


@pytest.mark.parametrize("kind", ["dynamic", "module", "object"])
def test_truncated_inputs(files, tmp_path, kind):
    """Every cut of a good file is a one-line error (or, for a cut ELF past what is read, a summary)."""
    with open(files[("amd64", kind)], "rb") as f:
        data = f.read()
    p = str(tmp_path / "cut")
    step = max(1, len(data) // 60)
    for cut in sorted(set(range(1, len(data), step)) | {4, 8, 16, 31, 32, 39, 40, 52, 63, 64, len(data) - 1}):
        with open(p, "wb") as f:
            f.write(data[:cut])
        rc, out, err = dyninfo(p, "--json", "--hash")
        if rc == 0:  # only possible if nothing dyninfo reads was cut off
            assert kind != "module", cut
            json.loads(out)
        else:
            _bad(p, "--json", "--hash")


def test_corrupt_elf(files, tmp_path):
    """Garbage in the tables dyninfo reads: one-line errors, never a traceback."""
    with open(files[("amd64", "dynamic")], "rb") as f:
        data = f.read()
        f.seek(0)
        e = ELFFile(f)
        offsets = {s.name: (s["sh_offset"], s["sh_size"]) for s in e.iter_sections()}
    p = str(tmp_path / "bad")
    cases = []
    hoff, _ = offsets[".hash"]
    cases.append((hoff, struct.pack("<I", 0xFFFFFF)))  # nbucket far too big
    goff, _ = offsets[".gnu.hash"]
    cases.append((goff + 8, struct.pack("<I", 0xFFFFFF)))  # Bloom size far too big
    cases.append((0x20, struct.pack("<Q", len(data) + 100)))  # e_phoff past the end
    cases.append((0x36, struct.pack("<H", 17)))  # e_phentsize wrong
    for at, patch in cases:
        bad = bytearray(data)
        bad[at : at + len(patch)] = patch
        with open(p, "wb") as f:
            f.write(bad)
        _bad(p, "--hash")


def test_usage():
    rc, _out, err = dyninfo()
    assert rc == 2 and err.startswith("dyninfo: ") and err.count("\n") == 1
    rc, out, _err = dyninfo("--help")
    assert rc == 0 and "--hash" in out
