"""dyncc as a compiler driver: hosted by default, user flags win, the compiler's own
diagnostics, one compiler run without pragmas, -E/-M, link mode, queries."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys

import pytest
from conftest import ARCHES, ROOT, run_dyncc, run_program, tool_env

from toolchain.arch import get_arch
from toolchain.cc import driver
from toolchain.cc.flags import merge_flags, parse_dependency_file
from toolchain.cc.hosted import glibc_include_dirs, ziglang_dir
from toolchain.cc.runtime import rt_include_dir, rt_sources
from toolchain.directives import DynExport, DynImport, read_object_directives
from toolchain.elf import ElfFile


def _zig_env(tmp_path, tag: str) -> dict[str, str]:
    """An environment with empty zig caches (a cached zig compile prints no warnings)."""
    d = tmp_path / f"zigcache-{tag}"
    return tool_env(ZIG_GLOBAL_CACHE_DIR=str(d / "g"), ZIG_LOCAL_CACHE_DIR=str(d / "l"))


def _zig(args, cwd, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ziglang", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _elf(path) -> ElfFile:
    with open(path, "rb") as f:
        return ElfFile(f.read(), str(path))


def _section_names(path) -> set[str]:
    return {s.name for s in _elf(path).sections}


def _reloc_types(path, section: str) -> set[int]:
    """Relocation types applied to ``section``, read with readelf (an independent reader)."""
    out = subprocess.run(["readelf", "-rW", str(path)], capture_output=True, text=True, check=True).stdout
    types, inside = set(), False
    for line in out.splitlines():
        if line.startswith("Relocation section"):
            inside = re.search(rf"'\.rela?{re.escape(section)}'", line) is not None
        elif inside and re.match(r"^[0-9a-f]{8,16}\s", line):
            types.add(line.split()[2])
    return types


# --------------------------------------------------------------- hosted by default


@pytest.mark.parametrize("arch", ARCHES)
def test_hosted_headers_and_glibc_version(tmp_path, arch):
    major, minor = get_arch(arch).glibc_version.split(".")
    (tmp_path / "h.c").write_text(
        "#include <stdio.h>\n#include <stdlib.h>\n#include <math.h>\n#include <pthread.h>\n"
        f'_Static_assert(__GLIBC__ == {major} && __GLIBC_MINOR__ == {minor}, "glibc version");\n'
        '_Static_assert(__STDC_HOSTED__ == 1, "hosted");\n'
        'int main(void) { printf("%f\\n", sqrt(2.0)); return EXIT_SUCCESS; }\n'
    )
    r = run_dyncc(["-a", arch, "-c", "h.c"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    syms = {
        s.name
        for sec in _elf(tmp_path / "h.o").sections
        if sec.name == ".symtab"
        for s in _elf(tmp_path / "h.o").symbols(sec)
    }
    assert "printf" in syms


@pytest.mark.parametrize("arch", ARCHES)
def test_include_dirs_are_the_ones_zig_uses_for_the_glibc_target(tmp_path, arch):
    # zig's own driver, asked for the arch's glibc target, names the same directories in the same order
    (tmp_path / "e.c").write_text("int e;\n")
    a = get_arch(arch)
    r = _zig(["cc", "-target", a.glibc_target, "-c", "e.c", "-###"], str(tmp_path), tool_env())
    words = re.findall(r'"([^"]*)"', r.stderr)
    libc = os.path.join(ziglang_dir(), "lib", "libc", "include")
    zigs = [w for w in words if w.startswith(libc)]
    assert zigs == glibc_include_dirs(arch)
    minor = a.glibc_version.split(".")[1]
    assert f"__GLIBC_MINOR__={minor}" in words


@pytest.mark.parametrize("arch", ARCHES)
def test_predefined_macros_equal_the_glibc_targets(tmp_path, arch):
    # the same macros as zig cc -target <glibc target>, but for PIC (that target insists on it)
    a = get_arch(arch)
    r = run_dyncc(["-a", arch, "-E", "-dM", "-x", "c", os.devnull], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    codegen = [f for f in a.cc_flags if not f.startswith(("-fpic", "-fno-pic", "-fpie", "-fno-pie"))]
    zig_args = ["cc", "-target", a.glibc_target, "-g0", *codegen, "-E", "-dM", "-x", "c", os.devnull]
    z = _zig(zig_args, str(tmp_path), tool_env())
    assert z.returncode == 0, z.stderr
    ours, theirs = set(r.stdout.splitlines()), set(z.stdout.splitlines())
    differ = {ln.split()[1] for ln in ours ^ theirs}
    assert differ <= {"__PIC__", "__pic__", "__PIE__", "__pie__"}, sorted(ours ^ theirs)


@pytest.mark.parametrize("flag", ["-ffreestanding", "-nostdinc", "-nostdlibinc"])
def test_freestanding_or_nostdinc_leave_the_c_library_out(tmp_path, flag):
    (tmp_path / "f.c").write_text("#include <stdio.h>\nint f;\n")
    r = run_dyncc(["-a", "amd64", flag, "-c", "f.c"], cwd=str(tmp_path))
    assert r.returncode == 1 and "'stdio.h' file not found" in r.stderr
    (tmp_path / "g.c").write_text('#include <stddef.h>\n_Static_assert(__STDC_HOSTED__ == 0, "free");\nsize_t g;\n')
    r = run_dyncc(["-a", "amd64", "-ffreestanding", "-c", "g.c"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    r = run_dyncc(["-a", "amd64", "-ffreestanding", "-fhosted", "-c", "f.c"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr  # the last of -ffreestanding/-fhosted wins


# --------------------------------------------------------------- user flags win


DATA_REF = "int counter;\nint *where(void) { return &counter; }\nint bump(void) { return ++counter; }\n"


@pytest.mark.parametrize("flags", [["-fno-pic"], ["-fno-pie"], ["-fpie", "-fno-pic"]])
def test_no_pic_on_amd64(tmp_path, flags):
    (tmp_path / "d.c").write_text(DATA_REF)
    r = run_dyncc(["-a", "amd64", "-O2", *flags, "-c", "d.c", "-o", "d.o"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    # the same relocations as zig itself makes for x86_64 without PIC (no -fpie default there)
    z = _zig(
        ["cc", "-target", "x86_64-linux-none", "-O2", "-fno-pic", "-c", "d.c", "-o", "z.o"], str(tmp_path), tool_env()
    )
    assert z.returncode == 0, z.stderr
    ours = _reloc_types(tmp_path / "d.o", ".text")
    assert ours == _reloc_types(tmp_path / "z.o", ".text")
    assert "R_X86_64_32S" in ours or "R_X86_64_32" in ours  # absolute, not RIP-relative


def test_pic_last_flag_wins_on_arm(tmp_path):
    (tmp_path / "d.c").write_text(DATA_REF)
    r = run_dyncc(["-a", "arm", "-O2", "-fPIC", "-c", "d.c", "-o", "pic.o"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    r = run_dyncc(["-a", "arm", "-O2", "-fPIC", "-fno-pic", "-c", "d.c", "-o", "nopic.o"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert any("GOT" in t for t in _reloc_types(tmp_path / "pic.o", ".text"))
    assert _reloc_types(tmp_path / "nopic.o", ".text") <= {"R_ARM_ABS32", "R_ARM_CALL", "R_ARM_JUMP24"}


@pytest.mark.parametrize(
    "flags,debug",
    [([], False), (["-g"], True), (["-g0"], False), (["-g0", "-g"], True), (["-g", "-g0"], False), (["-g3"], True)],
)
def test_debug_level_last_flag_wins(tmp_path, flags, debug):
    (tmp_path / "g.c").write_text("int g(int x) { return x + 1; }\n")
    r = run_dyncc(["-a", "386", *flags, "-c", "g.c"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (".debug_info" in _section_names(tmp_path / "g.o")) == debug


def test_optimisation_last_flag_wins(tmp_path):
    (tmp_path / "o.c").write_text("int f(int x) { int s = 0; for (int i = 0; i < x; i++) s += i; return s; }\n")
    for name, flags in (("a", ["-O2", "-O0"]), ("b", ["-O0"]), ("c", ["-O0", "-O2"]), ("d", ["-O2"])):
        r = run_dyncc(["-a", "amd64", *flags, "-c", "o.c", "-o", f"{name}.o"], cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr

    def text(n):
        e = _elf(tmp_path / f"{n}.o")
        return bytes(e.section_data(e.section_by_name(".text")))

    assert text("a") == text("b") != text("c") == text("d")


def test_merge_flags_keeps_order_and_values():
    got = merge_flags(["-fpie", "-fno-stack-protector"], ["-I", "-fno-pic", "-fno-pic", "-O2"])
    # "-I -fno-pic" is an include directory named -fno-pic; the second -fno-pic is the flag
    assert got == ["-g0", "-fno-stack-protector", "-fno-pic", "-fno-pie", "-I", "-fno-pic", "-O2"]


# --------------------------------------------------------------- the compiler's own diagnostics


WARNING_SRC = """\
#include <stdio.h>
#define SQUARE(x) ((x) * (x))
#define ASSIGN_IN_IF(v) if (v = 3) return 1
int f(int a) { int unused; return SQUARE(a++); }
int g(int x) { ASSIGN_IN_IF(x); return printf("%d\\n", "not an int"); }
"""


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_diagnostics_equal_the_compilers(tmp_path, arch):
    (tmp_path / "w.c").write_text(WARNING_SRC)
    flags = ["-Wall", "-O2"]
    r = subprocess.run(
        [sys.executable, "-m", "toolchain.cc.driver", "-a", arch, *flags, "-c", "w.c", "-o", "w.o"],
        cwd=tmp_path, env=_zig_env(tmp_path, "d"), capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    cmd = driver.compiler_command(get_arch(arch), flags)
    z = _zig([*cmd[cmd.index("cc") :], "-c", "w.c", "-o", "z.o"], str(tmp_path), _zig_env(tmp_path, "z"))
    assert z.returncode == 0
    assert "expanded from macro 'ASSIGN_IN_IF'" in z.stderr and "w.c:5:" in z.stderr
    assert r.stderr == z.stderr


def test_pragma_lines_leave_no_unknown_pragma_warnings(tmp_path):
    src = (
        '#include "p.h"\n#pragma dynimport puts puts "libc.so.6"\n#pragma vendor thing\n'
        "int f(int a) { int unused; return a; }\n"
    )
    (tmp_path / "p.h").write_text("#pragma dynexport f f_v1\n")
    (tmp_path / "p.c").write_text(src)
    r = subprocess.run(
        [sys.executable, "-m", "toolchain.cc.driver", "-a", "amd64", "-Wall", "-c", "p.c"],
        cwd=tmp_path, env=_zig_env(tmp_path, "d"), capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    # the compiler on the same text with the dyn pragma lines blanked (same line numbers)
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "p.h").write_text("\n")
    (tmp_path / "blank" / "p.c").write_text(src.replace('#pragma dynimport puts puts "libc.so.6"', ""))
    cmd = driver.compiler_command(get_arch("amd64"), ["-Wall"])
    z = _zig([*cmd[cmd.index("cc") :], "-c", "p.c"], str(tmp_path / "blank"), _zig_env(tmp_path, "z"))
    assert "unknown pragma ignored" in z.stderr and "p.c:3:" in z.stderr  # the vendor pragma stays
    assert r.stderr == z.stderr
    d = read_object_directives(_elf(tmp_path / "p.o"))
    assert d.imports == [DynImport("puts", "puts", "libc.so.6")] and d.exports == [DynExport("f", "f_v1")]


def test_werror_with_pragmas(tmp_path):
    (tmp_path / "e.c").write_text('#pragma dynimport puts puts "libc.so.6"\nint e(void) { return 0; }\n')
    r = run_dyncc(["-a", "386", "-Wall", "-Werror", "-c", "e.c"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert read_object_directives(_elf(tmp_path / "e.o")).imports == [DynImport("puts", "puts", "libc.so.6")]
    (tmp_path / "u.c").write_text('#pragma dynimport puts puts "libc.so.6"\nint u(void) { int x; return 0; }\n')
    r = run_dyncc(["-a", "386", "-Wall", "-Werror", "-c", "u.c"], cwd=str(tmp_path))
    assert r.returncode == 1 and "unused variable 'x'" in r.stderr and "pragma" not in r.stderr
    assert not (tmp_path / "u.o").exists()


# --------------------------------------------------------------- one compiler run


def _runs(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("dyncc: running ")]


def test_one_compiler_run_without_pragmas(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "x.h").write_text("int x(void);\n")
    (tmp_path / "x.c").write_text(
        '#include "inc/x.h"\n#include <string.h>\nint x(void) { return (int)strlen("ab"); }\n'
    )
    r = run_dyncc(["-a", "amd64", "-c", "x.c"], cwd=str(tmp_path), env=tool_env(DYNCC_VERBOSE="1"))
    assert r.returncode == 0, r.stderr
    assert len(_runs(r.stderr)) == 1
    assert read_object_directives(_elf(tmp_path / "x.o")).empty()


def test_pragmas_in_headers_under_if_and_in_system_dirs(tmp_path):
    (tmp_path / "sys").mkdir()
    (tmp_path / "sys" / "lib.h").write_text('#pragma dynimport cos cos "libm.so.6"\n')
    (tmp_path / "h.h").write_text(
        '#if USE_SIN\n#pragma dynimport sin sin "libm.so.6"\n#else\n#pragma dynimport tan tan "libm.so.6"\n#endif\n'
    )
    (tmp_path / "m.c").write_text('#include <lib.h>\n#include "h.h"\nint m;\n')
    for define, want in (("-DUSE_SIN=1", "sin"), ("-DUSE_SIN=0", "tan")):
        r = run_dyncc(
            ["-a", "arm", define, "-isystem", "sys", "-c", "m.c"], cwd=str(tmp_path), env=tool_env(DYNCC_VERBOSE="1")
        )
        assert r.returncode == 0, r.stderr
        assert len(_runs(r.stderr)) == 2  # the compile, then the preprocessor for the pragmas
        imports = read_object_directives(_elf(tmp_path / "m.o")).imports
        assert imports == [DynImport("cos", "cos", "libm.so.6"), DynImport(want, want, "libm.so.6")]


def test_user_dependency_file_is_kept_and_used(tmp_path):
    (tmp_path / "d.h").write_text("#pragma dynexport d d_v1\n")
    (tmp_path / "d.c").write_text('#include "d.h"\nint d;\n')
    r = run_dyncc(["-a", "amd64", "-MD", "-MF", "deps.mk", "-MT", "target.o", "-c", "d.c"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "deps.mk").read_text()
    assert text.startswith("target.o:") and "d.h" in parse_dependency_file(text)
    assert read_object_directives(_elf(tmp_path / "d.o")).exports == [DynExport("d", "d_v1")]


def test_parse_dependency_file():
    text = "out.o: a.c dir/with\\ space.h \\\n  /usr/include/x.h\nb.h:\n$$weird.h: \n"
    assert parse_dependency_file(text) == ["a.c", "dir/with space.h", "/usr/include/x.h"]


# --------------------------------------------------------------- preprocessing, assembly, several sources


def test_preprocess_modes(tmp_path):
    (tmp_path / "q.h").write_text("#define Q 41\n")
    (tmp_path / "q.c").write_text('#include "q.h"\n#pragma dynexport q q\nint q = Q + 1;\n')
    r = run_dyncc(["-a", "386", "-E", "q.c"], cwd=str(tmp_path))
    assert r.returncode == 0 and "int q = 41 + 1;" in r.stdout and "#pragma dynexport q q" in r.stdout
    r = run_dyncc(["-a", "386", "-E", "q.c", "-o", "q.i"], cwd=str(tmp_path))
    assert r.returncode == 0 and "int q = 41 + 1;" in (tmp_path / "q.i").read_text()
    r = run_dyncc(["-a", "386", "-MM", "q.c"], cwd=str(tmp_path))
    assert r.returncode == 0 and r.stdout.split() == ["q.o:", "q.c", "q.h"]
    r = run_dyncc(["-a", "386", "-M", "q.c"], cwd=str(tmp_path))
    assert r.returncode == 0 and "q.h" in r.stdout and "stdc-predef.h" in r.stdout or "q.h" in r.stdout
    # Meson asks for the predefined macros on standard input
    p = subprocess.run(
        [sys.executable, "-m", "toolchain.cc.driver", "-a", "arm", "-x", "c", "-E", "-dM", "-"],
        input="", capture_output=True, text=True, env=tool_env(), cwd=tmp_path,
    )  # fmt: skip
    assert p.returncode == 0 and "#define __arm__ 1" in p.stdout and "#define __clang__ 1" in p.stdout


def test_compile_several_sources_and_assembly(tmp_path):
    (tmp_path / "a.c").write_text("int a(void) { return 1; }\n")
    (tmp_path / "b.c").write_text("#pragma dynexport b b\nint b(void) { return 2; }\n")
    r = run_dyncc(["-a", "amd64", "-c", "a.c", "b.c"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert read_object_directives(_elf(tmp_path / "a.o")).empty()
    assert read_object_directives(_elf(tmp_path / "b.o")).exports == [DynExport("b", "b")]
    r = run_dyncc(["-a", "amd64", "-S", "a.c"], cwd=str(tmp_path))
    assert r.returncode == 0 and "a:" in (tmp_path / "a.s").read_text()


# --------------------------------------------------------------- link mode


PROG_MAIN = """\
#include "rt.h"
extern int helper(int);
int main(int argc, char **argv) {
    (void)argv;
    print_str("linked by dyncc ");
    print_int(helper(argc));
    print_nl();
    return 7;
}
"""


@pytest.mark.parametrize("arch", ARCHES)
def test_link_mode_builds_a_program_that_runs(tmp_path, arch):
    (tmp_path / "main.c").write_text(PROG_MAIN)
    (tmp_path / "helper.c").write_text("int helper(int x) { return x * 100 + 5; }\n")
    ff = ["-ffreestanding", "-O2", "-I", rt_include_dir()]
    r = run_dyncc(["-a", arch, *ff, "-c", "helper.c"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    rt = rt_sources()
    r = run_dyncc(["-a", arch, *ff, "-nostdlib", "-o", "prog", *rt, "main.c", "helper.o"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    p = run_program(arch, str(tmp_path / "prog"), ["x", "y"])
    assert p.returncode == 7 and p.stdout == b"linked by dyncc 305\n"
    assert not [
        f for f in os.listdir(tmp_path) if f.endswith(".o") and f != "helper.o"
    ]  # sources' objects are temporary


def test_link_mode_adds_lc_and_passes_linker_args(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inv, _ = driver.parse_command_line(["-a", "amd64", "-o", "p", "a.o", "-Lx", "-l", "m", "-Wl,--map,p.map", "b.o"])
    assert inv is not None and inv.mode == "link"
    cmd = driver.link_command(inv, ["a.o", "b.o"])
    assert cmd == ["-a", "amd64", "-o", "p", "a.o", "-L", "x", "-l", "m", "--map", "p.map", "b.o", "-l", "c"]
    inv, _ = driver.parse_command_line(["-a", "amd64", "-s", "a.o", "-Wl,--gc-sections,-O1,-z,noexecstack"])
    assert inv is not None
    want = ["--strip-all", "a.o", "--gc-sections", "-O1", "-z", "noexecstack", "-l", "c"]
    assert driver.link_command(inv, ["a.o"])[4:] == want
    inv, _ = driver.parse_command_line(["-a", "amd64", "a.o", "-nodefaultlibs"])
    assert inv is not None and driver.link_command(inv, ["a.o"])[-1] == "a.o"
    assert driver.link_command(inv, ["a.o"])[:4] == ["-a", "amd64", "-o", "a.out"]


HELLO = r"""
#include <math.h>
#include <stdio.h>
int main(int argc, char **argv) {
    printf("hello %d %.3f\n", argc, sqrt(2.0));
    return 0;
}
"""

#: this machine's arch by its own name for it (the host's, as cc and ld target)
_NATIVE = {"x86_64": ("amd64", "EM_X86_64"), "i686": ("386", "EM_386"), "armv7l": ("arm", "EM_ARM")}


def test_no_arch_and_no_output_make_a_out_for_this_machine(tmp_path):
    """``dyncc hello.c`` and ``dynlink hello.o -lc``, as with cc and ld: a.out, for the machine
    they run on, the same bytes as naming that arch, and it runs here."""
    from elftools.elf.elffile import ELFFile

    arch, machine = _NATIVE[platform.machine()]
    (tmp_path / "hello.c").write_text(HELLO)
    r = run_dyncc(["hello.c", "-lm"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    a_out = tmp_path / "a.out"
    with open(a_out, "rb") as f:
        assert ELFFile(f)["e_machine"] == machine
    p = subprocess.run([str(a_out), "x"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "hello 2 1.414\n"
    r = run_dyncc(["-a", arch, "-o", "named", "hello.c", "-lm"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "named").read_bytes() == a_out.read_bytes()
    a_out.unlink()
    assert run_dyncc(["-c", "hello.c"], cwd=str(tmp_path)).returncode == 0
    r = subprocess.run(
        [sys.executable, "-m", "toolchain.linker.main", "hello.o", "-lm", "-lc"],
        cwd=str(tmp_path),
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    p = subprocess.run([str(a_out)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "hello 1 1.414\n"


def test_builds_without_home_as_under_env_i(tmp_path):
    """zig finds no cache directory without $HOME or $XDG_CACHE_HOME (``env -i``, some build
    sandboxes); cc needs neither, and neither does dyncc (compile, link, C library, --version)."""
    env = {k: v for k, v in tool_env().items() if k not in ("HOME", "XDG_CACHE_HOME", "ZIG_GLOBAL_CACHE_DIR")}
    (tmp_path / "hello.c").write_text(HELLO)
    r = run_dyncc(["-a", "amd64", "-o", "prog", "hello.c", "-lm"], cwd=str(tmp_path), env=env)
    assert r.returncode == 0, r.stderr
    assert run_program("amd64", str(tmp_path / "prog")).stdout == b"hello 1 1.414\n"
    r = run_dyncc(["--version"], env=env)
    assert r.returncode == 0 and "dyncc" in r.stdout.splitlines()[0], r.stderr
    assert driver.zig_env({"HOME": "/h"}) == {"HOME": "/h"}
    assert driver.zig_env({})["ZIG_GLOBAL_CACHE_DIR"].endswith(("/.cache/zig", f"zig-cache-{os.getuid()}"))


def test_link_mode_linker_error_is_dynlinks(tmp_path):
    (tmp_path / "u.c").write_text("extern int nowhere(void);\nint _start(void) { return nowhere(); }\n")
    r = run_dyncc(["-a", "amd64", "-ffreestanding", "-nostdlib", "-o", "u", "u.c"], cwd=str(tmp_path))
    assert r.returncode == 1 and "dynlink:" in r.stderr and "nowhere" in r.stderr
    assert not (tmp_path / "u").exists()


# --------------------------------------------------------------- queries


def test_version_is_recognisable_as_clang():
    r = run_dyncc(["-a", "arm", "--version"])
    assert r.returncode == 0
    first = r.stdout.splitlines()[0]
    z = subprocess.run([sys.executable, "-m", "ziglang", "cc", "--version"], capture_output=True, text=True)
    assert first.startswith(z.stdout.splitlines()[0] + " ")  # clang's own banner first
    assert "dyncc" in r.stdout and "Target: arm-linux-gnueabihf" in r.stdout
    assert run_dyncc(["-a", "386", "-dumpmachine"]).stdout == "i686-linux-gnu\n"
    assert run_dyncc(["-dumpversion"]).stdout.strip() == first.split()[2]
    r = run_dyncc(["-a", "amd64", "-Wl,--version"])
    assert r.returncode == 0 and "dynlink" in r.stdout and "GNU" in r.stdout
    # cc -v alone (configure scripts log it): the same banner, on standard error as clang and gcc print it
    r = run_dyncc(["-a", "arm", "-v"])
    assert r.returncode == 0 and r.stdout == "", r.stderr
    assert r.stderr.splitlines()[0] == first and "Target: arm-linux-gnueabihf" in r.stderr


def test_build_parser_documents_the_options():
    text = driver.build_parser().format_help()
    for opt in ("-a ARCH", "-c", "-E", "-o OUTPUT", "--pragmas", "-nostdlib", "-rdynamic", "--cc CC"):
        assert opt in text


# --------------------------------------------------------------- Meson


def _meson() -> str | None:
    import shutil

    return shutil.which("meson")


@pytest.mark.skipif(_meson() is None, reason="meson is not installed")
@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_meson_accepts_dyncc_as_its_c_compiler(tmp_path, arch):
    wrapper = tmp_path / "dyncc"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m toolchain.cc.driver "$@"\n')
    wrapper.chmod(0o755)
    start = [s for s in rt_sources() if s.endswith("start.c")][0]
    rest = [s for s in rt_sources() if not s.endswith("start.c")]
    cpu = {"arm": "arm", "386": "x86", "amd64": "x86_64"}[arch]
    runner = get_arch(arch).runner()
    (tmp_path / "cross.ini").write_text(
        f"[binaries]\nc = ['{wrapper}', '-a', '{arch}']\n"
        + (f"exe_wrapper = {runner!r}\n" if runner else "")
        + "[built-in options]\n"
        + f"c_args = ['-ffreestanding', '-I{rt_include_dir()}']\n"
        + f"c_link_args = ['-nostdlib', '{start}', {', '.join(repr(s) for s in rest)}]\n"
        + f"[host_machine]\nsystem = 'linux'\ncpu_family = '{cpu}'\ncpu = '{cpu}'\nendian = 'little'\n"
    )
    src = tmp_path / "src"
    src.mkdir()
    (src / "meson.build").write_text(
        "project('m', 'c')\ncc = meson.get_compiler('c')\n"
        "assert(cc.get_id() == 'clang', cc.get_id())\n"
        "assert(cc.has_header('rt.h'))\n"
        "exe = executable('hello', 'hello.c', 'two.c')\ntest('hello', exe)\n"
    )
    (src / "hello.c").write_text(
        '#include "rt.h"\nint two(void);\n#pragma dynexport main program_main\n'
        "int main(int argc, char **argv) {\n    (void)argc; (void)argv;\n"
        '    print_str("meson says "); print_int(two()); print_nl(); return 0;\n}\n'
    )
    (src / "two.c").write_text("int two(void) { return 2; }\n")
    env = tool_env()
    build = tmp_path / "build"
    r = subprocess.run(
        [_meson(), "setup", "--cross-file", str(tmp_path / "cross.ini"), str(build), str(src)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "C compiler for the host machine" in r.stdout and "clang" in r.stdout
    r = subprocess.run([_meson(), "compile", "-C", str(build)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    p = run_program(arch, str(build / "hello"))
    assert p.returncode == 0 and p.stdout == b"meson says 2\n"
    r = subprocess.run([_meson(), "test", "-C", str(build)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def _dyncc_with_input(args, cwd, text: str) -> subprocess.CompletedProcess:
    """dyncc with ``text`` on its standard input."""
    cmd = [sys.executable, "-m", "toolchain.cc.driver", *args]
    return subprocess.run(cmd, input=text, capture_output=True, text=True, cwd=cwd, env=tool_env(), timeout=300)


STDIN_PROGRAM = "const char *where = __FILE__;\nint main(void) { return where[1] == 's' ? 7 : 1; }\n"


@pytest.mark.parametrize("arch", ARCHES)
def test_standard_input_is_a_source_as_with_cc(tmp_path, arch):
    """``echo ... | cc -x c - -o prog``: compiled, linked and run; ``<stdin>`` in __FILE__ and DWARF,
    as gcc names it; the same bytes from any directory (nothing of the scratch copy's path)."""
    (tmp_path / "a").mkdir()
    outs = []
    for cwd in (tmp_path, tmp_path / "a"):
        out = str(cwd / "prog")
        r = _dyncc_with_input(["-a", arch, "-g", "-x", "c", "-", "-o", out], str(cwd), STDIN_PROGRAM)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        with open(out, "rb") as f:
            outs.append(f.read())
    assert outs[0] == outs[1]
    assert run_program(arch, str(tmp_path / "prog")).returncode == 7
    from elftools.elf.elffile import ELFFile

    with open(tmp_path / "prog", "rb") as f:
        cu = next(ELFFile(f).get_dwarf_info().iter_CUs())
        assert cu.get_top_DIE().attributes["DW_AT_name"].value == b"<stdin>"
    # -c without -o writes -.o, as gcc does
    r = _dyncc_with_input(["-a", arch, "-x", "c", "-c", "-"], str(tmp_path), "int x = 1;\n")
    assert r.returncode == 0 and (tmp_path / "-.o").is_file(), r.stderr


def test_standard_input_errors_name_it_stdin(tmp_path):
    r = _dyncc_with_input(["-x", "c", "-c", "-", "-o", "x.o"], str(tmp_path), "int f(void) { return bad; }\n")
    assert r.returncode == 1 and not (tmp_path / "x.o").exists()
    assert "<stdin>:1:" in r.stderr
    assert r.stderr.rstrip().endswith("dyncc: <stdin>: compilation failed (compiler exit status 1)")
    assert "dyncc-" not in r.stderr  # no scratch path
    r = _dyncc_with_input(["-c", "-", "-o", "x.o"], str(tmp_path), "int x;\n")
    assert r.returncode == 2 and r.stderr == "dyncc: -: standard input needs -x LANGUAGE (as with cc: -x c)\n"
    r = _dyncc_with_input(["-x", "c", "-S", "-", "-o", "x.s"], str(tmp_path), "int answer = 42;\n")
    assert r.returncode == 0 and "answer" in (tmp_path / "x.s").read_text(), r.stderr


def test_a_device_source_compiles_as_configure_checks_do(tmp_path):
    """``cc -Werror -fFLAG -x c -c /dev/null -o x.o`` (how build systems ask whether a flag is
    accepted), and the same answer as the compiler's for a flag it does not know."""
    flag = "-fstack-protector-strong"
    r = run_dyncc(["-Werror", flag, "-x", "c", "-c", "/dev/null", "-o", "ok.o"], cwd=str(tmp_path))
    assert r.returncode == 0 and ElfFile((tmp_path / "ok.o").read_bytes(), "ok.o").type == 1, r.stderr
    r = run_dyncc(["-Werror", "-fno-such-flag", "-x", "c", "-c", "/dev/null", "-o", "bad.o"], cwd=str(tmp_path))
    assert r.returncode == 1 and "-fno-such-flag" in r.stderr and not (tmp_path / "bad.o").exists()


OVERFLOW = "#include <stdlib.h>\nint main(int argc, char **argv) { return (atoi(argv[1]) + 2147483647) < 0; }\n"


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_sanitizers_without_a_runtime_trap_and_those_with_one_are_explained(tmp_path, arch):
    """-fsanitize=undefined -fsanitize-trap=undefined needs no runtime: the program runs, and a
    failed check stops it (SIGILL); a sanitizer that needs a runtime fails the link with a line
    saying so after the undefined symbols, and -static-pie is refused like -pie."""
    (tmp_path / "ovf.c").write_text(OVERFLOW)
    trap = ["-fsanitize=undefined", "-fsanitize-trap=undefined"]
    r = run_dyncc(["-a", arch, *trap, "-O0", "ovf.c", "-o", "ovf"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert run_program(arch, str(tmp_path / "ovf"), ["-1"]).returncode == 0
    assert run_program(arch, str(tmp_path / "ovf"), ["1"]).returncode == -4  # SIGILL: the trap
    for sanitizer in ("undefined", "address"):
        r = run_dyncc(["-a", arch, f"-fsanitize={sanitizer}", "ovf.c", "-o", "bad"], cwd=str(tmp_path))
        lines = r.stderr.splitlines()
        assert r.returncode == 1 and not (tmp_path / "bad").exists()
        assert "undefined symbol: __" in lines[0] and "san" in lines[0], r.stderr
        assert lines[-1].startswith("dynlink: code compiled with -fsanitize calls a sanitizer runtime"), r.stderr
    r = run_dyncc(["-a", arch, "-static-pie", "ovf.c", "-o", "bad"], cwd=str(tmp_path))
    assert r.returncode == 2 and r.stderr == (
        "dyncc: -static-pie is not supported (dynlink makes no position-independent executables)\n"
    )


def test_link_mode_keeps_the_order_of_inputs_and_linker_arguments(tmp_path):
    """gcc passes inputs, -l and -Wl, arguments to the linker in the order given, and positional
    switches apply to what follows them: -Wl,--as-needed -lm -Wl,--no-as-needed leaves an unused
    libm out of DT_NEEDED, -Wl,--no-as-needed -lm keeps it (pyelftools reads DT_NEEDED)."""
    from elftools.elf.elffile import ELFFile

    (tmp_path / "p.c").write_text("int main(void) { return 0; }\n")

    def needed(*args: str) -> list[str]:
        r = run_dyncc(["-a", "amd64", "p.c", *args, "-o", "p"], cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        with open(tmp_path / "p", "rb") as f:
            return [
                t.needed for t in ELFFile(f).get_section_by_name(".dynamic").iter_tags() if t.entry.d_tag == "DT_NEEDED"
            ]

    assert "libm.so.6" not in needed("-Wl,--as-needed", "-lm", "-Wl,--no-as-needed")
    assert "libm.so.6" in needed("-Wl,--no-as-needed", "-lm", "-Wl,--as-needed")


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_a_link_of_libraries_alone(tmp_path, arch):
    """gcc -L. -lmain -o prog links a program whose main is in an archive (start files refer to
    it); dyncc used to say "no input files". With no input and no -l it still does."""
    (tmp_path / "m.c").write_text('#include <stdio.h>\nint main(void) { puts("from the archive"); return 0; }\n')
    assert run_dyncc(["-a", arch, "-c", "m.c", "-o", "m.o"], cwd=str(tmp_path)).returncode == 0
    subprocess.run(["ar", "rcs", "libmain.a", "m.o"], cwd=tmp_path, check=True)
    r = run_dyncc(["-a", arch, "-L.", "-lmain", "-o", "prog"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert run_program(arch, str(tmp_path / "prog")).stdout == b"from the archive\n"
    r = run_dyncc(["-a", arch, "-c", "-lm"], cwd=str(tmp_path))
    assert r.returncode == 2 and r.stderr == "dyncc: no input files\n"


def test_the_queries_libtool_and_makefiles_ask(tmp_path):
    """gcc's -print-prog-name=ld (libtool finds the linker by it; dynlink answers -v as GNU ld
    does), -print-libgcc-file-name (a file that exists: compiler-rt, which a link can name),
    -print-multi-os-directory and -print-multiarch."""
    assert run_dyncc(["-print-prog-name=ld"]).stdout == "dynlink\n"
    assert run_dyncc(["-print-prog-name=as"]).stdout == "as\n"
    r = subprocess.run([sys.executable, "-m", "toolchain.linker.main", "-v"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("dynlink (dyntools) "), r.stderr
    libgcc = run_dyncc(["-a", "386", "-print-libgcc-file-name"]).stdout.strip()
    assert os.path.isfile(libgcc) and libgcc.endswith("/libgcc.a")
    (tmp_path / "d.c").write_text(
        '#include <stdio.h>\nint main(int c, char **v) { printf("%llu\\n", (c + 1000000000000ULL) / (c + 6ULL)); }\n'
    )
    r = run_dyncc(["-a", "386", "d.c", libgcc, "-o", "d"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert run_program("386", str(tmp_path / "d")).stdout == b"142857142857\n"
    assert run_dyncc(["-print-multi-os-directory"]).stdout == "../lib\n"
    assert run_dyncc(["-a", "arm", "-print-multiarch"]).stdout == "arm-linux-gnueabihf\n"
