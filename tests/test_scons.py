"""The SCons tool (site_scons/dyntools) driving the real toolchain in small temp projects.

Every project here is built by running SCons as a separate process (``python -m SCons``)
outside the repository, with the tool found through ``PYTHONPATH``, and its programs are
RUN (amd64 natively).  What gets rebuilt is read from SCons' own ``--debug=explain``
output; outputs are compared with values worked out by hand in the sources' comments.
The example project (examples/project, all three arches) is the ``slow`` test.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_program

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "site_scons"
EXAMPLE = REPO / "examples" / "project"

# ----------------------------------------------------------------------------- the mini project
# A host (glibc, zig cc) loading two dynld modules, one of them two files, and a static program.
MINI: dict[str, str] = {
    "SConstruct": """
        import dyntools

        env = Environment(tools=["dyntools"], toolpath=[dyntools.TOOLPATH], DYNARCH="amd64")
        env.Decider(ARGUMENTS.get("decider", "content-timestamp"))
        if ARGUMENTS.get("implicit"):
            SetOption("implicit_cache", 1)
        if ARGUMENTS.get("cache"):
            CacheDir(ARGUMENTS["cache"])
        env["DYNMAP"] = ARGUMENTS.get("map", 0)
        for var in ["DYNCCCOMSTR", "DYNLINKCOMSTR", "DYNMODULECOMSTR", "EXPORTTABCOMSTR", "ZIGCCCOMSTR",
                    "ZIGLINKCOMSTR", "DYNARCOMSTR", "DYNCOPYCOMSTR"]:
            env[var] = "TOOL %s $TARGET" % var
        parts = SConscript("SConscript", variant_dir="build", duplicate=False, exports="env")
        Default(parts["built"])
        Alias("check", parts["checks"])
        Alias("badcheck", parts["bad"])
    """,
    "SConscript": """
        Import("env")
        rt_start, rt_lib = env.DynRuntime("rt/rt")
        henv = env.Clone()
        dynld = henv.DynldLibrary("host/dynld")
        henv.Append(ZIGCPPPATH=["$DYNLDCPPPATH"])
        host = henv.HostProgram("host/host", ["host/host.c", henv.ExportTable("host/exports.yaml")] + dynld)
        menv = env.Clone(DYNCPPPATH=["#host"])
        mod_a = menv.DynModule("mods/a", ["mods/a1.c", "mods/a2.c"], manifest="mods/a.yaml")
        mod_b = menv.DynModule("mods/b", ["mods/b.c"], manifest="mods/b.yaml")
        senv = env.Clone()
        senv.Append(DYNCPPPATH=["$DYNRTCPPPATH"])
        prog = senv.DynProgram("prog", [rt_start, "prog.c", rt_lib])
        checks = [
            env.DynCheck("host.out", host, "#expected/host.txt", args=[mod_a[0], mod_b[0]], depends=mod_a + mod_b),
            env.DynCheck("prog.out", prog, "#expected/prog.txt", args=["x"]),
        ]
        bad = env.DynCheck("bad.out", prog, "#expected/bad.txt")
        parts = {"built": host + mod_a + mod_b + prog, "checks": checks, "bad": bad}
        Return("parts")
    """,
    "host/api.h": """
        int host_twice(int x);
        extern int host_base;
    """,
    "host/exports.yaml": """
        headers: [api.h]
        exports: [host_base, host_twice]
    """,
    "host/host.c": """
        #include <fcntl.h>
        #include <stdio.h>
        #include <unistd.h>
        #include "dynld.h"
        #include "api.h"

        int host_base = 100;
        int host_twice(int x) { return 2 * x; }

        int main(int argc, char **argv)
        {
            for (int i = 1; i < argc; i++) {
                int fd = open(argv[i], O_RDONLY);
                Dynobj *o = dynloadfd(fd, _exporttab, dyntabsize(_exporttab), 0);
                if (o == NULL) {
                    printf("%s: %s\\n", argv[i], dynerror());
                    return 1;
                }
                int (*run)(int) = (int (*)(int))dynimport(o, "run", 0);
                printf("run(5) = %d\\n", run(5));
            }
            return 0;
        }
    """,
    # a: run(5) = host_twice(5) + 1 + host_base = 111
    "mods/a.yaml": """
        headers: [../host/api.h]
        exports: ["int run(int);"]
        imports: [host_base, host_twice]
    """,
    "mods/a1.c": """
        #include "api.h"
        int helper(int x);
        int run(int x) { return helper(x) + host_base; }
    """,
    "mods/a2.c": """
        #include "api.h"
        int helper(int x) { return host_twice(x) + 1; }
    """,
    # b: run(5) = host_twice(host_twice(5)) = 20; run's declaration comes from b_sigs.h
    # (and b_types.h, which it includes), headers only the manifest names.
    "mods/b.yaml": """
        headers: [../host/api.h, b_sigs.h]
        exports: [run]
        imports: [host_twice]
    """,
    "mods/b_sigs.h": """
        #include "b_types.h"
        bint run(bint x);
    """,
    "mods/b_types.h": """
        typedef int bint;
    """,
    "mods/b.c": """
        int host_twice(int x);
        int run(int x) { return host_twice(host_twice(x)); }
    """,
    "prog.c": """
        #include "rt.h"
        int main(int argc, char **argv)
        {
            print_str("prog: ");
            print_int(6 * 7);
            print_str(" ");
            print_str(argv[argc - 1]);
            print_nl();
            return 0;
        }
    """,
    "expected/host.txt": "run(5) = 111\nrun(5) = 20\n",
    "expected/prog.txt": "prog: 42 x\n",
    "expected/bad.txt": "prog: 43\n",
}

#: What the mini project builds from its sources (all of it; the null build builds none).
MINI_OUTPUTS = ["build/host/host", "build/mods/a.dlm", "build/mods/b.dlm", "build/prog"]


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text, dedented) under ``root``."""
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def scons(
    cwd: Path, *args: str, pythonpath: Path = SITE, timeout: float = 600, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run SCons in ``cwd`` as its own process, the tool found through PYTHONPATH only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCONS", "DYNTOOLS")) and k != "DYNCC_CC"}
    env["PYTHONPATH"] = str(pythonpath)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "SCons", "-Q", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"scons failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc


_EXPLAIN = re.compile(r"^scons: (?:rebuilding|building) `([^']+)' because", re.M)


def rebuilt(proc: subprocess.CompletedProcess) -> set[str]:
    """Targets SCons (``--debug=explain``) says it (re)built."""
    return set(_EXPLAIN.findall(proc.stdout))


def tool_runs(proc: subprocess.CompletedProcess) -> list[str]:
    """The tool command lines (the mini project's COMSTRs) that ran."""
    return [line for line in proc.stdout.splitlines() if line.startswith("TOOL ")]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def build_files(root: Path) -> dict[str, bytes]:
    """Every file SCons built under ``root/build``, by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "build").rglob("*")) if p.is_file()}


def shared_build(tmp_path_factory, name: str, build) -> tuple[Path, dict]:
    """``build(root)`` once for all xdist workers (a shared directory and a lock); its result.

    Tests treat the built tree as read-only (they copy it before changing anything).
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    root, done = base / name, base / f"{name}.done.json"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)
            done.write_text(json.dumps(build(root)))
    return root, json.loads(done.read_text())


def _proc_result(proc: subprocess.CompletedProcess) -> dict:
    return {"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


@pytest.fixture(scope="session")
def mini_built(tmp_path_factory) -> Path:
    """The mini project, built once (copy it with ``copy_built`` before changing it)."""

    def build(root: Path) -> dict:
        write_tree(root, MINI)
        return _proc_result(scons(root, "-j2"))

    root, result = shared_build(tmp_path_factory, "scons-mini", build)
    assert result["returncode"] == 0, result
    return root


@pytest.fixture
def copy_built(mini_built, tmp_path):
    """A private copy of the built mini project (timestamps kept: it is up to date)."""

    def make() -> Path:
        dst = tmp_path / "copy"
        shutil.copytree(mini_built, dst)
        return dst

    return make


# ----------------------------------------------------------------------------- loading the tool
LOADERS = {
    "toolpath": 'import dyntools\nenv = Environment(tools=["dyntools"], toolpath=[dyntools.TOOLPATH])\n',
    "generate": "import dyntools\nenv = Environment(tools=[dyntools.generate])\n",
    "site_dir": 'env = Environment(tools=[])\nenv.Tool("dyntools")\n',
}


@pytest.mark.parametrize("how", sorted(LOADERS))
def test_tool_loads_outside_the_repo(tmp_path, how):
    script = LOADERS[how] + (
        'print("BUILDERS", " ".join(sorted(b for b in env["BUILDERS"] if b.startswith(("Dyn", "Export", "Zig")))))\n'
        'print("METHODS", env.HostProgram is not None, env.DynldLibrary is not None, env.DynCheck is not None)\n'
        'import dyntools as _d\nprint("EXISTS", _d.exists(env))\n'
        'print("ARCH", env.subst("$DYNARCH"), env.subst("$ZIGTARGET"), env.subst("$DYNRUN"))\n'
        'env2 = env.Clone(DYNARCH="5")\n'
        'print("ARCH", env2.subst("${_dyn_arch(DYNARCH)}"), env2.subst("$ZIGTARGET"), env2.subst("$DYNRUN"))\n'
    )
    (tmp_path / "SConstruct").write_text(script)
    args = ["-n", "."] + ([f"--site-dir={SITE}"] if how == "site_dir" else [])
    out = ok(scons(tmp_path, *args, pythonpath=tmp_path if how == "site_dir" else SITE)).stdout
    assert (
        "BUILDERS DynArchive DynModule DynObject DynProgram ExportTable "
        "ZigObject ZigProgram ZigSharedLibrary ZigSharedObject" in out
    )
    assert "METHODS True True True" in out
    assert "EXISTS True" in out
    assert "ARCH amd64 x86_64-linux-gnu \n" in out or "ARCH amd64 x86_64-linux-gnu\n" in out
    assert re.search(r"ARCH arm arm-linux-gnueabihf \S*qemu-arm -L /usr/arm-linux-gnueabihf", out)


@pytest.mark.parametrize(("machine", "want"), [("armv7l", "arm"), ("i686", "386"), ("riscv64", "amd64")])
def test_dynarch_defaults_to_this_machines(tmp_path, machine, want):
    """As dyncc and dynlink without -a: the machine SCons runs on (amd64 on one that is none of ours)."""
    (tmp_path / "SConstruct").write_text(
        f"import os, sys\nu = os.uname()\nfake = os.uname_result((*u[:4], {machine!r}))\nos.uname = lambda: fake\n"
        "sys.maxsize = 2**31 - 1\n"  # a 32-bit Python, as on those machines
        + LOADERS["toolpath"]
        + 'print("DEFAULT", env["DYNARCH"])\n'
    )
    assert f"DEFAULT {want}\n" in ok(scons(tmp_path, "-n", ".", pythonpath=SITE)).stdout


def test_bad_arch_is_one_line(tmp_path):
    (tmp_path / "SConstruct").write_text(LOADERS["toolpath"] + 'env["DYNARCH"] = "vax"\nenv.DynObject("a.c")\n')
    (tmp_path / "a.c").write_text("int a;\n")
    proc = scons(tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert re.search(r"^scons: \*\*\* .*dyntools: DYNARCH: unknown arch: 'vax'", proc.stderr, re.M), proc.stderr


# ----------------------------------------------------------------------------- building and running
def test_mini_builds_and_runs(copy_built):
    root = copy_built()
    for rel in MINI_OUTPUTS:
        assert (root / rel).is_file(), rel
    ok(scons(root, "check"))
    assert (root / "build/host.out").read_text() == "run(5) = 111\nrun(5) = 20\n"
    assert (root / "build/prog.out").read_text() == "prog: 42 x\n"


def test_check_mismatch_fails_with_a_diff(copy_built):
    root = copy_built()
    proc = scons(root, "badcheck")
    assert proc.returncode != 0
    assert "output differs from expected/bad.txt" in proc.stderr
    assert "-prog: 43\n+prog: 42" in proc.stderr.replace("\r", "")
    assert "Traceback" not in proc.stderr


def test_null_build_does_nothing(copy_built):
    root = copy_built()
    dry = ok(scons(root, "-n", "--debug=explain"))
    lines = [line for line in dry.stdout.splitlines() if line.strip()]
    assert lines and all(re.fullmatch(r"scons: `[^']+' is up to date\.", line) for line in lines), dry.stdout
    real = ok(scons(root, "--debug=explain"))
    assert rebuilt(real) == set() and tool_runs(real) == []


def test_editing_a_module_manifest_relinks_only_that_module(copy_built):
    root = copy_built()
    edit(root / "mods/a.yaml", "imports: [host_base, host_twice]", "imports: [host_twice, host_base]")
    proc = ok(scons(root, "--debug=explain"))
    assert rebuilt(proc) == {"build/mods/a.dlm"}, proc.stdout


def test_editing_the_export_manifest_regenerates_only_the_table(copy_built):
    root = copy_built()
    edit(root / "host/exports.yaml", "exports: [host_base, host_twice]", "exports: [host_twice, host_base]")
    proc = ok(scons(root, "--debug=explain"))
    # The table is sorted by name whatever the manifest's order: same text, nothing after it rebuilds.
    assert rebuilt(proc) == {"build/host/exports_exporttab.c"}, proc.stdout


def test_editing_a_header_only_a_manifest_names(copy_built):
    root = copy_built()
    # b.c still defines int run(int): the module's export signature changed, so it relinks.
    edit(root / "mods/b_sigs.h", "bint run(bint x);", "bint run(bint x, ...);")
    proc = ok(scons(root, "--debug=explain"))
    assert rebuilt(proc) == {"build/mods/b.dlm"}, proc.stdout
    # a header that header includes
    edit(root / "mods/b_types.h", "typedef int bint;", "typedef long bint;")
    proc = ok(scons(root, "--debug=explain"))
    assert rebuilt(proc) == {"build/mods/b.dlm"}, proc.stdout
    ok(scons(root, "check"))


def test_editing_one_plugin_file_rebuilds_only_that_module(copy_built):
    root = copy_built()
    edit(root / "mods/a2.c", "host_twice(x) + 1", "host_twice(x) + 2")
    edit(root / "expected/host.txt", "111", "112")
    proc = ok(scons(root, "--debug=explain", "check"))
    assert rebuilt(proc) - {"build/host.out", "build/prog.out"} == {"build/mods/a2.o", "build/mods/a.dlm"}
    assert (root / "build/host.out").read_text() == "run(5) = 112\nrun(5) = 20\n"


def test_a_new_pragma_recompiles_and_relinks(copy_built):
    root = copy_built()
    edit(root / "prog.c", '#include "rt.h"', '#include "rt.h"\n#pragma dynexport main prog_main')
    proc = ok(scons(root, "--debug=explain"))
    assert rebuilt(proc) == {"build/prog.o", "build/prog"}, proc.stdout
    dynsym = subprocess.run(["readelf", "--dyn-syms", "-W", str(root / "build/prog")], capture_output=True, text=True)
    assert re.search(r"FUNC\s+GLOBAL\s+\S+\s+\d+\s+prog_main$", dynsym.stdout, re.M), dynsym.stdout


#: The example project's settings: Decider("content") and implicit_cache.
EXAMPLE_SETTINGS = ("decider=content", "implicit=1")


def test_cached_dependencies_still_see_every_edit(copy_built):
    """With the example project's settings, quick builds in a row: a new #include, an edited
    header a C file includes, a manifest, a header only a manifest names each rebuild what
    depends on them; files touched but not changed rebuild nothing."""
    root = copy_built()

    def build(*args: str) -> subprocess.CompletedProcess:
        return ok(scons(root, *EXAMPLE_SETTINGS, "--debug=explain", *args))

    assert rebuilt(build()) == set()
    (root / "mods/a_const.h").write_text("#define A_ONE 1\n")
    edit(root / "mods/a2.c", '#include "api.h"', '#include "api.h"\n#include "a_const.h"')
    edit(root / "mods/a2.c", "host_twice(x) + 1", "host_twice(x) + A_ONE")
    first = rebuilt(build())
    assert "build/mods/a2.o" in first and first <= {"build/mods/a2.o", "build/mods/a.dlm"}, first
    # The header the new #include names is now a dependency: editing it recompiles and relinks,
    # even when a2.o is written twice within one second (content-timestamp would miss that).
    edit(root / "mods/a_const.h", "A_ONE 1", "A_ONE 2")
    edit(root / "expected/host.txt", "111", "112")
    proc = build("check")
    assert rebuilt(proc) - {"build/host.out", "build/prog.out"} == {"build/mods/a2.o", "build/mods/a.dlm"}
    assert (root / "build/host.out").read_text() == "run(5) = 112\nrun(5) = 20\n"
    edit(root / "mods/a.yaml", "imports: [host_base, host_twice]", "imports: [host_twice, host_base]")
    assert rebuilt(build()) == {"build/mods/a.dlm"}
    edit(root / "mods/b_types.h", "typedef int bint;", "typedef long bint;")
    assert rebuilt(build()) == {"build/mods/b.dlm"}
    for rel in ("mods/a1.c", "mods/b_sigs.h", "host/exports.yaml"):
        os.utime(root / rel, ns=(1_000_000_000, 1_000_000_000))  # a new timestamp, the same bytes
    assert rebuilt(build()) == set()


#: Modules only a build step or a scan needs; a null build with cached dependencies imports none of them.
STEP_MODULES = {"dyntools.workers", "dyntools.toolchain.dynld.manifest", "yaml", "pycparser", "difflib"}


def test_null_build_imports_no_step_code(copy_built):
    root = copy_built()
    ok(scons(root, *EXAMPLE_SETTINGS))
    proc = ok(scons(root, *EXAMPLE_SETTINGS, extra_env={"PYTHONPROFILEIMPORTTIME": "1"}))
    imported = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", proc.stderr, re.M))
    assert "dyntools.tool" in imported and "SCons.Script" in imported, proc.stderr[-2000:]
    assert imported & (STEP_MODULES | {"importlib.metadata"}) == set()


def test_ziglang_version_is_the_distributions():
    """The tool reads ziglang's version from its METADATA file: the one importlib.metadata gives."""
    code = "from dyntools import locate; print(locate.ziglang_version())"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(SITE)}
    )
    assert proc.stdout.strip() == importlib.metadata.version("ziglang"), proc.stderr


def test_dynmap_adds_map_outputs(copy_built):
    root = copy_built()
    proc = ok(scons(root, "map=1", "--debug=explain"))
    assert rebuilt(proc) == {f"{t}" for t in MINI_OUTPUTS if t != "build/host/host"}, proc.stdout
    for t in ("build/mods/a.dlm", "build/mods/b.dlm", "build/prog"):
        text = (root / f"{t}.map").read_text()
        assert text.strip(), t
    assert "run" in (root / "build/mods/a.dlm.map").read_text()
    ok(scons(root, "map=1", "check"))


# ----------------------------------------------------------------------------- errors
def test_bad_manifest_fails_with_one_line(tmp_path):
    root = write_tree(tmp_path / "p", {k: v for k, v in MINI.items()})
    (root / "host/exports.yaml").write_text("headers: [api.h]\nexports: [host_base]\nexprots: [host_twice]\n")
    proc = scons(root, "build/host/exports_exporttab.c")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert re.search(r"^dynexport: host/exports\.yaml:3: unknown key 'exprots'", proc.stderr, re.M), proc.stderr
    # the module manifest: dynlink reads it
    (root / "mods/b.yaml").write_text("headers: [../host/api.h]\nexports: [nosuch]\n")
    proc = scons(root, "build/mods/b.dlm")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert re.search(r"^dynlink: mods/b\.yaml:2: 'nosuch' is not declared", proc.stderr, re.M), proc.stderr


def test_bad_pragma_fails_with_one_line(tmp_path):
    root = write_tree(tmp_path / "p", {k: v for k, v in MINI.items()})
    edit(root / "mods/a2.c", '#include "api.h"', '#include "api.h"\n#pragma dynexport helper')
    proc = scons(root, "build/mods/a2.o")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert re.search(r"^dyncc: mods/a2\.c:2: usage: #pragma dynexport local remote$", proc.stderr, re.M), proc.stderr


# ----------------------------------------------------------------------------- CacheDir, reproducibility
def test_cache_shared_by_two_checkouts(tmp_path):
    cache = tmp_path / "cache"
    one = write_tree(tmp_path / "one" / "proj", MINI)
    two = write_tree(tmp_path / "second" / "place" / "proj", MINI)
    first = ok(scons(one, "-j2", f"cache={cache}"))
    assert len(tool_runs(first)) > 20
    second = ok(scons(two, "-j2", f"cache={cache}"))
    assert tool_runs(second) == [], second.stdout
    retrieved = re.findall(r"^Retrieved `([^']+)' from cache$", second.stdout, re.M)
    assert len(retrieved) == len(tool_runs(first))
    assert build_files(two) == build_files(one)
    ok(scons(two, "check"))


def test_outputs_are_reproducible_across_paths(mini_built, tmp_path):
    other = write_tree(tmp_path / "elsewhere" / "deeper" / "proj", MINI)
    ok(scons(other, "-j2"))
    a, b = build_files(mini_built), build_files(other)
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []
    for k, data in b.items():
        assert str(other).encode() not in data, k
        assert str(REPO).encode() not in data, k


# ----------------------------------------------------------------------------- toolchain fingerprints
def test_changing_the_toolchain_rebuilds_what_it_made(tmp_path):
    snap = tmp_path / "snap"
    for part in ("toolchain", "site_scons"):
        shutil.copytree(REPO / part, snap / part, ignore=shutil.ignore_patterns("__pycache__"))
    root = write_tree(
        tmp_path / "p",
        {
            "SConstruct": """
                import dyntools
                env = Environment(tools=["dyntools"], toolpath=[dyntools.TOOLPATH], DYNARCH="386")
                rt_start, rt_lib = env.DynRuntime("rt")
                env.Append(DYNCPPPATH=["$DYNRTCPPPATH"])
                env.DynProgram("prog", [rt_start, "prog.c", rt_lib])
            """,
            "prog.c": MINI["prog.c"],
        },
    )
    site = snap / "site_scons"
    ok(scons(root, "-j2", pythonpath=site))
    assert ok(scons(root, "--debug=explain", pythonpath=site)).stdout.count("rebuilding") == 0
    with open(snap / "toolchain/linker/main.py", "a") as f:
        f.write("\n# a change to the linker\n")
    assert rebuilt(ok(scons(root, "--debug=explain", pythonpath=site))) == {"prog"}
    with open(snap / "toolchain/cc/driver.py", "a") as f:
        f.write("\n# a change to the compiler driver\n")
    again = rebuilt(ok(scons(root, "--debug=explain", pythonpath=site)))
    objs = {str(p.relative_to(root)) for p in root.rglob("*.o")}
    assert len(objs) == 6 and objs <= again, again
    proc = subprocess.run([str(root / "prog"), "y"], capture_output=True, text=True)
    assert proc.stdout == "prog: 42 y\n"


# ----------------------------------------------------------------------------- the example project
@pytest.fixture(scope="session")
def example_built(tmp_path_factory) -> tuple[Path, dict]:
    """examples/project copied outside the repo and built for every arch, checks run."""

    def build(root: Path) -> dict:
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("build", ".sconsign*", "__pycache__"))
        return _proc_result(scons(root, "-j2", "-k", ".", "check"))

    return shared_build(tmp_path_factory, "scons-example", build)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["386", "amd64", "arm"])
@pytest.mark.parametrize("part", ["host", "dynprog", "primes"])
def test_example_project_check(example_built, arch, part):
    root, result = example_built
    assert "Traceback" not in result["stderr"]
    out = root / "build" / arch / "check" / f"{part}.out"
    assert out.is_file(), result["stdout"] + result["stderr"]
    assert out.read_text() == (root / "expected" / f"{part}.txt").read_text()
    program = {"host": "host/host", "dynprog": "dynprog/dynprog", "primes": "static/primes"}[part]
    assert f"dyncheck: build/{arch}/{program}:" not in result["stderr"]  # e.g. a bad exit status


@pytest.mark.slow
def test_example_project_null_build(example_built):
    root, first = example_built
    assert first["returncode"] == 0, first["stdout"] + first["stderr"]
    proc = ok(scons(root, "-n", "--debug=explain"))
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 18 and all(line.endswith("is up to date.") for line in lines), proc.stdout


ORDINARY: dict[str, str] = {
    "SConstruct": """
        import dyntools

        env = Environment(tools=["dyntools"], toolpath=[dyntools.TOOLPATH])
        for arch in ("386", "amd64", "arm"):
            a = env.Clone(DYNARCH=arch)
            objs = [a.DynObject(f"build/{arch}/{s[:-2]}.o", s, DYNCCFLAGS=["-O2"]) for s in ("main.c", "util.c")]
            a.DynProgram(f"build/{arch}/prog", objs, DYNLIBS=["c", "m"])
    """,
    "main.c": """
        #include <stdio.h>
        #include <stdlib.h>
        double root(double);
        int main(int argc, char **argv) { printf("%s %.4f\\n", argv[argc - 1], root(atof("2"))); return 0; }
    """,
    "util.c": """
        #include <math.h>
        double root(double x) { return sqrt(x); }
    """,
}


def test_dynprogram_of_an_ordinary_main_program_with_dynlibs(tmp_path):
    """The README's SCons recipe for a main() program: hosted objects, DYNLIBS=['c', 'm'], every arch."""
    root = write_tree(tmp_path / "p", ORDINARY)
    ok(scons(root))
    for arch in ("386", "amd64", "arm"):
        run = run_program(arch, str(root / "build" / arch / "prog"), ["x"])
        assert (run.returncode, run.stdout) == (0, b"x 1.4142\n"), run.stderr
