"""Linker features beyond the cprogs set: other compilers and code models, Thumb, COMDAT,
string merging, archives, init arrays, the map file. Each linked program is run and
compared with the same objects linked by ld.lld (the reference) where that applies."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import ARCHES, dynlink, lld_link, run_dyncc, run_program
from elftools.elf.elffile import ELFFile

from toolchain.cc import runtime

RT = runtime.rt_include_dir()

PROBE = b"dyntools-merge-probe-string"

MAIN_C = r"""
#include "rt.h"
extern const char *probe_a(void);
extern const char *probe_b(void);
extern int comdat_value(void);
extern int lib_used(int);
int ctor_order[4]; int nctor;
__attribute__((constructor(101))) static void first(void) { ctor_order[nctor++] = 1; }
__attribute__((constructor(102))) static void second(void) { ctor_order[nctor++] = 2; }
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);
int main(int argc, char **argv) {
    (void)argc; (void)argv;
    for (void (**f)(void) = __init_array_start; f < __init_array_end; f++) (*f)();
    print_str(probe_a()); print_str(" "); print_str(probe_b()); print_str("\n");
    print_str(probe_a() == probe_b() ? "same\n" : "different\n");
    print_int(comdat_value()); print_str("\n");
    print_int(lib_used(20)); print_str("\n");
    print_int(ctor_order[0] * 10 + ctor_order[1]); print_str("\n");
    return 7;
}
"""
PROBE_A = 'const char *probe_a(void) { return "' + PROBE.decode() + '"; }\n'
PROBE_B = 'const char *probe_b(void) { return "' + PROBE.decode() + '"; }\n'
LIB_USED = "int lib_used(int x) { return x + 22; }\n"
LIB_UNUSED = "int lib_unused_marker_fn(int x) { return x * 3; }\nint lib_unused_data = 99;\n"

# Two objects carrying the same COMDAT group (as C++ inline functions would); one copy is kept.
COMDAT_S = {
    "x86": """
        .section .text.comdat_value,"axG",@progbits,comdat_value,comdat
        .globl comdat_value
        .type comdat_value,@function
    comdat_value:
        movl ${value}, %eax
        ret
    """,
    "arm": """
        .section .text.comdat_value,"axG",%progbits,comdat_value,comdat
        .globl comdat_value
        .type comdat_value,%function
    comdat_value:
        mov r0, #{value}
        bx lr
    """,
}
EXPECTED = f"{PROBE.decode()} {PROBE.decode()}\nsame\n11\n42\n12\n"


def _zig_cc(arch: str, target: str | None, src: str, out: str, *flags: str) -> None:
    from toolchain.arch import get_arch

    a = get_arch(arch)
    cmd = [sys.executable, "-m", "ziglang", "cc", "-target", target or a.cc_target, *flags, "-c", src, "-o", out]
    subprocess.run(cmd, check=True, capture_output=True)


def _build(tmp, arch: str, cflags=(), cc: str | None = None) -> list[str]:
    """Compile the feature program; the library members go into an archive."""
    srcs = {
        "main.c": MAIN_C,
        "probe_a.c": PROBE_A,
        "probe_b.c": PROBE_B,
        "lib_used.c": LIB_USED,
        "lib_unused.c": LIB_UNUSED,
    }
    objs = []
    for name, text in srcs.items():
        (tmp / name).write_text(text)
        out = str(tmp / name.replace(".c", ".o"))
        args = ["-a", arch, "-c", str(tmp / name), "-o", out, f"-I{RT}", *cflags]
        if cc:
            args += ["--cc", cc]
        r = run_dyncc(args)
        assert r.returncode == 0, r.stderr
        objs.append(out)
    for src in runtime.rt_sources():
        out = str(tmp / ("rt_" + os.path.basename(src).replace(".c", ".o")))
        r = run_dyncc(["-a", arch, "-c", src, "-o", out, f"-I{RT}", "-O2"])
        assert r.returncode == 0, r.stderr
        objs.append(out)
    for i, value in enumerate((11, 22)):
        s = tmp / f"comdat{i}.s"
        s.write_text(COMDAT_S["arm" if arch == "arm" else "x86"].replace("{value}", str(value)))
        out = str(tmp / f"comdat{i}.o")
        _zig_cc(arch, None, str(s), out)
        objs.append(out)
    lib = str(tmp / "libfeat.a")
    members = [o for o in objs if os.path.basename(o).startswith("lib_")]
    subprocess.run([sys.executable, "-m", "ziglang", "ar", "rcs", lib, *members], check=True)
    return [o for o in objs if o not in members] + [lib]


def _link_and_run(tmp, arch: str, objs: list[str]) -> tuple[bytes, str]:
    out = str(tmp / "prog")
    r = dynlink(arch, out, objs, "--map", str(tmp / "prog.map"))
    assert r.returncode == 0, r.stderr
    ref = str(tmp / "ref")
    lr = lld_link(arch, ref, objs)
    assert lr.returncode == 0, lr.stderr
    got, want = run_program(arch, out), run_program(arch, ref)
    assert (got.stdout, got.returncode) == (want.stdout, want.returncode)
    lines = got.stdout.decode().splitlines(keepends=True)
    # line 2 says whether the two copies of the literal were merged: the compiler decides
    # whether they are mergeable at all (gcc -O0 puts literals in plain .rodata)
    assert lines[:1] + lines[2:] == EXPECTED.splitlines(keepends=True)[:1] + EXPECTED.splitlines(keepends=True)[2:]
    assert got.returncode == 7
    return open(out, "rb").read(), (tmp / "prog.map").read_text()


@pytest.mark.parametrize("arch", ARCHES)
def test_merge_comdat_archive_initarray(tmp_path, arch):
    data, linkmap = _link_and_run(tmp_path, arch, _build(tmp_path, arch, ["-O2"]))
    assert run_program(arch, str(tmp_path / "prog")).stdout.decode() == EXPECTED
    assert data.count(PROBE) == 1  # two objects each carry the literal: merged into one copy
    assert b"lib_unused_marker_fn" not in data  # the archive member nobody needs stays out
    assert "lib_used.o" in linkmap and "lib_unused.o" not in linkmap
    assert "duplicate COMDAT group" in linkmap
    with open(tmp_path / "prog", "rb") as f:
        names = {s.name for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()}
    assert {"main", "probe_a", "lib_used", "comdat_value"} <= names


@pytest.mark.parametrize(
    "arch,flags",
    [
        ("386", ["-O2", "-fPIC"]),
        ("386", ["-O0", "-fPIC"]),
        ("amd64", ["-O2", "-fPIC"]),
        ("amd64", ["-O2", "-fno-pic", "-fno-pie"]),
        ("arm", ["-O2", "-mcpu=cortex_a7"]),
    ],
    ids=["386-pic-O2", "386-pic-O0", "amd64-pic", "amd64-nopic", "arm-movw-movt"],
)
def test_code_models(tmp_path, arch, flags):
    """GOT/GOTOFF/GOTPC (386 PIC), GOTPCREL (amd64 PIC), 32S (amd64 non-PIC), MOVW/MOVT (arm)."""
    objs = _build(tmp_path, arch, flags)
    kinds = set()
    for o in objs:
        if o.endswith(".o"):
            out = subprocess.run(["readelf", "-rW", o], capture_output=True, text=True).stdout
            kinds |= {w for line in out.splitlines() for w in line.split() if w.startswith("R_")}
    expect = {"386": {"R_386_GOTPC", "R_386_GOTOFF"}, "amd64": set(), "arm": {"R_ARM_MOVW_ABS_NC", "R_ARM_MOVT_ABS"}}
    if "-fPIC" in flags and arch == "amd64":
        expect["amd64"] = {"R_X86_64_REX_GOTPCRELX"}
    if "-fno-pic" in flags:
        expect["amd64"] = {"R_X86_64_32"}
    assert expect[arch] <= kinds
    _link_and_run(tmp_path, arch, objs)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no gcc on this machine")
@pytest.mark.parametrize("flags", [["-O2", "-fno-pic", "-fno-pie"], ["-O0", "-fPIC"]], ids=["nopic", "pic"])
def test_gcc_objects(tmp_path, flags):
    """Objects from the system gcc (amd64) link and run like ld.lld's."""
    _link_and_run(
        tmp_path, "amd64", _build(tmp_path, "amd64", [*flags, "-ffreestanding", "-fno-stack-protector"], cc="gcc")
    )


@pytest.mark.parametrize("opt", ["-O1", "-O2"])
def test_thumb_interworking(tmp_path, opt):
    """Thumb code calling and tail-calling ARM code (BLX, and a thunk for B.W) and back."""
    objs = []
    for src in [*runtime.rt_sources()]:
        target = "arm-linux-none" if os.path.basename(src) in ("sys.c", "start.c") else "thumb-linux-none"
        out = str(tmp_path / os.path.basename(src).replace(".c", ".o"))
        _zig_cc(
            "arm",
            target,
            src,
            out,
            "-mcpu=cortex_a7",
            "-mfloat-abi=hard",
            "-fno-pic",
            "-ffreestanding",
            "-fno-stack-protector",
            "-fno-sanitize=undefined",
            opt,
            f"-I{RT}",
        )
        objs.append(out)
    main = tmp_path / "tmain.c"
    main.write_text(
        '#include "rt.h"\nstatic int f(int n) { return n < 2 ? n : f(n - 1) + f(n - 2); }\n'
        'int main(int c, char **v) { (void)c; (void)v; print_int(f(15)); print_str("\\n");'
        " return 3; }\n"
    )
    _zig_cc(
        "arm",
        "thumb-linux-none",
        str(main),
        str(tmp_path / "tmain.o"),
        "-mcpu=cortex_a7",
        "-mfloat-abi=hard",
        "-fno-pic",
        "-ffreestanding",
        opt,
        f"-I{RT}",
    )
    objs.append(str(tmp_path / "tmain.o"))
    out, ref = str(tmp_path / "prog"), str(tmp_path / "ref")
    r = dynlink("arm", out, objs)
    assert r.returncode == 0, r.stderr
    assert lld_link("arm", ref, objs).returncode == 0
    got, want = run_program("arm", out), run_program("arm", ref)
    assert got.stdout == want.stdout == b"610\n" and got.returncode == want.returncode == 3
    thumb_calls = subprocess.run(["readelf", "-rW", *objs], capture_output=True, text=True).stdout
    assert "R_ARM_THM_CALL" in thumb_calls


def test_eu_elflint_on_feature_program(tmp_path):
    objs = _build(tmp_path, "amd64", ["-O2"])
    _link_and_run(tmp_path, "amd64", objs)
    r = subprocess.run(["eu-elflint", "--gnu-ld", str(tmp_path / "prog")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("arch", ARCHES)
def test_archive_pull_rules(tmp_path, arch):
    """The entry symbol pulls its member out of an archive; a dynimported name never does."""
    objs = {}
    for src in runtime.rt_sources():
        out = str(tmp_path / os.path.basename(src).replace(".c", ".o"))
        assert run_dyncc(["-a", arch, "-c", src, "-o", out, f"-I{RT}", "-O2"]).returncode == 0
        objs[os.path.basename(src)] = out
    lib = str(tmp_path / "librt.a")
    subprocess.run([sys.executable, "-m", "ziglang", "ar", "rcs", lib, *objs.values()], check=True)
    main = tmp_path / "main.c"
    main.write_text(
        '#include "rt.h"\n#pragma dynimport exit exit "libc.so.6"\n'
        '#pragma dynimport puts puts "libc.so.6"\nint puts(const char *);\n'
        'int main(int c, char **v) { (void)c; (void)v; puts("libc exit"); return 5; }\n'
    )
    mo = str(tmp_path / "main.o")
    assert run_dyncc(["-a", arch, "-c", str(main), "-o", mo, f"-I{RT}", "-O2"]).returncode == 0
    out = str(tmp_path / "prog")
    r = dynlink(arch, out, [mo, "-L", str(tmp_path), "-l", "rt"], "--map", str(tmp_path / "map"))
    assert r.returncode == 0, r.stderr
    linkmap = (tmp_path / "map").read_text()
    assert "start.o" in linkmap  # pulled by the entry symbol alone
    with open(out, "rb") as f:
        e = ELFFile(f)
        dyn = {s.name: s for s in e.get_section_by_name(".dynsym").iter_symbols()}
        assert dyn["exit"]["st_shndx"] == "SHN_UNDEF"  # libc's exit, not rt's
    res = run_program(arch, out, env={**os.environ, "LD_BIND_NOW": "1"})
    assert res.stdout == b"libc exit\n" and res.returncode == 5


DEBUG_C = r"""
#include "rt.h"
int unused_function(int y) { return y * 3 + 1; }
static int helper(int x) { if (x > 1000) return 0; return x * 2 + 1; }
int main(int argc, char **argv) { (void)argv; print_int(helper(argc + 20)); print_str("\n"); return 0; }
"""


@pytest.mark.parametrize("arch", ARCHES)
def test_debug_info_kept_and_relocated(tmp_path, arch):
    """With -g, DWARF survives the link: line tables point at the linked code, dropped code reads 0."""
    src = tmp_path / "dbgmain.c"
    src.write_text(DEBUG_C)
    objs = []
    for path in [str(src), *runtime.rt_sources()]:
        out = str(tmp_path / (os.path.basename(path)[:-2] + ".o"))
        assert (
            run_dyncc(["-a", arch, "-c", path, "-o", out, f"-I{RT}", "-O1", "-g", "-ffunction-sections"]).returncode
            == 0
        )
        objs.append(out)
    prog = str(tmp_path / "prog")
    assert dynlink(arch, prog, objs).returncode == 0
    assert run_program(arch, prog).stdout == b"43\n"
    stripped = str(tmp_path / "prog-S")
    assert dynlink(arch, stripped, objs, "-S").returncode == 0
    with open(prog, "rb") as f:
        e = ELFFile(f)
        assert e.has_dwarf_info()
        syms = {s.name: s["st_value"] for s in e.get_section_by_name(".symtab").iter_symbols()}
        assert "unused_function" not in syms
        dwarf = e.get_dwarf_info()
        rows = []
        for cu in dwarf.iter_CUs():
            lp = dwarf.line_program_for_CU(cu)
            rows += [
                (lp["file_entry"][max(r.state.file - 1, 0)].name, r.state.address)
                for r in lp.get_entries()
                if r.state is not None
            ]
    main_rows = [addr for name, addr in rows if name == b"dbgmain.c" and addr]
    # pyelftools reads the line table: rows of dbgmain.c cover the linked main
    assert any(syms["main"] & ~1 <= a < (syms["main"] & ~1) + 0x200 for a in main_rows)
    lines = subprocess.run(["objdump", "--dwarf=decodedline", prog], capture_output=True, text=True).stdout
    assert "dbgmain.c" in lines
    with open(stripped, "rb") as f:
        assert not ELFFile(f).has_dwarf_info()
    all_out = str(tmp_path / "prog-s")  # -s, --strip-all: no symbol table either, still runs
    assert dynlink(arch, all_out, objs, "-s").returncode == 0
    assert run_program(arch, all_out).stdout == b"43\n"
    with open(all_out, "rb") as f:
        e = ELFFile(f)
        assert not e.has_dwarf_info()
        assert "SHT_SYMTAB" not in [s["sh_type"] for s in e.iter_sections()]
        assert [s.name for s in e.iter_sections() if s["sh_type"] == "SHT_STRTAB"] == [".shstrtab"]
    nm = subprocess.run(["nm", all_out], capture_output=True, text=True)
    assert "no symbols" in nm.stderr
    for p in (prog, stripped, all_out):
        r = subprocess.run(["readelf", "-a", "--debug-dump=info", p], capture_output=True, text=True)
        assert "Warning" not in r.stderr and "Error" not in r.stderr, r.stderr
        if shutil.which("eu-elflint"):
            lint = subprocess.run(["eu-elflint", "--gnu-ld", p], capture_output=True, text=True)
            assert lint.returncode == 0, lint.stdout


@pytest.mark.parametrize("arch", ARCHES)
def test_gnu_stack_note(tmp_path, arch):
    """PT_GNU_STACK is executable only when an object's .note.GNU-stack asks for it (SHF_EXECINSTR)."""
    import struct

    at = "%" if arch == "arm" else "@"
    ret = "bx lr" if arch == "arm" else "ret"
    s = tmp_path / "start.s"
    s.write_text(f'.text\n.globl _start\n_start:\n{ret}\n.section .note.GNU-stack,"",{at}progbits\n')
    plain = str(tmp_path / "plain.o")
    _zig_cc(arch, None, str(s), plain)
    data = bytearray(open(plain, "rb").read())
    with open(plain, "rb") as f:  # the assembler won't write an executable-stack note: set its flag by hand
        e = ELFFile(f)
        index = next(i for i, sec in enumerate(e.iter_sections()) if sec.name == ".note.GNU-stack")
        at_flags = e["e_shoff"] + index * e["e_shentsize"] + 8
        fmt = "<Q" if e.elfclass == 64 else "<I"
    struct.pack_into(fmt, data, at_flags, struct.unpack_from(fmt, data, at_flags)[0] | 4)
    execstack = tmp_path / "execstack.o"
    execstack.write_bytes(bytes(data))
    flags = {}
    links = (
        ("plain", [plain]),
        ("execstack", [str(execstack)]),
        ("z-noexecstack", [str(execstack), "-z", "noexecstack"]),  # -z overrides the objects, as with ld
        ("z-execstack", [plain, "-z", "execstack"]),
    )
    for name, args in links:
        out = str(tmp_path / name)
        assert dynlink(arch, out, args).returncode == 0
        with open(out, "rb") as f:
            seg = next(p for p in ELFFile(f).iter_segments() if p["p_type"] == "PT_GNU_STACK")
            flags[name] = seg["p_flags"]
    assert flags["plain"] & 1 == 0 and flags["plain"] & 6 == 6
    assert flags["execstack"] & 7 == 7
    assert flags["z-noexecstack"] & 7 == 6 and flags["z-execstack"] & 7 == 7
