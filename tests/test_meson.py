"""examples/meson built with Meson and ninja for every arch, its programs run, and depfiles checked.

The example's commands are found through a second cross file naming this checkout's
command scripts (as written by the SCons tool's ``locate.scripts_dir``), so the test
drives this checkout's toolchain even where another dyntools is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_program

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "site_scons"
EXAMPLE = REPO / "examples" / "meson"
ARCHES = ("386", "amd64", "arm")
#: host: greet's plugin_run(10) = host_twice(10) + 1 = 21; calc's = fib(10) = 55.
HOST_OUTPUT = "  hello from greet\ngreet 21\ncalc 55\n"

pytestmark = pytest.mark.skipif(shutil.which("ninja") is None, reason="ninja is not installed")


def _scripts_dir() -> str:
    if str(SITE) not in sys.path:
        sys.path.insert(0, str(SITE))
    from dyntools import locate

    return locate.scripts_dir()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DYNTOOLS", "MESON"))}
    env["PYTHONPATH"] = str(SITE)
    return env


def run(*cmd: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{cmd}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def setup(root: Path, arch: str) -> Path:
    """Copy the example to ``root/src``, configure ``root/build`` for ``arch``; the build dir."""
    src = root / "src"
    shutil.copytree(EXAMPLE, src)
    scripts = _scripts_dir()
    tools = root / "tools.ini"
    names = ("dynlink", "dynexport", "dynld-config")
    lines = ["[binaries]", f"c = ['{scripts}/dyncc', '-a', '{arch}']", *[f"{n} = '{scripts}/{n}'" for n in names]]
    lines.append(f"python3 = '{sys.executable}'")
    tools.write_text("\n".join(lines) + "\n")
    meson = [sys.executable, "-m", "mesonbuild.mesonmain"]
    run(
        *meson,
        "setup",
        "--cross-file",
        src / "cross" / f"{arch}.ini",
        "--cross-file",
        tools,
        root / "build",
        src,
        cwd=root,
    )
    return root / "build"


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_meson_example_builds_tests_and_runs(tmp_path, arch):
    build = setup(tmp_path, arch)
    meson = [sys.executable, "-m", "mesonbuild.mesonmain"]
    run(*meson, "compile", "-C", build, cwd=tmp_path)
    out = run(*meson, "test", "-C", build, cwd=tmp_path).stdout
    assert re.search(r"^Ok:\s+2\s*$", out, re.M) and re.search(r"^Fail:\s+0\s*$", out, re.M), out
    host = run_program(arch, str(build / "host"), [str(build / "greet.dlm"), str(build / "calc.dlm")])
    assert (host.returncode, host.stdout.decode()) == (0, HOST_OUTPUT), host.stderr
    hello = run_program(arch, str(build / "hello"), ["x"])
    assert (hello.returncode, hello.stdout.decode()) == (0, "hello 2 x\n")


def _ninja_rebuilt(build: Path) -> set[str]:
    out = run("ninja", "-C", build, cwd=build).stdout
    made = re.findall(
        r"(?:Generating (\S+) with a custom command|Compiling C object \S+/(\S+)|Linking static target (\S+))", out
    )
    return {next(name for name in names if name) for names in made}


@pytest.mark.slow
def test_a_header_named_by_manifests_rebuilds_exactly_what_depends_on_it(tmp_path):
    src_root = tmp_path
    build = setup(src_root, "amd64")
    src = src_root / "src"
    # extra.h: named by the host's exports.yaml and greet's manifest, included by no C file.
    (src / "extra.h").write_text("typedef int extra_t;\n")
    for manifest, old in (("exports.yaml", "headers: [hostapi.h]"), ("greet.yaml", "headers: [hostapi.h, plugin.h]")):
        text = (src / manifest).read_text()
        assert old in text
        (src / manifest).write_text(text.replace(old, old[:-1] + ", extra.h]"))
    run("ninja", "-C", build, cwd=build)
    assert _ninja_rebuilt(build) == set()
    with open(src / "extra.h", "a") as f:
        f.write("typedef long extra2_t;\n")
    assert _ninja_rebuilt(build) == {"exporttab", "host", "greet.dlm"}
    assert _ninja_rebuilt(build) == set()
    with open(src / "calc.h", "a") as f:  # named by calc.yaml, included by calc.c and fib.c
        f.write("/* edited */\n")
    assert _ninja_rebuilt(build) == {"calc.c.o", "fib.c.o", "libcalc-objects.a", "calc.dlm"}


ORDINARY_MESON = """\
project('ordinary', 'c')
m = meson.get_compiler('c').find_library('m')
test('hello', executable('hello', 'hello.c', dependencies : m))
"""
ORDINARY_C = '#include <stdio.h>\n#include <math.h>\nint main(void) { printf("%.3f\\n", sqrt(2.0)); return 0; }\n'


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_an_ordinary_program_with_only_the_compiler_line(tmp_path, arch):
    """dyncc as Meson's compiler with nothing else: Meson's sanity check, find_library('m') and a
    main() program linked with glibc's start files and imports (arm through the exe_wrapper)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "meson.build").write_text(ORDINARY_MESON)
    (src / "hello.c").write_text(ORDINARY_C)
    lines = ["[binaries]", f"c = ['{_scripts_dir()}/dyncc', '-a', '{arch}']"]
    if arch == "arm":
        lines.append("exe_wrapper = ['qemu-arm', '-L', '/usr/arm-linux-gnueabihf']")
    cpu = {"amd64": "x86_64", "arm": "arm"}[arch]
    lines += ["[host_machine]", "system = 'linux'", f"cpu_family = '{cpu}'", f"cpu = '{cpu}'", "endian = 'little'"]
    (tmp_path / "cross.ini").write_text("\n".join(lines) + "\n")
    meson = [sys.executable, "-m", "mesonbuild.mesonmain"]
    run(*meson, "setup", "--cross-file", tmp_path / "cross.ini", tmp_path / "build", src, cwd=tmp_path)
    run(*meson, "compile", "-C", tmp_path / "build", cwd=tmp_path)
    out = run(*meson, "test", "-C", tmp_path / "build", cwd=tmp_path).stdout
    assert re.search(r"^Ok:\s+1\s*$", out, re.M), out
    hello = run_program(arch, str(tmp_path / "build" / "hello"))
    assert (hello.returncode, hello.stdout) == (0, b"1.414\n")


def test_a_native_build_with_cc_set_to_dyncc(tmp_path, monkeypatch):
    """``CC=dyncc meson setup``: no cross file and no -a, so dyncc targets this machine; $CC
    stays dyncc in the environment of every compile (dyncc must not take it for its compiler)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "meson.build").write_text(ORDINARY_MESON)
    (src / "hello.c").write_text(ORDINARY_C)
    monkeypatch.setenv("CC", f"{_scripts_dir()}/dyncc")
    meson = [sys.executable, "-m", "mesonbuild.mesonmain"]
    out = run(*meson, "setup", tmp_path / "build", src, cwd=tmp_path).stdout
    assert "C compiler for the host machine: " in out and "dyncc" in out
    run(*meson, "compile", "-C", tmp_path / "build", cwd=tmp_path)
    out = run(*meson, "test", "-C", tmp_path / "build", cwd=tmp_path).stdout
    assert re.search(r"^Ok:\s+1\s*$", out, re.M), out
    hello = subprocess.run([str(tmp_path / "build" / "hello")], capture_output=True, timeout=60)
    assert (hello.returncode, hello.stdout) == (0, b"1.414\n")
