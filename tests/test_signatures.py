"""Plan 9 ``signof`` signatures: the spec's checked examples and a battery over every type kind.

Expected values are derived here by hand from the constants (a chain of ``s*thash1 + kind``
steps), independently of the implementation's walk over parsed types.
"""

from __future__ import annotations

import pytest

from toolchain.dynld import signatures
from toolchain.dynld.cli import dynsig_main
from toolchain.dynld.signatures import header_declarations, parse_source, signature_of
from toolchain.errors import DynError

M = 0xFFFFFFFF
H1, H2, H3 = 0x2EDAB8C9, 0x1DC74FB8, 0x1F241331
K = {  # the spec's table, typed in again
    "XXX": 0x17527BBD,
    "CHAR": 0x5CEDD32B,
    "UCHAR": 0x552C4454,
    "SHORT": 0x63040B4B,
    "USHORT": 0x32A45878,
    "INT": 0x4151D5BD,
    "UINT": 0x5AE707D6,
    "LONG": 0x5EF20F47,
    "ULONG": 0x36D8EB8F,
    "VLONG": 0x6E5E9590,
    "UVLONG": 0x75910105,
    "FLOAT": 0x25FD7AF1,
    "DOUBLE": 0x7C40A1B2,
    "IND": 0x1B832357,
    "FUNC": 0x6BABC9CB,
    "ARRAY": 0x7C50986D,
    "VOID": 0x44112EFF,
    "STRUCT": 0x7C2DA3BF,
    "UNION": 0x3EB25E98,
    "ENUM": 0x44B54F61,
    "OLD": 0x22B15988,
    "DOT": 0x0204F6B3,
}


def node(s: int, kind: str) -> int:
    return (s * H1 + K[kind]) & M


def chain(*kinds: str, s: int = 0) -> int:
    for k in kinds:
        s = node(s, k)
    return s


def arr(s: int) -> int:
    """After an ARRAY node: the (unhashed) length step."""
    return (s * H2) & M


def par(s: int, p: int) -> int:
    """A function parameter or struct member."""
    return (s * H3 + p) & M


def idx(s: int, i: int) -> int:
    """A struct already met in this signature."""
    return (s * H2 + i) & M


def sigs(src: str) -> dict[str, int]:
    return {d.name: d.sig for d in parse_source(src)}


# ---------------------------------------------------------------------------------------------
# The examples in signatures.md, checked against the real compiler

SPEC_EXAMPLES = [
    ("int x;", 0x4151D5BD),
    ("char *greeting;", 0xF2611A7A),
    ("int add(int, int);", 0xB67674FA),
    ("int print(char*, ...);", 0x00918875),
    ("void f(void);", 0x4C81A129),
    ("struct Node { int v; struct Node *next; char name[8]; } n;", 0x677CB31F),
]


@pytest.mark.parametrize(("decl", "expected"), SPEC_EXAMPLES)
def test_spec_examples(decl, expected):
    assert signature_of(decl) == expected


@pytest.mark.parametrize(("decl", "expected"), SPEC_EXAMPLES)
def test_spec_examples_hand_derivation(decl, expected):
    """The test's own derivation agrees with the compiler, so it can be trusted below."""
    derived = {
        "int x;": chain("INT"),
        "char *greeting;": chain("IND", "CHAR"),
        "int add(int, int);": node(par(par(chain("FUNC"), K["INT"]), K["INT"]), "INT"),
        "int print(char*, ...);": node(par(par(chain("FUNC"), chain("IND", "CHAR")), K["DOT"]), "INT"),
        "void f(void);": node(par(chain("FUNC"), K["VOID"]), "VOID"),
        "struct Node { int v; struct Node *next; char name[8]; } n;": par(
            par(par(chain("STRUCT"), K["INT"]), idx(chain("IND", "STRUCT"), 0)),
            node(arr(chain("ARRAY")), "CHAR"),
        ),
    }[decl]
    assert derived == expected


def test_spec_examples_through_the_preprocessor(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ex.h").write_text("\n".join(d for d, _ in SPEC_EXAMPLES))
    got = {d.name: d.sig for d in header_declarations(["ex.h"])}
    assert got == {
        "x": 0x4151D5BD,
        "greeting": 0xF2611A7A,
        "add": 0xB67674FA,
        "print": 0x00918875,
        "f": 0x4C81A129,
        "n": 0x677CB31F,
    }


# ---------------------------------------------------------------------------------------------
# Scalars

SCALARS = [
    ("char", "CHAR"),
    ("signed char", "CHAR"),
    ("unsigned char", "UCHAR"),
    ("short", "SHORT"),
    ("short int", "SHORT"),
    ("signed short", "SHORT"),
    ("unsigned short", "USHORT"),
    ("unsigned short int", "USHORT"),
    ("int", "INT"),
    ("signed", "INT"),
    ("signed int", "INT"),
    ("unsigned", "UINT"),
    ("unsigned int", "UINT"),
    ("long", "LONG"),
    ("long int", "LONG"),
    ("signed long", "LONG"),
    ("unsigned long", "ULONG"),
    ("long unsigned int", "ULONG"),
    ("long long", "VLONG"),
    ("long long int", "VLONG"),
    ("unsigned long long", "UVLONG"),
    ("long long unsigned", "UVLONG"),
    ("float", "FLOAT"),
    ("double", "DOUBLE"),
    ("long double", "DOUBLE"),
    ("_Bool", "UCHAR"),
]


@pytest.mark.parametrize(("ctype", "kind"), SCALARS)
def test_scalar(ctype, kind):
    assert signature_of(f"{ctype} v;") == K[kind]
    assert signature_of(f"{ctype} *p;") == chain("IND", kind)
    assert signature_of(f"{ctype} f({ctype});") == node(par(chain("FUNC"), K[kind]), kind)


def test_void_pointer_and_qualifiers():
    assert signature_of("void *p;") == chain("IND", "VOID")
    assert signature_of("const volatile char * const restrict cp;") == chain("IND", "CHAR")
    assert signature_of("const int ci;") == K["INT"]
    assert signature_of("char **argv;") == chain("IND", "IND", "CHAR")


# ---------------------------------------------------------------------------------------------
# Arrays


def test_arrays():
    a = node(arr(chain("ARRAY")), "INT")
    assert signature_of("int a[3];") == a
    assert signature_of("int a[700];") == a  # the length is not hashed
    assert signature_of("extern int a[];") == a
    assert signature_of("int m[2][3];") == node(arr(node(arr(chain("ARRAY")), "ARRAY")), "INT")
    assert signature_of("char *names[4];") == chain("IND", "CHAR", s=arr(chain("ARRAY")))
    assert signature_of("int (*pa)[4];") == node(arr(chain("IND", "ARRAY")), "INT")


# ---------------------------------------------------------------------------------------------
# Functions


def test_functions():
    assert signature_of("int g();") == chain("FUNC", "INT")  # unprototyped: no parameters
    assert signature_of("void v(void);") != signature_of("void v();")
    assert signature_of("double d(float, long long);") == node(
        par(par(chain("FUNC"), K["FLOAT"]), K["VLONG"]), "DOUBLE"
    )  # prototype parameters are not promoted
    fp = node(par(par(chain("IND", "FUNC"), K["INT"]), chain("IND", "CHAR")), "INT")
    assert signature_of("int (*fp)(int, char *);") == fp
    # parameters: arrays and functions become pointers
    cb = node(par(chain("IND", "FUNC"), K["INT"]), "INT")
    assert signature_of("int h(int a[10], int cb(int));") == node(
        par(par(chain("FUNC"), chain("IND", "INT")), cb), "INT"
    )
    # a function returning a pointer to a function (signal)
    handler = node(par(chain("IND", "FUNC"), K["INT"]), "VOID")
    inner = par(par(chain("FUNC"), K["INT"]), handler)
    assert signature_of("void (*signal(int, void (*)(int)))(int);") == node(
        par(chain("IND", "FUNC", s=inner), K["INT"]), "VOID"
    )
    # a function returning a pointer to an array
    assert signature_of("int (*fa(void))[4];") == node(
        arr(chain("IND", "ARRAY", s=par(chain("FUNC"), K["VOID"]))), "INT"
    )
    assert signature_of("int vf(int, ...);") == node(par(par(chain("FUNC"), K["INT"]), K["DOT"]), "INT")


def test_old_style_definition():
    """A K&R definition: an OLD marker, then the promoted parameter types."""
    got = sigs("int kr(a, b, c) char a; double *b; { return 0; }")
    assert got["kr"] == node(
        par(par(par(par(chain("FUNC"), K["OLD"]), K["INT"]), chain("IND", "DOUBLE")), K["INT"]), "INT"
    )
    # an old-style declaration has no prototype
    assert sigs("int kd(a, b);")["kd"] == chain("FUNC", "INT")


def test_redeclaration_merges_prototype():
    assert sigs("int m(); int m(int);")["m"] == node(par(chain("FUNC"), K["INT"]), "INT")
    assert sigs("int m(int); int m();")["m"] == node(par(chain("FUNC"), K["INT"]), "INT")
    assert list(sigs("int b; int a(void); int b;")) == ["b", "a"]


# ---------------------------------------------------------------------------------------------
# Structs, unions, enums, typedefs


def test_struct_and_union():
    s = par(par(chain("STRUCT"), K["INT"]), K["DOUBLE"])
    assert sigs("struct P { int x; double y; } p;")["p"] == s
    u = par(par(chain("UNION"), K["INT"]), K["DOUBLE"])
    assert sigs("union U { int x; double y; } u;")["u"] == u
    assert sigs("struct P { int x; double y; }; struct P *pp;")["pp"] == par(
        par(chain("IND", "STRUCT"), K["INT"]), K["DOUBLE"]
    )
    # a struct member that is a struct: hashed in full, by value
    inner = par(chain("STRUCT"), K["CHAR"])
    assert sigs("struct O { struct I { char c; } i; long l; } o;")["o"] == par(par(chain("STRUCT"), inner), K["LONG"])
    # anonymous struct member, member arrays
    assert sigs("struct A { struct { int z; }; int arr[2]; } a;")["a"] == par(
        par(chain("STRUCT"), par(chain("STRUCT"), K["INT"])), node(arr(chain("ARRAY")), "INT")
    )


def test_struct_defined_after_use():
    src = "struct Late *lp; struct Late { short s; };"
    assert sigs(src)["lp"] == par(chain("IND", "STRUCT"), K["SHORT"])


def test_incomplete_struct_is_its_kind_value():
    assert sigs("struct Q; struct Q *q;")["q"] == chain("IND", "STRUCT")
    assert sigs("union QU *qu;")["qu"] == chain("IND", "UNION")
    # met twice in one signature: the second time by index
    two = sigs("struct Q; void two(struct Q *, struct Q *);")["two"]
    assert two == node(par(par(chain("FUNC"), chain("IND", "STRUCT")), idx(chain("IND", "STRUCT"), 0)), "VOID")
    # differently tagged incomplete structs are different
    qr = sigs("struct Q; struct R; void qr(struct Q *, struct R *);")["qr"]
    assert qr == node(par(par(chain("FUNC"), chain("IND", "STRUCT")), chain("IND", "STRUCT")), "VOID")


def test_struct_identity_is_structural():
    """The compiler's sametype: same member types means the same struct, whatever the tag."""
    a = par(chain("IND", "STRUCT"), K["INT"])
    src = "struct A { int a; }; struct B { int b; }; struct C { long c; };"
    got = sigs(src + "void ab(struct A *, struct B *); void ac(struct A *, struct C *);")
    assert got["ab"] == node(par(par(chain("FUNC"), a), idx(chain("IND", "STRUCT"), 0)), "VOID")
    c = par(chain("IND", "STRUCT"), K["LONG"])
    assert got["ac"] == node(par(par(chain("FUNC"), a), c), "VOID")
    # indexes count structs in the order first met
    got = sigs(src + "void acc(struct A *, struct C *, struct C *);")
    assert got["acc"] == node(par(par(par(chain("FUNC"), a), c), idx(chain("IND", "STRUCT"), 1)), "VOID")
    # void * is the same as any pointer
    got = sigs("struct V { void *p; }; struct W { int *p; }; void vw(struct V *, struct W *);")
    v = par(chain("IND", "STRUCT"), chain("IND", "VOID"))
    assert got["vw"] == node(par(par(chain("FUNC"), v), idx(chain("IND", "STRUCT"), 0)), "VOID")
    # arrays of different lengths are different
    got = sigs("struct L2 { int a[2]; }; struct L3 { int a[3]; }; void l(struct L2 *, struct L3 *);")
    l2 = par(chain("IND", "STRUCT"), node(arr(chain("ARRAY")), "INT"))
    assert got["l"] == node(par(par(chain("FUNC"), l2), l2), "VOID")


def test_struct_identity_depth_limit():
    """sametype stops comparing 5 levels down: deeper differences do not count."""
    src = """
    struct D1 { struct X1 { struct Y1 { struct Z1 { struct W1 { int a; } w; } z; } y; } x; };
    struct D2 { struct X2 { struct Y2 { struct Z2 { struct W2 { char a; } w; } z; } y; } x; };
    void dd(struct D1 *, struct D2 *);
    """
    # X1 is met inside D1 and compared with it: X1 vs D1, Y1 vs X1, Z1 vs Y1, then W1 vs Z1 is
    # 4 levels down where sametype gives up and says "same" - so X1 is D1 (index 0) ...
    d1 = par(chain("IND", "STRUCT"), idx(chain("STRUCT"), 0))
    # ... and D2 is D1 (index 0) although their innermost members differ
    assert sigs(src)["dd"] == node(par(par(chain("FUNC"), d1), idx(chain("IND", "STRUCT"), 0)), "VOID")
    shallow = src.replace("struct Y2 { struct Z2 { struct W2 { char a; } w; } z; } y;", "char y;")
    assert sigs(shallow)["dd"] != sigs(src)["dd"]


def test_enum_typedef_bitfield():
    assert sigs("enum E { X, Y = 7 } e;")["e"] == K["INT"]
    assert sigs("enum E { X }; enum E *ep;")["ep"] == chain("IND", "INT")
    got = sigs("typedef unsigned long ulong; typedef struct P P; struct P { ulong u; }; ulong u; P *pp; P arr[2];")
    assert got["u"] == K["ULONG"]
    assert got["pp"] == par(chain("IND", "STRUCT"), K["ULONG"])
    assert got["arr"] == par(chain("STRUCT", s=arr(chain("ARRAY"))), K["ULONG"])
    got = sigs("typedef int (*Fn)(char); Fn table[3]; typedef int F2(void); F2 f2;")
    assert got["table"] == node(par(chain("IND", "FUNC", s=arr(chain("ARRAY"))), K["CHAR"]), "INT")
    assert got["f2"] == node(par(chain("FUNC"), K["VOID"]), "INT")
    # bit-fields take the field unit type: long, unsigned long when the type is unsigned
    bf = sigs("struct BF { int a:3; unsigned b:2; char c; } bf;")["bf"]
    assert bf == par(par(par(chain("STRUCT"), K["LONG"]), K["ULONG"]), K["CHAR"])


def test_pragma_incomplete(tmp_path, monkeypatch):
    src = """struct S { int a; };
#pragma incomplete struct S
typedef struct T { char c; } T;
#pragma incomplete T
struct S *sp; T *tp; void g(struct S *, struct S *);
"""
    expected = {
        "sp": chain("IND", "STRUCT"),
        "tp": chain("IND", "STRUCT"),
        "g": node(par(par(chain("FUNC"), chain("IND", "STRUCT")), chain("IND", "STRUCT")), "VOID"),
    }
    assert sigs(src) == expected
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inc.h").write_text(src)
    assert {d.name: d.sig for d in header_declarations(["inc.h"])} == expected


def test_zero_signature_is_internal(monkeypatch):
    assert signatures.SIGNINTERN == (1729 * 325 * 1729) % 2**32 != 0
    t = signatures.Basic(signatures.INT)
    assert signatures.sign(t) == K["INT"]
    monkeypatch.setattr(signatures, "signature", lambda t: 0)
    assert signatures.sign(t) == signatures.SIGNINTERN


def test_unsupported_and_bad_declarations():
    with pytest.raises(DynError, match="no Plan 9 C signature"):
        signature_of("_Complex double z;")
    with pytest.raises(DynError, match=r"<decl>:1"):
        signature_of("int f(;")
    with pytest.raises(DynError, match=r"^<decl>:1: "):
        signature_of("foo_t x;")


# ---------------------------------------------------------------------------------------------
# Headers (preprocessed) and dynsig


def test_header_macros_includes_and_system_headers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "types.h").write_text("#pragma once\ntypedef struct Dev Dev;\nstruct Dev { int dc; };\nint inner;\n")
    (tmp_path / "api.h").write_text(
        """/* comment */
#ifndef API_H
#define API_H
#include "types.h"
#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#define N 16
#define EXPORT extern
EXPORT Dev *devtab[N];
uint64_t big; uint32_t small; size_t n; va_list ap;
typedef int notlisted;
struct Tag { int t; };
int vprint(char *, va_list);
#endif
"""
    )
    decls = header_declarations(["api.h"])
    assert [d.name for d in decls] == ["devtab", "big", "small", "n", "ap", "vprint"]
    got = {d.name: d.sig for d in decls}
    assert got["devtab"] == par(chain("IND", "STRUCT", s=arr(chain("ARRAY"))), K["INT"])
    # freestanding headers are read for an ILP32 target: 64-bit types are long long
    assert got["big"] == K["UVLONG"] and got["small"] == K["UINT"] and got["n"] == K["UINT"]
    assert got["ap"] == chain("IND", "CHAR")  # va_list is a char *, as in Plan 9
    assert got["vprint"] == node(par(par(chain("FUNC"), chain("IND", "CHAR")), chain("IND", "CHAR")), "INT")
    assert decls[0].kind == "object" and decls[-1].kind == "func"
    assert decls[0].file == "api.h" and decls[0].line == 10
    # listing types.h too adds its declarations, in order
    assert [d.name for d in header_declarations(["types.h", "api.h"])][:2] == ["inner", "devtab"]


def test_dynsig_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.h").write_text("int x;\nchar *greeting;\ntypedef int T;\nstruct S { T t; };\nint add(int, int);\n")
    assert dynsig_main(["a.h"]) == 0
    out = capsys.readouterr().out
    assert out == "x 0x4151d5bd\ngreeting 0xf2611a7a\nadd 0xb67674fa\n"


def test_dynsig_cli_defines(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "t.h").write_text("typedef VALTYPE val;\n")
    (tmp_path / "d.h").write_text('#include "t.h"\nval v;\n')
    assert dynsig_main(["-I", "inc", "-D", "VALTYPE=short", "d.h"]) == 0
    assert capsys.readouterr().out == f"v 0x{K['SHORT']:08x}\n"


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        ("int ok;\nstruct S { int a; };\nint broken(;\n", "bad.h:3: "),
        ('int ok;\n#include "missing.h"\n', "bad.h:2: "),
        ("int ok;\n#error stop here\n", "bad.h:2: "),
        ("int ok;\n_Complex float z;\n", "bad.h:2: "),
        ("\x00\x01\x02garbage\xff", "bad.h:"),
    ],
)
def test_dynsig_cli_errors(tmp_path, monkeypatch, capsys, content, expect):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.h").write_bytes(content.encode("latin-1"))
    assert dynsig_main(["bad.h"]) == 1
    cap = capsys.readouterr()
    assert cap.out == ""
    assert cap.err.startswith("dynsig: " + expect), cap.err
    assert cap.err.count("\n") == 1
    assert "internal error" not in cap.err


def test_dynsig_cli_usage(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert dynsig_main([]) == 2
    assert capsys.readouterr().err.startswith("dynsig: ")
    assert dynsig_main(["nope.h"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dynsig: nope.h: ") and err.count("\n") == 1
    assert dynsig_main(["--help"]) == 0
    assert "FILE.h" in capsys.readouterr().out


def test_a_header_including_the_c_library_says_why_it_is_not_found(tmp_path, monkeypatch, capsys):
    """The headers are read for a freestanding target (docs/limits.md): stdint.h is there,
    stdio.h is not, and the error says so instead of leaving the user to guess."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.h").write_text("#include <stdint.h>\n#include <stddef.h>\nint f(uint32_t, size_t);\n")
    assert [d.name for d in header_declarations(["ok.h"])] == ["f"]
    (tmp_path / "api.h").write_text("#include <stdio.h>\nint g(FILE *);\n")
    assert dynsig_main(["api.h"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dynsig: api.h:1: 'stdio.h' file not found (headers are read for a freestanding target")
    assert err.count("\n") == 1
