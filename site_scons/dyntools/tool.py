"""The dyntools SCons tool: builders for dyncc, dynlink, dynexport and the dynld runtime.

Builders (per environment; the target architecture is ``$DYNARCH``):

- ``DynObject``: C source -> ELF relocatable object, with ``dyncc`` (pragma stage + zig cc).
- ``DynProgram``: objects/archives -> ELF executable, with ``dynlink``.
- ``DynModule``: objects -> dynld module (``.dlm``), with ``dynlink -u [-m manifest]``;
  the manifest is the keyword ``manifest=``; ``host=`` names the host's manifest, and the
  link fails unless it exports every import with the same signature (``--host``).
- ``ExportTable``: manifest YAML -> ``<name>_exporttab.c``, with ``dynexport``.
- ``DynArchive``: objects -> ``ar`` archive (llvm-ar via ziglang, deterministic).
- ``ZigObject``/``ZigSharedObject``/``ZigProgram``/``ZigSharedLibrary``: ``zig cc`` for the
  arch's glibc target (hosts linked against glibc, and shared libraries).
- ``HostObject``/``HostProgram`` (pseudo-builders): a host program, built with the Zig*
  builders when ``$DYNHOST`` is ``zig`` and with dyncc/dynlink when it is ``dynlink``.
- ``DynldLibrary`` (pseudo-builder): the dynld C runtime (``dynld-config --sources``)
  compiled with ``HostObject`` into an archive.
- ``DynRuntime`` (pseudo-builder): dyntools' freestanding run-time (``_start``, system
  calls, printing) compiled with dyncc into an archive, for static programs.
- ``DynCheck`` (pseudo-builder): run a program (under ``$DYNRUN`` for the arch) and
  compare its output with an expected-output file.

Construction variables (defaults in ``generate``): ``DYNARCH`` (386, amd64, arm or 8, 6, 5;
by default this machine's, amd64 on any other);
``DYNCC``/``DYNCCFLAGS``/``DYNCPPPATH``/``DYNCPPDEFINES``; ``DYNLINK``/``DYNLINKFLAGS``/
``DYNLIBPATH``/``DYNLIBS``; ``DYNMAP`` (true: links also write ``<target>.map``);
``DYNEXPORT``/``DYNEXPORTFLAGS``; ``DYNLDCONFIG``; ``DYNAR``/``DYNARFLAGS``; ``ZIGCC``/
``ZIGCCFLAGS``/``ZIGCPPPATH``/``ZIGLINKFLAGS``/``ZIGLIBS``; ``DYNHOST`` (``zig`` or ``dynlink``),
``DYNHOSTCCFLAGS``, ``DYNHOSTSTARTFILES``, ``DYNLDCCFLAGS``; ``DYNRUN`` (the arch's runner
prefix, e.g. qemu-arm); and a ``*COMSTR`` per action: ``DYNCCCOMSTR``, ``DYNLINKCOMSTR``,
``DYNMODULECOMSTR``, ``EXPORTTABCOMSTR``, ``DYNARCOMSTR``, ``ZIGCCCOMSTR``, ``ZIGLINKCOMSTR``,
``DYNCHECKCOMSTR``, ``DYNCOPYCOMSTR``.

``DynHost`` (pseudo-builder): a whole host program (sources, the dynld runtime, the
``_exporttab`` made from an ``exports=`` manifest), its files under ``<target>.objs/``.

``$DYNARCH`` is checked when the tool loads, when an environment is cloned and when a
target is declared, as a ``UserError`` naming the known architectures.  ``add_options``
adds the command-line variables ``arches=``, ``VERBOSE=`` and ``DYNHOST=`` (listed by
``scons --help``); ``short_output`` prints one short line per step.

All tools run as separate processes under their console-script names (``dyncc``,
``dynlink``, ``dynexport``; a command printed with ``VERBOSE`` runs as it is in a shell
where dyntools is installed), so ``scons -j`` is parallel; the directory of those scripts
goes first on the ``PATH`` in ``env["ENV"]``, outside build signatures.  Unless
``DYNTOOLS_WORKERS=0``, the steps of dyncc, dynlink and dynexport run in long-lived
worker processes instead (``workers.py``, imported by the first step): same command
lines, same outputs, without Python's start-up and imports per step.  Nothing that only a
step or a scan needs is imported before it runs, and loading the tool starts no process,
so a null build pays little for the tool (README.md, "SCons", has what a SConstruct can
do).  Each action's signature includes a fingerprint of the part of the toolchain it runs
(``locate.fingerprint``), so changing the toolchain rebuilds what that part made.
Commands name files relative to the top directory and map the top directory away in debug
info, so outputs are the same bytes in every checkout and a CacheDir is shared between
checkouts at different paths.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import SCons.Action
import SCons.Builder
import SCons.Environment
import SCons.Errors
import SCons.Script
import SCons.Util

from . import locate
from .scanners import MANIFEST_SUFFIXES, ManifestScanner, c_scanner
from .toolchain.arch import ARCHES, Arch, get_arch, host_arch_name
from .toolchain.errors import DynError

#: zig cc targets of programs linked against glibc, per arch.
GNU_TARGETS = {name: arch.gnu_triple for name, arch in ARCHES.items()}

#: Environment variables handed on to the tools (zig needs a cache directory).
_PASS_ENV = ("HOME", "TMPDIR", "ZIG_GLOBAL_CACHE_DIR", "ZIG_LOCAL_CACHE_DIR", "XDG_CACHE_HOME", "DYNTOOLS_TRACEBACK")


def _arch(name: str) -> Arch:
    """The toolchain's Arch for ``name``, or a one-line SCons error."""
    try:
        return get_arch(str(name))
    except DynError as e:
        raise SCons.Errors.UserError(f"dyntools: DYNARCH: {e}") from None


def check_arch(env) -> None:
    """``UserError`` (in the tool's words) unless ``$DYNARCH`` names a known architecture."""
    _arch(env.subst("$DYNARCH"))


def _clone(env, *args, **kw):
    """``env.Clone`` that checks the clone's ``$DYNARCH`` at once."""
    clone = SCons.Environment.Base.Clone(env, *args, **kw)
    check_arch(clone)
    return clone


def _checked(emitter=None):
    """An emitter that checks ``$DYNARCH`` when a target is declared (then runs ``emitter``)."""

    def emit(target, source, env):
        check_arch(env)
        return emitter(target, source, env) if emitter else (target, source)

    return emit


def _canon_arch(name) -> str:
    return _arch(name).name


def _gnu_target(name) -> str:
    return GNU_TARGETS[_canon_arch(name)]


def _runner(name) -> list[str]:
    return _arch(name).runner()


def _manifests(sources) -> list:
    return [s for s in sources if str(s).endswith(MANIFEST_SUFFIXES)]


def _manifest_flag(sources) -> list:
    m = _manifests(sources)
    return ["-m", m[0]] if m else []


def _host_flag(sources) -> list:
    """``host=``: the second manifest among the sources is the host's (``dynlink --host``)."""
    m = _manifests(sources)
    return ["--host", m[1]] if len(m) > 1 else []


def _non_manifests(sources) -> list:
    return [s for s in sources if not str(s).endswith(MANIFEST_SUFFIXES)]


def _map_flag(targets) -> list:
    maps = [t for t in targets if str(t).endswith(".map")]
    return ["--map", maps[0]] if maps else []


def _map_emitter(target, source, env):
    """With ``DYNMAP`` true, the link also writes ``<target>.map``."""
    if env.subst("$DYNMAP") not in ("", "0", "False", "false", "no"):
        target = list(target) + [env.File(str(target[0]) + ".map")]
    return target, source


def _module_emitter(target, source, env):
    """``manifest=`` (and ``host=``) become sources (so they and their headers are dependencies)."""
    manifest = env.get("manifest")
    if manifest:
        nodes = env.arg2nodes(manifest, env.fs.File)
        if len(nodes) != 1:
            raise SCons.Errors.UserError("dyntools: DynModule: manifest= takes one file")
        source = list(source) + nodes
    host = env.get("host")
    if host:  # the host's manifest: checked against the module's imports when linking
        nodes = env.arg2nodes(host, env.fs.File)
        if len(nodes) != 1 or len(_manifests(source)) != 1:
            raise SCons.Errors.UserError("dyntools: DynModule: host= takes one file, and needs manifest=")
        source = list(source) + nodes
    return _map_emitter(target, source, env)


def _action(com: str, comstr: str, part: str) -> SCons.Action.Action:
    """A command action whose signature includes the fingerprint of the toolchain part."""
    return SCons.Action.Action(com, comstr, varlist=[f"_DYNFP_{part.upper()}"])


def _check_action(target, source, env):
    """Run ``source[0]`` with ``$DYNCHECKARGS`` and compare stdout with ``source[1]``."""
    prog, expected = source[0], source[1]
    cmd = [*env.get("_DYNCHECKRUNNER", []), prog.get_abspath(), *env.subst_list("$DYNCHECKARGS")[0]]
    cmd = [str(c) for c in cmd]
    run_env = {k: str(v) for k, v in env["ENV"].items()}
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            env=run_env,
            cwd=env.Dir("#").get_abspath(),
            timeout=float(env.get("DYNCHECKTIMEOUT", 60)),
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"dyncheck: {prog}: cannot run: {e}", file=sys.stderr)
        return 1
    out = proc.stdout.decode("utf-8", "replace")
    import difflib  # noqa: PLC0415 - only a failing check needs it

    with open(target[0].get_abspath(), "w", encoding="utf-8") as f:
        f.write(out)
    want = expected.get_text_contents()
    status = int(env.get("DYNCHECKSTATUS", 0))
    if out == want and proc.returncode == status:
        return 0
    if proc.returncode != status:
        print(f"dyncheck: {prog}: exit status {proc.returncode}, want {status}", file=sys.stderr)
        err = proc.stderr.decode("utf-8", "replace").strip()
        if err:
            print(err, file=sys.stderr)
    if out != want:
        diff = difflib.unified_diff(want.splitlines(True), out.splitlines(True), str(expected), "output")
        print(f"dyncheck: {prog}: output differs from {expected}:", file=sys.stderr)
        sys.stderr.writelines(diff)
    return 1


def _check_strfunc(target, source, env):
    return env.subst("$DYNCHECKCOMSTR", raw=1, target=target, source=source) or f"check {source[0]}"


#: One action for every check (making a Python function's action hashes its code).
_CHECK = SCons.Action.Action(_check_action, _check_strfunc, varlist=["DYNCHECKARGS", "DYNCHECKSTATUS"])


def DynCheck(env, target, program, expected, args=(), status=0, depends=()):  # noqa: N802 - SCons method name
    """Run ``program args`` (under the arch's runner) and compare its stdout with ``expected``.

    ``target`` receives the actual output; the build fails (with a diff) on a mismatch or
    an exit status other than ``status``. Always re-run, never cached.
    """
    prog = env.arg2nodes(program, env.fs.File)[0]
    exp = env.arg2nodes(expected, env.fs.File)[0]
    arg_list = [a.path if hasattr(a, "path") else str(a) for a in SCons.Util.flatten(list(args))]
    runner = _runner(env.subst("$DYNARCH"))
    node = env.Command(
        target,
        [prog, exp],
        _CHECK,
        DYNCHECKARGS=arg_list,
        DYNCHECKSTATUS=status,
        _DYNCHECKRUNNER=runner,
    )
    if depends:
        env.Depends(node, depends)
    env.AlwaysBuild(node)
    env.NoCache(node)
    return node


def _host_is_dynlink(env) -> bool:
    mode = env.subst("$DYNHOST")
    if mode not in ("zig", "dynlink"):
        raise SCons.Errors.UserError(f"dyntools: DYNHOST must be 'zig' or 'dynlink', not {mode!r}")
    return mode == "dynlink"


def HostObject(env, target=None, source=None, **kw):  # noqa: N802
    """An object of a host program (C using the C library's headers).

    ``DYNHOST=zig``: ``ZigObject`` (zig cc for the arch's glibc target).
    ``DYNHOST=dynlink``: ``DynObject`` with ``$DYNHOSTCCFLAGS`` added (glibc's headers as
    zig ships them); the program's ``#pragma dynimport`` lines name what it takes from libc.
    """
    if source is None:  # called with the sources only, like a builder
        target, source = None, target
    if _host_is_dynlink(env):
        kw["DYNCCFLAGS"] = [*kw.get("DYNCCFLAGS", env.get("DYNCCFLAGS", [])), "$DYNHOSTCCFLAGS"]
        return env.DynObject(target, source, **kw)
    return env.ZigObject(target, source, **kw)


def HostProgram(env, target=None, source=None, **kw):  # noqa: N802
    """A host program: ``ZigProgram``, or with ``DYNHOST=dynlink`` a ``DynProgram`` (a dynamically
    linked ELF made by dynlink) whose sources start with ``$DYNHOSTSTARTFILES`` (a ``_start``,
    e.g. the first node ``DynRuntime`` returns).  ``.c`` sources are compiled with ``HostObject``.
    """
    if source is None:  # called with the sources only, like a builder
        target, source = None, target
    sources = []
    for s in SCons.Util.flatten([source]):
        if isinstance(s, str) and s.endswith(".c") or getattr(s, "name", "").endswith(".c"):
            sources += HostObject(env, s)
        else:
            sources.append(s)
    if _host_is_dynlink(env):
        start = SCons.Util.flatten([env.get("DYNHOSTSTARTFILES", [])])
        return env.DynProgram(target, start + sources, **kw)
    return env.ZigProgram(target, sources, **kw)


def _glibc_flags(arch) -> list[str]:
    """``-isystem`` flags for the glibc headers zig ships, for ``arch`` (dyncc's own rule)."""
    from .toolchain.cc.hosted import glibc_include_flags

    return glibc_include_flags(_arch(arch))


def _copy(target, source, env):
    """Copy one file's bytes (the toolchain's runtime sources into the build tree)."""
    shutil.copyfile(source[0].get_abspath(), target[0].get_abspath())
    return 0


def _copy_str(target, source, env):
    return env.subst("$DYNCOPYCOMSTR", raw=1, target=target, source=source) or f"copy {source[0].name} -> {target[0]}"


_COPY = SCons.Action.Action(_copy, _copy_str)

_CONFIG_CACHE: dict[tuple[str, ...], list[str]] = {}


_DEFAULT_DYNLDCONFIG = "dynld-config"


def dynld_config(env, option: str) -> list[str]:
    """The words ``$DYNLDCONFIG OPTION`` (``dynld-config``) prints.

    The default ``dynld-config`` is asked in-process (it is this toolchain's own
    ``toolchain.dynld.config``); another command runs once per SCons run.
    """
    if env["DYNLDCONFIG"] == _DEFAULT_DYNLDCONFIG and option in ("--sources", "--cflags"):
        from .toolchain.dynld import config  # noqa: PLC0415

        try:
            return config.sources() if option == "--sources" else config.cflags()
        except DynError as e:
            raise SCons.Errors.UserError(f"dynld-config: {e}") from None
    cmd = tuple(str(c) for c in env.subst_list("$DYNLDCONFIG")[0]) + (option,)
    if cmd not in _CONFIG_CACHE:
        proc = subprocess.run(cmd, capture_output=True, env={k: str(v) for k, v in env["ENV"].items()})
        if proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SCons.Errors.UserError(msg[-1] if msg else f"dynld-config {option} failed")
        _CONFIG_CACHE[cmd] = proc.stdout.decode().split()
    return _CONFIG_CACHE[cmd]


def _copy_and_compile(env, srcdir: str, names: list[str], destdir, host: bool, kw: dict) -> list:
    """Copy ``srcdir``'s headers and ``names`` into ``destdir`` and compile the C files there.

    Copying keeps the toolchain's install location out of commands and outputs, so
    builds are reproducible and share a CacheDir across checkouts.
    """
    objs = []
    for name in sorted(os.listdir(srcdir)):
        if not (name.endswith(".h") or name in names):
            continue
        copy = env.Command(destdir.File(name), os.path.join(srcdir, name), _COPY)
        if not name.endswith(".c"):
            continue
        if not host:
            objs += env.DynObject(copy, DYNCPPPATH=[destdir, *env.get("DYNCPPPATH", [])], **kw)
        elif _host_is_dynlink(env):
            flags = [*env.get("DYNCCFLAGS", []), "$DYNLDCCFLAGS"]
            objs += HostObject(env, copy, DYNCPPPATH=[destdir, *env.get("DYNCPPPATH", [])], DYNCCFLAGS=flags, **kw)
        else:
            objs += env.ZigObject(copy, ZIGCPPPATH=[destdir, *env.get("ZIGCPPPATH", [])], **kw)
    return objs


def DynldLibrary(env, target="dynld", rtdir=None, **kw):  # noqa: N802
    """Compile the dynld runtime (``dynld-config --sources``) for ``$DYNARCH`` into an archive.

    The sources and headers are copied into ``rtdir`` (default: ``dynld-rt`` next to
    the target) and compiled like a host's objects (``HostObject``: zig cc for the
    glibc target, or dyncc with ``DYNHOST=dynlink``).  Sets ``$DYNLDCPPPATH`` to the
    copied directory (add it to the include path of code using ``dynld.h``).
    Returns the archive node list.
    """
    sources = [s for s in dynld_config(env, "--sources") if s.endswith(".c")]
    dirs = sorted({os.path.dirname(os.path.abspath(s)) for s in sources})
    rtdir = env.Dir(rtdir) if rtdir else env.File(target).dir.Dir("dynld-rt")
    objs = []
    for d in dirs:
        names = [os.path.basename(s) for s in sources if os.path.dirname(os.path.abspath(s)) == d]
        objs += _copy_and_compile(env, d, names, rtdir, True, kw)
    env["DYNLDCPPPATH"] = [rtdir]
    return env.DynArchive(target, objs)


def DynRuntime(env, target="rt", rtdir=None, **kw):  # noqa: N802
    """Compile dyntools' freestanding run-time (``toolchain/cc/rt``) with dyncc for ``$DYNARCH``.

    Returns ``[start, archive]``: the ``_start`` object (link it first, like a crt0)
    and an archive of the rest (system calls, string, printing and division helpers).
    Sets ``$DYNRTCPPPATH`` to the copied sources' directory (for ``rt.h``).
    """
    from .toolchain.cc.runtime import RT_DIR, RT_SOURCES  # noqa: PLC0415

    rtdir = env.Dir(rtdir) if rtdir else env.File(target).dir.Dir("rt-src")
    objs = _copy_and_compile(env, RT_DIR, list(RT_SOURCES), rtdir, False, kw)
    env["DYNRTCPPPATH"] = [rtdir]
    start = [o for o in objs if o.name.startswith("start.")]
    rest = [o for o in objs if o not in start]
    return start + env.DynArchive(target, rest)


def _object_name(env, objdir, source, suffix: str):
    """``objdir/<source's path below the SConscript directory, suffix swapped>``."""
    rel = env.File(source).get_path(env.Dir("."))
    parts = ["__" if p == ".." else p for p in rel.split(os.sep)]
    return objdir.File(os.path.join(*parts[:-1], os.path.splitext(parts[-1])[0] + suffix))


def DynHost(env, target, source, exports=None, **kw):  # noqa: N802
    """A host program that loads dynld modules, for ``$DYNARCH``; returns the program's node list.

    Compiles ``source`` (C files; objects and archives are linked as they are) and the
    dynld runtime (``DynldLibrary``) with ``dynld.h`` on the include path, generates the
    host's ``_exporttab`` from the manifest ``exports`` (``ExportTable``; without it the
    sources must define ``_exporttab`` themselves) and links them all.  Every file it
    makes lives in ``<target>.objs/`` next to the target, so hosts of several arches
    (in different directories) never share an object.  ``$DYNHOST`` picks the
    toolchain: ``zig`` (zig cc against glibc) or ``dynlink`` (dyncc and dynlink; the
    ``_start`` comes from ``$DYNHOSTSTARTFILES``, by default dyntools' run-time, and the
    sources name what they take from the C library with ``#pragma dynimport``).
    Keyword arguments are construction variables for this host only.
    """
    check_arch(env)
    program = env.arg2nodes(target, env.fs.File)[0]
    objdir = program.dir.Dir(program.name + ".objs")
    henv = env.Clone(**kw)
    top = "#" + objdir.path
    runtime = henv.DynldLibrary(top + "/dynld", rtdir=objdir.Dir("dynld-rt"))
    henv.Append(ZIGCPPPATH=["$DYNLDCPPPATH"], DYNCPPPATH=["$DYNLDCPPPATH"])
    objects = []
    for s in SCons.Util.flatten([source]):
        node = env.arg2nodes(s, env.fs.File)[0] if isinstance(s, str) else s
        if node.name.endswith(".c"):
            objects += HostObject(henv, _object_name(env, objdir, node, henv.subst("$DYNOBJSUFFIX")), node)
        else:
            objects.append(node)
    if exports:
        manifest = env.arg2nodes(exports, env.fs.File)[0]
        stem = os.path.splitext(manifest.name)[0]
        table = henv.ExportTable(objdir.File(stem + henv.subst("$EXPORTTABSUFFIX")), manifest)
        objects += HostObject(henv, objdir.File(stem + "_exporttab" + henv.subst("$DYNOBJSUFFIX")), table)
    if not _host_is_dynlink(henv):
        return henv.ZigProgram(program, objects + runtime)
    start = SCons.Util.flatten([henv.get("DYNHOSTSTARTFILES", [])])
    if not start:
        start = henv.DynRuntime(top + "/rt", rtdir=objdir.Dir("rt-src"))[:1]
    return henv.DynProgram(program, start + objects + runtime)


#: Labels of the short-output preset, per command string variable.
SHORT_LABELS = {
    "DYNCCCOMSTR": "dyncc",
    "DYNLINKCOMSTR": "dynlink",
    "DYNMODULECOMSTR": "dynlink -u",
    "EXPORTTABCOMSTR": "dynexport",
    "DYNARCOMSTR": "ar",
    "ZIGCCCOMSTR": "zig cc",
    "ZIGLINKCOMSTR": "zig cc (link)",
    "DYNCHECKCOMSTR": "check",
    "DYNCOPYCOMSTR": "copy",
}


def short_output(env) -> None:
    """One short line per step (``dyncc        [amd64] build/amd64/host.o``) instead of whole commands."""
    for var, label in SHORT_LABELS.items():
        env[var] = f"{label:<14}[${{_dyn_arch(DYNARCH)}}] $TARGET"


def add_options(env, arches=("386", "amd64", "arm"), verbose: bool = False, host: str = "zig") -> list[str]:
    """Add the command-line variables ``arches=``, ``VERBOSE=`` and ``DYNHOST=`` to ``env``.

    ``scons --help`` lists them (after the project's own options); ``VERBOSE=0`` (the
    default given by ``verbose``) turns on ``short_output``; ``DYNHOST`` sets the host
    toolchain (default ``host``).  Returns the architectures chosen with ``arches=``
    (``all`` by default; ``arches=amd64,arm`` picks some), in the order given by ``arches``.
    """
    import SCons.Variables  # noqa: PLC0415

    for a in arches:
        _arch(a)
    variables = SCons.Variables.Variables(args=SCons.Script.ARGUMENTS)
    variables.AddVariables(
        SCons.Variables.ListVariable("arches", "architectures to build", "all", list(arches)),
        SCons.Variables.BoolVariable("VERBOSE", "print whole command lines", verbose),
        SCons.Variables.EnumVariable("DYNHOST", "toolchain of host programs", host, allowed_values=("zig", "dynlink")),
    )
    variables.Update(env)
    SCons.Script.Help(variables.GenerateHelpText(env), append=True)
    if not env["VERBOSE"]:
        short_output(env)
    chosen = set(env["arches"])
    return [a for a in arches if a in chosen]


def _worker_spawn(fallback):
    """An SCons ``SPAWN``: the package's commands on workers unless ``DYNTOOLS_WORKERS=0``, the rest
    with ``fallback``.  ``workers.py`` is imported by the first step, so a null build never loads it.
    """

    def spawn(sh, escape, cmd, args, env) -> int:
        from . import workers  # noqa: PLC0415

        if not workers.enabled():
            return fallback(sh, escape, cmd, args, env)
        return workers.spawn(fallback, sh, escape, cmd, args, env)

    spawn.dyntools_workers = True
    return spawn


def generate(env) -> None:
    """Add the dyntools builders and construction variables to ``env``."""
    env.SetDefault(
        PYTHON=sys.executable,
        DYNARCH=host_arch_name() or "amd64",  # this machine's, as dyncc and dynlink without -a
        DYNHOST="zig",
        # DYNHOST=dynlink: host objects see glibc's headers (zig's copy), outside build
        # signatures ($( $)): they change only with ziglang, whose version is fingerprinted.
        DYNHOSTCCFLAGS=["-g0", "$_DYNGLIBCFLAGS"],
        DYNHOSTSTARTFILES=[],
        DYNLDCCFLAGS=[],
        # dyncc
        DYNCC="dyncc",
        # dyncc compiles hosted by default; the tool keeps its objects freestanding as before (hosts
        # add glibc's headers through $DYNHOSTCCFLAGS) until programs get their C library imports
        # from the linker rather than from hand-written pragmas (builtins would add calls, e.g. puts)
        DYNCCFLAGS=["-O2", "-ffreestanding"],
        DYNCPPPATH=[],
        DYNCPPDEFINES=[],
        DYNOBJSUFFIX=".o",
        DYNCCCOMSTR="",
        # dynlink
        DYNLINK="dynlink",
        DYNLINKFLAGS=[],
        DYNLIBPATH=[],
        DYNLIBS=[],
        DYNMAP=0,
        DYNPROGSUFFIX="",
        DYNMODSUFFIX=".dlm",
        DYNLINKCOMSTR="",
        DYNMODULECOMSTR="",
        # dynexport
        DYNEXPORT="dynexport",
        DYNEXPORTFLAGS=[],
        EXPORTTABSUFFIX="_exporttab.c",
        EXPORTTABCOMSTR="",
        DYNLDCONFIG=_DEFAULT_DYNLDCONFIG,
        # archives
        DYNAR="$PYTHON -m ziglang ar",
        DYNARFLAGS="rcsD",
        DYNLIBPREFIX="lib",
        DYNLIBSUFFIX=".a",
        DYNARCOMSTR="",
        # zig cc for the arch's glibc target
        ZIGTARGET="${_dyn_gnu_target(DYNARCH)}",
        ZIGCC="$PYTHON -m ziglang cc -target $ZIGTARGET",
        ZIGCCFLAGS=["-O2", "-g0"],
        ZIGCPPPATH=[],
        ZIGCPPDEFINES=[],
        ZIGLINKFLAGS=["-Wl,-S"],
        ZIGSHLINKFLAGS=["-shared"],
        ZIGLIBPATH=[],
        ZIGLIBS=[],
        ZIGOBJSUFFIX=".o",
        ZIGSHOBJSUFFIX=".pic.o",  # zig cc takes only .o (not .os) as objects
        ZIGSHLIBPREFIX="lib",
        ZIGSHLIBSUFFIX=".so",
        ZIGCCCOMSTR="",
        ZIGLINKCOMSTR="",
        # checks, copies
        DYNCHECKCOMSTR="",
        DYNCOPYCOMSTR="",
    )
    env["_dyn_gnu_target"] = _gnu_target
    env["_dyn_arch"] = _canon_arch
    env["_dyn_manifest_flag"] = _manifest_flag
    env["_dyn_non_manifests"] = _non_manifests
    env["_dyn_host_flag"] = _host_flag
    env["_dyn_map_flag"] = _map_flag
    env["DYNRUN"] = "${_dyn_runner(DYNARCH)}"
    env["_dyn_runner"] = _runner
    env["_dyn_glibc_flags"] = _glibc_flags
    env["_DYNGLIBCFLAGS"] = "$( ${_dyn_glibc_flags(DYNARCH)} $)"
    for part in locate.PARTS:
        env[f"_DYNFP_{part.upper()}"] = locate.fingerprint(part)
    env["_DYNFP_ZIG"] = locate.ziglang_version()

    # The commands are the console scripts (dyncc, dynlink ...) of this very package: their
    # directory goes first on the PATH the commands see, outside build signatures, so
    # checkouts at different paths share a CacheDir.
    penv = env["ENV"]
    scripts = locate.scripts_dir()
    old = [p for p in str(penv.get("PATH", "")).split(os.pathsep) if p and p != scripts]
    penv["PATH"] = os.pathsep.join([scripts, *old])
    for name in _PASS_ENV:
        if name in os.environ and name not in penv:
            penv[name] = os.environ[name]
    # dyncc, dynlink and dynexport steps run in long-lived worker processes (workers.py).
    if not getattr(env["SPAWN"], "dyntools_workers", False):
        env["SPAWN"] = _worker_spawn(env["SPAWN"])
    # Absolute paths in debug info are mapped away; $( $) keeps this out of signatures.
    env["_DYNTOPDIR"] = env.Dir("#").abspath
    env["_DYNPREFIXMAP"] = "$( -ffile-prefix-map=${_DYNTOPDIR}=. $)"

    env["_DYNINCFLAGS"] = "${_concat('-I', DYNCPPPATH, '', __env__, RDirs, TARGET, SOURCE, affect_signature=False)}"
    env["_DYNDEFFLAGS"] = "${_defines('-D', DYNCPPDEFINES, '', __env__, TARGET, SOURCE)}"
    env["_DYNLIBDIRFLAGS"] = "${_concat('-L', DYNLIBPATH, '', __env__, RDirs, TARGET, SOURCE, affect_signature=False)}"
    env["_DYNLIBFLAGS"] = "${_concat('-l', DYNLIBS, '', __env__)}"
    env["_ZIGINCFLAGS"] = "${_concat('-I', ZIGCPPPATH, '', __env__, RDirs, TARGET, SOURCE, affect_signature=False)}"
    env["_ZIGDEFFLAGS"] = "${_defines('-D', ZIGCPPDEFINES, '', __env__, TARGET, SOURCE)}"
    env["_ZIGLIBDIRFLAGS"] = "${_concat('-L', ZIGLIBPATH, '', __env__, RDirs, TARGET, SOURCE, affect_signature=False)}"
    env["_ZIGLIBFLAGS"] = "${_concat('-l', ZIGLIBS, '', __env__)}"

    env.SetDefault(
        DYNCCCOM="$DYNCC -a ${_dyn_arch(DYNARCH)} -c $SOURCE -o $TARGET $DYNCCFLAGS $_DYNDEFFLAGS $_DYNINCFLAGS",
        DYNLINKCOM=(
            "$DYNLINK -a ${_dyn_arch(DYNARCH)} -o $TARGET ${_dyn_map_flag(TARGETS)} $DYNLINKFLAGS "
            "$_DYNLIBDIRFLAGS $SOURCES $_DYNLIBFLAGS"
        ),
        DYNMODULECOM=(
            "$DYNLINK -a ${_dyn_arch(DYNARCH)} -u ${_dyn_manifest_flag(SOURCES)} ${_dyn_host_flag(SOURCES)} -o $TARGET "
            "${_dyn_map_flag(TARGETS)} $DYNLINKFLAGS $_DYNLIBDIRFLAGS ${_dyn_non_manifests(SOURCES)} $_DYNLIBFLAGS"
        ),
        EXPORTTABCOM="$DYNEXPORT $SOURCE -o $TARGET $DYNEXPORTFLAGS",
        DYNARCOM="$DYNAR $DYNARFLAGS $TARGET $SOURCES",
        ZIGCCCOM="$ZIGCC -c -o $TARGET $ZIGCCFLAGS $_ZIGDEFFLAGS $_ZIGINCFLAGS $_DYNPREFIXMAP $SOURCE",
        ZIGSHCCCOM="$ZIGCC -c -fPIC -o $TARGET $ZIGCCFLAGS $_ZIGDEFFLAGS $_ZIGINCFLAGS $_DYNPREFIXMAP $SOURCE",
        ZIGLINKCOM="$ZIGCC -o $TARGET $ZIGLINKFLAGS $SOURCES $_ZIGLIBDIRFLAGS $_ZIGLIBFLAGS",
        ZIGSHLINKCOM="$ZIGCC -o $TARGET $ZIGLINKFLAGS $ZIGSHLINKFLAGS $SOURCES $_ZIGLIBDIRFLAGS $_ZIGLIBFLAGS",
    )

    dyn_c = c_scanner("DynCScanner", "DYNCPPPATH")
    zig_c = c_scanner("ZigCScanner", "ZIGCPPPATH")
    manifest_scanner = ManifestScanner("DYNCPPPATH")

    dyn_object = SCons.Builder.Builder(
        action=_action("$DYNCCCOM", "$DYNCCCOMSTR", "cc"),
        suffix="$DYNOBJSUFFIX",
        src_suffix=".c",
        source_scanner=dyn_c,
        single_source=True,
        emitter=_checked(),
    )
    export_table = SCons.Builder.Builder(
        action=_action("$EXPORTTABCOM", "$EXPORTTABCOMSTR", "export"),
        suffix="$EXPORTTABSUFFIX",
        src_suffix=list(MANIFEST_SUFFIXES),
        source_scanner=manifest_scanner,
        single_source=True,
    )
    dyn_program = SCons.Builder.Builder(
        action=_action("$DYNLINKCOM", "$DYNLINKCOMSTR", "link"),
        suffix="$DYNPROGSUFFIX",
        src_suffix="$DYNOBJSUFFIX",
        src_builder=["DynObject"],
        emitter=_checked(_map_emitter),
    )
    dyn_module = SCons.Builder.Builder(
        action=_action("$DYNMODULECOM", "$DYNMODULECOMSTR", "link"),
        suffix="$DYNMODSUFFIX",
        src_suffix="$DYNOBJSUFFIX",
        src_builder=["DynObject"],
        source_scanner=manifest_scanner,
        emitter=_checked(_module_emitter),
    )
    dyn_archive = SCons.Builder.Builder(
        action=SCons.Action.Action("$DYNARCOM", "$DYNARCOMSTR", varlist=["_DYNFP_ZIG"]),
        prefix="$DYNLIBPREFIX",
        suffix="$DYNLIBSUFFIX",
        src_suffix="$DYNOBJSUFFIX",
        src_builder=["DynObject"],
    )
    zig_action = SCons.Action.Action("$ZIGCCCOM", "$ZIGCCCOMSTR", varlist=["_DYNFP_ZIG"])
    zig_object = SCons.Builder.Builder(
        action=zig_action, suffix="$ZIGOBJSUFFIX", src_suffix=".c", source_scanner=zig_c, single_source=True
    )
    zig_shobject = SCons.Builder.Builder(
        action=SCons.Action.Action("$ZIGSHCCCOM", "$ZIGCCCOMSTR", varlist=["_DYNFP_ZIG"]),
        suffix="$ZIGSHOBJSUFFIX",
        src_suffix=".c",
        source_scanner=zig_c,
        single_source=True,
    )
    zig_program = SCons.Builder.Builder(
        action=SCons.Action.Action("$ZIGLINKCOM", "$ZIGLINKCOMSTR", varlist=["_DYNFP_ZIG"]),
        src_suffix="$ZIGOBJSUFFIX",
        src_builder=["ZigObject"],
    )
    zig_shlib = SCons.Builder.Builder(
        action=SCons.Action.Action("$ZIGSHLINKCOM", "$ZIGLINKCOMSTR", varlist=["_DYNFP_ZIG"]),
        prefix="$ZIGSHLIBPREFIX",
        suffix="$ZIGSHLIBSUFFIX",
        src_suffix="$ZIGSHOBJSUFFIX",
        src_builder=["ZigSharedObject"],
    )
    env.Append(
        BUILDERS={
            "DynObject": dyn_object,
            "DynProgram": dyn_program,
            "DynModule": dyn_module,
            "ExportTable": export_table,
            "DynArchive": dyn_archive,
            "ZigObject": zig_object,
            "ZigSharedObject": zig_shobject,
            "ZigProgram": zig_program,
            "ZigSharedLibrary": zig_shlib,
        }
    )
    env.AddMethod(HostObject, "HostObject")
    env.AddMethod(HostProgram, "HostProgram")
    env.AddMethod(DynldLibrary, "DynldLibrary")
    env.AddMethod(DynRuntime, "DynRuntime")
    env.AddMethod(DynCheck, "DynCheck")
    env.AddMethod(DynHost, "DynHost")
    env.AddMethod(_clone, "Clone")
    check_arch(env)


def exists(env) -> bool:
    """True when the toolchain package and ziglang can be found."""
    try:
        locate.toolchain_dir()
    except locate.ToolchainNotFound:
        return False
    return locate.ziglang_version() != "none"
