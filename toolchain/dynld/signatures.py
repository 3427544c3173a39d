"""Type signatures of C declarations, as the Plan 9 / Inferno C compilers compute them.

``signof`` in Plan 9 C hashes the compiler's type chain (see ``../shared/spec/signatures.md``);
modules and hosts compare those 32-bit values to check an import against an export. This
module parses C declarations with pycparser and reproduces that hash.

Decisions where Plan 9 C and ISO C differ (documented, deliberate):

* Typedefs are transparent and qualifiers are not hashed, as in the compiler.
* A variable of an ``enum`` type hashes as ``int``; ``long double`` as ``double``;
  ``_Bool`` (which Plan 9 C lacks) as ``unsigned char``; ``long`` as LONG whatever the
  target's width. ``_Complex`` and ``__int128`` are refused.
* A bit-field member hashes as ``long`` (``unsigned long`` when its type is unsigned): the
  compiler (8c) gives every bit-field its field unit type.
* Struct identity inside one signature follows the compiler's ``sametype`` (structural, at
  most 5 levels deep; ``void *`` matches any pointer; two incomplete structs are the same
  when their tags are). Array widths there are compared by element count.
* ``#pragma incomplete struct Tag`` / ``#pragma incomplete Typedef`` mark a struct or union
  whose signature is its kind value alone, wherever it is used.
* A signature that comes out 0 is replaced by the compiler's fixed internal value
  ``SIGNINTERN`` (1729*325*1729, as ``sign()`` in ``utils/cc/dcl.c`` does): a computed
  signature is therefore never 0, and 0 keeps meaning "unchecked".

Headers are run through zig's C preprocessor (``-E``) for a freestanding ILP32 target
(``x86-linux-none``), so that macros work and the C library's freestanding headers
(``stdint.h``, ``stddef.h``, ``stdarg.h``...) hash the same for every architecture, with
Plan 9's model (``long`` 32 bits, 64-bit types ``long long``). Declarations given without
headers are parsed directly (comments stripped, no macros).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pycparser import c_ast, c_generator, c_parser

from ..errors import DynError, unreadable_reason

MASK = 0xFFFFFFFF
THASH1 = 0x2EDAB8C9
THASH2 = 0x1DC74FB8
THASH3 = 0x1F241331
SIGNINTERN = (1729 * 325 * 1729) & MASK  # 0x39e8f4c5, the compiler's value for a zero signature

# Kinds of type node, and each kind's hash value (utils/cc/sub.c thashinit).
XXX, CHAR, UCHAR, SHORT, USHORT, INT, UINT, LONG, ULONG = "XXX CHAR UCHAR SHORT USHORT INT UINT LONG ULONG".split()
VLONG, UVLONG, FLOAT, DOUBLE, IND, FUNC, ARRAY, VOID = "VLONG UVLONG FLOAT DOUBLE IND FUNC ARRAY VOID".split()
STRUCT, UNION, ENUM, FILE, OLD, DOT = "STRUCT UNION ENUM FILE OLD DOT".split()

KIND_VALUES: dict[str, int] = {
    XXX: 0x17527BBD,
    CHAR: 0x5CEDD32B,
    UCHAR: 0x552C4454,
    SHORT: 0x63040B4B,
    USHORT: 0x32A45878,
    INT: 0x4151D5BD,
    UINT: 0x5AE707D6,
    LONG: 0x5EF20F47,
    ULONG: 0x36D8EB8F,
    VLONG: 0x6E5E9590,
    UVLONG: 0x75910105,
    FLOAT: 0x25FD7AF1,
    DOUBLE: 0x7C40A1B2,
    IND: 0x1B832357,
    FUNC: 0x6BABC9CB,
    ARRAY: 0x7C50986D,
    VOID: 0x44112EFF,
    STRUCT: 0x7C2DA3BF,
    UNION: 0x3EB25E98,
    ENUM: 0x44B54F61,
    FILE: 0x19242AC3,
    OLD: 0x22B15988,
    DOT: 0x0204F6B3,
}

_UNSIGNED = {UCHAR, USHORT, UINT, ULONG, UVLONG}


# --------------------------------------------------------------------------------------
# The compiler's type chain


class CType:
    """A node of a Plan 9 C type chain."""

    kind: str = XXX


class Basic(CType):
    """A scalar, ``void``, or a parameter marker (``...`` = DOT, old-style = OLD)."""

    __slots__ = ("kind",)

    def __init__(self, kind: str):
        self.kind = kind

    def __repr__(self) -> str:
        return f"Basic({self.kind})"


BASIC: dict[str, Basic] = {k: Basic(k) for k in KIND_VALUES if k not in (IND, FUNC, ARRAY, STRUCT, UNION)}


class Pointer(CType):
    """Pointer to ``to``."""

    __slots__ = ("to",)
    kind = IND

    def __init__(self, to: CType):
        self.to = to

    def __repr__(self) -> str:
        return f"Pointer({self.to!r})"


class Array(CType):
    """Array of ``of``; ``length`` None when unknown (``[]`` or not a constant)."""

    __slots__ = ("of", "length")
    kind = ARRAY

    def __init__(self, of: CType, length: int | None = None):
        self.of = of
        self.length = length

    def __repr__(self) -> str:
        return f"Array({self.of!r}, {self.length})"


class Function(CType):
    """Function returning ``ret``; ``params`` None when unprototyped (``f()``)."""

    __slots__ = ("ret", "params")
    kind = FUNC

    def __init__(self, ret: CType, params: Sequence[CType] | None = None):
        self.ret = ret
        self.params = tuple(params) if params is not None else None

    def __repr__(self) -> str:
        return f"Function({self.ret!r}, {self.params!r})"


class Aggregate(CType):
    """A struct or union: one object per tag (or per anonymous definition).

    ``members`` is None while the struct is incomplete (or has no members);
    ``incomplete`` is set by ``#pragma incomplete``.
    """

    __slots__ = ("kind", "tag", "members", "defined", "incomplete")

    def __init__(self, kind: str, tag: str | None = None, members: Sequence[CType] | None = None):
        self.kind = kind
        self.tag = tag
        self.members = tuple(members) if members else None
        self.defined = members is not None
        self.incomplete = False

    def __repr__(self) -> str:
        return f"Aggregate({self.kind}, {self.tag!r}, {len(self.members or ())} members)"


def _link(t: CType) -> CType | None:
    if isinstance(t, Pointer):
        return t.to
    if isinstance(t, Array):
        return t.of
    if isinstance(t, Function):
        return t.ret
    return None


# --------------------------------------------------------------------------------------
# signat / sametype, after utils/cc/dcl.c


def _rsametype(t1: CType | None, t2: CType | None, n: int, f: bool) -> bool:
    n -= 1
    while True:
        if t1 is t2:
            return True
        if t1 is None or t2 is None:
            return False
        if n <= 0:
            return True
        et = t1.kind
        if et != t2.kind:
            return False
        if isinstance(t1, Function):
            assert isinstance(t2, Function)
            if not _rsametype(t1.ret, t2.ret, n, False):
                return False
            a, b = t1.params or (), t2.params or ()
            i = j = 0
            while i < len(a) and j < len(b):
                if a[i].kind == OLD:
                    i += 1
                    continue
                if b[j].kind == OLD:
                    j += 1
                    continue
                while i < len(a) or j < len(b):
                    x = a[i] if i < len(a) else None
                    y = b[j] if j < len(b) else None
                    if not _rsametype(x, y, n, False):
                        return False
                    i += 1
                    j += 1
                break
            return True
        if isinstance(t1, Array):
            assert isinstance(t2, Array)
            if t1.length != t2.length and t1.length and t2.length:
                return False
        if isinstance(t1, Aggregate):
            assert isinstance(t2, Aggregate)
            if t1.members is None and t2.members is None:
                # structs with missing or different tag names aren't the same
                return t1.tag is not None and t2.tag is not None and t1.tag == t2.tag
            m1, m2 = t1.members or (), t2.members or ()
            for k in range(max(len(m1), len(m2))):
                if not _rsametype(m1[k] if k < len(m1) else None, m2[k] if k < len(m2) else None, n, False):
                    return False
            return True
        t1, t2 = _link(t1), _link(t2)
        if et == IND:  # void * is the same as any pointer (debug['V'] off)
            if t1 is not None and t1.kind == VOID:
                return True
            if t2 is not None and t2.kind == VOID:
                return True


def sametype(t1: CType, t2: CType) -> bool:
    """The compiler's ``sametype``: the identity used for structs within one signature."""
    return t1 is t2 or _rsametype(t1, t2, 5, True)


def _sigind(t: CType, table: list[CType]) -> int:
    for i, p in enumerate(table):
        if sametype(p, t):
            return i
    table.append(t)
    return -1


def _signat(t: CType | None, table: list[CType]) -> int:
    s = 0
    while t is not None:
        s = (s * THASH1 + KIND_VALUES[t.kind]) & MASK
        if isinstance(t, Aggregate):
            if t.incomplete:
                return s
            i = _sigind(t, table)
            if i >= 0:
                return (s * THASH2 + i) & MASK
            for m in t.members or ():
                s = (s * THASH3 + _signat(m, table)) & MASK
            return s
        if isinstance(t, Array):
            s = (s * THASH2) & MASK  # the length is not hashed
        elif isinstance(t, Function):
            for p in t.params or ():
                s = (s * THASH3 + _signat(p, table)) & MASK
        elif not isinstance(t, Pointer):
            return s
        t = _link(t)
    return s


def signature(t: CType) -> int:
    """The raw 32-bit signature of a type (``signature()`` in the compiler; may be 0)."""
    return _signat(t, [])


def sign(t: CType) -> int:
    """The signature the compiler gives a symbol of type ``t``: never 0 (0 -> SIGNINTERN)."""
    return signature(t) or SIGNINTERN


# --------------------------------------------------------------------------------------
# Declarations


@dataclass(frozen=True)
class Declaration:
    """A declared function or object."""

    name: str
    kind: str  # 'func' or 'object'
    sig: int
    ctype: CType
    text: str  # normalised C declaration, no storage class, no trailing ';'
    file: str
    line: int


@dataclass(frozen=True)
class Snippet:
    """A declaration given as text, with where it came from (for error messages)."""

    text: str
    file: str
    line: int


_PRELUDE = "typedef char *__builtin_va_list;\n"  # Plan 9's va_list is a char *

# Make GNU spellings that clang's freestanding headers use digestible for pycparser.
_PP_DEFINES = (
    "__attribute__(x)=",
    "__attribute(x)=",
    "__extension__=",
    "__inline__=inline",
    "__inline=inline",
    "__restrict__=restrict",
    "__restrict=restrict",
    "__const=const",
    "__volatile__=volatile",
    "__signed__=signed",
    "__asm__(x)=",
    "__asm(x)=",
    "__declspec(x)=",
    "_Nullable=",
    "_Nonnull=",
    "_Null_unspecified=",
)
PP_TARGET = "x86-linux-none"
#: what a missing header gets added: hosted headers (stdio.h...) are not there, by design
FREESTANDING_HINT = (
    " (headers are read for a freestanding target: the compiler's stddef.h, stdint.h, stdarg.h,"
    " limits.h and stdbool.h are found, the C library's stdio.h, string.h... are not)"
)

_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, "'": 39, '"': 34, "a": 7, "b": 8, "f": 12, "v": 11, "?": 63}
_SNIPPET_FILE = "<dyndecl:{}>"
_SNIPPET_RE = re.compile(r"^<dyndecl:(\d+)>$")
_PPLINE_RE = re.compile(r'^#\s*(?:line\s+)?(\d+)\s+"((?:[^"\\]|\\.)*)"(.*)$')
_DIAG_RE = re.compile(r"^(.*?):(\d+):(?:(\d+):)? (?:fatal )?error: (.*)$")
_PARSE_ERR_RE = re.compile(r"^(.*?):(\d+)(?::\d+)?: (.*)$", re.S)


def strip_comments(text: str) -> str:
    """Replace C comments by a space (newlines kept), leaving string and char literals alone."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise DynError("unterminated comment")
            out.append(" " + "\n" * text.count("\n", i, j))
            i = j + 2
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            out.append(" ")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _cc_command() -> list[str]:
    return [sys.executable, "-m", "ziglang", "cc"]


def preprocess(
    headers: Sequence[str],
    text: str = "",
    include_dirs: Sequence[str] = (),
    defines: Sequence[str] = (),
    display: Callable[[str, int], tuple[str, int]] | None = None,
) -> str:
    """Run the C preprocessor on ``headers`` (in order) followed by ``text``.

    Line markers are kept (headers are named by absolute path). DynError on failure,
    naming the file and line the preprocessor complains about.
    """
    for h in headers:
        reason = unreadable_reason(h)
        if reason is not None:
            raise DynError(reason, h)
    cmd = _cc_command() + ["-E", "-target", PP_TARGET, "-ffreestanding", "-w", "-x", "c"]
    for d in _PP_DEFINES:
        cmd.append("-D" + d)
    for d in defines:
        cmd.append("-D" + d)
    for d in include_dirs:
        cmd += ["-I", d]
    for h in headers:
        cmd += ["-include", os.path.abspath(h)]
    cmd.append("-")
    stdout, stderr, status = _run_preprocessor(cmd, text.encode())
    if status != 0:
        err = stderr.decode(errors="replace")
        for diag in err.splitlines():
            m = _DIAG_RE.match(diag.strip())
            if m:
                file, lineno = m.group(1), int(m.group(2))
                if display is not None:
                    file, lineno = display(file, lineno)
                message = m.group(4)
                if message.endswith("file not found"):
                    message += FREESTANDING_HINT
                raise DynError(message, f"{file}:{lineno}")
        first = next((ln.strip() for ln in err.splitlines() if ln.strip()), f"exit status {status}")
        raise DynError(f"C preprocessor failed: {first}")
    return stdout.decode(errors="replace")


PREPROCESS_TIMEOUT = 120.0  # seconds; preprocessing a header takes well under one


def _run_preprocessor(cmd: list[str], stdin: bytes) -> tuple[bytes, bytes, int]:
    """Run the preprocessor in its own process group; kill the group if it takes too long.

    A header can ``#include`` a FIFO or a device, which the preprocessor would read forever.
    """
    try:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
    except OSError as e:
        raise DynError(f"cannot run the C preprocessor ({' '.join(cmd[:4])}): {e.strerror}") from None
    try:
        stdout, stderr = proc.communicate(stdin, timeout=PREPROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise DynError(
            f"C preprocessor still running after {PREPROCESS_TIMEOUT:g} s (does a header include a FIFO or a device?)"
        ) from None
    except BaseException:
        _kill_group(proc)
        raise
    return stdout, stderr, proc.returncode


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.communicate()


class _Builder:
    """Turns pycparser declarations into type chains, tracking typedefs, tags and symbols."""

    def __init__(self, display):
        self.display = display  # (coord file) -> (file, line offset) for messages
        self.typedefs: dict[str, CType] = {"__builtin_va_list": Pointer(BASIC[CHAR])}
        self.tags: dict[str, Aggregate] = {}
        self.enums: dict[str, int | None] = {}
        self.symbols: dict[str, list] = {}  # name -> [merged ctype, latest Decl node]
        self.events: list[tuple[str, str, int]] = []  # (name, file, line) of each declaration
        self.anon = 0

    # -- errors
    def where(self, coord) -> str:
        if coord is None:
            return "?"
        file, line = self.display(coord.file or "", coord.line or 0)
        return f"{file}:{line}"

    def error(self, coord, msg: str) -> DynError:
        return DynError(msg, self.where(coord))

    # -- constant expressions (array sizes, enum values)
    def const(self, node) -> int | None:
        try:
            return self._const(node)
        except (ArithmeticError, ValueError, TypeError, RecursionError):
            return None

    def _const(self, node) -> int | None:
        if node is None:
            return None
        if isinstance(node, c_ast.Constant):
            if node.type == "char":
                body = node.value[1:-1]
                if body.startswith("\\"):
                    if body[1:2] == "x":
                        return int(body[2:], 16)
                    if body[1:].isdigit():
                        return int(body[1:], 8)
                    return _ESCAPES.get(body[1:])
                return ord(body) if len(body) == 1 else None
            if "int" not in node.type:
                return None
            v = node.value.rstrip("uUlL")
            if v.lower().startswith(("0x", "0b")):
                return int(v, 0)
            if len(v) > 1 and v.startswith("0"):
                return int(v, 8)
            return int(v)
        if isinstance(node, c_ast.ID):
            return self.enums.get(node.name)
        if isinstance(node, c_ast.Cast):
            return self._const(node.expr)
        if isinstance(node, c_ast.UnaryOp):
            if node.op == "sizeof":
                return None
            v = self._const(node.expr)
            if v is None:
                return None
            return {"-": -v, "+": v, "~": ~v, "!": int(not v)}.get(node.op)
        if isinstance(node, c_ast.TernaryOp):
            c = self._const(node.cond)
            return None if c is None else self._const(node.iftrue if c else node.iffalse)
        if isinstance(node, c_ast.BinaryOp):
            a, b = self._const(node.left), self._const(node.right)
            if a is None or b is None:
                return None
            ops = {
                "+": lambda: a + b,
                "-": lambda: a - b,
                "*": lambda: a * b,
                "/": lambda: int(a / b),
                "%": lambda: a - b * int(a / b),
                "<<": lambda: a << b,
                ">>": lambda: a >> b,
                "&": lambda: a & b,
                "|": lambda: a | b,
                "^": lambda: a ^ b,
                "&&": lambda: int(bool(a and b)),
                "||": lambda: int(bool(a or b)),
                "==": lambda: int(a == b),
                "!=": lambda: int(a != b),
                "<": lambda: int(a < b),
                ">": lambda: int(a > b),
                "<=": lambda: int(a <= b),
                ">=": lambda: int(a >= b),
            }
            fn = ops.get(node.op)
            if fn is None or (node.op in ("<<", ">>") and not 0 <= b < 4096):
                return None
            return fn()
        return None

    # -- types
    def conv(self, node) -> CType:
        """The type chain of a pycparser type node."""
        if isinstance(node, (c_ast.TypeDecl, c_ast.Typename)):
            if isinstance(node, c_ast.Typename):
                return self.conv(node.type)
            return self.spec(node.type, node.coord)
        if isinstance(node, c_ast.PtrDecl):
            return Pointer(self.conv(node.type))
        if isinstance(node, c_ast.ArrayDecl):
            n = self.const(node.dim) if node.dim is not None else None
            return Array(self.conv(node.type), n)
        if isinstance(node, c_ast.FuncDecl):
            return Function(self.conv(node.type), self.params(node.args, node.coord))
        if isinstance(node, (c_ast.Struct, c_ast.Union, c_ast.Enum)):  # a bare tag declaration
            return self.spec(node, node.coord)
        raise self.error(getattr(node, "coord", None), f"unsupported type construct {type(node).__name__}")

    def spec(self, node, coord) -> CType:
        if isinstance(node, c_ast.IdentifierType):
            return self.basic(node.names, node.coord or coord)
        if isinstance(node, (c_ast.Struct, c_ast.Union)):
            return self.aggregate(node, STRUCT if isinstance(node, c_ast.Struct) else UNION)
        if isinstance(node, c_ast.Enum):
            self.enum(node)
            return BASIC[INT]
        raise self.error(coord, f"unsupported type specifier {type(node).__name__}")

    def basic(self, names: list[str], coord) -> CType:
        words = list(names)
        if len(words) == 1 and words[0] in self.typedefs:
            return self.typedefs[words[0]]
        known = {"void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "_Bool"}
        for w in words:
            if w in ("_Complex", "_Imaginary", "__int128", "_Float128", "__float128", "_Float16", "__fp16"):
                raise self.error(coord, f"type '{w}' has no Plan 9 C signature")
            if w not in known:
                raise self.error(coord, f"unknown type name '{w}'")
        unsigned = "unsigned" in words
        nlong = words.count("long")
        if "void" in words:
            return BASIC[VOID]
        if "_Bool" in words:
            return BASIC[UCHAR]
        if "float" in words:
            return BASIC[FLOAT]
        if "double" in words:
            return BASIC[DOUBLE]
        if "char" in words:
            return BASIC[UCHAR if unsigned else CHAR]
        if "short" in words:
            return BASIC[USHORT if unsigned else SHORT]
        if nlong >= 2:
            return BASIC[UVLONG if unsigned else VLONG]
        if nlong == 1:
            return BASIC[ULONG if unsigned else LONG]
        return BASIC[UINT if unsigned else INT]

    def aggregate(self, node, kind: str) -> Aggregate:
        tag = node.name
        if tag is not None:
            agg = self.tags.get(tag)
            if agg is None:
                agg = self.tags[tag] = Aggregate(kind, tag)
            elif agg.kind != kind:
                raise self.error(node.coord, f"tag used for more than one type: {tag}")
        else:
            self.anon += 1
            agg = Aggregate(kind, None)
        if node.decls is not None and not agg.defined:
            agg.defined = True  # set first: members may refer to the struct itself
            members: list[CType] = []
            for d in node.decls:
                if not isinstance(d, c_ast.Decl):
                    continue  # pragmas, static assertions
                t = self.conv(d.type)
                if d.bitsize is not None:
                    t = BASIC[ULONG if t.kind in _UNSIGNED else LONG]
                members.append(t)
            agg.members = tuple(members) or None
        return agg

    def enum(self, node: c_ast.Enum) -> None:
        if node.values is None:
            return
        nxt: int | None = 0
        for e in node.values.enumerators:
            v = self.const(e.value) if e.value is not None else nxt
            self.enums[e.name] = v
            nxt = None if v is None else v + 1

    def params(self, plist, coord, kr_decls=None) -> tuple[CType, ...] | None:
        if plist is None:
            return None
        ps = plist.params
        ids = [p for p in ps if isinstance(p, c_ast.ID)]
        if ids:
            if len(ids) != len(ps):
                raise self.error(coord, "mixed ansi/old function declaration")
            if kr_decls is None:
                return None  # an old-style declaration: no prototype
            declared = {d.name: d for d in kr_decls if isinstance(d, c_ast.Decl)}
            out: list[CType] = [BASIC[OLD]]
            for p in ids:
                d = declared.get(p.name)
                out.append(_promote(_paramconv(self.conv(d.type))) if d is not None else BASIC[INT])
            return tuple(out)
        out = []
        for p in ps:
            if isinstance(p, c_ast.EllipsisParam):
                out.append(BASIC[DOT])
            else:
                out.append(_paramconv(self.conv(p.type)))
        return tuple(out)

    # -- declarations
    def pragma(self, node: c_ast.Pragma) -> None:
        words = (node.string or "").split()
        if not words or words[0] != "incomplete" or len(words) < 2:
            return
        if words[1] in ("struct", "union"):
            if len(words) < 3:
                raise self.error(node.coord, "missing struct/union tag in pragma incomplete")
            kind = STRUCT if words[1] == "struct" else UNION
            agg = self.tags.get(words[2])
            if agg is None:
                agg = self.tags[words[2]] = Aggregate(kind, words[2])
            agg.incomplete = True
            return
        if words[1] in ("_on_", "_off_"):
            return
        t = self.typedefs.get(words[1])
        if t is None:
            raise self.error(node.coord, f"unknown type {words[1]} in pragma incomplete")
        if not isinstance(t, Aggregate):
            raise self.error(node.coord, f"not struct/union type in pragma incomplete: {words[1]}")
        t.incomplete = True

    def external(self, node) -> list[tuple[c_ast.Decl, CType]]:
        """Process one file-scope item; return the named functions/objects it declares."""
        if isinstance(node, c_ast.Pragma):
            self.pragma(node)
            return []
        if isinstance(node, c_ast.Typedef):
            self.typedefs[node.name] = self.conv(node.type)
            return []
        if isinstance(node, c_ast.FuncDef):
            decl = node.decl
            ft = decl.type
            if not isinstance(ft, c_ast.FuncDecl):
                raise self.error(decl.coord, "function definition without a function type")
            t: CType = Function(self.conv(ft.type), self.params(ft.args, ft.coord, node.param_decls or []))
            return [(decl, t)]
        if isinstance(node, c_ast.Decl):
            t = self.conv(node.type)
            if node.name is None:
                return []
            return [(node, t)]
        return []  # static assertions and the like

    def record(self, decl: c_ast.Decl, t: CType) -> None:
        """Note a declaration of a function or object (redeclarations merge, as in the compiler)."""
        file, line = self.display(decl.coord.file or "", decl.coord.line or 0)
        old = self.symbols.get(decl.name)
        if old is None:
            self.symbols[decl.name] = [t, decl]
        else:
            old[0] = _tmerge(t, old[0])
            old[1] = decl
        self.events.append((decl.name, file, line))


# Byte sizes in the smallest data model a host can have (ILP32: 386, arm), for the size bound.
_ILP32_SIZE = {CHAR: 1, UCHAR: 1, SHORT: 2, USHORT: 2, INT: 4, UINT: 4, LONG: 4, ULONG: 4, VLONG: 8, UVLONG: 8}
_ILP32_SIZE.update({FLOAT: 4, DOUBLE: 8, IND: 4, ENUM: 4})
MAX_OBJECT_SIZE = 0xFFFFFFFF  # what a 32-bit host can hold
MAX_INTEGER_LITERAL = 0xFFFFFFFFFFFFFFFF  # the largest value of any C integer type here


def _min_size(t: CType, depth: int = 0) -> int:
    """A lower bound of ``sizeof(t)`` on a 32-bit target (padding ignored; unknown parts count 0)."""
    if depth > 50:
        return 0
    if isinstance(t, Array):
        return max(t.length or 0, 0) * _min_size(t.of, depth + 1)
    if isinstance(t, Aggregate):
        sizes = [_min_size(m, depth + 1) for m in t.members or ()]
        return (max(sizes) if t.kind == UNION else sum(sizes)) if sizes else 0
    return _ILP32_SIZE.get(t.kind, 0)


class _DeclarationChecker:
    """Checks that a declaration is valid C, in the ways pycparser's grammar does not.

    What a compiler would refuse in the generated export table is refused here, naming
    the place it was written: a function returning an array or a function, an array of
    functions, of ``void`` or of an incomplete type, an array size that is negative, zero
    (ISO C; a zero-length last member of a struct is allowed, as in GNU C) or not a
    constant, ``sizeof`` of an incomplete type, ``void`` as one parameter among others,
    an integer literal no C integer type holds, and an object larger than a 32-bit host
    can hold.
    """

    def __init__(self, builder: _Builder):
        self.b = builder

    def error(self, node, msg: str) -> DynError:
        return self.b.error(getattr(node, "coord", None), msg)

    def declaration(self, decl: c_ast.Decl) -> None:
        self.type(decl.type, "object")
        t = self.b.conv(decl.type)
        if not isinstance(t, Function):
            size = _min_size(t)
            if size > MAX_OBJECT_SIZE:
                raise self.error(
                    decl, f"'{decl.name}' is too large: {size} bytes (a 32-bit host holds at most 4 GiB - 1)"
                )

    def type(self, node, where: str) -> None:
        """``where``: 'object' (file scope), 'param', 'member' or 'last member' (of a struct)."""
        if isinstance(node, c_ast.Typename):
            self.type(node.type, where)
        elif isinstance(node, c_ast.TypeDecl):
            self.specifier(node.type)
        elif isinstance(node, c_ast.PtrDecl):
            self.type(node.type, "pointer")
        elif isinstance(node, c_ast.ArrayDecl):
            self.array(node, where)
        elif isinstance(node, c_ast.FuncDecl):
            self.function(node)

    def specifier(self, node) -> None:
        if isinstance(node, (c_ast.Struct, c_ast.Union)) and node.decls:
            members = [d for d in node.decls if isinstance(d, c_ast.Decl)]
            for i, d in enumerate(members):
                last = i == len(members) - 1 and isinstance(node, c_ast.Struct)
                self.type(d.type, "last member" if last else "member")
                if d.bitsize is not None:
                    self.expression(d.bitsize)
        elif isinstance(node, c_ast.Enum) and node.values is not None:
            for e in node.values.enumerators:
                if e.value is not None:
                    self.expression(e.value)

    def array(self, node: c_ast.ArrayDecl, where: str) -> None:
        of = self.b.conv(node.type)
        if isinstance(of, Function):
            raise self.error(node, "array of functions")
        if of.kind == VOID:
            raise self.error(node, "array of void")
        if isinstance(of, Array) and of.length is None:
            raise self.error(node, "array of arrays of unknown size")
        if isinstance(of, Aggregate) and not of.defined:
            what = "struct" if of.kind == STRUCT else "union"
            raise self.error(node, f"array of incomplete type '{what} {of.tag or '<anonymous>'}'")
        if node.dim is not None:
            self.expression(node.dim)
            n = self.b.const(node.dim)
            if n is not None and n < 0:
                raise self.error(node, f"array size is negative ({n})")
            if n == 0 and where not in ("last member", "member"):
                raise self.error(node, "array size is zero")
            if n is None and where in ("object", "member", "last member") and not self.has_sizeof(node.dim):
                raise self.error(node, "array size is not an integer constant")
        self.type(node.type, "element")

    def function(self, node: c_ast.FuncDecl) -> None:
        ret = self.b.conv(node.type)
        if isinstance(ret, Array):
            raise self.error(node, "function returning an array")
        if isinstance(ret, Function):
            raise self.error(node, "function returning a function")
        params = [p for p in (node.args.params if node.args is not None else []) if not isinstance(p, c_ast.ID)]
        for p in params:
            if isinstance(p, c_ast.EllipsisParam):
                continue
            if self.b.conv(p.type).kind == VOID and (len(params) > 1 or getattr(p, "name", None)):
                raise self.error(p, "'void' must be the only parameter")
            self.type(p.type, "param")
        self.type(node.type, "return")

    def expression(self, node) -> None:
        if isinstance(node, c_ast.Constant) and "int" in node.type:
            try:
                value = self.b._const(node)
            except ValueError:
                raise self.error(node, f"invalid integer literal {node.value}") from None
            if value is not None and value > MAX_INTEGER_LITERAL:
                raise self.error(node, f"integer literal {node.value} is too large for any integer type")
            return
        if (
            isinstance(node, c_ast.UnaryOp)
            and node.op in ("sizeof", "_Alignof")
            and isinstance(node.expr, c_ast.Typename)
        ):
            t = self.b.conv(node.expr)
            if isinstance(t, Aggregate) and not t.defined:
                what = "struct" if t.kind == STRUCT else "union"
                raise self.error(node, f"{node.op} of incomplete type '{what} {t.tag or '<anonymous>'}'")
            if isinstance(t, Array) and t.length is None:
                raise self.error(node, f"{node.op} of an array of unknown size")
            self.type(node.expr, "sizeof")
            return
        if isinstance(node, c_ast.Typename):
            self.type(node, "sizeof")
            return
        for _name, child in node.children():
            self.expression(child)

    @staticmethod
    def has_sizeof(node) -> bool:
        if isinstance(node, c_ast.UnaryOp) and node.op in ("sizeof", "_Alignof"):
            return True
        return any(_DeclarationChecker.has_sizeof(child) for _name, child in node.children())


def _paramconv(t: CType) -> CType:
    """Parameter adjustment of a prototype: arrays and functions become pointers."""
    if isinstance(t, Array):
        return Pointer(t.of)
    if isinstance(t, Function):
        return Pointer(t)
    return t


def _promote(t: CType) -> CType:
    """Default promotion of an old-style parameter."""
    k = t.kind
    if k == FLOAT:
        return BASIC[DOUBLE]
    if k in (CHAR, SHORT):
        return BASIC[INT]
    if k in (UCHAR, USHORT):
        return BASIC[UINT]
    return t


def _tmerge(t1: CType, t2: CType) -> CType:
    """A redeclaration's type merged with the earlier one (the compiler's ``tmerge``)."""
    if t1 is t2 or t1.kind != t2.kind:
        return t1
    if isinstance(t1, Function) and isinstance(t2, Function):
        params = t1.params
        if not params:
            params = t2.params
        elif params[0].kind == OLD and t2.params and t2.params[0].kind != OLD:
            params = t2.params
        return Function(_tmerge(t1.ret, t2.ret), params)
    if isinstance(t1, Pointer) and isinstance(t2, Pointer):
        return Pointer(_tmerge(t1.to, t2.to))
    if isinstance(t1, Array) and isinstance(t2, Array):
        return Array(_tmerge(t1.of, t2.of), t1.length if t1.length is not None else t2.length)
    return t1


def decl_text(decl: c_ast.Decl) -> str:
    """A normalised C declaration for ``decl``: no storage class, no initializer, no ';'."""
    copy = c_ast.Decl(
        name=decl.name,
        quals=list(decl.quals),
        align=list(decl.align or []),
        storage=[],
        funcspec=[],
        type=decl.type,
        init=None,
        bitsize=None,
        coord=decl.coord,
    )
    return " ".join(c_generator.CGenerator().visit(copy).split())


class _Parser(c_parser.CParser):
    """pycparser, also taking ``typedef_names`` (declared elsewhere) as type names."""

    def __init__(self, typedef_names: Iterable[str] = ()):
        super().__init__()
        self._outer_types = frozenset(typedef_names)

    def _is_type_in_scope(self, name: str) -> bool:
        for scope in reversed(self._scope_stack):
            known = scope.get(name)
            if known is not None:
                return known
        return name in self._outer_types


# Seeding the parser's scope relies on a pycparser internal; without it, declare the names.
_SEED_SCOPE = hasattr(c_parser.CParser, "_is_type_in_scope")


def _parse(text: str, filename: str, b: _Builder, typedef_names: Iterable[str] = ()) -> c_ast.FileAST:
    if not _SEED_SCOPE:
        text = "".join(f"typedef int {n};\n" for n in sorted(typedef_names)) + text
        typedef_names = ()
    parser = _Parser(typedef_names)
    try:
        return parser.parse(text, filename)
    except c_parser.ParseError as e:
        msg = str(e)
        m = _PARSE_ERR_RE.match(msg)
        if m:
            file, line = b.display(m.group(1), int(m.group(2)))
            what = m.group(3).strip()
            if what.startswith("before:"):
                what = "syntax error " + what
            raise DynError(what, f"{file}:{line}") from None
        raise DynError(f"syntax error: {msg}") from None
    except RecursionError:
        raise DynError("declaration too deeply nested", filename) from None
    except AssertionError:  # pycparser asserts on a '}' that closes no scope
        file, line = b.display(*_lexer_position(parser, filename))
        raise DynError("syntax error: '}' without a matching '{'", f"{file}:{line}") from None
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise DynError(f"cannot parse: {e}", filename) from None


def _lexer_position(parser: c_parser.CParser, filename: str) -> tuple[str, int]:
    """Where pycparser's lexer is (file from the line markers, line), in pycparser 2 or 3."""
    lexer = parser.clex
    inner = getattr(lexer, "lexer", None)  # pycparser 2: a PLY lexer
    line = getattr(inner, "lineno", None) if inner is not None else getattr(lexer, "_lineno", None)
    file = getattr(lexer, "filename", None) or getattr(lexer, "_filename", None) or filename
    return file, line if isinstance(line, int) else 0


class Translation:
    """Headers preprocessed and parsed once; declarations given as text resolved against them.

    ``headers`` are paths, or (path, display name) pairs; ``snippets`` are declarations given
    as text. After construction, ``symbols()`` lists every function and object declared, and
    ``snippet_items[i]`` holds what snippet ``i`` declared: (file-scope node, Decl, type)
    triples, the Decl and type None for items that declare no function or object.
    """

    def __init__(
        self,
        headers: Sequence[str | tuple[str, str]] = (),
        snippets: Sequence[Snippet] = (),
        include_dirs: Sequence[str] = (),
        defines: Sequence[str] = (),
        allow_pragmas: bool = False,
    ):
        pairs = [(h, h) if isinstance(h, str) else h for h in headers]
        self._names = {os.path.abspath(p): d for p, d in pairs}
        self._snippets = list(snippets)
        for s in self._snippets:
            for i, ln in enumerate(s.text.splitlines()):
                directive = ln.lstrip()
                if directive.startswith("#") and not (allow_pragmas and re.match(r"#\s*pragma\b", directive)):
                    raise DynError("a declaration cannot contain preprocessor directives", f"{s.file}:{s.line + i}")
        self.builder = b = _Builder(self._display)
        self.snippet_items: list[list[tuple[c_ast.Node, c_ast.Decl | None, CType | None]]] = []
        chunks: list[str] = []
        if pairs:
            stdin = "".join(f'#line 1 "{_SNIPPET_FILE.format(k)}"\n{s.text}\n' for k, s in enumerate(self._snippets))
            out = preprocess([p for p, _ in pairs], stdin, include_dirs, defines, display=self._display)
            header_text, chunks = self._split(out)
            header_ast = _parse(_PRELUDE + header_text, "", b)
            for ext in header_ast.ext:
                for d, t in b.external(ext):
                    b.record(d, t)
        else:
            for k, s in enumerate(self._snippets):
                try:
                    body = strip_comments(s.text)
                except DynError as e:
                    raise DynError(e.msg, f"{s.file}:{s.line}") from None
                chunks.append(f'# 1 "{_SNIPPET_FILE.format(k)}"\n{body}\n')
        for k in range(len(self._snippets)):
            chunk = chunks[k] if k < len(chunks) else ""
            try:
                ast = _parse(chunk, "", b, b.typedefs)
            except DynError as e:
                raise _explain(e, chunk, b.typedefs) from None
            items: list[tuple[c_ast.Node, c_ast.Decl | None, CType | None]] = []
            for ext in ast.ext:
                coord = getattr(ext, "coord", None)
                if isinstance(ext, c_ast.FuncDef):
                    coord = ext.decl.coord
                if coord is None or not _SNIPPET_RE.match(coord.file or ""):
                    continue  # not from this snippet (a typedef-name prelude)
                got = b.external(ext)
                for d, t in got:
                    b.record(d, t)
                    items.append((ext, d, t))
                if not got:
                    items.append((ext, None, None))
            self.snippet_items.append(items)

    def check_declaration(self, decl: c_ast.Decl) -> None:
        """DynError, naming where it was written, unless ``decl`` is a valid C declaration
        (beyond the grammar: see ``_DeclarationChecker``)."""
        try:
            _DeclarationChecker(self.builder).declaration(decl)
        except RecursionError:
            raise DynError("declaration nested too deeply", self.builder.where(decl.coord)) from None

    def _display(self, file: str, line: int) -> tuple[str, int]:
        m = _SNIPPET_RE.match(file)
        if m and int(m.group(1)) < len(self._snippets):
            s = self._snippets[int(m.group(1))]
            return s.file, s.line + max(line, 1) - 1
        if file in self._names:
            return self._names[file], line
        if file in ("", "<stdin>"):
            return "<declarations>", line
        if os.path.isabs(file):
            rel = os.path.relpath(file)
            if not rel.startswith(".."):
                return rel, line
        return file, line

    @staticmethod
    def _split(out: str) -> tuple[str, list[str]]:
        """Split preprocessed output into the headers' part and each snippet's part."""
        parts: list[list[str]] = [[]]
        index: list[int] = [-1]
        for line in out.splitlines(keepends=True):
            m = _PPLINE_RE.match(line) if line.startswith("#") else None
            if m:
                sm = _SNIPPET_RE.match(m.group(2))
                if sm:
                    parts.append([])
                    index.append(int(sm.group(1)))
                elif index[-1] >= 0:
                    parts.append([])
                    index.append(-1)
            parts[-1].append(line)
        chunks: dict[int, str] = {}
        for i, p in zip(index, parts, strict=True):
            chunks[i] = chunks.get(i, "") + "".join(p)
        header = chunks.pop(-1, "")
        n = max(chunks) + 1 if chunks else 0
        return header, [chunks.get(i, "") for i in range(n)]

    def symbols(self, files: Iterable[str] | None = None) -> list[Declaration]:
        """Functions and objects declared, in declaration order; with ``files`` (display names),
        only those declared in one of them, placed where first declared there."""
        wanted = None if files is None else set(files)
        out: list[Declaration] = []
        done: set[str] = set()
        for name, file, line in self.builder.events:
            if name in done or (wanted is not None and file not in wanted):
                continue
            done.add(name)
            t, decl = self.builder.symbols[name]
            out.append(_declaration(name, t, decl, file, line))
        return out


_C_WORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "_Alignas _Atomic _Bool _Complex _Noreturn _Static_assert _Thread_local".split()
)


def _explain(e: DynError, chunk: str, typedefs) -> DynError:
    """A clearer message for a declaration that starts with an unknown type name."""
    body = "\n".join(ln for ln in chunk.splitlines() if not ln.startswith("#"))
    for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\S", body):
        if word in ("extern", "static", "const", "volatile", "register", "inline", "_Noreturn"):
            continue
        if re.match(r"[A-Za-z_]", word) and word not in _C_WORDS and word not in typedefs:
            if re.search(r"\b" + word + r"\s*[*A-Za-z_(]", body):
                return DynError(f"unknown type name '{word}'", e.file)
        break
    return e


def _declaration(name: str, t: CType, decl: c_ast.Decl, file: str, line: int) -> Declaration:
    kind = "func" if isinstance(t, Function) else "object"
    return Declaration(name, kind, sign(t), t, decl_text(decl), file, line)


def header_declarations(
    paths: Sequence[str], include_dirs: Sequence[str] = (), defines: Sequence[str] = ()
) -> list[Declaration]:
    """Every function and object declared in the header files ``paths`` (one translation
    unit, in that order), in declaration order. Declarations in other files they include
    give types but are not listed."""
    tr = Translation(list(paths), include_dirs=include_dirs, defines=defines)
    return tr.symbols(paths)


def parse_source(text: str, filename: str = "<source>") -> list[Declaration]:
    """Every function and object declared in C source ``text``, without preprocessing
    (comments are stripped; ``#pragma`` lines are kept, other directives refused)."""
    return Translation(snippets=[Snippet(text, filename, 1)], allow_pragmas=True).symbols()


def signature_of(decl: str, headers: Sequence[str] = ()) -> int:
    """The signature of the one function or object ``decl`` declares."""
    text = decl if decl.rstrip().endswith(";") else decl + ";"
    tr = Translation(headers, [Snippet(text, "<decl>", 1)])
    got = [t for _, d, t in tr.snippet_items[0] if t is not None]
    if len(got) != 1:
        raise DynError(f"expected one declaration, found {len(got)}", "<decl>")
    return sign(got[0])
