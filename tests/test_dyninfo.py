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
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
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
    p = tmp_path / "lib.a"  # readelf reads archives; dyninfo says what to do
    p.write_bytes(b"!<arch>\n" + b"m.o/            0           0     0     644     4         `\n\x7fELF")
    assert _bad(str(p)).endswith(
        ": an ar archive, not an ELF file or a dynld module: extract a member (ar x) to read it\n"
    )
    p = tmp_path / "lto.o"
    p.write_bytes(b"BC\xc0\xde" + b"\0" * 60)
    assert _bad(str(p)).endswith(": not an ELF file: LLVM bitcode (compiled with -flto?)\n")
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
        for args in (("--json", "--hash"), ("-a", "--json"), ("--svg",)):
            if kind == "module" and "-a" in args or kind == "object" and "--svg" in args:
                continue
            rc, out, err = dyninfo(p, *args)
            if rc == 0:  # only possible if nothing dyninfo reads was cut off
                assert kind != "module", cut
                if "--svg" in args:
                    ET.fromstring(out)
                else:
                    json.loads(out)
            else:
                _bad(p, *args)


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


# ------------------------------------------------------- readelf-style views
def _readelf(path: str, *opts: str) -> str:
    r = subprocess.run(["readelf", "-W", *opts, path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _flags_rwx(flg: str) -> str:
    return ("R" if "R" in flg else "-") + ("W" if "W" in flg else "-") + ("X" if "E" in flg else "-")


_READELF_SEGMENT_TYPES = {"EXIDX": "ARM_EXIDX"}


def _readelf_sht(name: str) -> str:
    """readelf's section type name; the types it does not know come as LOOS+offset."""
    if name.startswith("LOOS+"):
        return _sht(0x60000000 + int(name[5:], 16))
    return name


def readelf_facts(path: str) -> dict:
    """What readelf (binutils) says about a file, per view, as plain values."""
    facts: dict = {}
    text = _readelf(path, "-h")
    h = dict(re.findall(r"^\s+([^:]+):\s+(.*)$", text, re.M))
    facts["header"] = {
        "type": h["Type"].split()[0],
        "entry": int(h["Entry point address"], 16),
        "flags": int(h["Flags"].split(",")[0], 16),
        "phnum": int(h["Number of program headers"]),
        "shnum": int(h["Number of section headers"]),
        "shstrndx": int(h["Section header string table index"]),
    }
    segs = re.findall(
        r"^\s+(\S+)\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) ([RWE ]{3})"
        r" (0x[0-9a-f]+|0)$",
        _readelf(path, "-l"),
        re.M,
    )
    facts["segments"] = [
        (_READELF_SEGMENT_TYPES.get(t, t), int(o, 16), int(v, 16), int(fs, 16), int(ms, 16), _flags_rwx(f), int(a, 16))
        for t, o, v, _p, fs, ms, f, a in segs
    ]
    secs = re.findall(
        r"^\s+\[\s*(\d+)\] (.*?)\s+(\S+)\s+([0-9a-f]{8,16}) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)\s+([A-Za-z]*)"
        r"\s+(\d+)\s+(\d+)\s+(\d+)$",
        _readelf(path, "-S"),
        re.M,
    )
    facts["sections"] = [
        (
            int(i),
            n.strip(),
            _readelf_sht(t),
            int(a, 16),
            int(o, 16),
            int(s, 16),
            int(es, 16),
            fl.strip(),
            int(lk),
            int(inf),
            int(al),
        )
        for i, n, t, a, o, s, es, fl, lk, inf, al in secs
    ]
    section_names = [x[1] for x in facts["sections"]]
    tables: dict[str, list] = {}
    counts: dict[str, int] = {}
    current = None
    for line in _readelf(path, "-s").splitlines():
        if m := re.match(r"Symbol table '(.*)' contains (\d+) entr", line):
            current = tables.setdefault(m.group(1), [])
            counts[m.group(1)] = int(m.group(2))
        elif m := re.match(r"^\s*(\d+): ([0-9a-f]+)\s+(\d+) (\S+)\s+(\S+)\s+(\S+)\s+(\S+) ?(.*)$", line):
            i, v, sz, t, b, vis, ndx, name = m.groups()
            version = None
            if "@" in name:
                name, version = name.split("@", 1)
                version = version.split(" ")[0].lstrip("@")
            if t == "SECTION" and ndx.isdigit() and name == section_names[int(ndx)]:
                name = ""  # readelf shows a section symbol by its section's name; the symbol has none
            current.append((int(i), name, int(v, 16), int(sz), t, b, vis, ndx, version))
    facts["symbol_tables"] = tables
    assert all(len(rows) == counts[name] for name, rows in tables.items()), "every symbol row was read"
    dyn = re.findall(r"^ 0x[0-9a-f]+ \((\w+)\)\s+(.*)$", _readelf(path, "-d"), re.M)
    facts["dynamic"] = [t for t, _v in dyn] or None
    relocs: dict[str, list] = {}
    rcounts: dict[str, int] = {}
    current = None
    for line in _readelf(path, "-r").splitlines():
        if m := re.match(r"Relocation section '(.*)' at offset 0x([0-9a-f]+) contains (\d+) entr", line):
            current = relocs.setdefault(m.group(1), [])
            rcounts[m.group(1)] = int(m.group(3))
        elif current is not None and (m := re.match(r"^\s*([0-9a-f]{8,16})\s+([0-9a-f]{8,16}) (\S+)\s*(.*)$", line)):
            off, _info, rtype, rest = m.groups()
            parts = rest.split()
            name = parts[1].split("@")[0] if len(parts) >= 2 and not parts[1].startswith(("+", "-")) else ""
            relocs[next(reversed(relocs))].append((int(off, 16), rtype, name))
    facts["relocations"] = relocs
    assert all(len(rows) == rcounts[name] for name, rows in relocs.items()), "every relocation row was read"
    needs = re.findall(r"File: (\S+)\s+Cnt: \d+|Name: (\S+)\s+Flags: \S+\s+Version: (\d+)", _readelf(path, "-V"))
    facts["version_needs"] = [(f, n, int(v) if v else None) for f, n, v in needs]
    assert len(facts["segments"]) == facts["header"]["phnum"] and len(facts["sections"]) == facts["header"]["shnum"]
    return facts


@pytest.mark.parametrize("kind", ["static", "dynamic", "object", "lldso"])
@pytest.mark.parametrize("arch", ARCHES)
def test_views_match_readelf(files, arch, kind):
    """dyninfo -a --json against readelf (binutils) on the same file: the facts of every view."""
    path = files[(arch, kind)]
    want = readelf_facts(path)
    d = info_json(path, "-a")
    assert list(d) == [
        "file",
        "format",
        "header",
        "segments",
        "sections",
        "symbol_tables",
        "dynamic_symbols",
        "dynamic",
        "relocations",
        "versions",
    ]
    h = d["header"]
    got_h = {k: h[k] for k in ("type", "entry", "flags", "phnum", "shnum", "shstrndx")}
    assert got_h == want["header"]

    got_segs = [
        (s["type"], s["offset"], s["vaddr"], s["filesz"], s["memsz"], s["flags"], s["align"]) for s in d["segments"]
    ]
    assert got_segs == want["segments"]

    got_secs = [
        (s["index"], s["name"], s["type"], s["addr"], s["offset"], s["size"], s["entsize"], s["flags"])
        + (s["link"], s["info"], s["align"])
        for s in d["sections"]
    ]
    assert got_secs == want["sections"]

    tables = {t["section"]: t["symbols"] for t in d["symbol_tables"]}
    assert list(tables) == list(want["symbol_tables"])
    undefined = 0
    for name, rows in tables.items():
        got = [
            (
                s["index"],
                s["name"],
                s["value"],
                s["size"],
                s["type"],
                s["bind"],
                s["visibility"],
                {0: "UND", 0xFFF1: "ABS", 0xFFF2: "COM"}.get(s["shndx"], str(s["shndx"])),
                s.get("version"),
            )
            for s in rows
        ]
        assert got == want["symbol_tables"][name], name
        undefined += sum(1 for s in rows[1:] if s["section"] == "UND")
    if kind in ("dynamic", "object"):
        assert undefined >= 2, "puts and exit are listed as undefined"
    if ".dynsym" in tables:
        assert d["dynamic_symbols"]["symbols"] == tables[".dynsym"]
    else:
        assert d["dynamic_symbols"] is None

    got_tags = [e["tag"] for e in d["dynamic"]["entries"]] if d["dynamic"] else None
    assert got_tags == want["dynamic"]

    got_relocs = {r["section"]: [(x["offset"], x["type"], x["symbol"]) for x in r["entries"]] for r in d["relocations"]}
    assert got_relocs == want["relocations"]
    if kind in ("dynamic", "object"):
        assert any(x[2] == "puts" for rows in got_relocs.values() for x in rows)

    needs = []
    for n in d["versions"]["needs"]:
        needs.append((n["file"], "", None))
        needs += [("", a["name"], a["ndx"]) for a in n["versions"]]
    assert needs == want["version_needs"]


def test_views_text_and_combinations(files):
    path = files[("amd64", "dynamic")]
    rc, out, err = dyninfo(path, "-s")
    assert rc == 0 and err == ""
    assert out.startswith("Symbol table .dynsym (") and "Symbol table .symtab (" in out
    assert re.search(r"^\s+\d+\s+0x0\s+0 \w+\s+GLOBAL\s+DEFAULT\s+UND puts$", out, re.M), out
    assert re.search(r"UND exit@GLIBC_2\.2\.5$", out, re.M)
    assert "Program headers" not in out and "Dynamic section" not in out
    rc, out, _ = dyninfo(path, "--dyn-syms")
    assert rc == 0 and "Symbol table .dynsym" in out and ".symtab" not in out
    rc, out, _ = dyninfo(path, "-h", "-l", "-S", "-d", "-r", "-V")
    assert rc == 0
    order = [
        "ELF header:",
        "Program headers (",
        "Section headers (",
        "Dynamic section (",
        "Relocation section .rela.plt",
        "Version needs from libc.so.6:",
    ]
    assert [out.index(x) for x in order] == sorted(out.index(x) for x in order)
    assert "R_X86_64_JUMP_SLOT" in out and "Symbol table" not in out
    d = info_json(path, "-r", "-d")
    assert list(d) == ["file", "format", "dynamic", "relocations"]
    # a module has no ELF views; --svg is a picture of its own
    rc, out, err = dyninfo(files[("amd64", "module")], "-S")
    assert rc == 1 and out == "" and "dynld module" in err and err.count("\n") == 1
    for bad in (["--svg", "--json"], ["--svg", "-S"], ["--hash", "-s"]):
        rc, out, err = dyninfo(path, *bad)
        assert rc == 2 and out == "" and err.startswith("dyninfo: "), bad


def test_build_parser_and_version():
    from toolchain.info import build_parser

    p = build_parser()
    assert p.prog == "dyninfo"
    opts = {o for a in p._actions for o in a.option_strings}
    assert {"-h", "-l", "-S", "-s", "-d", "-r", "-V", "--dyn-syms", "--json", "--svg", "--help", "--version"} <= opts
    rc, out, _ = dyninfo("--version")
    assert rc == 0 and out.startswith("dyninfo (dyntools) ")


# ----------------------------------------------------------------------- SVG
def _svg(*args: str) -> ET.Element:
    rc, out, err = dyninfo("--svg", *args)
    assert rc == 0 and err == "", err
    root = ET.fromstring(out)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def _all(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{{http://www.w3.org/2000/svg}}{tag}") if e.get("class") == cls]


@pytest.mark.parametrize("kind", ["static", "dynamic", "lldso"])
@pytest.mark.parametrize("arch", ARCHES)
def test_svg_memory_map_matches_program_headers(files, arch, kind):
    """Every program header pyelftools reads is drawn once, with its numbers; exports and relocations too."""
    path = files[(arch, kind)]
    root = _svg(path)
    drawn = sorted(
        (r.get("data-type"), int(r.get("data-vaddr")), int(r.get("data-memsz")), int(r.get("data-offset")))
        + (int(r.get("data-filesz")), r.get("data-flags"))
        for r in _all(root, "rect", "segment")
    )
    with open(path, "rb") as f:
        e = ELFFile(f)
        want = sorted(
            (
                _pt(s["p_type"]),
                s["p_vaddr"],
                s["p_memsz"],
                s["p_offset"],
                s["p_filesz"],
                ("R" if s["p_flags"] & 4 else "-")
                + ("W" if s["p_flags"] & 2 else "-")
                + ("X" if s["p_flags"] & 1 else "-"),
            )
            for s in e.iter_segments()
        )
        assert drawn == want
        loads = [s for s in e.iter_segments() if s["p_type"] == "PT_LOAD"]
        bands = sorted(
            (float(r.get("y")), int(r.get("data-vaddr")))
            for r in _all(root, "rect", "segment")
            if r.get("data-type") == "LOAD"
        )
        assert [v for _y, v in bands] == sorted(s["p_vaddr"] for s in loads), "bands in address order, top to bottom"
        alloc = {s.name: (s["sh_addr"], s["sh_size"]) for s in e.iter_sections() if s["sh_flags"] & 2 and s["sh_size"]}
        sections = {
            r.get("data-name"): (int(r.get("data-addr")), int(r.get("data-size")))
            for r in _all(root, "rect", "section")
        }
        assert {k: v for k, v in alloc.items() if k != ".tbss"} == sections
        dynsym = e.get_section_by_name(".dynsym")
        exports = sorted(
            (s.name, s["st_value"]) for s in (dynsym.iter_symbols() if dynsym else []) if s["st_shndx"] != "SHN_UNDEF"
        )
        drawn_exports = sorted((c.get("data-name"), int(c.get("data-addr"))) for c in _all(root, "circle", "export"))
        assert drawn_exports == exports
        slots = sorted(
            r["r_offset"]
            for s in e.iter_sections()
            if s["sh_type"] in ("SHT_REL", "SHT_RELA") and s["sh_flags"] & 2
            for r in s.iter_relocations()
        )
        assert sorted(int(p.get("data-offset")) for p in _all(root, "path", "reloc")) == slots
    if kind == "dynamic":
        imports = [t.get("data-name") for t in _all(root, "text", "import")]
        assert sorted(imports) == sorted(["puts", f"exit@{VERSION[arch]}"])


@pytest.mark.parametrize("arch", ARCHES)
def test_svg_module_map(files, arch):
    """A dynld module: text, data and bss bands as the raw header sizes them, exports where the table says."""
    path = files[(arch, "module")]
    with open(path, "rb") as f:
        raw = f.read()
    _magic, text, data, bss, _syms, _entry, _spsz, _pcsz = struct.unpack_from(">8I", raw, 0)
    root = _svg(path)
    bands = [
        (r.get("data-type"), int(r.get("data-vaddr")), int(r.get("data-memsz"))) for r in _all(root, "rect", "segment")
    ]
    want = [("text", 0, text), ("data", text, data)] + ([("bss", text + data, bss)] if bss else [])
    assert bands == want
    d = info_json(path)
    assert sorted(c.get("data-name") for c in _all(root, "circle", "export")) == sorted(MODULE_EXPORTS)
    assert {c.get("data-name"): int(c.get("data-addr")) for c in _all(root, "circle", "export")} == {
        x["name"]: x["addr"] for x in d["exports"]
    }
    assert sorted(t.get("data-name") for t in _all(root, "text", "import")) == sorted(MODULE_IMPORTS)
    assert len(_all(root, "path", "reloc")) == d["relocs"]["total"]


def test_svg_treemap_of_link_map(files, tmp_path):
    """The treemap's files and sizes are the map's, areas in proportion, no two files overlapping."""
    obj = files[("amd64", "object")]
    out, map_file = str(tmp_path / "prog"), str(tmp_path / "prog.map")
    _link(["-a", "amd64", "-o", out, "--map", map_file, obj])
    sizes: dict[str, int] = {}
    with open(map_file) as f:
        for line in f:
            m = re.match(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+) (<linker>|.*?\.o)\(", line)
            if m and not re.match(r"^\s+0x[0-9a-f]+\s+0x[0-9a-f]+ \S+\(\.bss", line):
                sizes[m.group(2)] = sizes.get(m.group(2), 0) + int(m.group(1), 16)
    root = _svg(map_file)
    groups = _all(root, "g", "file")
    assert {g.get("data-file"): int(g.get("data-size")) for g in groups} == sizes
    total_area = 0.0
    boxes = []
    for g in groups:
        parts = _all(g, "rect", "part")
        assert sum(int(p.get("data-size")) for p in parts) == int(g.get("data-size"))
        area = sum(float(p.get("width")) * float(p.get("height")) for p in parts)
        total_area += area
        xs = [float(p.get("x")) for p in parts] + [float(p.get("x")) + float(p.get("width")) for p in parts]
        ys = [float(p.get("y")) for p in parts] + [float(p.get("y")) + float(p.get("height")) for p in parts]
        boxes.append((min(xs), min(ys), max(xs), max(ys), area, int(g.get("data-size"))))
    for *_box, area, size in boxes:
        assert area / total_area == pytest.approx(size / sum(sizes.values()), rel=0.02, abs=0.002)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
            assert overlap < 1.0
    assert dyninfo("--svg", map_file)[1] == dyninfo("--svg", map_file)[1]


def test_svg_bad_inputs(files, tmp_path):
    assert "object file has no memory map" in _bad(files[("amd64", "object")], "--svg")
    p = tmp_path / "bad.map"
    p.write_text("# dynlink map\n\nOutput sections:\n.text nonsense\n")
    assert "link map" in _bad(str(p), "--svg")
