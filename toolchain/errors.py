"""Errors, output files and the command-line conventions shared by every tool.

Every tool reports a bad input as one line, ``prog: file: what is wrong``, exits
with status 1 (2 for a bad command line), never prints a traceback and never leaves
a half-written output file behind.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import sys
from collections.abc import Callable, Sequence

from .records import TYPE_CHECKING

if TYPE_CHECKING:
    import mmap
    from typing import TypeVar

    _T = TypeVar("_T")


class DynError(Exception):
    """A user-facing error: the message is printed after the program name."""

    def __init__(self, msg: str, file: str | None = None):
        self.msg = msg
        self.file = file
        super().__init__(f"{file}: {msg}" if file else msg)


class DynErrors(DynError):
    """Several user-facing errors found in one run (every undefined symbol of a link): one line each."""

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("\n".join(messages))


class UsageError(DynError):
    """A bad command line (exit status 2)."""

    @classmethod
    def see_help(cls, message: str) -> UsageError:
        """``message`` as the tools word a usage error: pointing at ``--help``."""
        return cls(f"{message} (see --help)")


def _escape_char(c: str) -> str:
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (decoded with surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if c in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[c]
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


_NAMED_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def printable(name: bytes | str) -> str:
    """``name`` as text safe to print on one line of a terminal or a text file.

    Bytes are decoded as UTF-8; a byte that is not part of valid UTF-8 is shown as ``\\xNN``.
    Control characters and other non-printable characters are shown as ``\\n``, ``\\t``,
    ``\\r``, ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``; everything else, backslashes included,
    is kept, so that ``printable(printable(x)) == printable(x)``.
    """
    text = name.decode("utf-8", "surrogateescape") if isinstance(name, bytes) else name
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape_char(c) for c in text)


def encode_text(text: str) -> bytes:
    """``text`` as UTF-8 for a text output (a map file); a non-UTF-8 byte kept from an input
    name (a surrogate, from surrogateescape) is written as the four characters ``\\xNN``."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return "".join(_escape_char(c) if 0xD800 <= ord(c) <= 0xDFFF else c for c in text).encode()


def write_output(path: str, data: bytes | bytearray | str, executable: bool = False) -> None:
    """Write ``data`` to ``path`` atomically: the file appears whole or not at all.

    A ``str`` is written as UTF-8 text by :func:`encode_text`.
    """
    if isinstance(data, str):
        data = encode_text(data)
    try:
        kind = stat.S_IFMT(os.stat(path).st_mode)
    except OSError:
        kind = stat.S_IFREG  # not there (or not reachable): made whole, as below
    if kind == stat.S_IFDIR:
        raise DynError("cannot write output: Is a directory", path)
    if kind != stat.S_IFREG:
        _write_into_special_file(path, data)
        return
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = open_temporary(directory, ".dyntmp-")
    except OSError as e:
        raise DynError(f"cannot create output: {e.strerror}", path) from None
    try:
        replace_with_temporary(fd, tmp, path, data, 0o755 if executable else 0o644)
    except OSError as e:
        raise DynError(f"cannot write output: {e.strerror}", path) from None


def file_identity(path: str | None) -> tuple[int, int] | None:
    """(device, inode) of the regular file at ``path``, or None (no path, ``-``, not there, not
    a regular file): two paths or hard links name the same file when these are equal."""
    if path is None or path == "-":
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def refuse_output_over_input(outputs: Sequence[str | None], inputs: Sequence[str | None]) -> None:
    """DynError naming the input when an output file is one of the inputs (the same file, by
    any path or hard link): writing it would replace what was read, as gcc and GNU ld refuse."""
    ids = {file_identity(out) for out in outputs} - {None}
    if not ids:
        return
    for path in inputs:
        if file_identity(path) in ids:
            raise DynError("input file is the same as the output file", path)


def _write_into_special_file(path: str, data: bytes | bytearray) -> None:
    """Write into a device or pipe (``-o /dev/null``, ``-o /dev/stdout``), as cc and ld do: never
    replace it (as root, renaming over /dev/null would put a file where the device was). A FIFO
    nobody reads is an error, not a wait."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        why = "no process is reading it" if e.errno == errno.ENXIO else e.strerror
        raise DynError(f"cannot write output: {why}", path) from None
    try:
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError as e:
        raise DynError(f"cannot write output: {e.strerror}", path) from None


_TEMPORARY_SERIAL = itertools.count()


def open_temporary(directory: str, prefix: str) -> tuple[int, str]:
    """Create a new file in ``directory`` for writing (mode 0600) under a name no other process or
    thread is using; its descriptor and path. (``tempfile.mkstemp`` without the import: that
    module costs every command a few milliseconds of start-up.)"""
    while True:
        tmp = os.path.join(directory, f"{prefix}{os.getpid()}-{next(_TEMPORARY_SERIAL)}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), tmp
        except FileExistsError:
            continue


def replace_with_temporary(fd: int, tmp: str, path: str, data: bytes | bytearray, mode: int) -> None:
    """Write ``data`` into the temporary file ``tmp`` (open as ``fd``, from ``open_temporary``),
    give it ``mode`` and rename it to ``path``; on any failure it is removed and the error raised.

    Once the new file is complete, the old one is unlinked just before the rename (as GNU ld
    and mold remove theirs, and lld moves its aside): renaming over an existing file makes
    ext4 write the new one out first (``auto_da_alloc``), 3-4 ms for a 7 MB executable. A
    reader sees the old file, then for the moment between the two calls none, then the new one.
    """
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        _unlink_quietly(path)  # a directory is not removed: the rename then reports it
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


#: input files larger than this are mapped (``map_input``), smaller ones read
MAP_THRESHOLD = 1 << 20


def read_input(path: str) -> bytes:
    """Read a whole input file; DynError naming it if that fails or if it is not a regular file.

    The file is opened without blocking, so a FIFO is refused instead of waited on.
    """
    return _use_input(path, _read_all)


class InputDirectories:
    """Directories held open while many inputs are opened relative to them: the kernel looks
    each directory's path up once, not once per file (2 µs a file here, on a long path)."""

    def __init__(self, output: str | None = None) -> None:
        self._fds: dict[str, int] = {}
        #: (device, inode) of the output file when it exists: no input may be it (as GNU ld says,
        #: "input file is the same as output file"; writing the output would replace it)
        self.output_id = file_identity(output)

    def find(self, path: str) -> tuple[int | None, str]:
        """(directory descriptor, name in it) to open ``path`` by, or (None, ``path``)."""
        head, name = os.path.split(path)
        if not head or name in ("", ".", ".."):
            return None, path
        fd = self._fds.get(head)
        if fd is None:
            try:  # O_PATH: looking names up in it needs no read permission on the directory
                fd = os.open(head, getattr(os, "O_PATH", os.O_RDONLY) | getattr(os, "O_DIRECTORY", 0))
            except (OSError, ValueError):
                fd = -1  # the file's own opening reports what is wrong
            self._fds[head] = fd
        return (fd, name) if fd >= 0 else (None, path)

    def close(self) -> None:
        for fd in self._fds.values():
            if fd >= 0:
                os.close(fd)
        self._fds.clear()


def map_input(path: str, directories: InputDirectories | None = None) -> mmap.mmap | bytes:
    """An input file's bytes, with ``read_input``'s checks and errors: read when it is at most
    ``MAP_THRESHOLD`` bytes (or cannot be mapped), else its pages mapped read-only.

    Mapped pages are the page cache's: unmapping them gives the memory back, where bytes read
    into the heap stay with the process until freed. A small file costs less to read (one
    copy) than to map, fault in and unmap: 7 ms of a 1,000-object link, 0.1 s at 10,000.
    """
    return _use_input(path, _read_or_map, directories)


def read_head(path: str, size: int) -> bytes:
    """The first ``size`` bytes of an input file (all of a shorter one), with ``read_input``'s
    checks and errors: a FIFO or a directory is refused, not waited on."""
    return _use_input(path, lambda fd, _st: os.read(fd, size))


def _use_input(path: str, use: Callable[[int, os.stat_result], _T], directories: InputDirectories | None = None) -> _T:
    directory, name = directories.find(path) if directories is not None else (None, path)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0), dir_fd=directory)
    except (OSError, ValueError) as e:
        raise DynError(getattr(e, "strerror", None) or "cannot read", path) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DynError("not a regular file", path)
        if directories is not None and directories.output_id == (st.st_dev, st.st_ino):
            raise DynError("input file is the same as the output file", path)
        return use(fd, st)
    except OSError as e:
        raise DynError(e.strerror or "cannot read", path) from None
    finally:
        os.close(fd)


def _read_all(fd: int, st: os.stat_result) -> bytes:
    data = os.read(fd, st.st_size + 1)  # all of it in one call, unless it grew or the read was short
    if len(data) == st.st_size:
        return data
    chunks = [data]
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _read_or_map(fd: int, st: os.stat_result) -> mmap.mmap | bytes:
    if st.st_size > MAP_THRESHOLD:
        import mmap

        try:
            return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            pass  # a file system without mappable files: read it
    return _read_all(fd, st)


def unreadable_reason(path: str) -> str | None:
    """Why ``path`` cannot be read as a regular file, or None when it can.

    Anything but a regular file (a FIFO, a device, a directory) is refused from its
    ``stat`` alone: opening a FIFO for reading would wait for a writer forever.
    """
    try:
        st = os.stat(path)
    except (OSError, ValueError) as e:
        return getattr(e, "strerror", None) or "cannot read"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    try:
        os.close(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)))
    except OSError as e:
        return e.strerror or "cannot read"
    return None


def report(prog: str, message: object) -> None:
    """Print ``prog: message`` on stderr as one line, non-printable characters escaped.

    A ``DynErrors`` prints one such line per error it holds.
    """
    messages = message.messages if isinstance(message, DynErrors) else [message]
    for m in messages:
        print(printable(f"{prog}: {m}"), file=sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is so that temporary files are removed and children
    stopped on the way out, as for Ctrl-C."""


def _terminate_by_unwinding() -> None:
    import _signal  # signal's C module: ``signal`` itself builds enums on import, 0.5 ms

    def raise_terminated(signum: int, frame: object) -> None:
        raise Terminated

    try:
        _signal.signal(_signal.SIGTERM, raise_terminated)
    except ValueError:  # not the main thread
        pass


#: how deep ``@file`` arguments may name further ``@file`` arguments (a file naming itself stops here)
RESPONSE_FILE_DEPTH = 32


def expand_response_files(argv: Sequence[str], depth: int = 0) -> list[str]:
    """The arguments with each ``@file`` replaced by the arguments the file holds, as gcc, clang
    and GNU ld read them (build systems pass long command lines so): separated by white space,
    quoted with ``'`` or ``"``, any character escaped by a backslash; ``@file`` inside a file
    is read too. An ``@file`` that cannot be read stays as it is, as with gcc."""
    if not any(a[:1] == "@" for a in argv):
        return list(argv)
    out: list[str] = []
    for arg in argv:
        if arg[:1] != "@" or len(arg) == 1:
            out.append(arg)
            continue
        try:
            with open(arg[1:], "rb") as f:
                text = f.read().decode("utf-8", "surrogateescape")
        except (OSError, ValueError):
            out.append(arg)
            continue
        if depth >= RESPONSE_FILE_DEPTH:
            raise UsageError(f"{arg}: response files nested more than {RESPONSE_FILE_DEPTH} deep")
        out += expand_response_files(split_response_text(text), depth + 1)
    return out


def split_response_text(text: str) -> list[str]:
    """A response file's arguments (``expand_response_files``)."""
    args: list[str] = []
    current: list[str] = []
    started = escaped = False
    quote = ""
    for c in text:
        if escaped:
            current.append(c)
            escaped = False
        elif c == "\\":
            escaped = started = True
        elif quote:
            if c == quote:
                quote = ""
            else:
                current.append(c)
        elif c in "'\"":
            quote, started = c, True
        elif c.isspace():
            if started:
                args.append("".join(current))
                current.clear()
                started = False
        else:
            current.append(c)
            started = True
    if started:
        args.append("".join(current))
    return args


def run_main(prog: str, body: Callable[[Sequence[str]], int | None], argv: Sequence[str] | None = None) -> int:
    """Run a tool's body with the conventions: 0 ok, 1 bad input, 2 bad usage.

    Every message goes through :func:`report`: one line, whatever characters the input had.
    """
    if argv is None:  # the process's own command: a SIGTERM (make, timeout) unwinds as Ctrl-C does
        argv = sys.argv[1:]
        _terminate_by_unwinding()
    try:
        return body(expand_response_files(argv)) or 0
    except UsageError as e:
        report(prog, e)
        return 2
    except DynError as e:
        report(prog, e)
        return 1
    except Terminated:
        report(prog, "terminated")
        return 143
    except KeyboardInterrupt:
        report(prog, "interrupted")
        return 130
    except SystemExit as e:  # argparse --help
        return int(e.code or 0) if isinstance(e.code, int) else 0
    except RecursionError:
        report(prog, "input too deeply nested")
        return 1
    except MemoryError:
        report(prog, "out of memory")
        return 1
    except Exception as e:  # noqa: BLE001 - last line of defence: one line, never a traceback
        report(prog, f"internal error: {type(e).__name__}: {e}")
        if os.environ.get("DYNTOOLS_TRACEBACK"):
            raise
        return 1
