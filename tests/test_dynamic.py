"""Dynamically linked executables (issue 3): dynimport/dynexport under the real glibc loader.

Every program here has its own ``_start`` (no C start files), is compiled by dyncc and
linked by dynlink, and is RUN: 386 and amd64 natively, arm under
``qemu-arm -L /usr/arm-linux-gnueabihf``.  A shared library built by ``zig cc -shared``
calls back into the host by the name the host dynexports.  The outputs are checked by
tools that share no code with the linker: readelf, nm, eu-elflint, pyelftools, the glibc
loader itself, and a SysV/GNU hash lookup written here from the ELF specifications.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from toolchain import elf as tcelf
from toolchain.arch import get_arch
from toolchain.cc.driver import compile_c, default_compiler
from toolchain.linker.main import main as dynlink

PROGS = Path(__file__).resolve().parent / "dynprogs"
ARCHES = ("386", "amd64", "arm")
HASH_STYLES = ("sysv", "gnu", "both")
ZIG_GNU_TARGET = {n: get_arch(n).gnu_triple for n in ("386", "amd64", "arm")}  # zig targets linked against glibc
ABS_RELOC = {"386": "R_386_32", "amd64": "R_X86_64_64", "arm": "R_ARM_ABS32"}
JUMP_SLOT = {"386": "R_386_JUMP_SLOT", "amd64": "R_X86_64_JUMP_SLOT", "arm": "R_ARM_JUMP_SLOT"}
LIBC_VERSION = {"386": "GLIBC_2.0", "amd64": "GLIBC_2.2.5", "arm": "GLIBC_2.4"}
NEXPORTS = 5000
ROUND_TRIP = [
    "host: start",
    "host: callback got 41",
    "lib: host_callback(41) = 42, host_value = 1000",
    "host: lib_run(41) = 1042",
    "host: same callback address",
]


# ------------------------------------------------------------------ building and running
@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``.lock (xdist workers share the built files)."""
    with open(f"{path}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


class Builder:
    """Compiles and links each program once per test session.

    Files go to a directory every xdist worker of the session shares; whoever needs a
    file first builds it under a lock, and every build writes its file atomically.
    """

    def __init__(self, root: Path):
        self.root = root

    def _dir(self, arch: str) -> Path:
        d = self.root / arch
        d.mkdir(exist_ok=True)
        return d

    def make(self, path: Path, build: Callable[[Path], None]) -> Path:
        """``build(path)`` unless the file is there already."""
        with locked(path):
            if not path.exists():
                build(path)
        return path

    def obj(self, arch: str, src: Path | str, *flags: str) -> Path:
        """dyncc -a ARCH -c SRC -O2 FLAGS."""
        src = Path(src) if os.path.isabs(src) else PROGS / src
        out = self._dir(arch) / (src.stem + "".join(f.replace("-", "_") for f in flags) + ".o")

        def make(o: Path) -> None:
            compile_c(arch, str(src), str(o), ["-O2", *flags])

        return self.make(out, make)

    def plain_obj(self, arch: str, src: str) -> Path:
        """An object compiled by zig directly: no .dynpragma section."""

        def make(out: Path) -> None:
            tmp = out.with_suffix(".tmp.o")
            cmd = [*default_compiler(get_arch(arch)), "-O2", "-c", str(PROGS / src), "-o", str(tmp)]
            subprocess.run(cmd, check=True, capture_output=True)
            os.replace(tmp, out)

        return self.make(self._dir(arch) / (Path(src).stem + "-plain.o"), make)

    def link(self, arch: str, out: str, objs: list[Path], *opts: str) -> Path:
        """dynlink -a ARCH -o OUT OPTS OBJS; the link must succeed."""

        def make(path: Path) -> None:
            rc = dynlink(["-a", arch, "-o", str(path), *opts, *map(str, objs)])
            assert rc == 0, f"dynlink failed for {out} ({arch})"

        return self.make(self._dir(arch) / out, make)

    def shared_lib(self, arch: str) -> Path:
        """libcb.so, built by zig cc -shared -fPIC against the target's glibc."""

        def make(out: Path) -> None:
            tmp = out.with_suffix(".tmp.so")
            cmd = [
                sys.executable,
                "-m",
                "ziglang",
                "cc",
                "-target",
                ZIG_GNU_TARGET[arch],
                "-shared",
                "-fPIC",
                "-O2",
                str(PROGS / "libcb.c"),
                "-o",
                str(tmp),
            ]
            subprocess.run(cmd, check=True, capture_output=True)
            os.replace(tmp, out)

        return self.make(self._dir(arch) / "libcb.so", make)


@pytest.fixture(scope="session")
def build(tmp_path_factory, worker_id: str) -> Builder:
    base = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        base = base.parent  # the session's directory, above every worker's own
    root = base / "dynamic-shared"
    root.mkdir(exist_ok=True)
    return Builder(root)


def run(arch: str, exe: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``exe`` in its own directory under the real loader (qemu-arm for arm)."""
    full = dict(os.environ)
    for k in ("LD_BIND_NOW", "LD_LIBRARY_PATH", "LD_PRELOAD", "QEMU_LD_PREFIX"):
        full.pop(k, None)
    full.update(env or {})
    cmd = [*get_arch(arch).runner(), "./" + exe.name]
    return subprocess.run(cmd, cwd=exe.parent, env=full, capture_output=True, text=True, timeout=120)


def tool(*cmd: str) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"{cmd[0]} failed: {p.stderr}"
    return p.stdout


# ------------------------------------------------------------------ reading the outputs
def dynamic_tags(path: Path) -> list[tuple[str, str]]:
    """(type, value) of each .dynamic entry as readelf -d shows it."""
    out = []
    for line in tool("readelf", "-d", "-W", str(path)).splitlines():
        m = re.match(r"\s*0x[0-9a-f]+\s+\((\w+)\)\s+(.*)$", line)
        if m:
            out.append((m.group(1), m.group(2).strip()))
    return out


def needed(path: Path) -> list[str]:
    return [re.search(r"\[(.*)\]", v).group(1) for t, v in dynamic_tags(path) if t == "NEEDED"]


class DynSym:
    """One line of ``readelf --dyn-syms -W``."""

    def __init__(self, line: str):
        f = line.split()
        self.value, self.size = int(f[1], 16), int(f[2], 0)
        self.type, self.bind, self.ndx = f[3], f[4], f[6]
        self.name = f[7] if len(f) > 7 else ""


def dyn_syms(path: Path) -> dict[str, DynSym]:
    syms = {}
    for line in tool("readelf", "--dyn-syms", "-W", str(path)).splitlines():
        if re.match(r"\s*\d+:", line):
            s = DynSym(line)
            if s.name:
                assert s.name not in syms, f"{s.name} twice in .dynsym"
                syms[s.name] = s
    return syms


def dyn_relocs(path: Path) -> dict[str, list[tuple[int, str, str]]]:
    """readelf -r: section name -> [(offset, type, symbol name)]."""
    out: dict[str, list[tuple[int, str, str]]] = {}
    cur = None
    for line in tool("readelf", "-r", "-W", str(path)).splitlines():
        m = re.match(r"Relocation section '([^']+)'", line)
        if m:
            cur = out.setdefault(m.group(1), [])
            continue
        f = line.split()
        if cur is not None and len(f) >= 3 and re.fullmatch(r"[0-9a-f]+", f[0]) and f[2].startswith("R_"):
            cur.append((int(f[0], 16), f[2], f[4] if len(f) > 4 else ""))
    return out


def symtab_values(path: Path) -> dict[str, int]:
    """Values of the named symbols in .symtab, read by pyelftools."""
    with open(path, "rb") as f:
        e = ELFFile(f)
        return {s.name: s["st_value"] for s in e.get_section_by_name(".symtab").iter_symbols() if s.name}


def symtab_sizes(obj: Path) -> dict[str, int]:
    with open(obj, "rb") as f:
        e = ELFFile(f)
        return {s.name: s["st_size"] for s in e.get_section_by_name(".symtab").iter_symbols() if s.name}


def section_names(path: Path) -> dict[int, str]:
    with open(path, "rb") as f:
        e = ELFFile(f)
        return {i: s.name for i, s in enumerate(e.iter_sections())}


def elflint(path: Path) -> None:
    p = subprocess.run(["eu-elflint", "--gnu-ld", str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "No errors" in p.stdout, p.stdout + p.stderr


# ------------------------------------------------------------------ hash lookup from the ELF specs
def spec_sysv_hash(name: bytes) -> int:
    """The System V ABI's elf_hash."""
    h = 0
    for c in name:
        h = ((h << 4) + c) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h


def spec_gnu_hash(name: bytes) -> int:
    """dl_new_hash: h = h * 33 + c from 5381, 32 bits."""
    h = 5381
    for c in name:
        h = (h * 33 + c) & 0xFFFFFFFF
    return h


ABSENT = [f"no_such_symbol_{k}".encode() for k in range(50)] + [b"", b"ef_", b"exp_", b"host_callbac"]


class HashReader:
    """Looks names up in .hash and .gnu.hash the way a dynamic loader does.

    With ``pyelftools``, pyelftools' own hash sections look up every name too.
    """

    def __init__(self, path: Path, pyelftools: bool = True):
        e = ELFFile(io.BytesIO(path.read_bytes()))
        self.wordsize = e.elfclass // 8
        dynsym, dynstr = self._data(e, ".dynsym"), self._data(e, ".dynstr")
        self.names: list[bytes] = []
        self.values: list[int] = []
        for off in range(0, len(dynsym), 24 if self.wordsize == 8 else 16):
            if self.wordsize == 8:
                name, _info, _other, _shndx, value, _size = struct.unpack_from("<IBBHQQ", dynsym, off)
            else:
                name, value, _size, _info, _other, _shndx = struct.unpack_from("<IIIBBH", dynsym, off)
            self.names.append(dynstr[name : dynstr.index(b"\0", name)])
            self.values.append(value)
        self.sysv = self._data(e, ".hash")
        self.gnu = self._data(e, ".gnu.hash")
        # pyelftools' lookups (True/False per table, None without the table): present names, absent ones
        self.pyelf_found: dict[str, tuple[bool | None, bool | None]] | None = None
        if pyelftools:
            tables = (e.get_section_by_name(".hash"), e.get_section_by_name(".gnu.hash"))
            self.pyelf_found = {
                n.decode(): tuple(t.get_symbol(n.decode()) is not None if t is not None else None for t in tables)
                for n in [*self.names[1:], *ABSENT]
            }

    @staticmethod
    def _data(e: ELFFile, name: str) -> bytes | None:
        s = e.get_section_by_name(name)
        return s.data() if s is not None else None

    def sysv_lookup(self, name: bytes) -> int | None:
        d = self.sysv
        nbucket, nchain = struct.unpack_from("<II", d, 0)
        assert nchain == len(self.names), "nchain must equal the number of dynamic symbols"
        i = struct.unpack_from("<I", d, 8 + 4 * (spec_sysv_hash(name) % nbucket))[0]
        seen = 0
        while i:
            assert i < nchain and seen <= nchain, "broken .hash chain"
            if self.names[i] == name:
                return i
            i = struct.unpack_from("<I", d, 8 + 4 * nbucket + 4 * i)[0]
            seen += 1
        return None

    def gnu_lookup(self, name: bytes) -> int | None:
        d, w = self.gnu, self.wordsize
        nbuckets, symoffset, bloom_size, bloom_shift = struct.unpack_from("<4I", d, 0)
        bits = w * 8
        h = spec_gnu_hash(name)
        word = int.from_bytes(d[16 + w * ((h // bits) % bloom_size) :][:w], "little")
        mask = (1 << (h % bits)) | (1 << ((h >> bloom_shift) % bits))
        if word & mask != mask:
            return None
        buckets = 16 + w * bloom_size
        chains = buckets + 4 * nbuckets
        i = struct.unpack_from("<I", d, buckets + 4 * (h % nbuckets))[0]
        if i == 0:
            return None
        assert i >= symoffset, "a .gnu.hash bucket points below symoffset"
        while True:
            assert i < len(self.names), "a .gnu.hash chain runs past .dynsym"
            h2 = struct.unpack_from("<I", d, chains + 4 * (i - symoffset))[0]
            if (h | 1) == (h2 | 1) and self.names[i] == name:
                return i
            if h2 & 1:
                return None
            i += 1

    def check_all(self) -> int:
        """Every dynamic symbol the loader may bind to must be found, and found at its own index."""
        assert self.sysv is not None or self.gnu is not None
        resolvable = 0
        for i, name in enumerate(self.names):
            if i == 0:
                continue
            in_sysv, in_gnu = self.pyelf_found[name.decode()] if self.pyelf_found is not None else (True, True)
            if self.sysv is not None:
                assert self.sysv_lookup(name) == i, f"{name!r} not found in .hash"
                assert in_sysv, f"pyelftools does not find {name!r} in .hash"
            # the loader binds references to this executable's symbols that have a value:
            # definitions and PLT entries standing for an imported function's address
            if self.values[i] != 0:
                resolvable += 1
                if self.gnu is not None:
                    assert self.gnu_lookup(name) == i, f"{name!r} not found in .gnu.hash"
                    assert in_gnu, f"pyelftools does not find {name!r} in .gnu.hash"
        for absent in ABSENT:
            if self.pyelf_found is not None:
                assert not any(self.pyelf_found[absent.decode()]), f"pyelftools finds {absent!r}"
            if self.sysv is not None:
                assert self.sysv_lookup(absent) is None
            if self.gnu is not None:
                assert self.gnu_lookup(absent) is None
        return resolvable


def check_hash_style(path: Path, style: str) -> None:
    tags = {t for t, _v in dynamic_tags(path)}
    assert ("HASH" in tags) == (style in ("sysv", "both"))
    assert ("GNU_HASH" in tags) == (style in ("gnu", "both"))
    names = set(section_names(path).values())
    assert (".hash" in names) == (style in ("sysv", "both"))
    assert (".gnu.hash" in names) == (style in ("gnu", "both"))


# ------------------------------------------------------------------ the callback round trip
@pytest.fixture(scope="session")
def round_trip(build) -> Callable[[str, str, str], Path]:
    def make(arch: str, prog: str, style: str) -> Path:
        build.shared_lib(arch)
        return build.link(arch, f"{prog}-{style}", [build.obj(arch, f"{prog}.c")], "--hash-style", style)

    return make


@pytest.mark.parametrize("bind_now", [False, True], ids=["lazy", "bind-now"])
@pytest.mark.parametrize("style", HASH_STYLES)
@pytest.mark.parametrize("prog", ["slots", "direct"])
@pytest.mark.parametrize("arch", ARCHES)
def test_callback_round_trip(round_trip, arch: str, prog: str, style: str, bind_now: bool) -> None:
    """dlopen a zig-built library that calls the host's dynexported callback by its exported name."""
    exe = round_trip(arch, prog, style)
    p = run(arch, exe, {"LD_BIND_NOW": "1"} if bind_now else None)
    assert p.returncode == 0, p.stdout + p.stderr
    expect = ROUND_TRIP + (["host: same puts address"] if prog == "direct" else [])
    assert p.stdout.splitlines() == expect
    assert p.stderr == ""


@pytest.mark.parametrize("style", HASH_STYLES)
@pytest.mark.parametrize("prog", ["slots", "direct"])
@pytest.mark.parametrize("arch", ARCHES)
def test_round_trip_tables(round_trip, arch: str, prog: str, style: str) -> None:
    """The round-trip programs' dynamic tables, read by readelf, eu-elflint and the hash readers."""
    exe = round_trip(arch, prog, style)
    check_hash_style(exe, style)
    elflint(exe)
    assert needed(exe) == ["libc.so.6"]
    syms = dyn_syms(exe)
    local = symtab_values(exe)
    assert syms["host_callback"].type == "FUNC" and syms["host_callback"].value == local["my_callback"]
    assert syms["host_value"].type == "OBJECT" and syms["host_value"].size == 4
    assert syms["host_value"].value == local["my_value"]
    assert "my_callback" not in syms and "my_value" not in syms
    relocs = dyn_relocs(exe)
    imported = {"puts", "dlopen", "dlsym", "dlerror", "exit"}
    assert {n for n, s in syms.items() if s.ndx == "UND"} == imported
    if prog == "slots":  # each slot gets an absolute word relocation against its remote name
        rel = relocs[".rela.dyn" if arch == "amd64" else ".rel.dyn"]
        assert sorted((off, name) for off, t, name in rel if t == ABS_RELOC[arch]) == sorted(
            (local["p_" + n], n) for n in imported
        )
    else:  # direct calls go through the PLT
        rel = relocs[".rela.plt" if arch == "amd64" else ".rel.plt"]
        assert sorted(name for _off, t, name in rel if t == JUMP_SLOT[arch]) == sorted(imported)
    HashReader(exe).check_all()


# ------------------------------------------------------------------ versioned imports
@pytest.mark.parametrize("arch", ARCHES)
def test_versioned_import(build, arch: str) -> None:
    """puts#VERSION etc.: .gnu.version/.gnu.version_r are written, readelf -V shows them, it runs."""
    exe = build.link(arch, "versioned", [build.obj(arch, "versioned.c")])
    v = LIBC_VERSION[arch]
    elflint(exe)
    text = tool("readelf", "-V", "-W", str(exe))
    assert "Version symbols section '.gnu.version'" in text
    assert "Version needs section '.gnu.version_r' contains 2 entries" in text
    files: dict[str, set[str]] = {}
    cur = ""
    for line in text.splitlines():
        m = re.search(r"File: (\S+)\s+Cnt: (\d+)", line)
        if m:
            cur = m.group(1)
            files[cur] = set()
        m = re.search(r"Name: (\S+)\s+Flags: none\s+Version: \d+", line)
        if m:
            files[cur].add(m.group(1))
    assert files == {"libc.so.6": {v, "GLIBC_2.34"}, "libm.so.6": {v}}
    syms = dyn_syms(exe)
    assert {"puts@" + v, "dlopen@GLIBC_2.34", "ldexp@" + v, "exit"} <= set(syms)
    tags = dict(dynamic_tags(exe))
    assert tags["VERNEEDNUM"] == "2" and "VERSYM" in tags and "VERNEED" in tags
    with open(exe, "rb") as f:  # pyelftools' reading of the version sections agrees
        e = ELFFile(f)
        versym = e.get_section_by_name(".gnu.version")
        verneed = e.get_section_by_name(".gnu.version_r")
        got = {vn.name: {a.name for a in auxs} for vn, auxs in verneed.iter_versions()}
        assert got == {"libc.so.6": {v, "GLIBC_2.34"}, "libm.so.6": {v}}
        names = [s.name for s in e.get_section_by_name(".dynsym").iter_symbols()]
        exit_index = names.index("exit")
        assert versym.get_symbol(exit_index)["ndx"] == "VER_NDX_GLOBAL"
    p = run(arch, exe)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines() == ["versioned puts ok", "ldexp(3, 4) = 48", "dlopen(NULL) ok"]


@pytest.mark.parametrize("arch", ARCHES)
def test_versioned_import_is_checked_at_link_time(build, tmp_path, capsys, arch: str) -> None:
    """A version the library (found on this machine) does not define is a link error naming the pragma's object."""
    obj = build.obj(arch, "versioned.c", "-DBAD_VERSION")
    msg = link_error(tmp_path, capsys, arch, [obj])
    assert msg.startswith(f"dynlink: {obj}: #pragma dynimport puts puts#GLIBC_99.0"), msg
    assert "has no puts at version GLIBC_99.0" in msg


# ------------------------------------------------------------------ 5,000 exports
@pytest.fixture(scope="session")
def many_exports_source(build) -> Path:
    """NEXPORTS definitions, each dynexported under another name: even N code, odd N data."""

    def make(path: Path) -> None:
        lines = ["/* generated by tests/test_dynamic.py */"]
        for i in range(NEXPORTS):
            if i % 2 == 0:
                lines += [f"#pragma dynexport f_{i} ef_{i}", f"int f_{i}(void) {{ return {i * 7 + 1}; }}"]
            else:
                lines += [f"#pragma dynexport d_{i} ed_{i}", f"int d_{i} = {i * 3 + 2};"]
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, path)

    return build.make(build.root / "many_exports.c", make)


def many_exe(build, source: Path, arch: str, style: str) -> Path:
    objs = [
        build.obj(arch, "many_main.c", f"-DNEXPORTS={NEXPORTS}"),
        build.obj(arch, source, "-ffunction-sections", "-fdata-sections"),
    ]
    return build.link(arch, f"many-{style}", objs, "--hash-style", style)


@pytest.mark.parametrize("style", HASH_STYLES)
@pytest.mark.parametrize("arch", ARCHES)
def test_many_exports(build, many_exports_source: Path, arch: str, style: str) -> None:
    """Every one of 5,000 dynexports is found by dlsym(dlopen(NULL, RTLD_NOW), name) and is right."""
    exe = many_exe(build, many_exports_source, arch, style)
    p = run(arch, exe)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines() == [f"found {NEXPORTS} good {NEXPORTS} of {NEXPORTS}"]
    check_hash_style(exe, style)
    assert HashReader(exe, pyelftools=False).check_all() == NEXPORTS
    syms = dyn_syms(exe)
    assert sum(s.type == "FUNC" for s in syms.values()) == NEXPORTS // 2
    assert sum(s.type == "OBJECT" and s.size == 4 for s in syms.values()) == NEXPORTS - NEXPORTS // 2


@pytest.mark.parametrize("arch", ARCHES)
def test_many_exports_hash_tables(build, many_exports_source: Path, arch: str) -> None:
    """pyelftools and the spec lookup find all 5,000 names in both tables; eu-elflint agrees.

    The single-style links carry the very same tables (they hold symbol indexes, no
    addresses), so pyelftools' verdict covers them too.
    """
    exe = many_exe(build, many_exports_source, arch, "both")
    elflint(exe)
    assert HashReader(exe).check_all() == NEXPORTS
    with open(exe, "rb") as f:
        e = ELFFile(f)
        both = {n: e.get_section_by_name(n).data() for n in (".hash", ".gnu.hash", ".dynsym", ".dynstr")}
    for style, tables in (("sysv", (".hash", ".dynstr")), ("gnu", (".gnu.hash", ".dynstr"))):
        with open(many_exe(build, many_exports_source, arch, style), "rb") as f:
            e = ELFFile(f)
            for n in tables:
                assert e.get_section_by_name(n).data() == both[n], (style, n)
            names = [s.name for s in e.get_section_by_name(".dynsym").iter_symbols()]
        assert names == [
            s.name for s in ELFFile(io.BytesIO(exe.read_bytes())).get_section_by_name(".dynsym").iter_symbols()
        ]


# ------------------------------------------------------------------ two libraries, every kind of export
@pytest.fixture(scope="session")
def twolibs(build) -> Callable[[str, bool], Path]:
    def make(arch: str, a_first: bool = True) -> Path:
        a, b = build.obj(arch, "twolibs_a.c"), build.obj(arch, "twolibs_b.c")
        return build.link(arch, "twolibs-ab" if a_first else "twolibs-ba", [a, b] if a_first else [b, a])

    return make


@pytest.mark.parametrize("arch", ARCHES)
def test_two_libraries(build, twolibs, arch: str) -> None:
    """readelf, nm -D and eu-elflint agree with the directives; DT_NEEDED once each, first-seen order."""
    exe = twolibs(arch)
    elflint(exe)
    assert needed(exe) == ["libm.so.6", "libc.so.6"]  # twolibs_a.o (libm first) is linked first
    assert needed(twolibs(arch, a_first=False)) == ["libc.so.6", "libm.so.6"]
    syms = dyn_syms(exe)
    sections = section_names(exe)
    local = symtab_values(exe)
    sizes = {**symtab_sizes(build.obj(arch, "twolibs_a.c")), **symtab_sizes(build.obj(arch, "twolibs_b.c"))}
    exports = {  # exported name: (local name, type, section, size when known from C)
        "exp_func": ("a_func", "FUNC", ".text", None),
        "exp_func_b": ("b_func", "FUNC", ".text", None),
        "exp_data": ("a_data", "OBJECT", ".data", 7 * 4),
        "exp_ro": ("a_ro", "OBJECT", ".rodata", 3 * 4),
        "exp_bss": ("a_bss", "OBJECT", ".bss", 100),
    }
    imports = {"ldexp", "environ", "puts", "exit"}
    assert set(syms) == set(exports) | imports
    for name, (loc, typ, sec, size) in exports.items():
        s = syms[name]
        assert (s.type, s.bind, sections[int(s.ndx)]) == (typ, "GLOBAL", sec), name
        assert s.size == sizes[loc] and s.size > 0, name
        if size is not None:
            assert s.size == size, name
        assert s.value == local[loc], name
    for name in imports:
        assert (syms[name].ndx, syms[name].value, syms[name].bind) == ("UND", 0, "GLOBAL"), name
    nm = {}
    for line in tool("nm", "-D", str(exe)).splitlines():
        f = line.split()
        nm[f[-1]] = f[-2]
    assert nm == {
        "exp_func": "T",
        "exp_func_b": "T",
        "exp_data": "D",
        "exp_ro": "R",
        "exp_bss": "B",
        "ldexp": "U",
        "environ": "U",
        "puts": "U",
        "exit": "U",
    }
    relocs = dyn_relocs(exe)
    dyn = relocs[".rela.dyn" if arch == "amd64" else ".rel.dyn"]
    plt = relocs[".rela.plt" if arch == "amd64" else ".rel.plt"]
    assert sorted(dyn) == sorted(
        [(local["p_ldexp"], ABS_RELOC[arch], "ldexp"), (local["p_environ"], ABS_RELOC[arch], "environ")]
    )
    assert sorted((t, n) for _o, t, n in plt) == [(JUMP_SLOT[arch], "exit"), (JUMP_SLOT[arch], "puts")]
    assert HashReader(exe).check_all() == len(exports)
    p = run(arch, exe)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines() == ["value 48", "value 42"]


@pytest.mark.parametrize("arch", ARCHES)
def test_dynamic_link_is_reproducible(build, twolibs, arch: str) -> None:
    exe = twolibs(arch)
    again = build.link(arch, "twolibs-again", [build.obj(arch, "twolibs_a.c"), build.obj(arch, "twolibs_b.c")])
    assert exe.read_bytes() == again.read_bytes()


# ------------------------------------------------------------------ data through a slot
@pytest.mark.parametrize("arch", ARCHES)
def test_data_import_through_slot(build, arch: str) -> None:
    """Slots for libc's stdout and environ receive those variables' addresses."""
    exe = build.link(arch, "dataimport", [build.obj(arch, "dataimport.c")])
    elflint(exe)
    local = symtab_values(exe)
    rel = dyn_relocs(exe)[".rela.dyn" if arch == "amd64" else ".rel.dyn"]
    assert (local["p_stdout"], ABS_RELOC[arch], "stdout") in rel
    assert (local["p_environ"], ABS_RELOC[arch], "environ") in rel
    mark = f"mark-{arch}"
    p = run(arch, exe, {"DYNTEST_MARK": mark})
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines() == ["stdout through a data slot", f"found DYNTEST_MARK={mark}", "environ has entries"]


# ------------------------------------------------------------------ errors
def link_error(tmp_path: Path, capsys, arch: str, objs: list[Path]) -> str:
    """Link that must fail: exit 1, one line on stderr, no output file; return that line."""
    out = tmp_path / "should-not-exist"
    rc = dynlink(["-a", arch, "-o", str(out), *map(str, objs)])
    cap = capsys.readouterr()
    assert rc == 1
    assert cap.out == ""
    lines = cap.err.splitlines()
    assert len(lines) == 1, cap.err
    assert lines[0].startswith("dynlink: ")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dyntmp")]
    return lines[0]


@pytest.mark.parametrize("arch", ARCHES)
def test_error_import_and_export(build, tmp_path, capsys, arch: str) -> None:
    obj = build.obj(arch, "err_both.c")
    msg = link_error(tmp_path, capsys, arch, [obj])
    assert msg == f"dynlink: {obj}: symbol is both dynimport and dynexport both_ways"


@pytest.mark.parametrize("arch", ARCHES)
def test_error_export_of_undefined(build, tmp_path, capsys, arch: str) -> None:
    obj = build.obj(arch, "err_undef_export.c")
    msg = link_error(tmp_path, capsys, arch, [obj])
    assert msg.startswith(f"dynlink: {obj}: ") and "nowhere_defined" in msg and "undefined" in msg


@pytest.mark.parametrize("other", ["err_imp_libm.c", "err_imp_remote.c"], ids=["library", "remote"])
@pytest.mark.parametrize("arch", ARCHES)
def test_error_one_local_two_imports(build, tmp_path, capsys, arch: str, other: str) -> None:
    first, second = build.obj(arch, "err_imp_libc.c"), build.obj(arch, other)
    msg = link_error(tmp_path, capsys, arch, [first, second])
    assert msg.startswith(f"dynlink: {second}: p_fn ") and str(first) in msg


BAD_DIRECTIVES = [
    (
        "\n$$  // dynimport\n\n$$  // dynexport\ndynexport plain_value\n\n$$\n",
        "invalid dynexport line: dynexport plain_value",
    ),
    (
        "\n$$  // dynimport\n\n$$  // dynexport\ndynexport plain_value a b\n\n$$\n",
        "invalid dynexport line: dynexport plain_value a b",
    ),
    ("\n$$  // dynimport\ndynimport p puts\n\n$$  // dynexport\n\n$$\n", "invalid dynimport line: dynimport p puts"),
    (
        "\n$$  // dynimport\ndynimport p puts libc.so.6\n\n$$  // dynexport\ndynexport plain_value pv\n",
        "cannot find end of // dynexport section",
    ),
]


@pytest.mark.parametrize("text,error", BAD_DIRECTIVES, ids=["export-2", "export-4", "import-3", "no-end"])
@pytest.mark.parametrize("arch", ARCHES)
def test_error_malformed_directives(build, tmp_path, capsys, arch: str, text: str, error: str) -> None:
    """A hand-made .dynpragma section (toolchain.elf.add_section on a plain object)."""
    plain = build.plain_obj(arch, "plain.c")
    obj = tmp_path / "bad.o"
    obj.write_bytes(
        tcelf.add_section(plain.read_bytes(), ".dynpragma", (arch + "\n" + text).encode(), fname=str(plain))
    )
    with open(obj, "rb") as f:  # the crafted object really carries the section
        assert ELFFile(f).get_section_by_name(".dynpragma") is not None
    assert link_error(tmp_path, capsys, arch, [obj]) == f"dynlink: {obj}: {error}"


@pytest.mark.parametrize("arch", ARCHES)
def test_well_formed_crafted_directives_link(build, tmp_path, arch: str) -> None:
    """The same crafting with a correct text links, and the export appears (so the errors above are real)."""
    plain = build.plain_obj(arch, "plain.c")
    obj = tmp_path / "good.o"
    text = f"{arch}\n\n$$  // dynimport\n\n$$  // dynexport\ndynexport plain_value pv\n\n$$\n"
    obj.write_bytes(tcelf.add_section(plain.read_bytes(), ".dynpragma", text.encode(), fname=str(plain)))
    out = tmp_path / "good"
    assert dynlink(["-a", arch, "-o", str(out), str(obj)]) == 0
    syms = dyn_syms(out)
    assert set(syms) == {"pv"} and syms["pv"].type == "OBJECT" and syms["pv"].size == 4


@pytest.mark.parametrize("arch", ARCHES)
def test_error_export_of_undefined_names_the_exporting_object(build, tmp_path, capsys, arch: str) -> None:
    """The error names the object carrying the dynexport, not the first one referencing the symbol."""
    ref, exporter = build.obj(arch, "err_ref_undef.c"), build.obj(arch, "err_undef_export.c")
    msg = link_error(tmp_path, capsys, arch, [ref, exporter])
    assert msg == f"dynlink: {exporter}: dynexport of undefined symbol nowhere_defined"


@pytest.mark.parametrize("arch", ARCHES)
def test_error_export_name_also_imported(build, tmp_path, capsys, arch: str) -> None:
    obj = build.obj(arch, "err_export_imported_name.c")
    msg = link_error(tmp_path, capsys, arch, [obj])
    assert msg.startswith(f"dynlink: {obj}: puts is both dynexported (by my_puts) and dynimported")


def test_hash_bucket_counts_keep_chains_short() -> None:
    """At least one symbol per bucket on average, and chains of about two at most from 17 symbols on."""
    from toolchain.linker.dynamic import bucket_count

    for n in range(1, 6000):
        b = bucket_count(n)
        assert 1 <= b <= n
        if n >= 17:
            assert n / b <= 2.2, (n, b)
