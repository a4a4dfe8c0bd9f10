#!/usr/bin/env bash
# A/B of ingestion builds on this noisy VM, where events/s alone moves ±20 %
# from run to run: each binary serves the TrackBatch load (4 and 16 callers,
# --seconds each) against a fresh redis-server (AOF everysec), and besides
# events/s the CPU each process spent per stored event is printed, which is
# steadier. Binaries alternate, `--rounds` times.
#
#   bench/ingestion_ab.sh BUILD_DIR [--rounds N] [--seconds S] BINARY...
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:?usage: ingestion_ab.sh BUILD_DIR [--rounds N] [--seconds S] BINARY...}"; shift
ROUNDS=2; SECONDS_PER=4
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --seconds) SECONDS_PER="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "no binaries given" >&2; exit 2; }
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_keys

cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user+system ticks
redis_cpu() {
  redis-cli -p "$1" info cpu | awk -F: '/used_cpu_(sys|user)_main/ {t += $2} END {print t}'
}
idle_ticks() { awk '/^cpu / {print $5}' /proc/stat; }
ticks=$(getconf CLK_TCK)

printf '%-28s %10s %10s %9s %9s %9s %8s\n' binary "4 callers" "16 callers" "svc µs" "redis µs" "load µs" "idle s"
for _ in $(seq 1 "$ROUNDS"); do
  for bin in "$@"; do
    rport=$(free_port); start_redis "$rport"; rpid=${BENCH_PIDS[-1]}
    gport=$(free_port)
    OMNICX_REDIS_ADDRESS="127.0.0.1:$rport" OMNICX_GRPC_ADDRESS="127.0.0.1:$gport" \
    OMNICX_METRICS_ADDRESS="" OMNICX_HTTP_ADDRESS="" OMNICX_LOG_LEVEL=warn OMNICX_MAX_CONSUMER_LAG=1000000000 \
      "$bin" >"$BENCH_TMP/ingestion.log" 2>&1 &
    spid=$!; BENCH_PIDS+=("$spid")
    "$BUILD/tools/omnicx-health" --wait=10s "127.0.0.1:$gport" >/dev/null
    s0=$(cpu_of "$spid"); r0=$(redis_cpu "$rport"); i0=$(idle_ticks)
    TIMEFORMAT='%U %S'
    { time "$BUILD/bench/ingestion_load" --target="127.0.0.1:$gport" --key_file="$BENCH_KEYS/app.key" \
        --seconds="$SECONDS_PER" --scenarios=batch >"$BENCH_TMP/ab.txt"; } 2>"$BENCH_TMP/load.time"
    s1=$(cpu_of "$spid"); r1=$(redis_cpu "$rport"); i1=$(idle_ticks)
    events=$(redis-cli -p "$rport" --scan --pattern 'cx:default:{ev:*}:stream' |
      while read -r k; do redis-cli -p "$rport" xlen "$k"; done | awk '{t += $1} END {print t}')
    awk -v b="$(basename "$bin")" -v e4="$(fig "$BENCH_TMP/ab.txt" ingest_batch_events_per_s)" \
        -v e16="$(fig "$BENCH_TMP/ab.txt" ingest_batch_many_events_per_s)" \
        -v s="$((s1 - s0))" -v r0="$r0" -v r1="$r1" -v n="$events" -v t="$ticks" \
        -v l="$(awk '{print $1 + $2}' "$BENCH_TMP/load.time")" -v i="$((i1 - i0))" 'BEGIN {
      printf "%-28s %10.0f %10.0f %9.2f %9.2f %9.2f %8.2f\n", b, e4, e16,
        s / t * 1e6 / n, (r1 - r0) * 1e6 / n, l * 1e6 / n, i / t }'
    kill "$spid"; wait "$spid" 2>/dev/null || true
    redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true
    wait "$rpid" 2>/dev/null || true
  done
done
echo "(events/s of TrackBatch; µs = CPU per stored event of the service, Redis's main thread and the load generator; idle = idle CPU-seconds of the machine during the load)"
