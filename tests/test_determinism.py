"""dynlink's outputs are reproducible: the same inputs give the same bytes whatever the working
directory, the absolute paths of the inputs and Python's hash seed.

Each case copies the same input files to two different directories and links there with a
different PYTHONHASHSEED: a static executable (the cprogs program, its rt as an archive), a
dynamic one (imports, versioned imports, many exports) and a dynld module (-u).  The
executables or modules must be equal byte for byte, and so must the --map files.  With
absolute input paths the outputs must still be equal, and the maps equal once the directory
prefix is taken out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import ARCHES, tool_env

from toolchain.cc.driver import compile_c
from toolchain.cc.runtime import rt_include_dir

VERSION = {"amd64": "GLIBC_2.2.5", "386": "GLIBC_2.0", "arm": "GLIBC_2.4"}
NEXPORTS = 24


def dynamic_source(arch: str) -> str:
    """A program importing from libc (one import versioned) and exporting many symbols."""
    lines = [
        '#pragma dynimport puts puts "libc.so.6"',
        f'#pragma dynimport exit exit#{VERSION[arch]} "libc.so.6"',
        '#pragma dynimport strlen strlen "libc.so.6"',
        '#pragma dynimport environ_slot environ "libc.so.6"',
        "int puts(const char *);",
        "unsigned long strlen(const char *);",
        "void *environ_slot;",
    ]
    for i in range(NEXPORTS):
        lines.append(f"#pragma dynexport exp{i} exported_{i * 7919 % 1000}_{i}")
        lines.append(f"int exp{i}(int x) {{ return x + {i}; }}" if i % 2 else f"int exp{i} = {i};")
    lines.append('int main(int argc, char **argv) { puts("hi"); return environ_slot == 0 || strlen(argv[0]) == 0; }')
    return "\n".join(lines) + "\n"


MODULE_SOURCE = (
    "\n".join(
        [f"#pragma dynexport mexp{i} mexp{i}" for i in range(12)]
        + [
            "extern int host_answer(void);",
            "extern int host_int;",
            "extern int host_array[];",
            "int *pv = &host_int;",
            'static const char *names[] = {"a", "bb", "ccc"};',
        ]
        + [
            f"int mexp{i}(int x) {{ return host_answer() + x + *pv + host_array[{i}] + (int)names[{i % 3}][0]; }}"
            if i % 3
            else f"int mexp{i} = {i};"
            for i in range(12)
        ]
    )
    + "\n"
)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, cprogs):
    """case -> (arch, {relative path: source file}, dynlink flags and inputs as relative paths)."""
    root = tmp_path_factory.mktemp("determinism-src")
    cases = {}
    for arch in ARCHES:
        objs = cprogs.objects(arch, "-O2", "plain")
        rt = [o for o in objs if os.path.basename(o).startswith("rt_")]
        prog = [o for o in objs if o not in rt]
        start = next(o for o in rt if os.path.basename(o) == "rt_start.o")
        rt.remove(start)  # the entry point is an object: only references pull archive members in
        lib = root / f"librt-{arch}.a"
        r = subprocess.run(["ar", "rcs", str(lib), *rt], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        files = {f"objs/{os.path.basename(o)}": o for o in prog + [start]}
        files["lib/librtx.a"] = str(lib)
        cases[("static", arch)] = (files, ["-L", "lib", "-l", "rtx", *sorted(k for k in files if k[:5] == "objs/")])

        src = root / f"dyn-{arch}.c"
        src.write_text(dynamic_source(arch))
        compile_c(arch, str(src), str(root / f"dyn-{arch}.o"), ["-ffreestanding"])
        files = {"objs/dyn.o": str(root / f"dyn-{arch}.o"), "objs/start.o": start}
        cases[("dynamic", arch)] = (files, ["--hash-style", "both", "objs/start.o", "objs/dyn.o"])

        src = root / f"mod-{arch}.c"
        src.write_text(MODULE_SOURCE)
        compile_c(arch, str(src), str(root / f"mod-{arch}.o"), ["-ffreestanding", "-I", rt_include_dir()])
        files = {"objs/mod.o": str(root / f"mod-{arch}.o")}
        cases[("module", arch)] = (files, ["-u", "objs/mod.o"])
    return cases


def link_in(base, files: dict[str, str], arch: str, args: list[str], seed: str, absolute: bool):
    """Copy the inputs under ``base`` and link there; returns (output bytes, map text)."""
    for rel, src in files.items():
        dst = base / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    (base / "out").mkdir()
    if absolute:
        args = [str(base / a) if a in files or a == "lib" else a for a in args]
    env = tool_env(PYTHONHASHSEED=seed)
    r = subprocess.run(
        [sys.executable, "-m", "toolchain.linker.main", "-a", arch, "-o", "out/prog", "--map", "out/prog.map", *args],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return (base / "out" / "prog").read_bytes(), (base / "out" / "prog.map").read_text()


@pytest.mark.parametrize("kind", ["static", "dynamic", "module"])
@pytest.mark.parametrize("arch", ARCHES)
def test_same_bytes_anywhere(inputs, tmp_path, kind, arch):
    files, args = inputs[(kind, arch)]
    one = tmp_path / "one" / "somewhere" / "deeper"
    two = tmp_path / "two"
    exe1, map1 = link_in(one, files, arch, args, "1", absolute=False)
    exe2, map2 = link_in(two, files, arch, args, "4242", absolute=False)
    assert len(exe1) > 0 and map1.strip()
    assert exe1 == exe2
    assert map1 == map2
    # absolute input paths (different ones), yet another hash seed
    exe3, map3 = link_in(tmp_path / "three" / "x", files, arch, args, "777", absolute=True)
    exe4, map4 = link_in(tmp_path / "four", files, arch, args, "0", absolute=True)
    assert exe3 == exe1 and exe4 == exe1
    assert str(tmp_path / "three") in map3
    assert map3.replace(str(tmp_path / "three" / "x") + "/", "") == map4.replace(str(tmp_path / "four") + "/", "")


def test_output_depends_on_inputs(inputs, tmp_path):
    """The comparison above can fail: a different input order changes the executable."""
    files, args = inputs[("static", "amd64")]
    objs = [a for a in args if a.startswith("objs/")]
    exe1, _ = link_in(tmp_path / "a", files, "amd64", args, "1", absolute=False)
    shuffled = [a for a in args if not a.startswith("objs/")] + objs[::-1]
    exe2, _ = link_in(tmp_path / "b", files, "amd64", shuffled, "1", absolute=False)
    assert exe1 != exe2


HOSTED_DEBUG_SOURCE = """#include <stdio.h>
#include <time.h>
struct tm when;
int main(void) { FILE *f = stdout; fprintf(f, "%d\\n", when.tm_sec + 7); return 0; }
"""


@pytest.mark.parametrize("arch", ARCHES)
def test_hosted_debug_program_names_no_machine_path(tmp_path, monkeypatch, arch):
    """A ``-g`` program against glibc: the object names the C library's headers as ``ziglang/...``,
    and two C library directories (built in different temporary directories) link the same
    bytes, which name neither the ziglang package nor dyntools' cache."""
    from conftest import run_program

    from toolchain.cc.hosted import ziglang_dir

    package = ziglang_dir()
    assert package is not None
    monkeypatch.chdir(tmp_path)  # compiled as a build does: relative names, from the project's directory
    (tmp_path / "when.c").write_text(HOSTED_DEBUG_SOURCE)
    obj = tmp_path / "when.o"
    compile_c(arch, "when.c", "when.o", ["-g", "-O1"])
    data = obj.read_bytes()
    assert b"ziglang/lib/libc/include" in data  # the headers' types are described: the map applied
    assert package.encode() not in data
    outputs = []
    for cache in ("cache-one", "cache-two"):
        env = tool_env(DYNTOOLS_CACHE_DIR=str(tmp_path / cache))
        out = tmp_path / f"when-{cache}"
        cmd = [sys.executable, "-m", "toolchain.linker.main", "-a", arch, "-o", str(out), str(obj), "-lc"]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert package.encode() not in outputs[0] and b"dyntools-libc-" not in outputs[0]
    assert str(tmp_path).encode() not in outputs[0]
    assert run_program(arch, str(tmp_path / "when-cache-one")).stdout == b"7\n"
