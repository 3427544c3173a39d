"""SCons builds of the example project: a full ``-j2`` build with and without workers, and the null build.

    python bench/bench_build.py                      # both byte-code modes, 2 full builds each way, 7 null builds
    python bench/bench_build.py --arches amd64 --full-runs 1 --null-runs 3 --json out.json

``examples/project`` is copied into a temporary directory (its ``build/`` and
``.sconsign.dblite`` left behind) and built there with ``python -m SCons`` run by this
interpreter (``--python``), the tool found through ``PYTHONPATH`` (this checkout's
``site_scons``), so the checkout's tree is never touched.  One untimed build first fills
zig's own cache: every timed full build is a clean build of the project (``build/`` and the
SCons database removed) with zig's cache warm, as on a developer's machine.

What is timed, in one run, for each byte-code mode (``--bytecode``): ``as-is`` is the
environment this runs in (this machine sets ``PYTHONDONTWRITEBYTECODE=1``: every process
compiles the modules it imports from source); ``pyc`` removes that variable and points
``PYTHONPYCACHEPREFIX`` at a directory under the temporary directory, so processes read
compiled byte code as an installed package's do (an untimed build fills it).

- ``full -j2``: clean builds with workers (the default) and with ``DYNTOOLS_WORKERS=0``,
  alternating, ``--full-runs`` of each; the median wall time of each and their ratio (the
  target of issue 13 is at most 0.7).
- ``null``: ``scons`` again with everything built, ``--null-runs`` times after one untimed
  run; the median wall time and the median CPU time (user + system: what the wall time is
  on an idle machine), target 0.25 s.
- ``scons alone``: the same for a project whose SConstruct declares nothing (SCons'
  own start-up, for scale).

Checks (otherwise no table and exit status 1): every build succeeds; every full build
writes the same bytes (every file under ``build/``, compared by SHA-256) with and without
workers and in both byte-code modes; every null build prints only "is up to date" lines,
a null build with ``--debug=explain`` names nothing it would build, and the built files
are unchanged afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "project")
SITE = os.path.join(ROOT, "site_scons")

FULL_RATIO_TARGET = 0.7
NULL_TARGET_S = 0.25
MODES = ("as-is", "pyc")


class BenchError(Exception):
    """A build failed or a check did not hold: no numbers are reported."""


@dataclass
class Run:
    """One SCons process: its wall and CPU seconds and what it printed."""

    wall: float
    cpu: float
    stdout: str


@dataclass
class ModeResult:
    """The figures of one byte-code mode."""

    mode: str
    full_workers: list[float] = field(default_factory=list)
    full_no_workers: list[float] = field(default_factory=list)
    null_wall: list[float] = field(default_factory=list)
    null_cpu: list[float] = field(default_factory=list)
    alone_wall: list[float] = field(default_factory=list)
    alone_cpu: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """Medians and the workers' ratio."""
        out = {
            "full_workers_s": statistics.median(self.full_workers),
            "full_no_workers_s": statistics.median(self.full_no_workers),
            "null_wall_s": statistics.median(self.null_wall),
            "null_cpu_s": statistics.median(self.null_cpu),
            "scons_alone_wall_s": statistics.median(self.alone_wall),
            "scons_alone_cpu_s": statistics.median(self.alone_cpu),
        }
        out["full_ratio"] = out["full_workers_s"] / out["full_no_workers_s"]
        return out


def scons_env(mode: str, pycache: str, workers: bool = True) -> dict[str, str]:
    """The environment of one SCons run: this one, the tool on PYTHONPATH, the byte-code mode, the switch."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCONS", "DYNTOOLS"))}
    env["PYTHONPATH"] = os.pathsep.join([SITE, *filter(None, [os.environ.get("PYTHONPATH")])])
    if mode == "pyc":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    if not workers:
        env["DYNTOOLS_WORKERS"] = "0"
    return env


def run_scons(python: str, root: str, args: list[str], env: dict[str, str]) -> Run:
    """``python -m SCons -Q args`` in ``root``; BenchError unless it succeeds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([python, "-m", "SCons", "-Q", *args], cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BenchError(f"scons {' '.join(args)} in {root} failed ({proc.returncode}): {last}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, proc.stdout)


def copy_project(dest: str) -> str:
    """A copy of the example project without anything built."""
    ignore = shutil.ignore_patterns("build", ".sconsign*", "__pycache__")
    shutil.copytree(EXAMPLE, dest, ignore=ignore)
    return dest


def clean(root: str) -> None:
    """Remove what a build made (the build tree and SCons' database)."""
    shutil.rmtree(os.path.join(root, "build"), ignore_errors=True)
    for name in os.listdir(root):
        if name.startswith(".sconsign"):
            os.remove(os.path.join(root, name))


def built_files(root: str) -> dict[str, str]:
    """SHA-256 of every file under ``root/build``, by path relative to ``root``."""
    out = {}
    for dirpath, _, filenames in os.walk(os.path.join(root, "build")):
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    if not out:
        raise BenchError(f"{root}: the build wrote no files")
    return dict(sorted(out.items()))


def compare(reference: dict[str, str], got: dict[str, str], what: str) -> None:
    """BenchError unless ``got`` holds the same files with the same bytes as ``reference``."""
    if got != reference:
        differ = sorted(k for k in set(reference) | set(got) if reference.get(k) != got.get(k))
        raise BenchError(f"{what}: {len(differ)} built files differ, e.g. {differ[:3]}")


def check_null(run: Run) -> None:
    """BenchError unless a null build printed only "is up to date" lines."""
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    busy = [line for line in lines if not line.endswith("is up to date.")]
    if not lines or busy:
        raise BenchError(f"the null build did something: {(busy or ['(printed nothing)'])[0]}")


def check_explain(run: Run) -> None:
    """BenchError if ``--debug=explain`` names a target it would build."""
    busy = [line for line in run.stdout.splitlines() if " because" in line and "building `" in line]
    if busy:
        raise BenchError(f"the null build rebuilds: {busy[0]}")


def measure(args: argparse.Namespace, work: str) -> tuple[list[ModeResult], dict]:
    """Every build and every check; the figures per byte-code mode and a description of the run."""
    root = copy_project(os.path.join(work, "project"))
    alone = os.path.join(work, "alone")
    os.makedirs(alone)
    with open(os.path.join(alone, "SConstruct"), "w", encoding="utf-8") as f:
        f.write("DefaultEnvironment(tools=[])\n")
    pycache = os.path.join(work, "pycache")
    build_args = ["-j2", f"arches={args.arches}"]
    reference: dict[str, str] = {}
    results = []
    # Untimed: fills zig's cache (and, in pyc mode, the byte-code cache), gives the reference outputs.
    for mode in args.modes:
        clean(root)
        run_scons(args.python, root, build_args, scons_env(mode, pycache))
        reference = reference or built_files(root)
        compare(reference, built_files(root), f"warm-up build ({mode})")
    for mode in args.modes:
        result = ModeResult(mode)
        for i in range(2 * args.full_runs):
            workers = (i % 2 == 0) == ((i // 2) % 2 == 0)  # on, off, off, on, on, off ...: load drifts over both
            clean(root)
            run = run_scons(args.python, root, build_args, scons_env(mode, pycache, workers))
            (result.full_workers if workers else result.full_no_workers).append(run.wall)
            compare(reference, built_files(root), f"full build ({mode}, workers {'on' if workers else 'off'})")
        env = scons_env(mode, pycache)
        for i in range(args.null_runs + 1):
            run = run_scons(args.python, root, [f"arches={args.arches}"], env)
            check_null(run)
            if i:
                result.null_wall.append(run.wall)
                result.null_cpu.append(run.cpu)
            alone_run = run_scons(args.python, alone, [], env)
            if i:
                result.alone_wall.append(alone_run.wall)
                result.alone_cpu.append(alone_run.cpu)
        check_explain(run_scons(args.python, root, ["--debug=explain", f"arches={args.arches}"], env))
        compare(reference, built_files(root), f"after the null builds ({mode})")
        results.append(result)
    about = {
        "python": args.python,
        "python_version": sys.version.split()[0],
        "scons_version": scons_version(args.python),
        "arches": args.arches,
        "jobs": 2,
        "full_runs": args.full_runs,
        "null_runs": args.null_runs,
        "built_files": len(reference),
        "as_is_PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
        "cpus": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
    }
    return results, about


def scons_version(python: str) -> str:
    """SCons' version as ``python -m SCons --version`` says it."""
    proc = subprocess.run([python, "-m", "SCons", "--version"], capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.strip().startswith("SCons: v"):
            return ".".join(line.strip()[len("SCons: v") :].split(".")[:3])
    return "unknown"


def table(results: list[ModeResult], about: dict) -> str:
    """The figures as a Markdown table, one column per byte-code mode."""
    names = {"as-is": f"as-is (PYTHONDONTWRITEBYTECODE={about['as_is_PYTHONDONTWRITEBYTECODE']})", "pyc": "pyc cached"}
    sums = [r.summary() for r in results]
    head = "| | " + " | ".join(names[r.mode] for r in results) + " |"
    rows = [
        head,
        "|---|" + "---:|" * len(results),
        "| full -j2, workers (s) | " + " | ".join(f"{s['full_workers_s']:.2f}" for s in sums) + " |",
        "| full -j2, DYNTOOLS_WORKERS=0 (s) | " + " | ".join(f"{s['full_no_workers_s']:.2f}" for s in sums) + " |",
        f"| workers / no workers (target ≤ {FULL_RATIO_TARGET}) | "
        + " | ".join(f"**{s['full_ratio']:.2f}**" for s in sums)
        + " |",
        f"| null build, wall (s, target ≤ {NULL_TARGET_S}) | "
        + " | ".join(f"**{s['null_wall_s']:.3f}**" for s in sums)
        + " |",
        "| null build, CPU user+sys (s) | " + " | ".join(f"{s['null_cpu_s']:.3f}" for s in sums) + " |",
        "| scons alone (empty SConstruct), wall / CPU (s) | "
        + " | ".join(f"{s['scons_alone_wall_s']:.3f} / {s['scons_alone_cpu_s']:.3f}" for s in sums)
        + " |",
    ]
    intro = (
        f"examples/project, arches={about['arches']}, -j2, clean full builds with zig's cache warm "
        f"(median of {about['full_runs']} each), null build median of {about['null_runs']}; "
        f"{about['built_files']} built files identical in every build; Python {about['python_version']}, "
        f"SCons {about['scons_version']}, {about['cpus']} CPUs, load average {about['load_average_1min']:.2f}"
    )
    return intro + "\n\n" + "\n".join(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (argparse exits with status 2 on bad usage)."""
    p = argparse.ArgumentParser(
        prog="bench_build", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--arches", default="all", help="the project's arches= (default all: 386,amd64,arm)")
    p.add_argument("--full-runs", type=int, default=2, help="clean full builds with and without workers (default 2)")
    p.add_argument("--null-runs", type=int, default=7, help="timed null builds (default 7)")
    p.add_argument(
        "--bytecode", choices=("as-is", "pyc", "both"), default="both", help="byte-code modes (default both)"
    )
    p.add_argument("--python", default=sys.executable, help="the interpreter running SCons (default this one)")
    p.add_argument("--keep", metavar="DIR", help="work in DIR (must not exist) and keep it")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE ('-': stdout)")
    args = p.parse_args(argv)
    if args.full_runs < 1 or args.null_runs < 1:
        p.error("--full-runs and --null-runs must be at least 1")
    args.modes = MODES if args.bytecode == "both" else (args.bytecode,)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every check held, 1 otherwise."""
    args = parse_args(argv)
    if args.keep and os.path.exists(args.keep):
        print(f"bench_build: {args.keep}: already exists", file=sys.stderr)
        return 1
    work = args.keep or tempfile.mkdtemp(prefix="bench-build-")
    os.makedirs(work, exist_ok=True)
    try:
        results, about = measure(args, work)
    except (BenchError, OSError) as e:
        print(f"bench_build: {e}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(table(results, about))
    if args.json:
        data = {"about": about, "results": {r.mode: {**r.summary(), **r.__dict__} for r in results}}
        text = json.dumps(data, indent=2)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w", encoding="utf-8") as f:
                f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
