"""glibc: the C library directory is built once, atomically, under a lock (no zig here: the build is faked)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from toolchain.arch import get_arch
from toolchain.cachedir import cache_root
from toolchain.errors import DynError
from toolchain.linker import glibc


def fake_build(calls: list[str], fail: bool = False):
    def build(arch, directory):
        calls.append(directory)
        time.sleep(0.2)  # long enough for the other threads to queue on the lock
        if fail:
            raise DynError("zig failed")
        manifest = {
            "glibc_target": arch.glibc_target,
            "crt1": "crt1.o",
            "nonshared": "libc_nonshared.a",
            "compiler_rt": ["libcompiler_rt.a"],
            "shared": ["libc.so.6", "ld.so"],
            "loader_soname": "ld.so",
        }
        with open(os.path.join(directory, glibc.MANIFEST), "w") as f:
            f.write(glibc.format_manifest(manifest))

    return build


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DYNTOOLS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(glibc, "_LOADED", {})
    return tmp_path


def test_parallel_users_build_once(cache, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(glibc, "build_c_library", fake_build(calls))
    arch = get_arch("amd64")
    results: list[str] = []

    def use():
        results.append(glibc.c_library(arch).directory)

    threads = [threading.Thread(target=use) for _ in range(4)]
    glibc._LOADED.clear()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(set(results)) == 1 and len(results) == 4
    final = results[0]
    assert os.path.basename(final) == glibc.library_key(arch)
    assert sorted(p for p in os.listdir(cache) if not p.startswith(".")) == [os.path.basename(final)]
    lib = glibc.c_library(arch)
    assert lib.crt1 == os.path.join(final, "crt1.o")
    assert lib.shared["libc.so.6"] == os.path.join(final, "libc.so.6")


def test_failed_build_leaves_nothing(cache, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(glibc, "build_c_library", fake_build(calls, fail=True))
    with pytest.raises(DynError, match="zig failed"):
        glibc.c_library(get_arch("386"))
    assert [p for p in os.listdir(cache) if not p.startswith(".")] == []
    assert not os.path.exists(calls[0])


def test_damaged_manifest_is_reported(cache):
    arch = get_arch("arm")
    d = cache / glibc.library_key(arch)
    d.mkdir()
    (d / glibc.MANIFEST).write_text("crt1 crt1.o\nloader_soname\n")
    with pytest.raises(DynError, match="damaged C library cache manifest"):
        glibc.c_library(arch)


def test_manifest_round_trip_and_damage():
    manifest: dict[str, str | list[str]] = {
        "glibc_target": "x86_64-linux-gnu.2.36",
        "crt1": "crt1.o",
        "compiler_rt": ["libcompiler_rt.a", "libcompiler_rt_glibc.a"],
        "shared": ["ld-linux-x86-64.so.2", "libc.so.6"],
    }
    text = glibc.format_manifest(manifest)
    assert text.splitlines()[2] == "compiler_rt libcompiler_rt.a libcompiler_rt_glibc.a"
    assert glibc.parse_manifest(text) == {k: v if isinstance(v, list) else [v] for k, v in manifest.items()}
    assert glibc.parse_manifest("compiler_rt\n") == {"compiler_rt": []}
    for damaged in ("crt1\n", "crt1 a b\n", "crt1  a\n", "shared a  b\n"):
        with pytest.raises(ValueError):
            glibc.parse_manifest(damaged)


def test_key_names_what_decides_the_contents(monkeypatch):
    keys = {glibc.library_key(get_arch(a)) for a in ("386", "amd64", "arm")}
    assert len(keys) == 3
    assert all(k.startswith("glibc2.36-") for k in keys)
    before = glibc.library_key(get_arch("amd64"))
    monkeypatch.setattr(glibc, "zig_version", lambda: "9.9.9")
    assert glibc.library_key(get_arch("amd64")) != before


def test_cache_root_follows_the_environment(monkeypatch):
    monkeypatch.delenv("DYNTOOLS_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/x/cache")
    assert cache_root() == "/x/cache/dyntools"
    monkeypatch.setenv("DYNTOOLS_CACHE_DIR", "/y")
    assert cache_root() == "/y"


def test_object_cpu_flags():
    assert glibc.object_cpu_flags(get_arch("arm")) == ["-marm", "-mcpu=cortex_a7+no_movt", "-mfloat-abi=hard"]
    assert glibc.object_cpu_flags(get_arch("386")) == ["-mcpu=i686"]
