"""Run one Python fuzz target under atheris (libFuzzer's engine, Python coverage).

    python3 -m fuzz.run TARGET [libFuzzer options] [CORPUS_DIR...]

e.g. ``python3 -m fuzz.run module -max_total_time=60 fuzz/corpus/module``. A finding is
saved by libFuzzer as ``crash-<sha1>`` (see ``-artifact_prefix=``); copy it to
``fuzz/regressions/TARGET/`` once fixed, and tests/test_fuzz_regressions.py replays it.
``--keep-going=DIR`` (first, after TARGET) records findings in DIR and goes on (campaigns).
Without atheris installed, ``--replay FILE...`` runs the target on files once each.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pkgutil
import re
import sys
from collections.abc import Callable


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
    args = argv[2:]
    if args and args[0].startswith("--keep-going="):
        target = _keep_going(target, args[0].split("=", 1)[1])
        args = args[1:]
    if name == "differential":
        from fuzz.targets import c_runtime

        c_runtime()  # build it before fuzzing starts
    atheris.Setup([argv[0], *args], target)
    atheris.Fuzz()
    return 0


def _keep_going(target: Callable[[bytes], None], directory: str) -> Callable[[bytes], None]:
    """``target``, recording each finding (its first input per kind) under ``directory`` instead of stopping.

    A kind is the exception type and its message with the numbers and quoted names taken out;
    ``directory/findings.txt`` gets one line per finding, for a long campaign's figures.
    """
    os.makedirs(directory, exist_ok=True)
    seen: set[str] = set()

    def run(data: bytes) -> None:
        try:
            target(data)
        except Exception as e:  # noqa: BLE001 - every finding is recorded
            text = f"{type(e).__name__}: {e}".splitlines()[0] if str(e) else type(e).__name__
            kind = re.sub(r"'[^']*'|\"[^\"]*\"|0x[0-9a-f]+|\d+|/tmp/\S+", "_", text)[:200]
            with open(os.path.join(directory, "findings.txt"), "a") as f:
                f.write(f"{kind}\t{text[:300]}\n")
            if kind not in seen:
                seen.add(kind)
                with open(os.path.join(directory, f"finding-{hashlib.sha1(data).hexdigest()}"), "wb") as f:
                    f.write(data)

    return run


if __name__ == "__main__":
    sys.exit(main(sys.argv))
