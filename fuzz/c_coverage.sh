#!/usr/bin/env bash
# Line coverage of the dynld runtime reached by the C targets' corpora (clang source-based coverage).
#   bash fuzz/c_coverage.sh CAMPAIGN_DIR       (as fuzz/campaign.sh leaves it)
set -euo pipefail
cd "$(dirname "$0")/.."
camp=${1:?usage: fuzz/c_coverage.sh CAMPAIGN_DIR}
work=$(mktemp -d "${TMPDIR:-/tmp}/dyncov.XXXXXX")
trap 'rm -rf "$work"' EXIT
runtime=toolchain/dynld/runtime
for arch in amd64 386; do
    m=()
    [ "$arch" = 386 ] && m=(-m32)
    clang "${m[@]}" -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping -O1 -DDYNLD_LIBFUZZER -I"$runtime" \
        fuzz/c/dynld_fuzz.c "$runtime"/*.c -o "$work/cov_$arch"
    LLVM_PROFILE_FILE="$work/$arch.profraw" "$work/cov_$arch" -runs=0 "$camp"/corpus-dynld_* >/dev/null 2>&1
    llvm-profdata merge -o "$work/$arch.profdata" "$work/$arch.profraw"
    echo "== $arch"
    llvm-cov report "$work/cov_$arch" -instr-profile="$work/$arch.profdata" "$runtime/dynld.c" "$runtime/dynld-$arch.c"
done
