#!/usr/bin/env bash
# Build the dynld runtime's libFuzzer target with ASan+UBSan, for amd64 and 386 (clang -m32).
#   fuzz/build_c.sh OUTDIR        -> OUTDIR/dynld_fuzz_amd64, OUTDIR/dynld_fuzz_386
# Needs clang and libFuzzer (Debian: clang libclang-rt-14-dev gcc-multilib; see .ci/setup).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: fuzz/build_c.sh OUTDIR}
mkdir -p "$out"
cc=${FUZZ_CLANG:-clang}
runtime=toolchain/dynld/runtime
flags=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -g -O1 -DDYNLD_LIBFUZZER -I"$runtime")
for arch in amd64 386; do
    m=()
    [ "$arch" = 386 ] && m=(-m32)
    "$cc" "${m[@]}" "${flags[@]}" fuzz/c/dynld_fuzz.c "$runtime"/*.c -o "$out/dynld_fuzz_$arch"
done
