#!/usr/bin/env bash
# Ingestion throughput and latency against Redis with AOF everysec, printed
# beside the baselines measured in the same run (bench/baseline.sh), plus
# Redis memory per dedup entry and per stream entry.
#
#   bench/ingestion.sh BUILD_DIR [--seconds N]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:?usage: ingestion.sh BUILD_DIR}"; shift
SECONDS_PER=5
[ "${1:-}" = "--seconds" ] && SECONDS_PER="$2"
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"

base="$BENCH_TMP/base.txt"
bash "$ROOT/bench/baseline.sh" "$BUILD" --out "$base" --seconds 3 --rates 1000 >/dev/null

rport=$(free_port)
start_redis "$rport"
gport=$(free_port)  # after redis is bound, so the two cannot collide
# No consumer runs here, so the profile group's backlog grows with every
# stored event; past the default max_consumer_lag (1,000,000) the service
# would answer RESOURCE_EXHAUSTED, which is back-pressure, not throughput.
OMNICX_REDIS_ADDRESS="127.0.0.1:$rport" OMNICX_GRPC_ADDRESS="127.0.0.1:$gport" \
OMNICX_METRICS_ADDRESS="" OMNICX_LOG_LEVEL=warn OMNICX_MAX_CONSUMER_LAG=1000000000 \
  "$BUILD/services/ingestion/omnicx-ingestion" >"$BENCH_TMP/ingestion.log" 2>&1 &
BENCH_PIDS+=($!)
"$BUILD/tools/omnicx-health" --wait=10s "127.0.0.1:$gport" >/dev/null

run="$BENCH_TMP/run.txt"
"$BUILD/bench/ingestion_load" --target="127.0.0.1:$gport" --seconds="$SECONDS_PER" >"$run"

# Memory: exact MEMORY USAGE of one full stream shard and of every dedup hash.
shard=$(redis-cli -p "$rport" --scan --pattern 'cx:default:{ev:*}:stream' | head -1)
len=$(redis-cli -p "$rport" xlen "$shard")
bytes=$(redis-cli -p "$rport" memory usage "$shard" samples 0)
per_entry=$(awk -v b="$bytes" -v n="$len" 'BEGIN {printf "%.1f", (n>0? b/n : 0)}')
dd_total=0; dd_n=0
for k in $(redis-cli -p "$rport" --scan --pattern 'cx:default:{ev:*}:dd:*'); do
  dd_total=$(( dd_total + $(redis-cli -p "$rport" memory usage "$k" samples 0) ))
  dd_n=$(( dd_n + $(redis-cli -p "$rport" hlen "$k") ))
done
per_dd=$(awk -v b="$dd_total" -v n="$dd_n" 'BEGIN {printf "%.1f", (n>0? b/n : 0)}')
total_events=$(redis-cli -p "$rport" --scan --pattern 'cx:default:{ev:*}:stream' | while read -r s; do redis-cli -p "$rport" xlen "$s"; done | awk '{t+=$1} END {print t}')

printf '\ningestion benchmark: %s s per scenario, %s cores, Redis AOF everysec (%s events stored)\n' "$SECONDS_PER" "$(nproc)" "$total_events"
printf '%-34s | %-14s | %12s | %12s | %8s\n' scenario metric value baseline ratio
printf '%s\n' "--------------------------------------------------------------------------------------------"
row() { # name metric value baseline
  awk -v n="$1" -v m="$2" -v v="$3" -v b="$4" 'BEGIN {
    if (b > 0) printf "%-34s | %-14s | %12.1f | %12.1f | %7.2fx\n", n, m, v, b, v/b;
    else printf "%-34s | %-14s | %12.1f | %12s | %8s\n", n, m, v, "-", "-" }'
}
row "TrackBatch x100 (4 callers)" "events/s" "$(fig "$run" ingest_batch_events_per_s)" "$(fig "$base" echo_stream_msgs_per_s)"
row "TrackBatch x100 (16 callers)" "events/s" "$(fig "$run" ingest_batch_many_events_per_s)" "$(fig "$base" echo_stream_msgs_per_s)"
row "TrackStream (4 streams)" "events/s" "$(fig "$run" ingest_stream_events_per_s)" "$(fig "$base" echo_stream_msgs_per_s)"
row "TrackBatch (16) vs raw XADD -P32" "events/s" "$(fig "$run" ingest_batch_many_events_per_s)" "$(fig "$base" redis_xadd_p32_rps)"
row "Track c16" "calls/s" "$(fig "$run" ingest_track_c16_qps)" "$(fig "$base" echo_unary_c16_qps)"
row "Track c16" "p50 ms" "$(fig "$run" ingest_track_c16_p50_ms)" "$(fig "$base" echo_unary_c16_p50_ms)"
row "Track c16" "p99 ms" "$(fig "$run" ingest_track_c16_p99_ms)" "$(fig "$base" echo_unary_c16_p99_ms)"
row "errors (all scenarios)" "calls" "$(awk -F= '/_errors=/ {t+=$2} END {print t+0}' "$run")" 0
row "Redis memory per stream entry" "bytes" "$per_entry" 0
row "Redis memory per dedup entry" "bytes" "$per_dd" 0
echo "(baseline for events/s: bare gRPC client-streaming messages/s; target >= 0.40x)"
