#!/usr/bin/env bash
# CI smoke run of every fuzz target: a fixed time each, two at a time; fails on any finding.
#   bash fuzz/smoke.sh [SECONDS_PER_TARGET]     (default 10: about a minute in all on 2 cores)
# FUZZ_SKIP="target ..." leaves targets out. A finding's input is printed (hex) with the log.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
work=$(mktemp -d "${TMPDIR:-/tmp}/dynfuzz-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 -m fuzz.make_corpus "$work/corpus" >/dev/null
bash fuzz/build_c.sh "$work/bin"

python_targets="elf_reader linker module manifest header pragmas differential"
c_targets="dynld_amd64 dynld_386"
skip=" ${FUZZ_SKIP:-} "

run_target() {  # name: fuzz it for $secs seconds on a copy of its seeds; status 0 if nothing was found
    local name=$1 seeds cmd
    case $name in
        dynld_*) seeds=module; cmd=("$work/bin/dynld_fuzz_${name#dynld_}") ;;
        *) seeds=$name; cmd=(python3 -m fuzz.run "$name") ;;
    esac
    mkdir -p "$work/run-$name"
    cp "$work/corpus/$seeds"/* "$work/run-$name/"
    timeout -k 10 $((secs + 120)) "${cmd[@]}" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/$name-" "$work/run-$name" >"$work/$name.log" 2>&1
}

failed=0
names=()
for t in $python_targets $c_targets; do
    case $skip in *" $t "*) echo "fuzz smoke: $t skipped (FUZZ_SKIP)"; continue ;; esac
    names+=("$t")
done
i=0
while [ $i -lt ${#names[@]} ]; do
    pids=()
    batch=("${names[@]:$i:2}")
    for t in "${batch[@]}"; do
        run_target "$t" &
        pids+=($!)
    done
    for k in "${!batch[@]}"; do
        t=${batch[$k]}
        if wait "${pids[$k]}"; then
            execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/$t.log" | grep -o '[0-9]*$' || echo '?')
            cov=$(grep -Eo 'cov: [0-9]+' "$work/$t.log" | tail -1 | grep -Eo '[0-9]+' || echo '?')
            echo "fuzz smoke: $t ok ($execs executions, cov $cov)"
        else
            failed=1
            echo "fuzz smoke: $t FOUND SOMETHING (or failed to run):"
            tail -n 40 "$work/$t.log"
            for a in "$work/$t-"*; do
                [ -e "$a" ] && { echo "input $a:"; od -An -tx1 "$a" | head -n 64; }
            done
        fi
    done
    i=$((i + 2))
done
exit $failed
