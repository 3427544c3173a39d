"""The built wheel, installed (not editable) in a fresh venv, as a user outside this repository has it.

One wheel is built from a copy of the repository's packaged files and installed into a
venv that sees the system's site-packages (SCons, PyYAML, ziglang) but takes dyntools
from the wheel.  A project written from the README's SConstruct (a host, two modules,
a program; every arch) is built with the installed tool and its programs are run.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.conftest import run_program

REPO = Path(__file__).resolve().parents[1]
PACKAGED = ("pyproject.toml", "README.md", "toolchain", "site_scons", "man", "scripts")
TOOLS = ("dyncc", "dynlink", "dyninfo", "dynsig", "dynexport", "dynld-config")
ARCHES = ("386", "amd64", "arm")

#: The sources of the README project; what each program prints is worked out in the comments.
SOURCES: dict[str, str] = {
    "api.h": """
        void host_print(char *s);
        int host_twice(int x);
        extern char *plugin_name;
        int plugin_run(int n);
    """,
    "exports.yaml": """
        headers: [api.h]
        exports: [host_print, host_twice]
    """,
    "host.c": """
        #include <fcntl.h>
        #include <stdio.h>
        #include <unistd.h>
        #include "dynld.h"
        #include "api.h"

        void host_print(char *s) { printf("  %s\\n", s); }
        int host_twice(int x) { return 2 * x; }

        int
        main(int argc, char **argv)
        {
            int i, fd;
            Dynobj *o;

            for(i = 1; i < argc; i++){
                fd = open(argv[i], O_RDONLY);
                o = fd < 0 ? 0 : dynloadfd(fd, _exporttab, dyntabsize(_exporttab), 0);
                if(o == 0){
                    printf("%s: %s\\n", argv[i], dynerror());
                    return 1;
                }
                char **name = dynimport(o, "plugin_name", 0);
                int (*run)(int) = (int (*)(int))dynimport(o, "plugin_run", 0);
                printf("%s %d\\n", *name, run(10));
                dynobjfree(o);
                close(fd);
            }
            return 0;
        }
    """,
    "greet.yaml": """
        headers: [api.h]
        exports: [plugin_name, plugin_run]
        imports: [host_print, host_twice]
    """,
    # plugin_run(10) = host_twice(10) + 1 = 21
    "greet.c": """
        #include "api.h"
        char *plugin_name = "greet";
        int plugin_run(int n) { host_print("hello from greet"); return host_twice(n) + 1; }
    """,
    "calc.yaml": """
        headers: [api.h]
        exports: [plugin_name, plugin_run]
    """,
    # plugin_run(10) = fib(10) = 55 (0 1 1 2 3 5 8 13 21 34 55)
    "calc.c": """
        #include "api.h"
        int fib(int n);
        char *plugin_name = "calc";
        int plugin_run(int n) { return fib(n); }
    """,
    "fib.c": """
        int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
    """,
    # prints its argument count and first argument: "hello 2 x"
    "hello.c": """
        #include "rt.h"
        int main(int argc, char **argv) { print_str("hello "); print_int(argc); print_str(" ");
            print_str(argv[1]); print_nl(); return 0; }
    """,
}

HOST_OUTPUT = "  hello from greet\ngreet 21\ncalc 55\n"


def readme_sconstruct() -> str:
    """The README's SConstruct: its python block that calls DynHost."""
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    found = [b for b in blocks if "DynHost(" in b]
    assert len(found) == 1, "README: one python block with DynHost"
    return found[0]


class Venv:
    """A venv holding the installed wheel; runs commands with only its bin/ added to PATH."""

    def __init__(self, root: Path):
        self.root = root
        self.bin = root / "bin"
        self.python = self.bin / "python"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SCONS", "DYNTOOLS", "PYTHON"))}
        env.pop("DYNCC_CC", None)
        env["PATH"] = f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.root)
        return env

    def run(self, *cmd: str | Path, cwd: Path, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(c) for c in cmd], cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
            assert "Traceback" not in proc.stderr
        return proc

    def scons(self, cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(self.python, "-m", "SCons", "-Q", *args, cwd=cwd, check=check)


def _shared_dir(tmp_path_factory, name: str, make) -> Path:
    """``make(dir)`` once for all xdist workers (a shared directory and a lock); the directory."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    root, done = base / name, base / f"{name}.done"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            make(root)
            done.write_text("ok\n")
    return root


def _build_wheel(base: Path) -> None:
    """The wheel, built from a copy of the packaged files (the checkout is left alone), in base/dist."""
    src = base / "src"
    for name in PACKAGED:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy(path, src / name)
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(base / "dist"), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:  # no package index: build with the setuptools at hand
        proc = subprocess.run([*cmd, "--no-build-isolation"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    (whl,) = (_shared_dir(tmp_path_factory, "pkg-wheel", _build_wheel) / "dist").glob("dyntools-*.whl")
    return whl


@pytest.fixture(scope="session")
def venv(wheel, tmp_path_factory) -> Venv:
    """A venv (seeing the system's site-packages) with the wheel installed, not editable."""

    def make(root: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(root / "v")], check=True)
        v = Venv(root / "v")
        v.run(v.python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=root)

    return Venv(_shared_dir(tmp_path_factory, "pkg-venv", make) / "v")


def test_wheel_has_one_top_level_package(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        top = {n.split("/")[0] for n in names}
        (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert z.read(top_level).decode().split() == ["dyntools"]
    assert {t for t in top if not t.startswith("dyntools-")} == {"dyntools"}, top
    parts = ("toolchain/linker/main.py", "toolchain/linker/bulkreloc.c", "toolchain/dynld/runtime/dynld.h")
    for part in (*parts, "toolchain/cc/rt/start.c"):
        assert f"dyntools/{part}" in names
    assert [n for n in names if n.startswith("dyntools/toolpath/")] == ["dyntools/toolpath/dyntools.py"]
    assert {n.rsplit("/", 1)[1] for n in names if "/share/man/man1/" in n} == {f"{t}.1" for t in TOOLS}


def test_installed_package_comes_from_the_wheel(venv, tmp_path):
    probe = (
        "import json, os, dyntools, dyntools.toolchain.linker.main as m\n"
        "print(json.dumps({'pkg': dyntools.__file__, 'linker': m.__file__,"
        " 'toolpath': sorted(os.listdir(dyntools.TOOLPATH))}))\n"
    )
    info = json.loads(venv.run(venv.python, "-c", probe, cwd=tmp_path).stdout)
    site = str(venv.root / "lib")
    assert info["pkg"].startswith(site) and info["linker"].startswith(site), info
    assert [n for n in info["toolpath"] if n != "__pycache__"] == ["dyntools.py"]
    for tool in TOOLS:
        assert (venv.root / "share/man/man1" / f"{tool}.1").is_file()
        out = venv.run(venv.bin / tool, "--version", cwd=tmp_path).stdout
        assert f"{tool} (dyntools) " in out, out  # dyncc answers clang-style first (for Meson)
    words = venv.run("dynld-config", "--cflags", "--sources", cwd=tmp_path).stdout.split()
    assert words[0].startswith("-I" + site) and words[0].endswith("dynld/runtime")
    assert len(words) > 1 and all(w.startswith(site) and w.endswith(".c") for w in words[1:]), words


def test_installed_linker_builds_and_loads_its_relocation_library(venv, tmp_path):
    """The C relocation loop ships as source with the package and is built on first use, into the
    cache directory: without it an installed dynlink would relocate in Python alone, as slowly."""
    probe = "from dyntools.toolchain.linker import native; print(native.library() is not None, native.library_path())"
    env_cache = tmp_path / "cache"
    cmd = ["env", f"DYNTOOLS_CACHE_DIR={env_cache}", str(venv.python), "-c", probe]
    loaded, path = venv.run(*cmd, cwd=tmp_path).stdout.split()
    assert loaded == "True" and path.startswith(str(env_cache)) and os.path.isfile(path)


def test_toolpath_holds_only_the_dyntools_tool(venv, tmp_path):
    (tmp_path / "SConstruct").write_text(
        "import dyntools\nenv = Environment(tools=[])\n"
        "env.Tool('dyntools', toolpath=[dyntools.TOOLPATH])\n"
        "print('LOADED', sorted(b for b in env['BUILDERS'] if b.startswith('Dyn')))\n"
        "import dyntools as again\nprint('PACKAGE', again.TOOLPATH == dyntools.TOOLPATH, again.__name__)\n"
        "env.Tool('yaml', toolpath=[dyntools.TOOLPATH])\n"
    )
    proc = venv.scons(tmp_path, "-n", check=False)
    assert "LOADED ['DynArchive', 'DynModule', 'DynObject', 'DynProgram']" in proc.stdout, proc.stdout + proc.stderr
    assert "PACKAGE True dyntools" in proc.stdout
    assert proc.returncode != 0
    assert "No tool module 'yaml' found" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_dynarch_is_reported_when_the_tool_loads_or_clones(venv, tmp_path):
    start = "import dyntools\nenv = Environment(tools=['dyntools'], toolpath=[dyntools.TOOLPATH]"
    load = start + ", DYNARCH='vax')\n"
    clone = start + ")\nenv.Clone(DYNARCH='z80')\n"
    for script, name in ((load, "vax"), (clone, "z80")):
        (tmp_path / "SConstruct").write_text(script)
        proc = venv.scons(tmp_path, "-n", check=False)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        want = rf"^scons: \*\*\* dyntools: DYNARCH: unknown arch: '{name}' \(known: 386, amd64, arm"
        assert re.search(want, proc.stderr, re.M), proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.fixture(scope="session")
def readme_project(venv, tmp_path_factory) -> Path:
    """The README's project, built for every arch with the installed tool (tests only read it)."""

    def make(root: Path) -> None:
        (root / "SConstruct").write_text(readme_sconstruct())
        for name, text in SOURCES.items():
            (root / name).write_text(textwrap.dedent(text).lstrip("\n"))
        venv.scons(root, "-j2", f"arches={','.join(ARCHES)}")

    return _shared_dir(tmp_path_factory, "pkg-readme", make)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_readme_project_builds_and_runs(readme_project, arch):
    out = readme_project / "build" / arch
    mods = [str(out / "greet.dlm"), str(out / "calc.dlm")]
    host = run_program(arch, str(out / "host"), mods)
    assert (host.returncode, host.stdout.decode()) == (0, HOST_OUTPUT), host.stderr
    hello = run_program(arch, str(out / "hello"), ["x"])
    assert (hello.returncode, hello.stdout.decode()) == (0, "hello 2 x\n")
    assert (out / "host.objs" / "host.o").is_file() and not (readme_project / "host.o").exists()


def test_readme_project_commands_run_as_printed(venv, readme_project, tmp_path):
    help_text = venv.scons(readme_project, "-h").stdout
    for name in ("arches:", "VERBOSE:", "DYNHOST:"):
        assert name in help_text, help_text
    printed = venv.scons(readme_project, "-n", "arches=amd64", "VERBOSE=1").stdout.splitlines()
    assert printed == ["scons: `.' is up to date."], printed
    copy = tmp_path / "p"
    shutil.copytree(readme_project, copy, ignore=shutil.ignore_patterns("build", ".sconsign*"))
    lines = venv.scons(copy, "-n", "arches=amd64", "VERBOSE=1").stdout.splitlines()
    compile_greet = [line for line in lines if line.startswith("dyncc ") and "greet.c" in line]
    link_greet = [line for line in lines if line.startswith("dynlink ") and "greet.dlm" in line]
    assert len(compile_greet) == 1 and len(link_greet) == 1, lines
    assert "python" not in compile_greet[0] + link_greet[0]
    (copy / "build" / "amd64").mkdir(parents=True)
    for line in compile_greet + link_greet:
        venv.run("sh", "-c", line, cwd=copy)
    assert (copy / "build/amd64/greet.dlm").read_bytes() == (readme_project / "build/amd64/greet.dlm").read_bytes()
    quiet = venv.scons(copy, "arches=amd64", "build/amd64/calc.dlm").stdout.splitlines()
    assert quiet and all(re.match(r"^(dyncc|dynlink -u) +\[amd64\] build/amd64/\S+$", line) for line in quiet), quiet


def test_toolchain_imports_itself_relatively():
    """The toolchain works as ``toolchain`` (checkout) and ``dyntools.toolchain`` (wheel)."""
    proc = subprocess.run(
        [sys.executable, "tools/relative_imports.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_man_pages_are_current_and_list_every_option():
    proc = subprocess.run([sys.executable, "tools/genman.py", "--check"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for tool, (module, entry) in {
        "dynlink": ("toolchain.linker.main", "main"),
        "dynexport": ("toolchain.dynld.cli", "dynexport_main"),
        "dynld-config": ("toolchain.dynld.config", "main"),
        "dyninfo": ("toolchain.info", "main"),
    }.items():
        code = f"import sys; from {module} import {entry}; sys.exit({entry}(['--help']))"
        help_text = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True).stdout
        page = (REPO / "man" / f"{tool}.1").read_text().replace("\\-", "-").replace("\\fB", "").replace("\\fR", "")
        for option in sorted(set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", help_text.split("options:")[-1]))):
            assert option in page, (tool, option)
