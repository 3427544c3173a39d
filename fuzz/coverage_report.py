"""Line coverage reached by each Python fuzz target's corpus (needs coverage.py: the fuzz extra).

    python3 -m fuzz.coverage_report CAMPAIGN_DIR [TARGET...]

Replays ``CAMPAIGN_DIR/corpus-TARGET/*`` (as fuzz/campaign.sh leaves it) through the target
under coverage.py and prints, per target, the statement coverage of the modules it drives.
Findings raised while replaying are counted, not fatal.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVES = {
    "elf_reader": ["toolchain/elf.py", "toolchain/linker/inputs.py", "toolchain/directives.py"],
    "linker": ["toolchain/linker/*.py"],
    "module": ["toolchain/dynld/module.py"],
    "manifest": ["toolchain/dynld/manifest.py", "toolchain/dynld/exporttab.py"],
    "header": ["toolchain/dynld/signatures.py"],
    "pragmas": ["toolchain/cc/pragmas.py", "toolchain/directives.py"],
    "differential": ["toolchain/dynld/module.py"],
}


def report(campaign: str, target: str) -> str:
    """One Markdown table row: target, files, inputs replayed, findings, statement coverage."""
    import coverage

    corpus = os.path.join(campaign, f"corpus-{target}")
    files = sorted(os.listdir(corpus))
    cov = coverage.Coverage(data_file=None, include=[os.path.join(ROOT, p) for p in DRIVES[target]])
    findings = 0
    cov.start()  # before the modules are imported, so that their top-level statements count
    try:
        from fuzz.targets import TARGETS

        for name in files:
            with open(os.path.join(corpus, name), "rb") as f:
                data = f.read()
            try:
                TARGETS[target](data)
            except Exception:  # noqa: BLE001 - a finding; the campaign already recorded it
                findings += 1
    finally:
        cov.stop()
    percent = cov.report(file=io.StringIO())
    return f"| {target} | {', '.join(DRIVES[target])} | {len(files)} | {findings} | {percent:.1f}% |"


def main(argv: list[str]) -> int:
    """Print the coverage table for the targets named (default: all)."""
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if argv[0] == "--one":
        print(report(argv[1], argv[2]), flush=True)
        return 0
    campaign, targets = argv[0], argv[1:] or list(DRIVES)
    print("| target | modules | corpus inputs | findings on replay | statements covered |")
    print("|---|---|---:|---:|---:|")
    for t in targets:  # each in a fresh process: nothing imported before its measurement starts
        subprocess.run([sys.executable, "-m", "fuzz.coverage_report", "--one", campaign, t], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
