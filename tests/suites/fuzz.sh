#!/usr/bin/env bash
# Bounded libFuzzer runs (clang, ASan + UBSan), each from its committed seed
# corpus, over every input the suite decodes from outside or from Redis:
# requests and their validation (ingestion, profile, recommendation,
# journey), the HTTP tracking API's JSON mapping, stream entries as the
# consumers decode them, page tokens and the YAML start-up files. None touches Redis or the
# network. Fails on any crash, leak or sanitizer report.
# OMNICX_FUZZ_SECONDS sets each target's budget (default 20: eight targets
# stay under about 3 minutes once built). OMNICX_FUZZ_TARGETS picks a subset.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
FUZZ_BUILD="${OMNICX_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
SECONDS_BUDGET="${OMNICX_FUZZ_SECONDS:-20}"
# target:max_len; seeds in tests/fuzz/seeds/<target>/ (the ingestion
# requests' are text protos, encoded here).
ALL="track_request_fuzzer:65536 tracking_mapping_fuzzer:65536
profile_request_fuzzer:16384 recommendation_request_fuzzer:8192
journey_request_fuzzer:4096
stream_entry_fuzzer:65536 page_token_fuzzer:1024 config_yaml_fuzzer:8192"
TARGETS="${OMNICX_FUZZ_TARGETS:-$(for t in $ALL; do printf '%s ' "${t%%:*}"; done)}"
if [ ! -f "$FUZZ_BUILD/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$FUZZ_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DOMNICX_FUZZ=ON -DOMNICX_BUILD_BENCH=OFF >/dev/null
fi
# shellcheck disable=SC2086
cmake --build "$FUZZ_BUILD" -j"${OMNICX_JOBS:-2}" --target $TARGETS

seed_corpus() {  # target dir
  local target="$1" corpus="$2"
  mkdir -p "$corpus"
  if [ "$target" = track_request_fuzzer ]; then
    for seed in "$ROOT"/tests/fuzz/seeds/track_request/*.txtpb; do
      local name type=omnicx.v1.TrackBatchRequest
      name="$(basename "$seed" .txtpb)"
      [ "$name" = single ] && type=omnicx.v1.TrackRequest
      protoc -I"$ROOT/protos" -I/usr/include --encode="$type" omnicx/v1/ingestion.proto \
        <"$seed" >"$corpus/seed-$name"
    done
  else
    cp "$ROOT/tests/fuzz/seeds/${target%_fuzzer}/"* "$corpus/"
  fi
}

passed=0
for entry in $ALL; do
  target="${entry%%:*}"
  case " $TARGETS " in *" $target "*) ;; *) continue ;; esac
  corpus="$FUZZ_BUILD/fuzz-corpus/$target"
  seed_corpus "$target" "$corpus"
  echo "== $target (${SECONDS_BUDGET}s)"
  log="$FUZZ_BUILD/fuzz-corpus/$target.log"
  status=0
  "$FUZZ_BUILD/tests/fuzz/$target" -max_total_time="$SECONDS_BUDGET" \
    -max_len="${entry##*:}" -print_final_stats=1 \
    -artifact_prefix="$FUZZ_BUILD/fuzz-corpus/$target-" "$corpus" >"$log" 2>&1 || status=$?
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log"
    echo "fuzz: $target FAILED (input saved as $FUZZ_BUILD/fuzz-corpus/$target-*)"
    exit 1
  fi
  passed=$((passed + 1))
done
echo "fuzz: $passed passed, 0 failed"
