"""The Python fuzz targets: each takes one input (bytes) and raises on a finding.

A target may only end in one of two ways: it returns (the input was accepted, and what
was made of it passed the target's checks), or the code under test raised DynError (the
input was refused, with a message). Any other exception is a finding. The targets are
plain functions, so that the regression inputs in fuzz/regressions/ can be replayed by
pytest without atheris (tests/test_fuzz_regressions.py).

=============  ================================================================
target         what it drives
=============  ================================================================
elf_reader     toolchain.linker.inputs: load_object, Archive (first byte: arch)
linker         dynlink's main() in process on one mutated object or archive
               (byte 0: arch, byte 1: executable / module / executable + --map)
module         toolchain.dynld.module.decode, exports, describe, encode round trip,
               and dyninfo's module report
manifest       load_manifest on "YAML\\0header text" (the header is h.h) and
               generate_c; the preprocessor is replaced by a pure-Python stand-in
header         signatures.parse_source (declarations as a header gives them)
pragmas        cc.pragmas.scan_preprocessed, then directives.format_directives /
               parse_directives (must give back what was scanned), and
               parse_directives on the raw input (the linker's reader)
differential   the C runtime (fuzz/c/dynld_fuzz.c, through ctypes) against
               module.decode: same verdict and same error text
=============  ================================================================
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import subprocess
import tempfile
from collections.abc import Callable

from fuzz.oracle import BrokenPromise, message_problem
from toolchain.arch import get_arch
from toolchain.errors import DynError

ARCHES = ("386", "amd64", "arm")
MAX_OUTPUT = 64 << 20  # an output larger than this from a fuzz input is a blow-up (finding 5)
_work: str | None = None


def workdir() -> str:
    """A scratch directory for this process (files the in-process tools read and write)."""
    global _work
    if _work is None:
        _work = tempfile.mkdtemp(prefix="dynfuzz-")
    return _work


def _write(name: str, data: bytes) -> str:
    path = os.path.join(workdir(), name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _remove(*paths: str) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(p)


def _check_message(e: DynError) -> None:
    """A refusal must say what is wrong (run_main escapes what it prints, so any text is safe)."""
    if not e.msg.strip():
        raise BrokenPromise(f"DynError without a message (file {e.file!r})")


# -- ELF objects and archives --------------------------------------------------------------------


def elf_reader(data: bytes) -> None:
    """The linker's readers on an object or archive for the arch chosen by the first byte."""
    from toolchain.directives import read_object_directives
    from toolchain.linker import inputs

    if not data:
        return
    arch = get_arch(ARCHES[data[0] % 3])
    body = data[1:]
    try:
        if body.startswith(b"!<arch>\n"):
            ar = inputs.Archive(body, "fuzz.a")
            for off in list(ar.members)[:16]:
                name, member = ar.member_data(off)
                _check_object(inputs, member, f"fuzz.a({name})", arch)
        else:
            _check_object(inputs, body, "fuzz.o", arch)
    except DynError as e:
        _check_message(e)
    del read_object_directives


def _check_object(inputs, data, name: str, arch) -> None:
    from toolchain.directives import read_object_directives

    obj = inputs.load_object(data, name, arch, 0)
    inputs.comdat_groups(obj)
    read_object_directives(obj.elf)
    for sec in obj.sections:
        if sec is not None:
            sec.relocs  # noqa: B018 - parsing the relocations is the point


# -- the linker ------------------------------------------------------------------------------------


#: the environment of each way of applying relocations (as in tests/conftest.py)
RELOCATION_PATHS = {"python": {"DYNTOOLS_NATIVE": "0"}, "native": {"DYNTOOLS_NATIVE": "1"}}


def _dynlink(args: list[str], path: str) -> tuple[int, str]:
    """dynlink's exit status and error text, with relocations applied the ``RELOCATION_PATHS[path]`` way."""
    from toolchain.linker.main import main as dynlink_main

    settings = RELOCATION_PATHS[path]
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = dynlink_main(args)
    finally:
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value
    return status, err.getvalue()


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def linker(data: bytes) -> None:
    """dynlink on one object (or archive): exit 0 with a bounded output, or one clean line and nothing written;
    relocations applied in bulk by C give the same status, message and bytes as by Python."""
    if len(data) < 2:
        return
    arch = ARCHES[data[0] % 3]
    mode = data[1] % 3
    body = data[2:]
    src = _write("in.a" if body.startswith(b"!<arch>\n") else "in.o", body)
    out, map_file = os.path.join(workdir(), "out"), os.path.join(workdir(), "out.map")
    _remove(out, map_file)
    args = ["-a", arch, "-o", out, src]
    if mode == 1:
        args[0:0] = ["-u"]
    if mode == 2:
        args[0:0] = ["--map", map_file]
    try:
        bulk = _dynlink(args, "native"), _read(out), _read(map_file)
        _remove(out, map_file)
        status, message = _dynlink(args, "python")
        if bulk != ((status, message), _read(out), _read(map_file)):
            raise BrokenPromise(f"dynlink: C and Python relocation differ: {bulk[0]!r} against {message!r}")
        if status == 0:
            if not os.path.exists(out) or os.path.getsize(out) > MAX_OUTPUT:
                raise BrokenPromise(f"dynlink: exit 0 with output of {os.path.getsize(out)} bytes")
            if mode == 2:
                with open(map_file, "rb") as f:
                    text = f.read().decode()  # a text output is UTF-8
                for line in text.splitlines():
                    if message_problem("m", f"m: {line}\n") is not None:
                        raise BrokenPromise(f"dynlink: map line {line[:200]!r}")
        else:
            from fuzz.oracle import check_failure

            check_failure("dynlink", status, message, (out, map_file))
    finally:
        _remove(out, map_file, src)


# -- dynld modules ---------------------------------------------------------------------------------


def module(data: bytes) -> None:
    """decode (both page rules); an accepted module must describe, report and round-trip."""
    from toolchain import info
    from toolchain.dynld import module as dlm

    for check_pages in (True, False):
        try:
            mod = dlm.decode(data, "fuzz.dlm", check_pages=check_pages)
        except DynError as e:
            _check_message(e)
            continue
        dlm.exports(mod)
        dlm.describe(mod)
        info.format_text(info.module_info(data, "fuzz.dlm"))
        if check_pages:
            again = dlm.decode(dlm.encode(mod), "again.dlm")
            if again != mod:
                raise BrokenPromise("decode(encode(decode(x))) differs from decode(x)")


# -- manifests and headers -------------------------------------------------------------------------


def _preprocess_stand_in(headers, text="", include_dirs=(), defines=(), display=None) -> str:
    """What signatures.preprocess gives for headers without macros, without running a compiler."""
    from toolchain.dynld import signatures

    parts = []
    for h in headers:
        reason = signatures.unreadable_reason(h)
        if reason is not None:
            raise DynError(reason, h)
        with open(h, encoding="utf-8", errors="replace") as f:
            body = f.read()
        lines = [ln for ln in signatures.strip_comments(body).split("\n") if not ln.lstrip().startswith("#")]
        parts.append(f'# 1 "{os.path.abspath(h)}"\n' + "\n".join(lines) + "\n")
    parts.append('# 1 "<stdin>"\n' + text)
    return "".join(parts)


def manifest(data: bytes) -> None:
    """load_manifest and generate_c on a manifest (and its header h.h)."""
    from toolchain.dynld import exporttab, signatures
    from toolchain.dynld import manifest as mf

    yaml_part, _, header = data.partition(b"\0")
    path = _write("m.yaml", yaml_part)
    _write("h.h", header)
    real = signatures.preprocess
    signatures.preprocess = _preprocess_stand_in
    try:
        m = mf.load_manifest(path)
        exporttab.generate_c(m, os.path.join(workdir(), "t.c"))
    except DynError as e:
        _check_message(e)
    finally:
        signatures.preprocess = real


def header(data: bytes) -> None:
    """Every declaration of a header text, with its signature."""
    from toolchain.dynld import signatures

    text = data.decode("utf-8", "replace")
    try:
        for d in signatures.parse_source(text, "fuzz.h"):
            if not 0 < d.sig <= 0xFFFFFFFF:
                raise BrokenPromise(f"signature of {d.name} out of range: {d.sig}")
    except DynError as e:
        _check_message(e)


# -- pragmas and directives ------------------------------------------------------------------------


def pragmas(data: bytes) -> None:
    """The pragma stage and the directive text it writes, read back the way the linker reads it."""
    from toolchain.cc.pragmas import scan_preprocessed
    from toolchain.directives import format_directives, parse_directives

    text = data.decode("utf-8", "surrogateescape")
    res = scan_preprocessed(text, "amd64", "fuzz.c")
    if res.text.count("\n") != text.count("\n"):
        raise BrokenPromise("the pragma stage changed the number of lines")
    if not res.errors:
        blob = format_directives(res.directives)
        back = parse_directives(blob, "fuzz.o")
        if back != res.directives:
            raise BrokenPromise(f"directives changed on the way through the object: {res.directives} -> {back}")
    try:
        parse_directives(data, "fuzz.o")
    except DynError as e:
        _check_message(e)


# -- the C runtime against module.decode -----------------------------------------------------------

_lib: ctypes.CDLL | None = None
RUNTIME_ONLY = (  # checks the runtime makes and decode cannot (they depend on the host and the load address)
    "module too big",
    "out of memory",
    "cannot make text executable",
    "undefined symbol: ",
    "signature mismatch: ",
)
EARLY_RULES = (  # decode errors of the rules the runtime applies before "module too big"
    "not dynamic object file",
    "truncated module: cannot read header",
    "amd64 header",
    "invalid export table pointer",
    "text size",
)


def c_runtime() -> ctypes.CDLL:
    """The runtime with dyn_check (fuzz/c/dynld_fuzz.c), built once into the scratch directory."""
    global _lib
    if _lib is None:
        from toolchain.dynld import config

        here = os.path.dirname(os.path.abspath(__file__))
        so = os.path.join(workdir(), "libdynld_check.so")
        cc = os.environ.get("FUZZ_CC", "cc")
        cmd = [cc, "-shared", "-fPIC", "-O1", "-g", *config.cflags(), "-o", so]
        subprocess.run([*cmd, os.path.join(here, "c", "dynld_fuzz.c"), *config.sources()], check=True)
        _lib = ctypes.CDLL(so)
        _lib.dyn_check.argtypes = [ctypes.c_char_p, ctypes.c_long, ctypes.c_char_p, ctypes.c_long]
        _lib.dyn_check.restype = ctypes.c_int
    return _lib


def runtime_verdict(data: bytes) -> tuple[bool, str]:
    """(accepted, error text) of the C runtime loading ``data`` into this process."""
    err = ctypes.create_string_buffer(600)
    status = c_runtime().dyn_check(data, len(data), err, len(err))
    text = err.value.decode("utf-8", "surrogateescape")
    if status < 0:
        raise BrokenPromise(f"C runtime: {text}")
    return status == 1, text


def differential(data: bytes) -> None:
    """The C runtime (on this machine's architecture, amd64) and decode() agree on ``data``."""
    from toolchain.dynld import module as dlm

    c_ok, c_err = runtime_verdict(data)
    try:
        mod = dlm.decode(data, "m")
        py_ok, py_err = True, ""
    except DynError as e:
        mod, py_ok, py_err = None, False, e.msg
    if c_err.startswith("not dynamic object file or wrong platform"):
        if py_ok and mod is not None and mod.arch == "amd64":
            raise BrokenPromise(f"runtime: {c_err!r}; decode accepts an amd64 module")
        return  # decode reads every architecture's modules; the runtime only its own
    if c_err.startswith(RUNTIME_ONLY):
        if c_err.startswith("module too big") and not py_ok and py_err.startswith(EARLY_RULES):
            raise BrokenPromise(f"runtime: {c_err!r}; decode: {py_err!r} (an earlier rule)")
        return
    if c_ok != py_ok or c_err != py_err:
        if c_err.startswith("relocation ") and ": " in c_err and not py_ok and _reach_error(c_err):
            return
        raise BrokenPromise(
            f"runtime {'accepts' if c_ok else repr(c_err)}; decode {'accepts' if py_ok else repr(py_err)}"
        )


def _reach_error(c_err: str) -> bool:
    """A relocation the runtime refuses for where the module and the host are in memory."""
    return any(w in c_err for w in (" reach ", "not word aligned"))


TARGETS: dict[str, Callable[[bytes], None]] = {
    "elf_reader": elf_reader,
    "linker": linker,
    "module": module,
    "manifest": manifest,
    "header": header,
    "pragmas": pragmas,
    "differential": differential,
}
