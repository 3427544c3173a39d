"""Finding the link's inputs: ``-l`` search, ``-Bstatic``/``-Bdynamic``, and linker scripts followed.

The rules are GNU ld's:

- ``-l NAME`` looks in each search directory in turn (the ``-L`` directories, in
  command-line order, then the C library's and the arch's library directories) for
  ``libNAME.so`` and then ``libNAME.a``; the first directory holding either wins.
  Under ``-Bstatic`` (also spelled ``-static``, ``-dn``, ``-non_shared``) only
  ``libNAME.a`` is looked for, until ``-Bdynamic`` (``-dy``, ``-call_shared``).
  ``-l:FILE`` looks for the file name ``FILE`` itself.
- These switches and ``--as-needed`` / ``--no-as-needed`` are positional: each
  affects the inputs after it on the command line. ``--as-needed`` is the default
  here (GNU ld's default is ``--no-as-needed``; Debian and lld-based toolchains link
  ``--as-needed``).
- A file that is neither an ELF object, an ELF shared library nor an archive is read
  as a linker script (``ldscript``); the files it names are found, in order, as if
  they stood on the command line in its place. A relative name in a script is looked
  for next to the script first, then in the current directory, then (for ``-lNAME``)
  in the search directories and the script's ``SEARCH_DIR``s.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Sequence

from .. import elf
from ..errors import DynError, InputDirectories, UsageError, map_input, read_head, read_input
from ..records import TYPE_CHECKING, NamedTuple
from .ldscript import looks_like_script, parse_linker_script

if TYPE_CHECKING:
    import mmap

    from ..arch import Arch

KIND_OBJECT, KIND_ARCHIVE, KIND_SHARED = "object", "archive", "shared"
MAX_SCRIPT_DEPTH = 16  # scripts naming scripts: deeper than this is taken for a cycle
MAX_SCRIPT_SIZE = 1 << 20

_STATIC_FLAGS = ("-Bstatic", "-static", "-dn", "-non_shared")
_DYNAMIC_FLAGS = ("-Bdynamic", "-dy", "-call_shared")
_GROUP_FLAGS = ("--start-group", "--end-group", "-(", "-)")  # archives are searched as one set anyway


class InputArg(NamedTuple):
    """One input as the command line names it, with the positional switches in force there."""

    name: str  # a path; for a library (``-l``) the NAME, or ``:FILE``
    is_library: bool = False
    static: bool = False  # -Bstatic in force: only archives are searched for
    as_needed: bool = True  # --as-needed in force: DT_NEEDED only if the library is used
    whole: bool = False  # --whole-archive in force: every member of an archive is loaded

    @property
    def spelling(self) -> str:
        """How the user wrote it (``-lc``, ``-l:libz.a``, ``foo.o``)."""
        return f"-l{self.name}" if self.is_library else self.name


class LinkInput(NamedTuple):
    """A found input file, ready to load."""

    path: str
    kind: str  # KIND_OBJECT, KIND_ARCHIVE or KIND_SHARED
    as_needed: bool = True
    origin: str = ""  # how it was named: ``-lc``, ``-lc -> libc.so`` (through a script), or the path
    whole: bool = False  # an archive named under --whole-archive: every member is loaded


def split_inputs(argv: Sequence[str], takes_value: Callable[[str], bool]) -> tuple[list[str], list[InputArg]]:
    """Take the inputs and positional switches out of a command line.

    Returns the remaining arguments (for argparse) and the inputs in order, each with
    the ``-Bstatic``/``--as-needed``/``--whole-archive`` state in force where it stands. ``takes_value(opt)``
    says whether a remaining option consumes the next argument (so that ``-o out``'s
    ``out`` is not taken for an input).
    """
    rest: list[str] = []
    inputs: list[InputArg] = []
    static, as_needed, whole = False, True, False
    i = 0
    only_files = False
    while i < len(argv):
        arg = argv[i]
        i += 1
        if only_files or not arg.startswith("-") or arg == "-":
            inputs.append(InputArg(arg, False, static, as_needed, whole))
        elif arg == "--":
            only_files = True
        elif arg in ("-l", "--library"):
            if i >= len(argv):
                raise UsageError(f"{arg} needs a library name")
            inputs.append(InputArg(_library_name(argv[i], arg), True, static, as_needed, whole))
            i += 1
        elif arg.startswith("--library="):
            inputs.append(InputArg(_library_name(arg[len("--library=") :], arg), True, static, as_needed, whole))
        elif arg.startswith("-l"):
            inputs.append(InputArg(arg[2:], True, static, as_needed, whole))
        elif arg in _STATIC_FLAGS:
            static = True
        elif arg in _DYNAMIC_FLAGS:
            static = False
        elif arg == "--as-needed":
            as_needed = True
        elif arg == "--no-as-needed":
            as_needed = False
        elif arg in ("--whole-archive", "--no-whole-archive"):
            whole = arg == "--whole-archive"
        elif arg in _GROUP_FLAGS:
            pass
        else:
            rest.append(arg)
            if "=" not in arg and takes_value(arg) and i < len(argv):
                rest.append(argv[i])
                i += 1
    return rest, inputs


def _library_name(name: str, option: str) -> str:
    if not name or name == ":":
        raise UsageError(f"{option}: empty library name")
    return name


def library_file_names(name: str, static: bool) -> list[str]:
    """The file names ``-l name`` looks for in each directory, in order."""
    if name.startswith(":"):
        return [name[1:]]
    return [f"lib{name}.a"] if static else [f"lib{name}.so", f"lib{name}.a"]


def find_library(
    name: str, dirs: Sequence[str], static: bool = False, arch: Arch | None = None, skipped: list[str] | None = None
) -> str | None:
    """The file ``-l name`` means: the first directory holding one of its file names wins.

    With ``arch``, a library for another machine is passed over, as GNU ld skips an
    "incompatible" one (``-L/usr/lib/x86_64-linux-gnu`` in a 386 link), and added to ``skipped``.
    """
    candidates = library_file_names(name, static)
    for d in dirs:
        for fname in candidates:
            path = os.path.join(d, fname)
            if os.path.isfile(path):
                if arch is not None and not _may_be_for(path, arch):
                    if skipped is not None:
                        skipped.append(path)
                    continue
                return path
    return None


def _may_be_for(path: str, arch: Arch, depth: int = 0) -> bool:
    """False when ``path`` is plainly for another machine: an ELF file of another machine or
    class, an archive whose first object is, or a linker script whose first file is. Anything
    unreadable or unrecognised passes (the link then reports what is wrong with it)."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)  # what _kind_of reads: a script may start with a long comment
            if head.startswith(b"\x7fELF"):
                return _elf_fits(head, arch)
            if head.startswith(b"!<arch>\n"):
                at = 8
                for _ in range(4):  # past the symbol table and the long names to the first member
                    f.seek(at)
                    header = f.read(60)
                    if len(header) < 60 or not header[48:58].strip().isdigit():
                        return True
                    size = int(header[48:58])
                    if not header.startswith((b"/ ", b"// ", b"/SYM64/")):
                        return _elf_fits(f.read(20), arch) if size >= 20 else True
                    at += 60 + size + (size & 1)
                return True
        if depth < 4 and looks_like_script(head):
            script = parse_linker_script(read_input(path).decode("utf-8", "replace"), path)
            first = next((entry for entry in script.inputs if not entry.is_library), None)
            target = _script_file(first.name, os.path.dirname(path)) if first is not None else None
            return target is None or _may_be_for(target, arch, depth + 1)
    except (OSError, DynError, ValueError):
        pass
    return True


def _elf_fits(head: bytes, arch: Arch) -> bool:
    if len(head) < 20 or not head.startswith(b"\x7fELF"):
        return True
    bits = {1: 32, 2: 64}.get(head[4], 0)
    return bits == arch.bits and struct.unpack_from("<H", head, 18)[0] == arch.machine


def search_dirs(user_dirs: Sequence[str], c_library_dir: str | None, arch_dirs: Sequence[str]) -> list[str]:
    """Where ``-l`` looks: ``-L`` directories, then the C library's, then the arch's; each once."""
    out: list[str] = []
    for d in (*user_dirs, *([c_library_dir] if c_library_dir else []), *arch_dirs):
        if d not in out:
            out.append(d)
    return out


def input_kind(path: str) -> str:
    """KIND_OBJECT, KIND_ARCHIVE, KIND_SHARED, or "script" for a file that may be a linker script."""
    return _kind_of(read_head(path, 512), path)


def _kind_and_contents(path: str, opened: InputDirectories) -> tuple[str, mmap.mmap | bytes | None]:
    """``input_kind``, and for an object or an archive read whole its bytes (``map_input``): the
    link parses it next, without opening it again. Other kinds are read by their own loaders."""
    data = map_input(path, opened)
    kind = _kind_of(data[:512], path)
    if kind == KIND_OBJECT or (kind == KIND_ARCHIVE and isinstance(data, bytes)):
        return kind, data
    if not isinstance(data, bytes):
        data.close()
    return kind, None


def _kind_of(head: bytes, path: str) -> str:
    if head.startswith(b"!<arch>\n"):
        return KIND_ARCHIVE
    if head.startswith(b"!<thin>\n"):
        raise DynError("thin archives are not supported", path)
    if head.startswith(b"\x7fELF"):
        if len(head) < 18:
            raise DynError("truncated ELF file", path)
        e_type = struct.unpack_from("<H", head, 16)[0]
        if e_type == elf.ET_REL:
            return KIND_OBJECT
        if e_type == elf.ET_DYN:
            return KIND_SHARED
        raise DynError("not a relocatable object or a shared library (an executable?)", path)
    if looks_like_script(head):
        return "script"
    if head.startswith(elf.LLVM_BITCODE_MAGIC):
        raise DynError(elf.LLVM_BITCODE_ERROR, path)
    raise DynError("not an ELF file (nor an archive or a linker script)", path)


def resolve_inputs(
    args: Sequence[InputArg],
    dirs: Sequence[str],
    contents: dict[str, mmap.mmap | bytes] | None = None,
    output: str | None = None,
    arch: Arch | None = None,
) -> list[LinkInput]:
    """The files the inputs name, in order, with libraries found and scripts followed.

    A shared library or archive named twice is kept once (at its first place; the
    library is as-needed only if every mention says so); objects are kept each time.
    ``contents`` receives each object's bytes, and each archive's when it was read rather
    than mapped, read while its kind was read (the first time a path is named), for
    ``load_inputs`` to parse. None of them may be the file ``output`` (the link would replace it).
    ``-l`` passes over libraries for another machine than ``arch`` (``find_library``).
    """
    found: list[LinkInput] = []
    opened = InputDirectories(output)
    try:
        for arg in args:
            if arg.is_library:
                if arg.static and arg.name == "c":  # a machine's libc.a needs IFUNC and TLS relocations
                    raise DynError(
                        f"{arg.spelling}: static glibc is not supported; link the C library dynamically "
                        f"(drop -static, or put -Bdynamic before {arg.spelling})"
                    )
                skipped: list[str] = []
                path = find_library(arg.name, dirs, arg.static, arch, skipped)
                if path is None:
                    kind = "static library " if arg.static and not arg.name.startswith(":") else ""
                    where = ", ".join(dirs) or "no directories"
                    other = f"; passed over, for another machine: {', '.join(skipped)}" if skipped else ""
                    raise DynError(f"cannot find {kind}{arg.spelling} (searched: {where}{other})")
                _add_file(path, arg, arg.spelling, dirs, found, 0, contents, opened, arch)
            else:  # a missing file is reported by its opening: "No such file or directory"
                _add_file(arg.name, arg, arg.name, dirs, found, 0, contents, opened, arch)
    finally:
        opened.close()
    return _dedupe(found)


def _add_file(
    path: str,
    arg: InputArg,
    origin: str,
    dirs: Sequence[str],
    out: list[LinkInput],
    depth: int,
    contents: dict[str, mmap.mmap | bytes] | None,
    opened: InputDirectories,
    arch: Arch | None = None,
) -> None:
    if contents is None or path in contents:
        kind = input_kind(path)
    else:
        kind, data = _kind_and_contents(path, opened)
        if data is not None:
            contents[path] = data
    if kind != "script":
        if origin != path and not origin.endswith(path):
            origin = f"{origin} -> {path}"
        out.append(LinkInput(path, kind, arg.as_needed, origin, arg.whole and kind == KIND_ARCHIVE))
        return
    if depth >= MAX_SCRIPT_DEPTH:
        raise DynError(f"linker scripts nested more than {MAX_SCRIPT_DEPTH} deep (a cycle?)", path)
    if os.path.getsize(path) > MAX_SCRIPT_SIZE:
        raise DynError("not an ELF object, shared library or archive, and too big for a linker script", path)
    script = parse_linker_script(read_input(path).decode("utf-8", "replace"), path)
    here = os.path.dirname(path)
    script_dirs = [*dirs, *script.search_dirs]
    for entry in script.inputs:
        sub = arg._replace(name=entry.name, is_library=entry.is_library, as_needed=arg.as_needed or entry.as_needed)
        if entry.is_library:
            target = find_library(entry.name, script_dirs, arg.static, arch)
            if target is None:
                raise DynError(f"cannot find -l{entry.name} named by the linker script", path)
        else:
            target = _script_file(entry.name, here)
            if target is None:
                raise DynError(f"cannot find {entry.name} named by the linker script", path)
        _add_file(target, sub, f"{origin} -> {os.path.basename(path)}", dirs, out, depth + 1, contents, opened, arch)


def _script_file(name: str, script_dir: str) -> str | None:
    if os.path.isabs(name):
        return name if os.path.isfile(name) else None
    for candidate in (os.path.join(script_dir, name), name):
        if os.path.isfile(candidate):
            return candidate
    return None


def _dedupe(found: list[LinkInput]) -> list[LinkInput]:
    out: list[LinkInput] = []
    first: dict[str, int] = {}
    for inp in found:
        if inp.kind == KIND_OBJECT:
            out.append(inp)
            continue
        key = os.path.realpath(inp.path)
        at = first.get(key)
        if at is None:
            first[key] = len(out)
            out.append(inp)
        else:  # named twice: --no-as-needed or --whole-archive at either place holds
            out[at] = out[at]._replace(as_needed=out[at].as_needed and inp.as_needed, whole=out[at].whole or inp.whole)
    return out
