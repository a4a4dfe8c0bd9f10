#!/usr/bin/env bash
# Bounded libFuzzer runs (clang, ASan + UBSan) over request decoding and
# validation (gRPC requests; the HTTP tracking API's JSON mapping), from seed
# corpora. Fails on any crash, leak or sanitizer report.
# OMNICX_FUZZ_SECONDS sets each target's budget (default 30).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
FUZZ_BUILD="${OMNICX_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
SECONDS_BUDGET="${OMNICX_FUZZ_SECONDS:-30}"
if [ ! -f "$FUZZ_BUILD/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$FUZZ_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DOMNICX_FUZZ=ON -DOMNICX_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$FUZZ_BUILD" -j"${OMNICX_JOBS:-2}" --target track_request_fuzzer tracking_mapping_fuzzer
corpus="$FUZZ_BUILD/fuzz-corpus"
mkdir -p "$corpus"
for seed in "$ROOT"/tests/fuzz/seeds/*.txtpb; do
  name="$(basename "$seed" .txtpb)"
  type=omnicx.v1.TrackBatchRequest
  [ "$name" = single ] && type=omnicx.v1.TrackRequest
  protoc -I"$ROOT/protos" -I/usr/include --encode="$type" omnicx/v1/ingestion.proto \
    <"$seed" >"$corpus/seed-$name"
done
"$FUZZ_BUILD/tests/fuzz/track_request_fuzzer" -max_total_time="$SECONDS_BUDGET" \
  -max_len=65536 -print_final_stats=1 "$corpus" 2>&1 | tail -n 15
tracking_corpus="$FUZZ_BUILD/fuzz-corpus-tracking"
mkdir -p "$tracking_corpus"
cp "$ROOT"/tests/fuzz/seeds/tracking/* "$tracking_corpus/"
"$FUZZ_BUILD/tests/fuzz/tracking_mapping_fuzzer" -max_total_time="$SECONDS_BUDGET" \
  -max_len=65536 -print_final_stats=1 "$tracking_corpus" 2>&1 | tail -n 15
echo "fuzz: 2 passed, 0 failed"
