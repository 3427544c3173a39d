"""autoimport: undefined symbols bound to the first shared input's default version; DT_NEEDED as-needed."""

from __future__ import annotations

from toolchain.directives import DynImport
from toolchain.linker.autoimport import (
    SharedInput,
    SharedSet,
    automatic_imports,
    check_explicit_import,
    find_named_library,
    needed_libraries,
    undefined_report,
)
from toolchain.linker.shlib import DynamicSymbol, SharedLibrary

FUNC, OBJECT = 2, 1


def lib(soname: str, *defs: tuple[str, str, bool], type_: int = FUNC) -> SharedLibrary:
    symbols: dict[str, list[DynamicSymbol]] = {}
    for name, version, default in defs:
        symbols.setdefault(name, []).append(DynamicSymbol(name, type_, 8, 1, version, default))
    return SharedLibrary(f"/l/{soname}", soname, 62, 64, symbols=symbols)


LIBC = lib("libc.so.6", ("puts", "GLIBC_2.2.5", True), ("memcpy", "GLIBC_2.2.5", False), ("memcpy", "GLIBC_2.14", True))
LIBM = lib("libm.so.6", ("sqrt", "GLIBC_2.2.5", True), ("puts", "M_1", True), ("plain", "", True))


def test_imports_bind_to_the_first_library_and_its_default_version():
    shared = SharedSet([SharedInput(LIBC), SharedInput(LIBM)])
    got = automatic_imports(["memcpy", "sqrt", "puts", "nowhere", "plain"], shared)
    assert got == [
        DynImport("memcpy", "memcpy#GLIBC_2.14", "libc.so.6"),
        DynImport("sqrt", "sqrt#GLIBC_2.2.5", "libm.so.6"),
        DynImport("puts", "puts#GLIBC_2.2.5", "libc.so.6"),  # libc comes first on the command line
        DynImport("plain", "plain", "libm.so.6"),
    ]
    reversed_order = SharedSet([SharedInput(LIBM), SharedInput(LIBC)])
    assert automatic_imports(["puts"], reversed_order) == [DynImport("puts", "puts#M_1", "libm.so.6")]


def test_hidden_only_definitions_are_not_imported():
    old = lib("libold.so.1", ("gone", "OLD_1", False))
    assert automatic_imports(["gone"], SharedSet([SharedInput(old)])) == []


def test_explicit_imports_are_checked():
    assert check_explicit_import(DynImport("puts", "puts", "libc.so.6"), LIBC) is None
    assert check_explicit_import(DynImport("p", "puts#GLIBC_2.2.5", "libc.so.6"), LIBC) is None
    assert check_explicit_import(DynImport("m", "memcpy#GLIBC_2.2.5", "libc.so.6"), LIBC) is None
    assert "does not define frobnicate" in check_explicit_import(DynImport("f", "frobnicate", "libc.so.6"), LIBC)
    msg = check_explicit_import(DynImport("puts", "puts#GLIBC_9.9", "libc.so.6"), LIBC)
    assert "no puts at version GLIBC_9.9" in msg


def test_needed_as_needed_and_no_as_needed():
    shared = SharedSet([SharedInput(LIBC), SharedInput(LIBM), SharedInput(lib("libz.so.1"), as_needed=False)])
    assert needed_libraries(shared, {"libc.so.6"}, []) == ["libc.so.6", "libz.so.1"]
    assert needed_libraries(shared, {"libm.so.6", "libx.so"}, ["libx.so", "libm.so.6"]) == [
        "libm.so.6",
        "libz.so.1",
        "libx.so",
    ]


def test_find_named_library(tmp_path):
    shared = SharedSet([SharedInput(LIBC)])
    assert find_named_library("libc.so.6", [], shared, lambda p: None) is LIBC
    (tmp_path / "libq.so").write_bytes(b"x")
    seen = []

    def read(path):
        seen.append(path)
        return LIBM

    assert find_named_library("libq.so", ["/nonexistent", str(tmp_path)], shared, read) is LIBM
    assert seen == [str(tmp_path / "libq.so")]
    assert find_named_library("libnothere.so", [str(tmp_path)], shared, read) is None


def test_undefined_report_names_every_symbol_and_caps_references():
    refs = {
        "zeta": ["b.o"],
        "alpha": ["a.o", "b.o", "c.o", "d.o", "e.o", "f.o"],
        "beta": ["a.o"],
    }
    assert undefined_report(refs, ["a.o", "b.o", "c.o"], {"beta": " (a hint)"}) == [
        "a.o: undefined symbol: alpha (also referenced by b.o, c.o, d.o and 2 more)",
        "a.o: undefined symbol: beta (a hint)",
        "b.o: undefined symbol: zeta",
    ]
