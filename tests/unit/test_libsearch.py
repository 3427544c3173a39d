"""libsearch: ``-l`` search order, positional ``-Bstatic``/``--as-needed``, scripts followed."""

from __future__ import annotations

import os
import struct

import pytest

from toolchain.errors import DynError, UsageError
from toolchain.linker import libsearch
from toolchain.linker.libsearch import InputArg, LinkInput

ELF_REL = b"\x7fELF\x01\x01\x01" + b"\0" * 9 + struct.pack("<HH", 1, 3) + b"\0" * 40
ELF_DYN = b"\x7fELF\x01\x01\x01" + b"\0" * 9 + struct.pack("<HH", 3, 3) + b"\0" * 40
ELF_EXEC = b"\x7fELF\x01\x01\x01" + b"\0" * 9 + struct.pack("<HH", 2, 3) + b"\0" * 40
AR = b"!<arch>\n"


def put(path, data: bytes | str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return str(path)


VALUE_OPTIONS = {"-o", "-a", "-L", "-e"}


def split(argv):
    return libsearch.split_inputs(argv, lambda opt: opt in VALUE_OPTIONS)


def test_split_keeps_order_and_positional_state():
    rest, inputs = split(
        ["-a", "amd64", "-o", "out", "a.o", "-lc", "-Bstatic", "-l", "z", "--no-as-needed", "-lm", "-Bdynamic", "b.o"]
    )
    assert rest == ["-a", "amd64", "-o", "out"]
    assert inputs == [
        InputArg("a.o", False, False, True),
        InputArg("c", True, False, True),
        InputArg("z", True, True, True),
        InputArg("m", True, True, False),
        InputArg("b.o", False, False, False),
    ]


def test_split_spellings():
    rest, inputs = split(["--library=foo", "-static", "-l:libbar.a", "-dy", "--start-group", "-lq", "--end-group"])
    assert rest == []
    assert [(i.spelling, i.static) for i in inputs] == [("-lfoo", False), ("-l:libbar.a", True), ("-lq", False)]
    _, after_dashes = split(["--", "-weird-name.o"])
    assert after_dashes == [InputArg("-weird-name.o")]
    with pytest.raises(UsageError):
        split(["-l"])


def test_so_before_a_in_each_directory_first_directory_wins(tmp_path):
    d1, d2 = tmp_path / "one", tmp_path / "two"
    a1 = put(d1 / "libfoo.a", AR)
    so2 = put(d2 / "libfoo.so", ELF_DYN)
    put(d2 / "libbar.a", AR)
    so2b = put(d2 / "libbar.so", ELF_DYN)
    dirs = [str(d1), str(d2)]
    assert libsearch.find_library("foo", dirs) == a1  # GNU ld: a directory is searched whole before the next
    assert libsearch.find_library("bar", dirs) == so2b
    assert libsearch.find_library("bar", dirs, static=True) == str(d2 / "libbar.a")
    assert libsearch.find_library("foo", [str(d2)], static=True) is None
    assert libsearch.find_library(":libfoo.so", dirs) == so2
    assert libsearch.find_library("nothere", dirs) is None


def test_search_dirs_order_without_repeats():
    assert libsearch.search_dirs(["/u", "/c"], "/c", ["/a", "/u"]) == ["/u", "/c", "/a"]
    assert libsearch.search_dirs([], None, ["/a"]) == ["/a"]


def test_input_kinds(tmp_path):
    assert libsearch.input_kind(put(tmp_path / "a.o", ELF_REL)) == libsearch.KIND_OBJECT
    assert libsearch.input_kind(put(tmp_path / "a.so", ELF_DYN)) == libsearch.KIND_SHARED
    assert libsearch.input_kind(put(tmp_path / "a.a", AR)) == libsearch.KIND_ARCHIVE
    assert libsearch.input_kind(put(tmp_path / "s", "INPUT(a.o)")) == "script"
    with pytest.raises(DynError, match="an executable"):
        libsearch.input_kind(put(tmp_path / "exe", ELF_EXEC))
    with pytest.raises(DynError, match="thin archives"):
        libsearch.input_kind(put(tmp_path / "thin.a", b"!<thin>\n"))
    with pytest.raises(DynError, match="not an ELF file"):
        libsearch.input_kind(put(tmp_path / "t.o", "hello, this is text"))
    with pytest.raises(DynError, match="not an ELF file"):
        libsearch.input_kind(put(tmp_path / "bin", b"\x00\x01\x02garbage"))


def test_scripts_are_followed_like_libc_so(tmp_path):
    lib = tmp_path / "lib"
    so6 = put(lib / "libc.so.6", ELF_DYN)
    nonshared = put(lib / "libc_nonshared.a", AR)
    loader = put(lib / "ld-linux.so.2", ELF_DYN)
    put(lib / "libc.so", "/* script */ GROUP ( libc.so.6 libc_nonshared.a AS_NEEDED ( ld-linux.so.2 ) )")
    obj = put(tmp_path / "main.o", ELF_REL)
    found = libsearch.resolve_inputs([InputArg(obj), InputArg("c", True, as_needed=False)], [str(lib)])
    assert [(f.path, f.kind, f.as_needed) for f in found] == [
        (obj, "object", True),
        (so6, "shared", False),
        (nonshared, "archive", False),
        (loader, "shared", True),  # AS_NEEDED inside the script wins over --no-as-needed
    ]
    assert found[1].origin.startswith("-lc -> libc.so")


def test_script_libraries_and_search_dir(tmp_path):
    extra = tmp_path / "extra"
    libz = put(extra / "libz.a", AR)
    script = put(tmp_path / "libwrap.so", f"SEARCH_DIR({extra}) INPUT(-lz)")
    found = libsearch.resolve_inputs([InputArg(script)], [])
    assert [f.path for f in found] == [libz]
    bad = put(tmp_path / "libbad.so", "INPUT(missing.o)")
    with pytest.raises(DynError, match="cannot find missing.o named by the linker script") as e:
        libsearch.resolve_inputs([InputArg(bad)], [])
    assert e.value.file == bad


def test_script_cycle_is_an_error(tmp_path):
    loop = put(tmp_path / "libloop.so", "INPUT(libloop.so)")
    with pytest.raises(DynError, match="nested more than"):
        libsearch.resolve_inputs([InputArg(loop)], [])


def test_libraries_once_objects_each_time(tmp_path):
    so = put(tmp_path / "libm.so", ELF_DYN)
    obj = put(tmp_path / "x.o", ELF_REL)
    args = [InputArg("m", True), InputArg(obj), InputArg("m", True, as_needed=False), InputArg(obj)]
    found = libsearch.resolve_inputs(args, [str(tmp_path)])
    assert found == [
        LinkInput(so, "shared", False, f"-lm -> {so}"),
        LinkInput(obj, "object", True, obj),
        LinkInput(obj, "object", True, obj),
    ]


def test_cannot_find_names_the_directories(tmp_path):
    with pytest.raises(DynError, match=r"cannot find -lnope \(searched: /x, /y\)"):
        libsearch.resolve_inputs([InputArg("nope", True)], ["/x", "/y"])
    with pytest.raises(DynError, match="cannot find static library -lnope"):
        libsearch.resolve_inputs([InputArg("nope", True, static=True)], ["/x"])
    with pytest.raises(DynError, match="No such file"):
        libsearch.resolve_inputs([InputArg(str(tmp_path / "gone.o"))], [])


def test_objects_are_opened_relative_to_their_directory_once_open(tmp_path, monkeypatch):
    """Each directory of the inputs is opened once and the objects by their names in it; the
    directories are closed afterwards, and a bad input is reported as it was (by its path)."""
    objs = [put(tmp_path / "objs" / f"o{i}.o", ELF_REL + bytes([i])) for i in range(3)]
    other = put(tmp_path / "b.o", ELF_REL + b"b")
    opens = []
    real_open = os.open

    def recording_open(path, flags, *args, **kwargs):
        opens.append((os.fspath(path), kwargs.get("dir_fd") is not None))
        return real_open(path, flags, *args, **kwargs)

    fds_before = set(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(os, "open", recording_open)
    contents: dict = {}
    found = libsearch.resolve_inputs([InputArg(p, False, False, True) for p in [*objs, other]], [], contents)
    monkeypatch.undo()
    assert [f.path for f in found] == [*objs, other]
    assert [bytes(contents[p])[-1:] for p in objs] == [b"\0", b"\1", b"\2"]
    directories = [p for p, relative in opens if not relative]
    assert sorted(directories) == sorted([str(tmp_path / "objs"), str(tmp_path)])  # one open each
    assert [p for p, relative in opens if relative] == ["o0.o", "o1.o", "o2.o", "b.o"]
    assert set(os.listdir("/proc/self/fd")) == fds_before  # every directory closed again
    for bad, why in (
        (str(tmp_path / "objs" / "none.o"), "No such file"),
        (str(tmp_path / "objs") + "/", "not a regular"),
    ):
        with pytest.raises(DynError, match=why) as e:
            libsearch.resolve_inputs([InputArg(bad, False, False, True)], [], {})
        assert e.value.file == bad
    assert set(os.listdir("/proc/self/fd")) == fds_before


def _elf(ei_class: int, machine: int, e_type: int = 3) -> bytes:
    """An ELF header's first 20 bytes as the gABI lays them out (class, little-endian, type, machine)."""
    return b"\x7fELF" + bytes([ei_class, 1, 1]) + b"\0" * 9 + struct.pack("<HH", e_type, machine) + b"\0" * 44


def _archive(*members: tuple[str, bytes]) -> bytes:
    out = AR
    for name, data in members:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{644:<8}{len(data):<10}`\n".encode() + data + b"\n" * (len(data) & 1)
    return out


def test_libraries_for_another_machine_are_passed_over_as_gnu_ld_does(tmp_path):
    """``-L/usr/lib/x86_64-linux-gnu`` in a 386 link: the 64-bit libz.so, a libz.a of 64-bit
    objects and a libc.so script naming a 64-bit libc.so.6 are skipped; the 386 ones are found."""
    from toolchain.arch import get_arch

    i386, amd64 = get_arch("386"), get_arch("amd64")
    wrong, right = tmp_path / "x86_64", tmp_path / "i386"
    put(wrong / "libz.so", _elf(2, 62))
    put(wrong / "libq.a", _archive(("/", b"\0\0\0\0"), ("q.o/", _elf(2, 62, 1))))
    put(wrong / "libc.so.6", _elf(2, 62))
    put(wrong / "libc.so", f"/* GNU ld script\n{'padding ' * 20}*/\nGROUP ( {wrong}/libc.so.6 )\n")
    for name in ("libz.so", "libq.a", "libc.so"):
        put(right / name, _elf(1, 3) if name != "libq.a" else _archive(("q.o/", _elf(1, 3, 1))))
    dirs = [str(wrong), str(right)]
    for lib, want in (("z", "libz.so"), ("q", "libq.a"), ("c", "libc.so")):
        skipped: list[str] = []
        assert libsearch.find_library(lib, dirs, arch=i386, skipped=skipped) == str(right / want)
        assert skipped == [str(wrong / want)]
        assert libsearch.find_library(lib, dirs, arch=amd64) == str(wrong / want)
        assert libsearch.find_library(lib, dirs) == str(wrong / want)  # no arch: the first, as before
    message = r"cannot find -lz \(searched: .*; passed over, for another machine: .*libz.so\)"
    with pytest.raises(DynError, match=message):
        libsearch.resolve_inputs([InputArg("z", True)], [str(wrong)], arch=i386)
