"""Manifests: loading, signatures of the listed symbols, and a clean error for every bad input."""

from __future__ import annotations

import os

import pytest

from toolchain.dynld.manifest import Manifest, ManifestSymbol, load_manifest
from toolchain.errors import DynError

# Signatures from signatures.md (checked against the real compiler).
SIG_INT_FN_INT_INT = 0xB67674FA  # int f(int, int)
SIG_CHAR_PTR = 0xF2611A7A  # char *
SIG_PRINT = 0x00918875  # int f(char *, ...)
SIG_VOID_FN_VOID = 0x4C81A129  # void f(void)
SIG_NODE = 0x677CB31F  # struct Node { int v; struct Node *next; char name[8]; }
SIG_INT = 0x4151D5BD


def write(path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_basic_manifest(tmp_path):
    m = load_manifest(
        write(
            tmp_path / "m.yaml",
            """exports:
  - int mod_add(int, int);
  - char *mod_name
imports:
  - int print(char *, ...);
  - {name: init, decl: "void init(void)"}
""",
        )
    )
    assert isinstance(m, Manifest)
    assert m.path == str(tmp_path / "m.yaml")
    assert m.headers == [] and m.header_paths() == []
    assert m.exports == [
        ManifestSymbol("mod_add", SIG_INT_FN_INT_INT, "func", "int mod_add(int, int)"),
        ManifestSymbol("mod_name", SIG_CHAR_PTR, "object", "char *mod_name"),
    ]
    assert m.imports == [
        ManifestSymbol("print", SIG_PRINT, "func", "int print(char *, ...)"),
        ManifestSymbol("init", SIG_VOID_FN_VOID, "func", "void init(void)"),
    ]
    assert [s.line for s in m.exports + m.imports] == [2, 3, 5, 6]
    assert m.export("mod_name").kind == "object" and m.export("print") is None
    assert m.import_("print").sig == SIG_PRINT


def test_headers_relative_to_manifest(tmp_path, monkeypatch):
    write(
        tmp_path / "proj" / "inc" / "api.h",
        """#ifndef API_H
#define API_H
#define NAMELEN 8
typedef struct Node Node;
struct Node { int v; Node *next; char name[NAMELEN]; };
void mod_init(void);
extern int counter;
#endif
""",
    )
    manifest = write(
        tmp_path / "proj" / "dyn.yaml",
        """headers: [inc/api.h]
exports:
  - Node node
  - mod_init
  - {name: counter}
  - decl: |
      char label[NAMELEN];
  - {decl: "int unchecked;", sig: 0}
  - {decl: "int forced;", sig: 0xdeadbeef}
""",
    )
    monkeypatch.chdir(tmp_path / "proj" / "inc")  # somewhere else: paths follow the manifest
    m = load_manifest(os.path.relpath(manifest))
    hdr = os.path.normpath(os.path.join(os.path.dirname(os.path.relpath(manifest)), "inc/api.h"))
    assert m.headers == [hdr] and m.header_paths() == [hdr]
    assert os.path.samefile(hdr, tmp_path / "proj" / "inc" / "api.h")
    got = {s.name: (s.sig, s.kind, s.decl) for s in m.exports}
    assert got["node"] == (SIG_NODE, "object", "Node node")
    assert got["mod_init"] == (SIG_VOID_FN_VOID, "func", "void mod_init(void)")
    assert got["counter"] == (SIG_INT, "object", "int counter")
    assert got["label"][2] == "char label[8]"  # macros from the headers apply
    assert got["unchecked"][0] == 0
    assert got["forced"][0] == 0xDEADBEEF


def test_empty_sections(tmp_path):
    m = load_manifest(write(tmp_path / "m.yaml", "exports:\nimports: []\n"))
    assert m.exports == [] and m.imports == []


def test_prototype_from_header_merges(tmp_path):
    write(tmp_path / "h.h", "int f(int, int);\n")
    m = load_manifest(write(tmp_path / "m.yaml", "headers: [h.h]\nexports: ['int f();']\n"))
    assert m.exports[0].sig == SIG_INT_FN_INT_INT


BAD = [
    # (manifest text, line, message fragment)
    ("exports: [int x;]\nextra: 1\n", 2, "unknown key 'extra'"),
    ("exports: []\nexports: []\n", 2, "duplicate key 'exports'"),
    ("exports:\n  - {name: x, decl: 'int x', bogus: 1}\n", 2, "unknown key 'bogus'"),
    ("exports:\n  - {name: x, name: y, decl: 'int x'}\n", 2, "duplicate key 'name'"),
    ("exports:\n  - int x;\n  - char *y;\n  - long x;\n", 4, "'x' listed twice"),
    ("exports:\n  - int x;\nimports:\n  - int x;\n", 4, "'x' listed twice (in 'exports')"),
    ("exports:\n  - int x;\n  - int f(int;\n", 3, "syntax error"),
    ("exports:\n  - int x;\n  - 'int f(int'\n  - int g(void);\n", 3, ""),
    ("exports:\n  - typedef int T;\n", 2, "a typedef declares no function or object"),
    ("exports:\n  - struct S { int a; };\n", 2, "declares no function or object"),
    ("exports:\n  - 'int f(void) { return 0; }'\n", 2, "a function definition"),
    ("exports:\n  - static int s;\n", 2, "cannot be static"),
    ("exports:\n  - int i = 3;\n", 2, "has an initializer"),
    ("exports:\n  - int a, b;\n", 2, "expected one function or object declaration"),
    ("exports:\n  - int a; int b;\n", 2, "expected one function or object declaration"),
    ("exports:\n  - {name: a, decl: 'int b'}\n", 2, "does not match"),
    ("exports:\n  - {name: '1x', decl: 'int b'}\n", 2, "not a C identifier"),
    ("exports:\n  - {sig: 1}\n", 2, "needs a 'name' or a 'decl'"),
    ("exports:\n  - {decl: 'int b', sig: -1}\n", 2, "32-bit unsigned"),
    ("exports:\n  - {decl: 'int b', sig: 0x100000000}\n", 2, "32-bit unsigned"),
    ("exports:\n  - {decl: 'int b', sig: abc}\n", 2, "32-bit unsigned"),
    ("exports:\n  - {decl: 'int b', sig: true}\n", 2, "32-bit unsigned"),
    ("exports:\n  - {decl: 'int b', sig: 1.5}\n", 2, "32-bit unsigned"),
    ("exports:\n  - {decl: 'int b', sig: [1]}\n", 2, "32-bit unsigned"),
    ("exports:\n  - {decl: [int b]}\n", 2, "decl must be a string"),
    ("exports:\n  - 42\n", 2, "must be a string"),
    ("exports:\n  - [int x]\n", 2, "declaration string or a mapping"),
    ("exports:\n  - ''\n", 2, "empty declaration"),
    ("exports: int x;\n", 1, "'exports' must be a list"),
    ("exports: {a: 1}\n", 1, "'exports' must be a list"),
    ("headers: api.h\n", 1, "'headers' must be a list"),
    ("headers: [missing.h]\n", 1, "cannot read header 'missing.h'"),
    ("headers:\n  - 7\n", 2, "a header must be a string"),
    ("exports:\n  - undeclared_name\n", 2, "not declared in the headers"),
    ("exports:\n  - |\n    int x;\n    #define Y 1\n", 4, "preprocessor directives"),
    ("exports:\n  - _Complex double z;\n", 2, "no Plan 9 C signature"),
    ("exports:\n  - unknown_t *p;\n", 2, "unknown type name 'unknown_t'"),
    ("exports: !!python/object:os.system [echo]\n", 1, "'exports' must be a list"),
    ("exports:\n  - !!set {a: 1}\n", 2, "declaration string or a mapping"),
    ("exports:\n  - 'int /* unterminated'\n", 2, "unterminated comment"),
    ("- int x;\n", 1, "must be a mapping"),
    ("just a string\n", 1, "must be a mapping"),
    ("{1: 2}\n", 1, "a key must be a string"),
    ("exports:\n\t- int x;\n", 2, "invalid YAML"),
    ("exports: [int x;\n", 2, "invalid YAML"),
    ("a: b\n---\nc: d\n", 2, "invalid YAML: expected a single document"),
    ("exports: *nope\n", 1, "invalid YAML"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), BAD)
def test_bad_manifests(tmp_path, text, line, fragment):
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(DynError) as ei:
        load_manifest(path)
    msg = str(ei.value)
    assert msg.startswith(f"{path}:{line}: "), msg
    assert fragment in msg
    assert "\n" not in msg


def test_bad_header_content_names_the_header(tmp_path):
    write(tmp_path / "api.h", "int ok;\nint broken(;\n")
    path = write(tmp_path / "m.yaml", "headers: [api.h]\nexports: [ok]\n")
    with pytest.raises(DynError) as ei:
        load_manifest(path)
    assert str(ei.value).startswith(f"{tmp_path / 'api.h'}:2: ")


def test_bad_declaration_with_headers_names_the_manifest_line(tmp_path):
    write(tmp_path / "api.h", "typedef int T;\n")
    path = write(tmp_path / "m.yaml", "headers: [api.h]\nexports:\n  - T ok;\n  - T broken(;\n  - T after;\n")
    with pytest.raises(DynError) as ei:
        load_manifest(path)
    assert str(ei.value).startswith(f"{path}:4: ")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \n# only a comment\n",
        b"\x00\x01\x02\x03binary\xff\xfe",
        b"\xff\xfe\x00garbage",
        b"exports: [\xc3\x28]\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"[" * 5000,
    ],
)
def test_garbage_never_tracebacks(tmp_path, data):
    path = tmp_path / "g.yaml"
    path.write_bytes(data)
    with pytest.raises(DynError) as ei:
        load_manifest(str(path))
    assert str(ei.value).startswith(str(path))
    assert "\n" not in str(ei.value)


def test_missing_manifest(tmp_path):
    with pytest.raises(DynError, match="No such file"):
        load_manifest(str(tmp_path / "none.yaml"))


def test_manifest_headers_without_declarations(tmp_path):
    """The scanners' fast path: the named headers, without parsing (or preprocessing) declarations."""
    from toolchain.dynld.manifest import manifest_headers

    (tmp_path / "a.h").write_text("typedef int T;\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.h").write_text("struct S { int x; };\n")
    good = tmp_path / "good.yaml"
    good.write_text("headers: [a.h, sub/b.h]\nexports:\n  - T f(struct S *);\n")
    assert manifest_headers(str(good)) == load_manifest(str(good)).header_paths()
    assert [os.path.basename(h) for h in manifest_headers(str(good))] == ["a.h", "b.h"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("headers: [a.h]\nexports:\n  - this is not C;\n")
    assert [os.path.basename(h) for h in manifest_headers(str(broken))] == ["a.h"]
    with pytest.raises(DynError, match="cannot read header 'missing.h'"):
        bad = tmp_path / "bad.yaml"
        bad.write_text("headers: [missing.h]\n")
        manifest_headers(str(bad))
