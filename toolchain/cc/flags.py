"""Compiler flags the way gcc users expect them: the arch's defaults first, the user's flags win.

zig's driver parses some code-generation flags itself and does not always let the
last one win: ``-fpie -fno-pic`` is an error ("making a PIE requires enabling PIC")
and ``-g0 -g`` gives no debug information.  ``merge_flags`` resolves those families
as clang and gcc do (the last flag of the family decides) before zig sees them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

#: compiler flags whose value is the next argument
SEPARATE_VALUE = frozenset(
    {
        "-I",
        "-D",
        "-U",
        "-include",
        "-imacros",
        "-isystem",
        "-iquote",
        "-idirafter",
        "-iprefix",
        "-iwithprefix",
        "-iwithprefixbefore",
        "-isysroot",
        "--sysroot",
        "-MF",
        "-MT",
        "-MQ",
        "-Xclang",
        "-mllvm",
        "-Xpreprocessor",
        "-Xassembler",
        "-target",
        "-x",
    }
)

# the last flag of the position-independence family decides, as in clang (-fno-pie turns PIC off too)
_PIC_CANONICAL = {
    "-fno-pic": ("-fno-pic", "-fno-pie"),
    "-fno-PIC": ("-fno-pic", "-fno-pie"),
    "-fno-pie": ("-fno-pic", "-fno-pie"),
    "-fno-PIE": ("-fno-pic", "-fno-pie"),
    "-fpic": ("-fno-pie", "-fpic"),
    "-fPIC": ("-fno-pie", "-fPIC"),
    "-fpie": ("-fpie",),
    "-fPIE": ("-fPIE",),
}

# flags that choose a debug-information level (others, like -gz or -gno-column-info, only refine it)
_DEBUG_LEVEL_RE = re.compile(
    r"-g(|[0-3]|gdb[0-3]?|lldb|sce|dwarf|dwarf-[2-5]|line-tables-only|line-directives-only|full|used)"
)
_NO_DEBUG = frozenset({"-g0", "-ggdb0"})

#: dependency-output flags (given to the compiling step only, never to a second preprocessor run)
_DEP_EXACT = frozenset({"-MD", "-MMD", "-MP", "-MG"})
_DEP_WITH_VALUE = ("-MF", "-MT", "-MQ")


def group_flags(flags: Sequence[str]) -> list[list[str]]:
    """Group flags with their separate values: ``["-I", "dir"]`` stays one group."""
    groups: list[list[str]] = []
    i = 0
    while i < len(flags):
        f = flags[i]
        if f in SEPARATE_VALUE and i + 1 < len(flags):
            groups.append([f, flags[i + 1]])
            i += 2
        else:
            groups.append([f])
            i += 1
    return groups


def _flat(groups: list[list[str]]) -> list[str]:
    return [f for g in groups for f in g]


def merge_flags(defaults: Sequence[str], user: Sequence[str], zig: bool = True) -> list[str]:
    """``defaults`` then ``user``, with the position-independence family (and, for zig, the
    debug-level family) reduced to what its last flag means."""
    dgroups, ugroups = group_flags(defaults), group_flags(user)
    pic = [g[0] for g in (*dgroups, *ugroups) if g[0] in _PIC_CANONICAL]
    if pic:
        dgroups = [g for g in dgroups if g[0] not in _PIC_CANONICAL] + [list(_PIC_CANONICAL[pic[-1]])]
        ugroups = [g for g in ugroups if g[0] not in _PIC_CANONICAL]
    groups = dgroups + ugroups
    if zig:
        levels = [g[0] for g in groups if _DEBUG_LEVEL_RE.fullmatch(g[0])]
        if not levels or levels[-1] in _NO_DEBUG:
            # zig's driver writes DWARF without -g, and ignores a -g after -g0: say -g0 once
            groups = [g for g in groups if not _DEBUG_LEVEL_RE.fullmatch(g[0])]
            groups.insert(0, ["-g0"])
        else:
            groups = [g for g in groups if g[0] not in _NO_DEBUG]
    return _flat(groups)


def is_freestanding(flags: Sequence[str]) -> bool:
    """Whether the flags ask for a freestanding compile (the last of ``-ffreestanding``/``-fhosted``)."""
    state = False
    for f in flags:
        if f == "-ffreestanding":
            state = True
        elif f == "-fhosted":
            state = False
    return state


def wants_c_library_headers(flags: Sequence[str]) -> bool:
    """Hosted and no ``-nostdinc``/``-nostdlibinc``: the C library's headers belong on the search path."""
    return not is_freestanding(flags) and not any(f in ("-nostdinc", "-nostdlibinc") for f in flags)


def has_target(flags: Sequence[str]) -> bool:
    """Whether the user chose the compiler's target themselves."""
    return any(f == "-target" or f.startswith("--target=") for f in flags)


def split_dependency_flags(flags: Sequence[str]) -> tuple[list[str], list[str]]:
    """(flags without dependency-output options, the dependency-output options)."""
    rest: list[str] = []
    deps: list[str] = []
    for g in group_flags(flags):
        if g[0] in _DEP_EXACT or g[0].startswith(_DEP_WITH_VALUE):
            deps += g
        else:
            rest += g
    return rest, deps


def dependency_file(dep_flags: Sequence[str], out: str) -> str | None:
    """Where ``-MD``/``-MMD`` write the dependency file for object ``out`` (None: no such flag)."""
    if not any(f in ("-MD", "-MMD") for f in dep_flags):
        return None
    for g in group_flags(dep_flags):
        if g[0] == "-MF":
            return g[1] if len(g) > 1 else None
        if g[0].startswith("-MF"):
            return g[0][3:]
    return _stem(out) + ".d"


def _stem(path: str) -> str:
    root, ext = os.path.splitext(path)
    return root if ext else path


def complete_dependency_flags(dep_flags: Sequence[str], out: str) -> list[str]:
    """With ``-MD``/``-MMD``: name ``out`` as the target and put the file beside it unless told otherwise."""
    dep_file = dependency_file(dep_flags, out)
    if dep_file is None:
        return list(dep_flags)
    extra = []
    if not any(f.startswith(("-MT", "-MQ")) for f in dep_flags):
        extra += ["-MT", out]
    if not any(f.startswith("-MF") for f in dep_flags):
        extra += ["-MF", dep_file]
    return [*dep_flags, *extra]


def parse_dependency_file(text: str) -> list[str]:
    """The prerequisites a make-style dependency file lists (every rule's), in order, without repeats."""
    text = text.replace("\\\r\n", " ").replace("\\\n", " ")
    seen: dict[str, None] = {}
    for line in text.split("\n"):
        for w in _prerequisites(line):
            seen.setdefault(w, None)
    return list(seen)


def _prerequisites(line: str) -> list[str]:
    """The words after the rule's colon (``\\ `` is a space in a name, ``$$`` a ``$``)."""
    words: list[str] = []
    cur: list[str] = []
    after_colon = False
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and line[i + 1 : i + 2] in (" ", "#"):
            cur.append(line[i + 1])
            i += 2
            continue
        if c == "$" and line[i + 1 : i + 2] == "$":
            cur.append("$")
            i += 2
            continue
        if c in " \t":
            if cur and after_colon:
                words.append("".join(cur))
            cur = []
        elif c == ":" and not after_colon and line[i + 1 : i + 2] in ("", " ", "\t"):
            after_colon = True
            cur = []
        else:
            cur.append(c)
        i += 1
    if cur and after_colon:
        words.append("".join(cur))
    return words
