"""What a ``dynlink`` command pays before it links: the modules it imports.

A link of a small program is mostly start-up (see bench/README.md). These tests run a
real ``-lc`` link in a fresh interpreter without ``site``'s own imports (``python -S``,
the site directories put on ``sys.path`` by hand, so ``ziglang`` is found) and check that
the standard library's costly modules stay out of it, then run the program.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import run_program
from hosted_build import HOSTED_DIR, compile_hosted

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Modules a link has no use for, each costing a command 1 to 15 ms to import.
NOT_IMPORTED = (
    "typing",  # toolchain.records.NamedTuple instead
    "json",  # the C library manifest is plain text
    "importlib.util",
    "importlib.metadata",
    "dataclasses",
    "inspect",
    "hashlib",
    "shutil",
    "tempfile",
    "subprocess",
    "pathlib",
    "yaml",
    "argparse",  # a plain command line is read without it (dynlink's _parse_simple)
    "gettext",
    "locale",
    "re",  # linker scripts are scanned by hand; directives import it only to check names
    "enum",  # reloc.Kind is a plain class
    "ctypes",  # 1.5 ms: only links with enough relocations use the C library (linker.native)
    "toolchain.linker.native",
)

LINK_AND_LIST = """
import site, sys
sys.path[:0] = [{root!r}]
sys.path += site.getsitepackages()
before = set(sys.modules)
from toolchain.linker.main import main
status = main({args!r})
print(" ".join(sorted(set(sys.modules) - before)))
sys.exit(status)
"""


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_a_link_imports_nothing_costly(tmp_path, arch):
    obj = compile_hosted(arch, os.path.join(HOSTED_DIR, "hello.c"), str(tmp_path / "hello.o"))
    out = str(tmp_path / "hello")
    code = LINK_AND_LIST.format(root=ROOT, args=["-a", arch, "-o", out, obj, "-lc", "-lm", "-E"])
    r = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    imported = set(r.stdout.split())
    assert "toolchain.linker.glibc" in imported  # the link did load the C library
    assert sorted(imported.intersection(NOT_IMPORTED)) == []
    assert run_program(arch, out).stdout == b"hello, world\n"


def test_dynlink_script_is_the_collector_free_entry_without_re():
    """dynlink is installed as ``scripts/dynlink`` (pip's console-script wrapper imports ``re``):
    the script runs ``command.main``, which turns the collector off before importing the linker."""
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        assert 'script-files = ["scripts/dynlink"]\n' in f.read()
    with open(os.path.join(ROOT, "scripts", "dynlink"), encoding="utf-8") as f:
        script = f.read()
    assert script.startswith("#!python\n")
    assert "import re" not in script
    code = (
        f"import gc, sys; sys.path.insert(0, {ROOT!r}); from toolchain.linker import command, main;"
        "main.command_main = lambda: print(gc.isenabled()); command.main()"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout == "False\n", r.stderr
    from_checkout = script.replace("from dyntools.toolchain.", "from toolchain.")  # the package's name in a checkout
    r = subprocess.run(
        [sys.executable, "-c", from_checkout, "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert r.returncode == 0 and r.stdout.startswith("dynlink (dyntools)"), r.stderr


#: What only links with shared inputs, the C library, a dynamic section or a map import.
HOSTED_ONLY = {
    "toolchain.cc.hosted",  # finding ziglang, with importlib.machinery and functools
    "importlib.machinery",
    "toolchain.linker.glibc",
    "toolchain.linker.shlib",
    "toolchain.cachedir",
    "zlib",  # the shared-library cache
    "marshal",
    "toolchain.linker.dynamic",
    "toolchain.linker.mapfile",
    "mmap",  # only objects over MAP_THRESHOLD are mapped
}


def test_a_link_without_the_c_library_does_not_load_its_machinery(tmp_path):
    """A static link imports none of what shared inputs, the C library and dynamic sections need."""
    from tests.unit import elfbuild as eb

    obj = eb.Obj(
        "amd64",
        [eb.Sec(".text", b"\xf4", eb.SHF_ALLOC | eb.SHF_EXECINSTR)],
        [eb.Sym("_start", ".text", type=eb.STT_FUNC)],
        [],
    )
    path = tmp_path / "start.o"
    path.write_bytes(eb.build(obj))
    code = LINK_AND_LIST.format(root=ROOT, args=["-a", "amd64", "-o", str(tmp_path / "out"), str(path)])
    r = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    imported = set(r.stdout.split())
    assert "toolchain.linker.hosted" in imported and "toolchain.linker.elfout" in imported
    assert sorted(imported & {*HOSTED_ONLY, *NOT_IMPORTED}) == []
