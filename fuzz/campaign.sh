#!/usr/bin/env bash
# A long fuzzing campaign: every target for a number of executions, two at a time, niced;
# findings are recorded and the campaign goes on. Prints a Markdown table of the figures.
#   bash fuzz/campaign.sh OUTDIR [C_RUNS] [PY_RUNS]     (defaults 1200000 and 120000)
# OUTDIR keeps the grown corpora, the logs and each target's findings (findings.txt and one
# input per kind; the C targets stop at their first finding, saved as crash-*).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: fuzz/campaign.sh OUTDIR [C_RUNS] [PY_RUNS]}
c_runs=${2:-1200000}
py_runs=${3:-120000}
mkdir -p "$out"
[ -d "$out/seeds" ] || python3 -m fuzz.make_corpus "$out/seeds" >/dev/null
[ -x "$out/bin/dynld_fuzz_386" ] || bash fuzz/build_c.sh "$out/bin"

run_target() {
    local name=$1 seeds runs cmd
    case $name in
        dynld_*) seeds=module; runs=$c_runs; cmd=("$out/bin/dynld_fuzz_${name#dynld_}") ;;
        differential) seeds=module; runs=$c_runs; cmd=(python3 -m fuzz.run "$name" --keep-going="$out/findings-$name") ;;
        *) seeds=$name; runs=$py_runs; cmd=(python3 -m fuzz.run "$name" --keep-going="$out/findings-$name") ;;
    esac
    mkdir -p "$out/corpus-$name" "$out/findings-$name"
    cp -n "$out/seeds/$seeds"/* "$out/corpus-$name/"
    local start=$SECONDS
    nice -n 19 "${cmd[@]}" -runs="$runs" -max_total_time=3000 -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/findings-$name/" "$out/corpus-$name" >"$out/$name.log" 2>&1 || true
    echo $((SECONDS - start)) >"$out/$name.seconds"
}

targets=${TARGETS:-"dynld_amd64 dynld_386 differential module elf_reader pragmas header manifest linker"}
set -- $targets
while [ $# -gt 0 ]; do
    run_target "$1" &
    if [ $# -gt 1 ]; then run_target "$2" & fi
    wait
    shift $(($# > 1 ? 2 : 1))
done

echo "| target | executions | seconds | coverage (cov / ft) | corpus | findings (kinds) |"
echo "|---|---:|---:|---|---:|---|"
for t in $targets; do
    log=$out/$t.log
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -E '^#[0-9]+' "$log" | grep -Eo 'cov: [0-9]+ ft: [0-9]+' | tail -1 | sed 's/cov: //; s/ ft: / \/ /')
    corpus=$(ls "$out/corpus-$t" | wc -l)
    f=$out/findings-$t/findings.txt
    if [ -s "$f" ]; then
        findings="$(wc -l <"$f") ($(cut -f1 "$f" | sort -u | wc -l) kinds)"
    else
        findings=$(ls "$out/findings-$t" | grep -c '^crash-\|^timeout-\|^oom-' || true)
    fi
    echo "| $t | $execs | $(cat "$out/$t.seconds") | $cov | $corpus | $findings |"
done
