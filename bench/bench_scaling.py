"""Scaling benchmark: how link time and peak memory grow with the number of objects.

    python bench/bench_scaling.py [--files 100,1000] [--arch amd64] [--runs 3] [--jobs 2]
                                  [--installed VENV/bin/dynlink] [--json FILE]

Sizes are the program sizes of ``bench/bench_link.py`` (whose generator and object cache,
``bench/.cache``, this reuses): 100, 1,000 and 10,000 generated files are meaningful
steps; ``--files 100,1000,10000`` adds the large one, whose 10,000 compiles take a long
time the first time (run it under ``nice``).  For each size the same objects are linked,
in one run, by:

- ``dynlink (in-process, Python)``: a fresh Python process that imports the linker, links
  once to warm up, then times ``--runs`` calls of ``toolchain.linker.main.link``, with
  ``DYNTOOLS_NATIVE=0`` (relocations applied by Python alone); its memory is that process's
  maximum resident set (Python and the imports included);
- ``dynlink (in-process, C)``: the same with ``DYNTOOLS_NATIVE=1``: relocations applied in
  bulk by the C library at every size (links of 10,000 relocation entries or more use it
  by default, as all of these do);
- ``dynlink (command)``: ``python -m toolchain.linker.command`` (the ``dynlink`` command's entry),
  a whole process per link, with its modules byte-compiled as an installed package's are
  (``bench_link.command_env``), on the Python running the benchmark;
- ``dynlink (installed)``, with ``--installed``: that ``dynlink`` command as it is (the
  script of a package installed in a fresh venv: what a user runs, without this
  machine's site-packages ``.pth`` files);
- ``GNU ld``: ``ld -static -e _start`` (amd64 and 386 only);
- ``ld.lld``: the ``zig`` binary of the ``ziglang`` package as ``zig ld.lld`` (the same
  program as ``python -m ziglang ld.lld`` without the Python wrapper's start-up);
- ``mold``: ``mold --no-fork -static -e _start`` (not forking, so that its time and memory
  are the link's; Debian package ``mold``, which ``.ci/setup`` installs).

A linker that is not installed is skipped with a note, never an error.  Each command runs
once untimed, then its time is its wall time, best of ``--runs``; its peak memory is the maximum resident set
reported by GNU time (``/usr/bin/time -f %M``, Debian package ``time``, installed by
``.ci/setup``), else ``os.wait4``'s figure for the child.  Every program linked is run
(arm under qemu-arm) and must print what the others print, or no numbers are reported.
The table gives each linker's time and memory and their ratio to GNU ld's at that size,
and the time per input object, which shows how the cost grows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (ROOT, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

import bench_link  # noqa: E402
from bench_link import GNU_EMULATION, Result, _run_timed, build_objects, verify  # noqa: E402

from toolchain.arch import get_arch  # noqa: E402

REFERENCE = "GNU ld"

# Run by the in-process measurement in a fresh interpreter: argv = arch, runs, output, objects...
_INPROCESS_CHILD = """
import gc, resource, sys, time
from toolchain.linker.main import link, parse_args
arch, runs, out, objs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
args = ["-a", arch, "-o", out, *objs]
link(parse_args(args))
times = []
for _ in range(runs):
    gc.collect()
    t0 = time.perf_counter()
    link(parse_args(args))
    times.append(time.perf_counter() - t0)
print(" ".join(map(repr, times)), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def zig_binary() -> str | None:
    """The ``zig`` executable of the ``ziglang`` package, or None when it is not installed."""
    try:
        import ziglang
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(ziglang.__file__), "zig")
    return path if os.access(path, os.X_OK) else None


def peers(arch: str, out: str, objs: list[str], notes: list[str], installed: str | None = None) -> dict[str, list[str]]:
    """The command line of each linker run as a command; a missing one is skipped with a note."""
    dynlink = [sys.executable, "-m", "toolchain.linker.command"]
    cmds = {"dynlink (command)": [*dynlink, "-a", arch, "-o", out + ".dyn", *objs]}
    if installed:
        cmds["dynlink (installed)"] = [installed, "-a", arch, "-o", out + ".inst", *objs]
    emulation = GNU_EMULATION.get(arch)
    if emulation is None:
        notes.append(f"GNU ld and mold: not run for {arch} (no static {arch} emulation here)")
    elif shutil.which("ld") is None:
        notes.append("GNU ld: not installed (Debian package binutils), skipped")
    else:
        cmds["GNU ld"] = ["ld", "-m", emulation, "-static", "-e", "_start", "-o", out + ".gnu", *objs]
    zig = zig_binary()
    if zig is None:
        notes.append("ld.lld: the ziglang package is not installed, skipped")
    else:
        cmds["ld.lld"] = [zig, "ld.lld", "-static", "-e", "_start", "-o", out + ".lld", *objs]
    if emulation is not None:
        if shutil.which("mold") is None:
            notes.append("mold: not installed (apt-get install mold), skipped")
        else:
            cmds["mold"] = ["mold", "--no-fork", "-m", emulation, "-static", "-e", "_start", "-o", out + ".mold", *objs]
    return cmds


def measure_inprocess(arch: str, objdir: str, objs: list[str], runs: int, out: str, native: str) -> Result:
    """The in-process link's times and its process's peak memory, from a fresh interpreter,
    with ``DYNTOOLS_NATIVE`` set to ``native``: "0" relocates with Python only, "1" in bulk with C."""
    env = bench_link.command_env()
    env["DYNTOOLS_NATIVE"] = native
    name = "dynlink (in-process, C)" if native == "1" else "dynlink (in-process, Python)"
    cmd = [sys.executable, "-c", _INPROCESS_CHILD, arch, str(runs), out, *objs]
    p = subprocess.run(cmd, cwd=objdir, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"bench: {name} failed: {p.stderr.strip()[-500:]}")
    *times, rss = p.stdout.split()
    return Result(name, times=[float(t) for t in times], peak_kib=int(rss), output=out)


def measure(
    arch: str, objdir: str, objs: list[str], runs: int, tmp: str, notes: list[str], installed: str | None = None
) -> list[Result]:
    """Every linker ``runs`` times on the same objects, in turn."""
    env = bench_link.command_env()
    base = os.path.join(tmp, "prog")
    results = [
        measure_inprocess(arch, objdir, objs, runs, base + ".inproc", native="0"),
        measure_inprocess(arch, objdir, objs, runs, base + ".inproc-c", native="1"),
    ]
    for name, cmd in peers(arch, base, objs, notes, installed).items():
        r = Result(name, output=cmd[cmd.index("-o") + 1])
        _run_timed(cmd, objdir, env)  # warm-up: files in the page cache; dynlink's modules byte-compiled
        for _ in range(runs):
            dt, rss, _err = _run_timed(cmd, objdir, env)
            r.times.append(dt)
            r.peak_kib = max(r.peak_kib, rss)
        results.append(r)
    for r in results:
        r.size = os.path.getsize(r.output)
    return results


def table(rows: list[tuple[str, int, int, list[Result]]]) -> str:
    """The results as a markdown table, with ratios to GNU ld at the same size."""
    out = [
        "| arch | files | objects | linker | best s | vs GNU ld | µs/object | peak MiB | vs GNU ld |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for arch, n, nobj, results in rows:
        ref = next((r for r in results if r.linker == REFERENCE), None)
        for r in results:
            t_ratio = f"{r.best / ref.best:.2f}×" if ref else "-"
            m_ratio = f"{r.peak_kib / ref.peak_kib:.2f}×" if ref and ref.peak_kib else "-"
            out.append(
                f"| {arch} | {n} | {nobj} | {r.linker} | {r.best:.3f} | {t_ratio} | "
                f"{r.best / nobj * 1e6:.0f} | {r.peak_kib / 1024:.1f} | {m_ratio} |"
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every size linked, ran and agreed."""
    p = argparse.ArgumentParser(description="Link time and peak memory of dynlink, GNU ld, ld.lld and mold by size.")
    p.add_argument("--files", default="100,1000", help="program sizes, comma-separated (add 10000 for the large one)")
    p.add_argument("--arch", default="amd64", help="arches, comma-separated (GNU ld and mold: amd64 and 386)")
    p.add_argument("--runs", type=int, default=3, help="runs per linker; the best is reported")
    p.add_argument("--jobs", type=int, default=2, help="compiler processes for the objects")
    p.add_argument("--cflags", default=" ".join(bench_link.CFLAGS), help="dyncc flags")
    p.add_argument("--installed", metavar="DYNLINK", help="also time this dynlink command (an installed script)")
    p.add_argument("--json", help="also write the results as JSON to this file")
    a = p.parse_args(argv)
    try:
        sizes = [int(s) for s in a.files.split(",") if s]
        arches = [get_arch(x).name for x in a.arch.split(",") if x]
    except ValueError as e:
        p.error(str(e))
    if not shutil.which("time") and not os.access(bench_link.TIME, os.X_OK):
        print("bench: GNU time not found: peak memory from os.wait4 (apt-get install time)", file=sys.stderr)
    rows: list[tuple[str, int, int, list[Result]]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        for arch in arches:
            for n in sizes:
                objdir, objs = build_objects(arch, n, a.jobs, tuple(a.cflags.split()))
                print(f"linking {arch} x {n} files ({len(objs)} objects), best of {a.runs} ...", file=sys.stderr)
                results = measure(arch, objdir, objs, a.runs, tmp, notes, a.installed)
                verify(arch, results, n)
                rows.append((arch, n, len(objs), results))
    print(table(rows))
    for note in dict.fromkeys(notes):
        print(f"note: {note}")
    if a.json:
        data = [
            {"arch": arch, "files": n, "objects": nobj, "linker": r.linker, "times": r.times, "peak_kib": r.peak_kib}
            for arch, n, nobj, rs in rows
            for r in rs
        ]
        with open(a.json, "w") as f:
            json.dump(data, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
