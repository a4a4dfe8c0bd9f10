#!/usr/bin/env bash
# Overload benchmark (#23): what the agent's context and a decision do when
# offered twice what the suite can answer.
#
#   bench/overload.sh BUILD_DIR [--customers N] [--events E] [--seconds S]
#                     [--calls context,recommend] [--factor F]
#                     [--capacity CALL=RATE,...]
#
# One redis-server and the four services (plaintext, API keys, no rate
# limit) on free loopback ports, N customers (default 20,000) × E events
# (default 3) seeded through ingestion and drained (start_suite in
# bench/common.sh). Then for each call, on one reused channel
# (bench/security/security_load --mode=call), each loop S seconds (default 8):
#   1. capacity: the more calls answered per second of two closed loops, at
#      concurrency 4 and 8 (enough to keep both cores busy, few enough that
#      little is shed) (--capacity context=2000 gives it instead, to compare
#      runs);
#   2. unloaded: an open loop at a quarter of that; p99 of answered calls;
#   3. overload: an open loop at F (default 2) × capacity: answered/s, calls
#      shed (RESOURCE_EXHAUSTED or UNAVAILABLE, or Recommend's fallback
#      refused for a full queue), other failures, p99 of answered calls and
#      of shed ones (latency from each call's scheduled send time, so queueing
#      counts), and each process's resident memory before and after.
# Targets (#23): answered calls' p99 at F× within 2× of the unloaded p99; the
# excess shed fast (its p99 within the unloaded p99); no other failures;
# resident memory bounded (printed: growth over the overload loop).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:?usage: overload.sh BUILD_DIR [--customers N] [--events E] [--seconds S] [--calls C,...] [--factor F]}"; shift
CUSTOMERS=20000; EVENTS=3; SECONDS_PER=8; CALLS=context,recommend; FACTOR=2
declare -A GIVEN
while [ $# -gt 0 ]; do
  case "$1" in
    --customers) CUSTOMERS="$2"; shift 2 ;;
    --events) EVENTS="$2"; shift 2 ;;
    --seconds) SECONDS_PER="$2"; shift 2 ;;
    --calls) CALLS="$2"; shift 2 ;;
    --factor) FACTOR="$2"; shift 2 ;;
    --capacity) for kv in ${2//,/ }; do GIVEN[${kv%%=*}]=${kv#*=}; done; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
start_suite "$BUILD" "$CUSTOMERS" "$EVENTS"
LOAD="${OVERLOAD_LOADER:-$BUILD/bench/security_load}"

# rss_all: "name=KiB ..." for Redis and the four services.
rss_all() {
  local out="redis=$(rss_kb "$RPID")" s
  for s in "${SERVICES[@]}"; do out="$out $s=$(rss_kb "${SPID[$s]}")"; done
  echo "$out"
}

printf '\noverload benchmark: %s customers × %s events, %s cores, %s s per loop, %s× capacity\n' \
  "$CUSTOMERS" "$EVENTS" "$(nproc)" "$SECONDS_PER" "$FACTOR"
for call in ${CALLS//,/ }; do
  case "$call" in
    context) target=${PORT[profile]}; key=agent ;;
    recommend) target=${PORT[recommendation]}; key=service ;;
    *) echo "unknown call $call (context, recommend)" >&2; exit 2 ;;
  esac
  run() {  # run NAME FLAGS...: one loop of $call; figures in $BENCH_TMP/$call-NAME.txt
    local name="$1"; shift
    "$LOAD" --mode=call --call="$call" --target="127.0.0.1:$target" \
      --key_file="$BENCH_KEYS/$key.key" --customers="$CUSTOMERS" --seconds="$SECONDS_PER" \
      --pids="$PIDS" "$@" >"$BENCH_TMP/$call-$name.txt" 2>"$BENCH_TMP/$call-$name.err" || true
  }
  f() { fig "$BENCH_TMP/$call-$1.txt" "${call}_$2"; }
  if [ -n "${GIVEN[$call]:-}" ]; then
    capacity=${GIVEN[$call]}; echo "${call}_qps=$capacity" >"$BENCH_TMP/$call-capacity.txt"
  else
    run capacity4 --concurrency=4
    run capacity --concurrency=8
    capacity=$(awk -v a="$(f capacity4 qps)" -v b="$(f capacity qps)" 'BEGIN {print (a > b ? a : b)}')
  fi
  run unloaded --rate="$(awk -v c="$capacity" 'BEGIN {printf "%.0f", c / 4}')"
  offered=$(awk -v c="$capacity" -v f="$FACTOR" 'BEGIN {printf "%.0f", c * f}')
  rss_before=$(rss_all)
  run overload --rate="$offered"
  rss_after=$(rss_all)
  answered=$(awk -v ok="$(f overload ok)" -v s="$SECONDS_PER" 'BEGIN {printf "%.0f", ok / s}')
  other=$(( $(f overload errors) - $(f overload shed) ))
  printf '\n%s: capacity %.0f answered/s (closed loops at concurrency 4 and 8: %.0f/s and %.0f/s, shed %d and %d)\n' \
    "$call" "$capacity" "$(f capacity4 qps)" "$(f capacity qps)" "$(f capacity4 shed)" "$(f capacity shed)"
  printf '  unloaded at %.0f/s: p99 %.2f ms\n' "$(awk -v c="$capacity" 'BEGIN {print c / 4}')" "$(f unloaded p99_ms)"
  printf '  at %s/s (%s×): answered %s/s, shed %s, other failures %s\n' "$offered" "$FACTOR" "$answered" "$(f overload shed)" "$other"
  printf '    answered p99 %.2f ms = %.2f× unloaded (target <= 2)\n' "$(f overload p99_ms)" \
    "$(awk -v a="$(f overload p99_ms)" -v u="$(f unloaded p99_ms)" 'BEGIN {print (u > 0 ? a / u : 0)}')"
  printf '    shed p99 %.2f ms (target <= unloaded p99)\n' "$(f overload failed_p99_ms)"
  # How busy the machine was: the services and Redis, and this load generator.
  for n in unloaded overload; do
    printf '    machine CPU %-8s: services + Redis %3.0f %%, load generator %3.0f %% (of %s cores)\n' "$n" \
      "$(awk -F= -v c="$call" -v s="$SECONDS_PER" -v n="$(nproc)" '$1 ~ "^" c "_cpu_s_" {t += $2} END {print 100 * t / s / n}' "$BENCH_TMP/$call-$n.txt")" \
      "$(awk -v t="$(f "$n" client_cpu_s)" -v s="$SECONDS_PER" -v n="$(nproc)" 'BEGIN {print 100 * t / s / n}')" "$(nproc)"
  done
  printf '    resident KiB before: %s\n    resident KiB after:  %s\n' "$rss_before" "$rss_after"
  for n in capacity unloaded overload; do
    [ ! -s "$BENCH_TMP/$call-$n.err" ] || sed "s/^/    $n: /" "$BENCH_TMP/$call-$n.err"
  done
done
