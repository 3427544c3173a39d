"""dynld end to end: modules linked by ``dyncc`` + ``dynlink -u`` from multi-file C, loaded by a
host whose ``_exporttab`` comes from its manifest, on 386, amd64 and arm (under qemu-arm).

The expected output is worked out here from the C sources' logic, not taken from a run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ARCHES, run_dyncc, run_program, tool_env

from toolchain.arch import get_arch
from toolchain.dynld import config
from toolchain.dynld.manifest import load_manifest
from toolchain.dynld.module import decode, describe, header_size, module_kind

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "modprogs")
GNU_TARGETS = {n: get_arch(n).gnu_triple for n in ("386", "amd64", "arm")}  # zig targets linked against glibc


def _expected() -> str:
    words = ["zero", "one", "two", "three", "four", "five"]
    out, counter = [], 1000
    # alpha
    nhistory = 1  # mod_add ran once
    out += ["module alpha: 3 exports", f"add(2, 3) = {2 + 3 + 2 * 2}"]
    for n in (4, 5):
        r = 2 * n if n % 2 == 0 else n * n
        out += [f"alpha: {words[n]} -> {r} (from the host)", f"log: {words[n]}"]
        counter += r
        out.append(f"run({n}) = {r + nhistory}")
    out.append(f"host_counter = {counter}")

    def fib(k: int) -> int:
        return k if k < 2 else fib(k - 1) + fib(k - 2)

    out += ["module beta: 3 exports", f"add(2, 3) = {3 + 200}"]
    for n in (4, 5):
        if n % 2 == 0:
            r, line = fib(n + 6), f"beta: fib({n + 6}) = {fib(n + 6)}"
        else:
            r, line = -(n + 6), f"beta: negate({n + 6}) = {-(n + 6)}"
        counter -= 1
        out += [line, f"run({n}) = {r}"]
    out.append(f"host_counter = {counter}")
    return "\n".join(out) + "\n"


def _tool(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, env=tool_env())


def _module(tmp, arch: str, name: str, sources: list[str], manifest: str) -> str:
    objs = []
    for src in sources:
        obj = str(tmp / f"{arch}-{src}.o")
        r = run_dyncc(["-a", arch, "-c", os.path.join(SRC, src), "-o", obj, "-O2"])
        assert r.returncode == 0, r.stderr
        objs.append(obj)
    out = str(tmp / f"{arch}-{name}.dlm")
    r = _tool("toolchain.linker.main", "-a", arch, "-u", "-m", os.path.join(SRC, manifest), "-o", out, *objs)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Per arch: the host and the modules (built on first use)."""
    cache: dict[str, dict[str, str]] = {}

    def get(arch: str) -> dict[str, str]:
        if arch in cache:
            return cache[arch]
        tmp = tmp_path_factory.mktemp(f"mods-{arch}")
        tab = str(tmp / "exporttab.c")
        r = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from toolchain.dynld.cli import dynexport_main as m; sys.exit(m(sys.argv[1:]))",
                os.path.join(SRC, "host.yaml"),
                "-o",
                tab,
            ],
            capture_output=True,
            text=True,
            env=tool_env(),
        )
        assert r.returncode == 0, r.stderr
        host = str(tmp / "host")
        cmd = [
            sys.executable,
            "-m",
            "ziglang",
            "cc",
            "-target",
            GNU_TARGETS[arch],
            "-O2",
            *config.cflags(),
            "-o",
            host,
            os.path.join(SRC, "host.c"),
            tab,
            *config.sources(),
        ]
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        cache[arch] = {
            "host": host,
            "alpha": _module(tmp, arch, "alpha", ["alpha1.c", "alpha2.c"], "alpha.yaml"),
            "beta": _module(tmp, arch, "beta", ["beta1.c"], "beta.yaml"),
            "badsig": _module(tmp, arch, "badsig", ["beta1.c"], "badsig.yaml"),
            "registry": _module(tmp, arch, "registry", ["registry1.c", "registry2.c"], "registry.yaml"),
            "tmp": str(tmp),
        }
        return cache[arch]

    return get


@pytest.mark.parametrize("arch", ARCHES)
def test_host_loads_modules_and_calls_them(built, arch):
    b = built(arch)
    r = run_program(arch, b["host"], [b["alpha"], b["beta"]])
    assert r.stdout.decode() == _expected(), r.stderr.decode()
    assert r.returncode == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_module_walks_its_registry_between_start_and_stop(built, arch):
    """__start_handlers/__stop_handlers in a module: both files' entries (one reached by nothing
    else), at the addresses the module was loaded at (386 and arm reach them by absolute address);
    the image's bounds (``_etext``, ``_end``...) likewise."""
    b = built(arch)
    r = run_program(arch, b["host"], [b["registry"]])
    lines = r.stdout.decode().splitlines()
    assert r.returncode == 0, r.stderr.decode()
    # 1000: __executable_start, _etext, __bss_start and _end bound its text, data and bss where loaded
    assert lines[:2] == ["module registry: 3 exports", f"add(2, 3) = {1000 + 2 * 100 + 2 + 3}"]
    for n in (4, 5):
        block = lines[2:5] if n == 4 else lines[5:8]
        assert sorted(block[:2]) == sorted([f"registry: twice({n}) = {2 * n}", f"registry: square({n}) = {n * n}"])
        assert block[2] == f"run({n}) = {2 * n + n * n}"


@pytest.mark.parametrize("arch", ARCHES)
def test_module_contents(built, arch):
    """The module declares what the manifests say, with the signatures signof gives."""
    b = built(arch)
    mod = decode(open(b["alpha"], "rb").read(), b["alpha"])
    d = describe(mod)
    exp = {s.name: s.sig for s in load_manifest(os.path.join(SRC, "alpha.yaml")).exports}
    imp = {s.name: s.sig for s in load_manifest(os.path.join(SRC, "alpha.yaml")).imports}
    assert {e["name"]: e["sig"] for e in d["exports"]} == exp
    assert {i["name"]: i["sig"] for i in d["imports"]} == imp
    assert [e["name"] for e in d["exports"]] == sorted(exp, key=str.encode)
    # text ends on a page boundary of the file: the runtime maps text and data from it
    assert (header_size(arch) + len(mod.text)) % 4096 == 0
    assert module_kind(open(b["alpha"], "rb").read()) == "file-mapped" == d["layout"]
    assert d["relocs"]["by_mode"]["0"] > 0 and d["relocs"]["by_mode"]["1"] > 0
    if arch != "amd64":  # amd64 calls imports through stubs and mode-1 slots instead
        assert d["relocs"]["by_mode"]["2"] > 0


@pytest.mark.parametrize("arch", ARCHES)
def test_signature_mismatch_is_refused(built, arch):
    b = built(arch)
    r = run_program(arch, b["host"], [b["badsig"]])
    out = r.stdout.decode()
    assert r.returncode == 1
    assert "load failed: " in out and "host_counter" in out and "signature" in out
    host_sig = {s.name: s.sig for s in load_manifest(os.path.join(SRC, "host.yaml")).exports}["host_counter"]
    mod_sig = {s.name: s.sig for s in load_manifest(os.path.join(SRC, "badsig.yaml")).imports}["host_counter"]
    assert f"{host_sig:#x}" in out.lower() and f"{mod_sig:#x}" in out.lower()


@pytest.mark.parametrize("arch", ARCHES)
def test_undeclared_import_is_a_link_error(tmp_path, arch):
    obj = str(tmp_path / "alpha1.o")
    assert run_dyncc(["-a", arch, "-c", os.path.join(SRC, "alpha1.c"), "-o", obj]).returncode == 0
    obj2 = str(tmp_path / "alpha2.o")
    assert run_dyncc(["-a", arch, "-c", os.path.join(SRC, "alpha2.c"), "-o", obj2]).returncode == 0
    out = str(tmp_path / "m.dlm")
    r = _tool("toolchain.linker.main", "-a", arch, "-u", "-m", os.path.join(SRC, "beta.yaml"), "-o", out, obj, obj2)
    assert r.returncode == 1
    assert "undefined symbol: host_banner" in r.stderr or "undefined symbol: host_log" in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not os.path.exists(out)


@pytest.mark.parametrize("arch", ARCHES)
def test_import_the_host_lacks_is_refused(built, arch, tmp_path):
    src = tmp_path / "needy.c"
    src.write_text(
        'extern int host_missing(int);\nchar *mod_name = "needy";\n'
        "int mod_add(int a, int b) { return host_missing(a) + b; }\nint mod_run(int n) { return n; }\n"
    )
    obj = str(tmp_path / "needy.o")
    assert run_dyncc(["-a", arch, "-c", str(src), "-o", obj]).returncode == 0
    mf = tmp_path / "needy.yaml"
    mf.write_text(
        "exports:\n  - char *mod_name;\n  - int mod_add(int, int);\n  - int mod_run(int);\n"
        "imports:\n  - int host_missing(int);\n"
    )
    out = str(tmp_path / "needy.dlm")
    r = _tool("toolchain.linker.main", "-a", arch, "-u", "-m", str(mf), "-o", out, obj)
    assert r.returncode == 0, r.stderr
    run = run_program(arch, built(arch)["host"], [out])
    assert run.returncode == 1 and "host_missing" in run.stdout.decode()
