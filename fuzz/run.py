"""Run one Python fuzz target under atheris (libFuzzer's engine, Python coverage).

    python3 -m fuzz.run TARGET [libFuzzer options] [CORPUS_DIR...]

e.g. ``python3 -m fuzz.run module -max_total_time=60 fuzz/corpus/module``. A finding is
saved by libFuzzer as ``crash-<sha1>`` (see ``-artifact_prefix=``); copy it to
``fuzz/regressions/TARGET/`` once fixed, and tests/test_fuzz_regressions.py replays it.
Without atheris installed, ``--replay FILE...`` runs the target on files once each.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys


def main(argv: list[str]) -> int:
    """Fuzz (or, with --replay, just run) the target named by argv[1]."""
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        from fuzz.targets import TARGETS

        print(__doc__.strip() + "\n\ntargets: " + " ".join(TARGETS))
        return 0 if len(argv) >= 2 else 2
    name = argv[1]
    if len(argv) > 2 and argv[2] == "--replay":
        from fuzz.targets import TARGETS

        for path in argv[3:]:
            with open(path, "rb") as f:
                TARGETS[name](f.read())
        return 0
    import atheris

    with atheris.instrument_imports(include=["toolchain", "fuzz"]):
        import toolchain

        for info in pkgutil.walk_packages(toolchain.__path__, "toolchain."):
            importlib.import_module(info.name)  # every module instrumented, whatever the layout
        from fuzz.targets import TARGETS
    if name not in TARGETS:
        print(f"fuzz.run: unknown target {name!r} (targets: {' '.join(TARGETS)})", file=sys.stderr)
        return 2
    target = TARGETS[name]
    if name == "differential":
        from fuzz.targets import c_runtime

        c_runtime()  # build it before fuzzing starts
    atheris.Setup([argv[0], *argv[2:]], target)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
