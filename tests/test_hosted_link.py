"""Ordinary C programs: dyncc with glibc's headers + ``dynlink -lc -lm``, no pragma written by hand.

Each program is run (arm under QEMU) and must behave exactly as the same sources built
by ``zig cc -target <glibc target>``: same stdout, stderr and exit status. The outputs
are checked with binutils/elfutils: ``eu-elflint --gnu-ld``, ``readelf -V/-l/-d/-n``.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from conftest import run_dyncc, run_program
from elftools.elf.elffile import ELFFile
from hosted_build import HOSTED_DIR, compile_hosted, dynlink, zig_reference

from toolchain.arch import get_arch
from toolchain.linker import glibc

ARCHES = ("386", "amd64", "arm")
MULTI = ("main.c", "sort.c", "arith.c")

needs_elfutils = pytest.mark.skipif(shutil.which("eu-elflint") is None, reason="eu-elflint not installed")


@pytest.fixture(scope="module")
def objs(tmp_path_factory):
    """Objects of hostedprogs/*.c per arch, compiled on first use."""
    root = tmp_path_factory.mktemp("hosted")
    done: dict[tuple[str, str], str] = {}

    def get(arch: str, name: str, text: str | None = None) -> str:
        key = (arch, name)
        if key not in done:
            src = os.path.join(HOSTED_DIR, name)
            if text is not None:
                src = str(root / name)
                with open(src, "w") as f:
                    f.write(text)
            done[key] = compile_hosted(arch, src, str(root / f"{arch}-{name[:-2]}.o"), ["-I", HOSTED_DIR])
        return done[key]

    get.root = root  # type: ignore[attr-defined]
    return get


def link_ok(arch: str, out: str, args: list[str]) -> str:
    r = dynlink(arch, out, args)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    return out


def readelf(*args: str) -> str:
    return subprocess.run(["readelf", *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("arch", ARCHES)
def test_hello_world(objs, tmp_path, arch):
    exe = link_ok(arch, str(tmp_path / "hello"), [objs(arch, "hello.c"), "-lc"])
    p = run_program(arch, exe)
    assert (p.returncode, p.stdout, p.stderr) == (0, b"hello, world\n", b"")
    assert "Shared library: [libc.so.6]" in readelf("-d", exe)


@pytest.mark.parametrize("arch", ARCHES)
def test_dyncc_compiles_and_links_in_one_go(tmp_path, arch):
    exe = str(tmp_path / "hello")
    r = run_dyncc(["-a", arch, "-O2", "-o", exe, os.path.join(HOSTED_DIR, "hello.c")])
    assert r.returncode == 0, r.stderr
    assert run_program(arch, exe).stdout == b"hello, world\n"


@pytest.mark.parametrize("args", [["-static", "-lc"], ["-Bstatic", "-lm", "-lc"]])
def test_static_glibc_is_refused_with_its_reason(objs, tmp_path, args):
    """Rather than a machine's libc.a pulled in and failing on what it needs (its own _start,
    IFUNCs, TLS): one line naming -lc, nothing written; dyncc -static says the same."""
    out = tmp_path / "hello"
    r = dynlink("amd64", str(out), [objs("amd64", "hello.c"), *args])
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "-lc: static glibc is not supported; link the C library dynamically" in r.stderr
    assert not out.exists()
    r = run_dyncc(["-a", "386", "-static", "-o", str(out), os.path.join(HOSTED_DIR, "hello.c")])
    assert r.returncode == 1 and "-lc: static glibc is not supported" in r.stderr, r.stderr
    assert not out.exists()
    exe = link_ok("amd64", str(out), [objs("amd64", "hello.c"), "-Bstatic", "-Bdynamic", "-lc"])
    assert run_program("amd64", exe).stdout == b"hello, world\n"


@pytest.mark.parametrize("arch", ["386", "arm"])
def test_this_machines_library_directory_on_the_command_line_is_passed_over(objs, tmp_path, arch):
    """-L/usr/lib/x86_64-linux-gnu in a 386 or arm link (a Makefile's host flags): its 64-bit
    libc.so script and libm.so are skipped, as GNU ld skips them, and the program links and runs."""
    host = "/usr/lib/x86_64-linux-gnu"
    assert os.path.exists(os.path.join(host, "libc.so")), "this test needs an amd64 Debian machine"
    exe = link_ok(arch, str(tmp_path / "hello"), [objs(arch, "hello.c"), f"-L{host}", "-lc", "-lm"])
    assert run_program(arch, exe).stdout == b"hello, world\n"


@pytest.mark.parametrize("arch", ARCHES)
def test_multi_file_program_behaves_as_zig_builds_it(objs, tmp_path, arch):
    exe = link_ok(arch, str(tmp_path / "prog"), [*(objs(arch, s) for s in MULTI), "-lc", "-lm"])
    ref = zig_reference(arch, [os.path.join(HOSTED_DIR, s) for s in MULTI], str(tmp_path / "ref"), ["-lm"])
    ours, theirs = run_program(arch, exe, ["an arg"]), run_program(arch, ref, ["an arg"])
    assert ours.returncode == theirs.returncode == 3
    assert ours.stdout == theirs.stdout
    assert ours.stderr == theirs.stderr == b"[stderr]\n"
    lines = ours.stdout.decode().splitlines()
    # what the program's source says it must print, checked independently of any toolchain
    assert lines[0] == "constructor runs before main"
    assert lines[2] == "-20 -3 0 5 7 7 12"
    assert lines[-3:] == [
        "buffered to stdout, an arg",
        "atexit handler ran (buffered, flushed by exit)",
        "destructor runs after atexit handlers",
    ]


@needs_elfutils
@pytest.mark.parametrize("arch", ARCHES)
def test_outputs_pass_elflint_and_show_versions_and_hardening(objs, tmp_path, arch):
    inputs = [*(objs(arch, s) for s in MULTI), "-lc", "-lm"]
    default = link_ok(arch, str(tmp_path / "default"), inputs)
    hardened = link_ok(arch, str(tmp_path / "hardened"), [*inputs, "-z", "now", "--build-id", "-rpath", "/opt/lib:/x"])
    plain = link_ok(arch, str(tmp_path / "plain"), [*inputs, "-z", "norelro", "-z", "lazy"])
    for exe in (default, hardened, plain):
        lint = subprocess.run(["eu-elflint", "--gnu-ld", exe], capture_output=True, text=True)
        assert lint.returncode == 0 and lint.stdout.strip() == "No errors", lint.stdout + lint.stderr
    versions = readelf("-V", default)
    assert "File: libc.so.6" in versions and "File: libm.so.6" in versions
    assert "Name: GLIBC_2.34" in versions  # __libc_start_main's default version since glibc 2.34
    assert "GNU_RELRO" in readelf("-lW", default)
    assert "GNU_RELRO" not in readelf("-lW", plain)
    dyn = readelf("-d", hardened)
    assert "Library runpath: [/opt/lib:/x]" in dyn
    assert "BIND_NOW" in dyn and "Flags: NOW" in dyn
    assert "(INIT_ARRAY)" in dyn and "(FINI_ARRAY)" in dyn
    assert "Build ID: " in readelf("-n", hardened)
    assert "BIND_NOW" not in readelf("-d", default)
    for exe in (hardened, plain):
        assert run_program(arch, exe).returncode == 3


def test_build_id_is_a_hash_of_the_output(objs, tmp_path):
    import hashlib

    a = link_ok("amd64", str(tmp_path / "a"), [objs("amd64", "hello.c"), "-lc", "--build-id=sha1"])
    b = link_ok("amd64", str(tmp_path / "b"), [objs("amd64", "hello.c"), "-lc", "--build-id=0x0011aabb"])
    note = readelf("-n", a).split("Build ID: ")[1].split()[0]
    data = bytearray(open(a, "rb").read())
    at = data.find(bytes.fromhex(note))
    data[at : at + 20] = bytes(20)
    assert hashlib.sha1(data).hexdigest() == note
    assert "Build ID: 0011aabb" in readelf("-n", b)


def test_needed_only_for_libraries_used(objs, tmp_path):
    hello = objs("amd64", "hello.c")
    as_needed = link_ok("amd64", str(tmp_path / "a"), [hello, "-lc", "-lm"])
    assert "libm.so.6" not in readelf("-d", as_needed)
    kept = link_ok("amd64", str(tmp_path / "b"), [hello, "-lc", "--no-as-needed", "-lm"])
    assert "Shared library: [libm.so.6]" in readelf("-d", kept)
    assert run_program("amd64", kept).stdout == b"hello, world\n"


def test_shared_library_named_on_the_command_line(objs, tmp_path):
    lib = glibc.c_library(get_arch("386"))
    exe = link_ok("386", str(tmp_path / "hello"), [objs("386", "hello.c"), lib.shared["libc.so.6"]])
    assert run_program("386", exe).stdout == b"hello, world\n"
    real = "/lib/x86_64-linux-gnu/libc.so.6"
    if os.path.isfile(real):
        exe = link_ok("amd64", str(tmp_path / "hello64"), [objs("amd64", "hello.c"), real])
        assert run_program("amd64", exe).stdout == b"hello, world\n"


def test_nostartfiles_leaves_the_entry_to_the_program(objs, tmp_path):
    r = dynlink("amd64", str(tmp_path / "x"), [objs("amd64", "hello.c"), "-lc", "-nostartfiles"])
    assert r.returncode == 1
    assert r.stderr == f"dynlink: {tmp_path / 'x'}: entry symbol _start is not defined\n"


MISSING_SYMBOL = "\n".join(
    [
        '#pragma dynimport frobnicate frobnicate "libc.so.6"',
        "int frobnicate(void);",
        "int main(void) { return frobnicate(); }",
    ]
)
MISSING_VERSION = "\n".join(
    [
        '#pragma dynimport puts puts#GLIBC_99.0 "libc.so.6"',
        "int puts(const char *);",
        'int main(void) { return puts("x"); }',
    ]
)


@pytest.mark.parametrize(
    "name, text, why",
    [
        ("badsym.c", MISSING_SYMBOL, "does not define frobnicate"),
        ("badver.c", MISSING_VERSION, "has no puts at version GLIBC_99.0"),
    ],
)
def test_pragma_the_library_cannot_satisfy_fails_the_link(objs, tmp_path, name, text, why):
    obj = objs("amd64", name, text)
    r = dynlink("amd64", str(tmp_path / "x"), [obj, "-lc"])
    assert r.returncode == 1
    assert r.stderr.startswith(f"dynlink: {obj}: #pragma dynimport "), r.stderr
    assert why in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_every_undefined_symbol_is_reported_with_its_references(objs, tmp_path):
    users = [
        objs("amd64", f"use{i}.c", f"int missing_a(void);\nint use{i}(void) {{ return missing_a(); }}\n")
        for i in range(6)
    ]
    main = objs("amd64", "usemain.c", "int missing_b(void);\nint main(void) { return missing_b(); }\n")
    r = dynlink("amd64", str(tmp_path / "x"), [main, *users, "-lc", "-E"])  # -E keeps every use*() live
    assert r.returncode == 1
    also = f"{users[1]}, {users[2]}, {users[3]} and 2 more"
    assert r.stderr.splitlines() == [
        f"dynlink: {main}: undefined symbol: missing_b",
        f"dynlink: {users[0]}: undefined symbol: missing_a (also referenced by {also})",
        "dynlink: 2 undefined symbols",
    ]


def test_export_dynamic_and_dynamic_list(objs, tmp_path):
    inputs = [*(objs("amd64", s) for s in MULTI), "-lc", "-lm"]
    plain = link_ok("amd64", str(tmp_path / "plain"), inputs)
    everything = link_ok("amd64", str(tmp_path / "all"), [*inputs, "-E"])
    listed = tmp_path / "list"
    listed.write_text("{\n  sort_ints;\n  arith_*;\n};\n")
    some = link_ok("amd64", str(tmp_path / "some"), [*inputs, "--dynamic-list", str(listed)])

    def exported(exe: str) -> set[str]:
        out = readelf("--dyn-syms", "-W", exe)
        return {line.split()[7] for line in out.splitlines() if len(line.split()) >= 8 and line.split()[6] != "UND"}

    assert not {"main", "sort_ints"} & exported(plain)
    assert {"main", "sort_ints", "arith_report"} <= exported(everything)
    assert {"sort_ints", "arith_report"} <= exported(some) and "main" not in exported(some)
    for exe in (everything, some):
        assert run_program("amd64", exe).returncode == 3


def test_import_missing_from_this_machines_library_is_an_error(objs, tmp_path):
    """zig's glibc lists malloc_get_state (a compat symbol); Debian 12's libc.so.6 no longer has it."""
    real = glibc.real_library(get_arch("amd64"), "libc.so.6")
    if real is None:
        pytest.skip("no amd64 libc.so.6 on this machine")
    text = "void *malloc_get_state(void);\nint main(void) { return malloc_get_state() != 0; }\n"
    obj = objs("amd64", "oldmalloc.c", text)
    r = dynlink("amd64", str(tmp_path / "x"), [obj, "-lc"])
    assert r.returncode == 1
    assert "malloc_get_state@GLIBC_2.2.5 is in glibc 2.36 (zig's) but not in this machine's" in r.stderr


RELRO_PROBE = """
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static int calls;
__attribute__((constructor)) static void count(void) { calls = getpid() > 0; }  /* not foldable */
extern void (*__init_array_start[])(void);  /* defined by the linker */

static void on_segv(int sig) { (void)sig; write(1, "read-only\\n", 10); _exit(0); }

int main(void) {
    signal(SIGSEGV, on_segv);
    __init_array_start[0] = 0;  /* .init_array is relro: after start-up ld.so made it read-only */
    printf("writable (%d)\\n", calls);
    return 0;
}
"""


@pytest.mark.parametrize("arch", ARCHES)
def test_relro_pages_are_read_only_at_run_time(objs, tmp_path, arch):
    obj = objs(arch, "relro.c", RELRO_PROBE)
    hardened = link_ok(arch, str(tmp_path / "relro"), [obj, "-lc"])
    plain = link_ok(arch, str(tmp_path / "norelro"), [obj, "-lc", "-z", "norelro"])
    assert run_program(arch, hardened).stdout == b"read-only\n"
    assert run_program(arch, plain).stdout == b"writable (1)\n"


@pytest.mark.parametrize("arch", ARCHES)
def test_links_hermetically_without_a_target_libc(objs, tmp_path, arch):
    """With no library directory of the machine's (as on a machine without the arch's libc), -lc still links."""

    from toolchain.linker.main import link, parse_args

    opts = parse_args(["-a", arch, "-o", str(tmp_path / "hello"), objs(arch, "hello.c"), "-lc"])
    opts.arch = opts.arch._replace(lib_dirs=())
    first = link(opts)
    assert run_program(arch, str(tmp_path / "hello")).stdout == b"hello, world\n"
    with_machine_libs = link(parse_args(["-a", arch, "-o", str(tmp_path / "again"), objs(arch, "hello.c"), "-lc"]))
    assert first == with_machine_libs  # the machine's libraries are only checked against, never linked


REGISTRY_MAIN = r"""
#include <stdio.h>
struct entry { const char *name; int value; };
#define REGISTER(n, v) static const struct entry entry_##n __attribute__((used, section("myreg"))) = { #n, v }
REGISTER(alpha, 1);
REGISTER(beta, 2);
extern const struct entry __start_myreg[], __stop_myreg[];
int main(void) {
    int sum = 0;
    for (const struct entry *e = __start_myreg; e < __stop_myreg; e++) {
        printf("%s=%d\n", e->name, e->value);
        sum += e->value;
    }
    return sum;
}
"""
REGISTRY_OTHER = """struct entry { const char *name; int value; };
static const struct entry entry_gamma __attribute__((used, section("myreg"))) = { "gamma", 4 };
"""


@pytest.mark.parametrize("arch", ARCHES)
def test_start_stop_symbols_bound_a_section_gathered_from_every_object(objs, tmp_path, arch):
    """A registry in a section named by a C identifier, walked from __start_myreg to __stop_myreg
    (GNU ld's encapsulation symbols): the sections of both objects are kept, though nothing else
    refers to them, and lie together between the two symbols."""
    main = objs(arch, "registry_main.c", REGISTRY_MAIN)
    other = objs(arch, "registry_other.c", REGISTRY_OTHER)
    exe = link_ok(arch, str(tmp_path / "registry"), [main, other, "-lc"])
    p = run_program(arch, exe)
    assert p.returncode == 7  # 1 + 2 + 4: every entry, once
    assert sorted(p.stdout.decode().split()) == ["alpha=1", "beta=2", "gamma=4"]
    with open(exe, "rb") as f:
        symtab = {s.name: s["st_value"] for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()}
    entry_size = 16 if get_arch(arch).bits == 64 else 8
    assert symtab["__stop_myreg"] - symtab["__start_myreg"] == 3 * entry_size


WRAP_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
int compute(int);
void *__real_malloc(size_t);
volatile int calls;
void *__wrap_malloc(size_t n) { calls++; return __real_malloc(n); }
int __real_compute(int);
int __wrap_compute(int x) { return __real_compute(x) * 10; }
int main(int argc, char **argv) {
    char *p = malloc(16 + argc);
    p[0] = 'x';
    printf("calls=%d compute=%d %c\n", calls, compute(4), p[0]);
    free(p);
    return 0;
}
"""


@pytest.mark.parametrize("arch", ARCHES)
def test_wrap_sends_calls_to_the_wrapper_and_real_to_the_original(tmp_path, arch):
    """GNU ld's --wrap (what mocking test frameworks use): malloc, imported from libc, and compute,
    defined in another object, each called through their __wrap_ function."""
    (tmp_path / "main.c").write_text(WRAP_MAIN)
    (tmp_path / "compute.c").write_text("int compute(int x) { return x + 1; }\n")
    exe = str(tmp_path / "wrap")
    args = ["-a", arch, "-O0", "-o", exe, "main.c", "compute.c", "-Wl,--wrap=malloc,--wrap=compute"]
    r = run_dyncc(args, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert run_program(arch, exe).stdout == b"calls=1 compute=50 x\n"  # (4 + 1) * 10, one malloc
    r = run_dyncc(args[:-1], cwd=str(tmp_path))  # without --wrap, __real_* are undefined, as with ld
    assert r.returncode == 1 and "undefined symbol: __real_compute" in r.stderr


CTOR = '#include <stdio.h>\n__attribute__((constructor)) static void hello(void) { puts("registered"); }\n'
JUST_MAIN = "int main(void) { return 0; }\n"


@pytest.mark.parametrize("arch", ARCHES)
def test_whole_archive_loads_members_nothing_refers_to(objs, tmp_path, arch):
    """--whole-archive ... --no-whole-archive (positional, as in GNU ld): an archive member that
    only registers itself (a constructor) is linked and runs; without it, or after
    --no-whole-archive, the member stays out. Through dyncc's -Wl, too, whose order is kept."""
    main, ctor = objs(arch, "just_main.c", JUST_MAIN), objs(arch, "ctor.c", CTOR)
    lib = str(tmp_path / "libreg.a")
    subprocess.run(["ar", "rcs", lib, ctor], check=True)
    whole = link_ok(arch, str(tmp_path / "whole"), [main, "--whole-archive", lib, "--no-whole-archive", "-lc"])
    assert run_program(arch, whole).stdout == b"registered\n"
    for args in ([main, lib, "-lc"], [main, "--whole-archive", "--no-whole-archive", lib, "-lc"]):
        plain = link_ok(arch, str(tmp_path / "plain"), args)
        assert run_program(arch, plain).stdout == b""
    src = tmp_path / "m.c"
    src.write_text(JUST_MAIN)
    out = str(tmp_path / "bydyncc")
    r = run_dyncc(["-a", arch, str(src), "-Wl,--whole-archive", lib, "-Wl,--no-whole-archive", "-o", out])
    assert r.returncode == 0, r.stderr
    assert run_program(arch, out).stdout == b"registered\n"


def _dynamic_tags(path: str) -> dict[str, list]:
    tags: dict[str, list] = {}
    with open(path, "rb") as f:
        for tag in ELFFile(f).get_section_by_name(".dynamic").iter_tags():
            tags.setdefault(tag.entry.d_tag, []).append(tag)
    return tags


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_gnu_ld_options_build_systems_pass(objs, tmp_path, arch):
    """--disable-new-dtags (DT_RPATH; the last of it and --enable-new-dtags holds),
    --export-dynamic-symbol, --sort-common, and what dynlink does anyway (-z separate-code,
    -z max-page-size=4096, --eh-frame-hdr, -rpath-link); -r and -shared are refused by name."""
    hello = objs(arch, "hello.c")
    base = [hello, "-lc", "-rpath", "/opt/x"]
    runpath = _dynamic_tags(link_ok(arch, str(tmp_path / "new"), [*base, "--enable-new-dtags"]))
    assert "DT_RUNPATH" in runpath and "DT_RPATH" not in runpath
    rpath = _dynamic_tags(link_ok(arch, str(tmp_path / "old"), [*base, "--disable-new-dtags"]))
    assert [t.rpath for t in rpath["DT_RPATH"]] == ["/opt/x"] and "DT_RUNPATH" not in rpath
    last = _dynamic_tags(link_ok(arch, str(tmp_path / "last"), [*base, "--disable-new-dtags", "--enable-new-dtags"]))
    assert "DT_RUNPATH" in last and "DT_RPATH" not in last
    exe = link_ok(
        arch, str(tmp_path / "exp"), [hello, "-lc", "--export-dynamic-symbol=main", "--export-dynamic-symbol", "ma?n"]
    )
    assert " main\n" in readelf("--dyn-syms", "-W", exe)
    anyway = ["-z", "separate-code", "-z", "max-page-size=4096", "-z", "common-page-size=0x1000", "--eh-frame-hdr"]
    same = link_ok(arch, str(tmp_path / "same"), [hello, "-lc", *anyway, "-rpath-link", "/nowhere"])
    with open(same, "rb") as f, open(link_ok(arch, str(tmp_path / "ref"), [hello, "-lc"]), "rb") as g:
        assert f.read() == g.read()
    assert run_program(arch, same).stdout == b"hello, world\n"
    r = dynlink(arch, str(tmp_path / "x"), [hello, "-lc", "-z", "max-page-size=65536"])
    assert r.returncode == 2 and "max-page-size=65536" in r.stderr
    for flag, what in (("-r", "relocatable objects"), ("-shared", "shared libraries")):
        r = dynlink(arch, str(tmp_path / "x"), [hello, flag])
        assert r.returncode == 2 and r.stderr == (
            f"dynlink: {flag} is not supported: dynlink writes executables and dynld modules, not {what}"
            + (" (ld -r)\n" if flag == "-r" else "\n")
        )


COMMONS = (
    "char a_small;\nshort b_mid;\nlong long c_big __attribute__((aligned(16)));\n"
    "int main(void) { return a_small + b_mid + (int)c_big; }\n"
)


def test_sort_common_places_commons_by_alignment(tmp_path):
    """Common symbols (-fcommon) go by name; with --sort-common, largest alignment first (GNU ld's
    descending order), read back from the symbol table."""
    obj = compile_hosted("amd64", str(_write(tmp_path / "commons.c", COMMONS)), str(tmp_path / "c.o"), ["-fcommon"])
    order = {}
    for name, extra in (("plain", []), ("sorted", ["--sort-common"])):
        exe = link_ok("amd64", str(tmp_path / name), [obj, "-lc", *extra])
        with open(exe, "rb") as f:
            syms = {s.name: s["st_value"] for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()}
        order[name] = sorted(("a_small", "b_mid", "c_big"), key=syms.__getitem__)
        assert run_program("amd64", exe).returncode == 0
    assert order == {"plain": ["a_small", "b_mid", "c_big"], "sorted": ["c_big", "b_mid", "a_small"]}


def _write(path, text: str):
    path.write_text(text)
    return path


BIG_ATOMIC = (
    "#include <stdio.h>\nstruct big { long a, b, c; };\nstruct big g = {1, 2, 3};\n"
    "int main(int argc, char **argv) {\n  struct big r;\n  __atomic_load(&g, &r, __ATOMIC_SEQ_CST);\n"
    '  printf("%ld %llu\\n", r.c, (unsigned long long)(argc + 1000000000000ULL) / (unsigned)(argc + 6));\n'
    "  return 0;\n}\n"
)
DIVIDE = (
    "#include <stdio.h>\nint main(int argc, char **argv) {\n"
    '  printf("3 %llu\\n", (unsigned long long)(argc + 1000000000000ULL) / (unsigned long long)(argc + 6));\n'
    "  return 0;\n}\n"
)


@pytest.mark.parametrize("arch", ARCHES)
def test_lgcc_and_latomic_name_compiler_rt(objs, tmp_path, arch):
    """-lgcc and -latomic (which gcc's toolchains keep compiler helpers and atomics in) are found,
    as scripts naming compiler-rt: an atomic load of a 24-byte struct (a call to __atomic_load)
    links and runs on 386 and amd64; arm's compiler-rt has no __atomic_ functions, so there
    the libraries are found and a program without such atomics links."""
    name, text = ("divide.c", DIVIDE) if arch == "arm" else ("big_atomic.c", BIG_ATOMIC)
    exe = link_ok(arch, str(tmp_path / "prog"), [objs(arch, name, text), "-lc", "-latomic", "-lgcc"])
    assert run_program(arch, exe).stdout == b"3 142857142857\n"


IFUNC = (
    "#include <stdio.h>\nstatic int impl(void) { return 42; }\n"
    "static int (*resolve(void))(void) { return impl; }\n"
    'int f(void) __attribute__((ifunc("resolve")));\n'
    'int main(void) { printf("%d\\n", f()); return 0; }\n'
)


@pytest.mark.parametrize("arch", ARCHES)
def test_an_indirect_function_is_refused_not_mislinked(objs, tmp_path, arch):
    """__attribute__((ifunc)) needs an IRELATIVE relocation that calls the resolver at start-up;
    dynlink writes none, and used to link calls to f as calls to the resolver (the program
    printed an address). It is refused, naming the symbol, with nothing written."""
    r = dynlink(arch, str(tmp_path / "prog"), [objs(arch, "ifunc.c", IFUNC), "-lc"])
    assert r.returncode == 1 and not (tmp_path / "prog").exists()
    assert r.stderr.endswith(
        ": symbol f is an indirect function (STT_GNU_IFUNC, __attribute__((ifunc))): "
        "dynlink does not write the IRELATIVE relocations that would call its resolver\n"
    ), r.stderr


#: a version of puts each arch's glibc has (its default), and amd64's memcpy's older one
SYMVER = {"amd64": ("puts", "GLIBC_2.2.5"), "386": ("puts", "GLIBC_2.0"), "arm": ("puts", "GLIBC_2.4")}


def _symver_source(name: str, version: str) -> str:
    return (
        "#include <stdio.h>\n#include <string.h>\n"
        f'__asm__(".symver {name},{name}@{version}");\n'
        'int main(int argc, char **argv) { char b[8]; memcpy(b, "hi", argc + 2); puts(b); return 0; }\n'
    )


@pytest.mark.parametrize("arch", ARCHES)
def test_symver_references_import_that_version(objs, tmp_path, arch):
    """__asm__(".symver name,name@VERSION") makes the object refer to ``name@VERSION`` (how programs
    pick an older glibc's symbol); it is imported at that version (readelf shows the dynamic
    symbol's version), and the program runs. A version the library lacks is undefined."""
    name, version = SYMVER[arch]
    checks = [(name, version)] + ([("memcpy", "GLIBC_2.2.5")] if arch == "amd64" else [])
    for sym, ver in checks:
        obj = objs(arch, f"symver_{sym}.c", _symver_source(sym, ver))
        exe = link_ok(arch, str(tmp_path / f"prog_{sym}"), [obj, "-lc"])
        assert f" {sym}@{ver} " in readelf("--dyn-syms", "-W", exe) + " ", readelf("--dyn-syms", "-W", exe)
        assert run_program(arch, exe).stdout == b"hi\n"
    bad = objs(arch, "symver_bad.c", _symver_source("puts", "GLIBC_9.9"))
    r = dynlink(arch, str(tmp_path / "bad"), [bad, "-lc"])
    assert r.returncode == 1 and "undefined symbol: puts@GLIBC_9.9" in r.stderr, r.stderr
