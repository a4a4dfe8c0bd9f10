#!/usr/bin/env bash
# Cost benchmark (#22): machine CPU per GetCustomerContext and per Recommend
# decision through the whole suite, with the load generator left out.
#
#   bench/cost.sh BUILD_DIR [--customers N] [--events E] [--seconds S]
#                 [--rates R1,R2,...] [--concurrency C]
#
# One redis-server and the four services (plaintext, API keys, no rate
# limit) on free loopback ports; N customers (default 100,000) × E events
# (default 3) sent through ingestion with the app key and drained by profile
# and journey. Then, each for S seconds (default 10) after 300 warm-up calls
# on one reused channel (bench/security/security_load --mode=call):
#   - GetCustomerContext (agent key, with recommendations) in an open loop at
#     each rate (default 500, 1,000 and 2,000 calls/s): p50, p99, calls that
#     failed (shed: RESOURCE_EXHAUSTED, or late) and answers with a missing
#     section;
#   - Recommend (service key) in a closed loop at concurrency C (default 16):
#     decisions/s.
# Machine CPU per call = the CPU of the four services and Redis, read from
# /proc around each loop (bench/lib/proc_cpu.h), divided by its calls.
# Targets (#22): context and Recommend at most half of the figures measured
# before it on this machine; context p99 <= 4 ms at 1,000/s, no shedding at
# 2,000/s.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:?usage: cost.sh BUILD_DIR [--customers N] [--events E] [--seconds S] [--rates R,...] [--concurrency C]}"; shift
CUSTOMERS=100000; EVENTS=3; SECONDS_PER=10; RATES=500,1000,2000; CONCURRENCY=16
while [ $# -gt 0 ]; do
  case "$1" in
    --customers) CUSTOMERS="$2"; shift 2 ;;
    --events) EVENTS="$2"; shift 2 ;;
    --seconds) SECONDS_PER="$2"; shift 2 ;;
    --rates) RATES="$2"; shift 2 ;;
    --concurrency) CONCURRENCY="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
start_suite "$BUILD" "$CUSTOMERS" "$EVENTS"
LOAD="$BUILD/bench/security_load"

# cpu_us FILE CALL: machine CPU per call (µs) of the services and Redis,
# and each process's share.
cpu_us() {
  awk -F= -v c="$2" '
    $1 == c "_ok" || $1 == c "_errors" { n += $2 }
    $1 ~ "^" c "_cpu_s_" { cpu[substr($1, length(c "_cpu_s_") + 1)] = $2 }
    END { t = 0; parts = ""
      for (k in cpu) { us = cpu[k] * 1e6 / n; t += us; parts = parts sprintf(" %s %.0f", k, us) }
      printf "%.0f  (%s )", t, parts }' "$1"
}

printf '\ncost benchmark: %s customers × %s events, %s cores, %s s per figure\n' \
  "$CUSTOMERS" "$EVENTS" "$(nproc)" "$SECONDS_PER"
printf '%-30s | %9s | %8s | %8s | %7s | %8s | %s\n' call "calls/s" "p50 ms" "p99 ms" errors degraded "machine CPU µs per call (services + Redis)"
printf '%s\n' "-------------------------------------------------------------------------------------------------------------------------"
# row LABEL FILE CALL: one line of the table from the loader's output (and
# its stderr, indented, if any).
row() {
  printf '%-30s | %9.1f | %8.2f | %8.2f | %7d | %8d | %s\n' "$1" \
    "$(fig "$2" "$3_qps")" "$(fig "$2" "$3_p50_ms")" "$(fig "$2" "$3_p99_ms")" \
    "$(fig "$2" "$3_errors")" "$(fig "$2" "$3_degraded")" "$(cpu_us "$2" "$3")"
  [ ! -s "$2.err" ] || sed 's/^/    /' "$2.err"
}
for r in ${RATES//,/ }; do
  out="$BENCH_TMP/context-$r.txt"
  "$LOAD" --mode=call --call=context --target="127.0.0.1:${PORT[profile]}" \
    --key_file="$BENCH_KEYS/agent.key" --customers="$CUSTOMERS" --rate="$r" \
    --seconds="$SECONDS_PER" --pids="$PIDS" >"$out" 2>"$out.err" || true
  row "GetCustomerContext @ $r/s" "$out" context
done
out="$BENCH_TMP/recommend.txt"
"$LOAD" --mode=call --call=recommend --target="127.0.0.1:${PORT[recommendation]}" \
  --key_file="$BENCH_KEYS/service.key" --customers="$CUSTOMERS" --concurrency="$CONCURRENCY" \
  --seconds="$SECONDS_PER" --pids="$PIDS" >"$out" 2>"$out.err" || true
row "Recommend c$CONCURRENCY" "$out" recommend
echo "(degraded: a context with a section missing, or a Recommend answered by its fallback)"
echo "(targets, #22: CPU per context and per decision at most half of the run before it; context p99 <= 4 ms at 1,000/s; no errors at 2,000/s)"
