#!/usr/bin/env bash
# Fuzzes the Valkey module's FT.CREATE / FT.SEARCH parsers (and the filter
# evaluation) with libFuzzer + ASan + UBSan, then merges new interesting
# inputs into the kept corpus (modules/valkey/fuzz/corpus), which the test
# suite replays (test "module-fuzz-corpus").
#   tools/fuzz-module.sh [SECONDS]      default 600; needs clang (install-deps --tests)
#   VSS_FUZZ_JOBS=2 tools/fuzz-module.sh 1800
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-600}
jobs=${VSS_FUZZ_JOBS:-1}
out=${VSS_FUZZ_DIR:-$here/build-fuzz}
src=$here/modules/valkey
corpus=$src/fuzz/corpus
command -v clang >/dev/null || { echo "fuzz-module: clang is not installed (tools/install-deps.sh --tests)" >&2; exit 1; }
mkdir -p "$out/new" "$out/artifacts"
clang -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -I"$src" -I"$here/index" \
  "$src/fuzz/fuzz-ft.c" "$src/vss-ft-create.c" "$src/vss-ft-search.c" -lm \
  -o "$out/fuzz-ft"
echo "fuzz-module: fuzzing for ${secs}s with $jobs job(s); corpus $corpus"
"$out/fuzz-ft" -max_total_time="$secs" -max_len=4096 -dict="$src/fuzz/ft.dict" \
  $([ "$jobs" -gt 1 ] && echo "-jobs=$jobs -workers=$jobs") -artifact_prefix="$out/artifacts/" \
  -print_final_stats=1 "$out/new" "$corpus"
# Keep what adds coverage (a crash stops above with the input in artifacts/).
"$out/fuzz-ft" -merge=1 "$corpus" "$out/new" >/dev/null 2>&1
echo "fuzz-module: no crash; corpus now $(ls "$corpus" | wc -l) inputs"
