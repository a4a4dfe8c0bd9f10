#!/usr/bin/env bash
# Profile service benchmark: consumer apply rate (events/s draining a
# backlog), GetCustomerContext p50/p99 at fixed offered loads beside the bare
# echo p99 at the same loads (same run), and Redis memory per customer with
# 20 events.
#
#   bench/profile.sh BUILD_DIR [--customers N] [--seconds S]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:?usage: profile.sh BUILD_DIR}"; shift
CUSTOMERS=100000; SECONDS_PER=5; MEM_CUSTOMERS=2000
while [ $# -gt 0 ]; do
  case "$1" in
    --customers) CUSTOMERS="$2"; shift 2 ;;
    --seconds) SECONDS_PER="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_keys
# The issue's three loads, and 100/s: far from saturation, so it shows the
# floor the call's chain of remote calls sets on the latency.
RATES=100,500,1000,2000

base="$BENCH_TMP/base.txt"
bash "$ROOT/bench/baseline.sh" "$BUILD" --out "$base" --seconds 3 --rates "$RATES" >/dev/null

rport=$(free_port); start_redis "$rport"
declare -A PORT
for s in ingestion profile journey recommendation; do
  PORT[$s]=$(free_port)
done
start_service() { # name
  OMNICX_REDIS_ADDRESS="127.0.0.1:$rport" OMNICX_GRPC_ADDRESS="127.0.0.1:${PORT[$1]}" \
  OMNICX_METRICS_ADDRESS="" OMNICX_HTTP_ADDRESS="" OMNICX_LOG_LEVEL=warn \
  OMNICX_IDENTITY_SECRET=bench-identity-secret-0123456789 \
  OMNICX_JOURNEY_ADDRESS="127.0.0.1:${PORT[journey]}" \
  OMNICX_RECOMMENDATION_ADDRESS="127.0.0.1:${PORT[recommendation]}" \
  OMNICX_PROFILE_ADDRESS="127.0.0.1:${PORT[profile]}" \
  OMNICX_AUTH_CREDENTIAL_FILE="$(bench_credential "$1")" \
    "$BUILD/services/$1/omnicx-$1" >"$BENCH_TMP/$1.log" 2>&1 &
  BENCH_PIDS+=($!)
  "$BUILD/tools/omnicx-health" --wait=10s "127.0.0.1:${PORT[$1]}" >/dev/null
}
start_service ingestion

# The backlog: every customer once, then memory customers with 20 events.
"$BUILD/bench/profile_load" --mode=load --target="127.0.0.1:${PORT[ingestion]}" --key_file="$BENCH_KEYS/app.key" \
  --customers="$CUSTOMERS" --events=1 >"$BENCH_TMP/load1.txt"
"$BUILD/bench/profile_load" --mode=load --target="127.0.0.1:${PORT[ingestion]}" --key_file="$BENCH_KEYS/app.key" \
  --customers="$MEM_CUSTOMERS" --first="$CUSTOMERS" --events=20 >"$BENCH_TMP/load2.txt"
events=$(( $(fig "$BENCH_TMP/load1.txt" load_events | cut -d. -f1) + $(fig "$BENCH_TMP/load2.txt" load_events | cut -d. -f1) ))

start=$(date +%s.%N)
start_service profile
drain "$rport" ev profile >/dev/null
drain=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN {printf "%.1f", n - s}')
apply_rate=$(awk -v e="$events" -v d="$drain" 'BEGIN {printf "%.1f", e / d}')

start_service journey
start_service recommendation
# Measure the context with the journey caught up on the resolved events the
# profile published (its catch-up would otherwise share the cores).
drain "$rport" rv journey >/dev/null
run="$BENCH_TMP/context.txt"
"$BUILD/bench/profile_load" --mode=context --target="127.0.0.1:${PORT[profile]}" --key_file="$BENCH_KEYS/agent.key" \
  --customers="$CUSTOMERS" --rates="$RATES" --seconds="$SECONDS_PER" >"$run"

# Memory per customer with 20 events: all keys under the customer's tag plus
# their two identity index entries, for up to 100 such customers.
owner_avg=$(for k in $(redis-cli -p "$rport" --scan --pattern 'cx:default:{id:*}:owner' | head -200); do
  redis-cli -p "$rport" memory usage "$k"; done | awk '{t+=$1; n++} END {printf "%.0f", (n ? t/n : 0)}')
# One script walks the keyspace inside Redis (a redis-cli call per key took
# minutes at 100,000 customers): up to 100 customers whose profile counts 20
# events, every key under their hash tag. Prints "sampled bytes".
read -r sampled bytes < <(redis-cli -p "$rport" --no-raw eval "
local sampled, bytes, cursor = 0, 0, '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', 'cx:default:{p:*}:c:*:profile', 'COUNT', 1000)
  cursor = page[1]
  for _, p in ipairs(page[2]) do
    if sampled < 100 and redis.call('HGET', p, 'event_count') == '20' then
      local tag = string.sub(p, 1, #p - #':profile')
      local c = '0'
      repeat
        local keys = redis.call('SCAN', c, 'MATCH', tag .. ':*', 'COUNT', 10000)
        c = keys[1]
        for _, k in ipairs(keys[2]) do
          bytes = bytes + redis.call('MEMORY', 'USAGE', k, 'SAMPLES', 0)
        end
      until c == '0'
      sampled = sampled + 1
    end
  end
until cursor == '0' or sampled >= 100
return sampled .. ' ' .. bytes" 0 | tr -d '"')
bytes=$(( bytes + 2 * owner_avg * sampled ))
per_customer=$(awk -v b="$bytes" -v n="$sampled" 'BEGIN {printf "%.0f", (n ? b/n : 0)}')

printf '\nprofile benchmark: %s customers (+%s with 20 events), %s events, %s cores\n' \
  "$CUSTOMERS" "$MEM_CUSTOMERS" "$events" "$(nproc)"
printf '%-36s | %-14s | %12s | %12s | %8s\n' scenario metric value baseline ratio
printf '%s\n' "----------------------------------------------------------------------------------------------"
row() {
  awk -v n="$1" -v m="$2" -v v="$3" -v b="$4" 'BEGIN {
    if (b > 0) printf "%-36s | %-14s | %12.2f | %12.2f | %7.2fx\n", n, m, v, b, v/b;
    else printf "%-36s | %-14s | %12.2f | %12s | %8s\n", n, m, v, "-", "-" }'
}
for r in ${RATES//,/ }; do
  row "GetCustomerContext @ $r/s" "p50 ms" "$(fig "$run" "context_open_${r}_p50_ms")" "$(fig "$base" "echo_open_${r}_p50_ms")"
  row "GetCustomerContext @ $r/s" "p99 ms" "$(fig "$run" "context_open_${r}_p99_ms")" "$(fig "$base" "echo_open_${r}_p99_ms")"
  row "GetCustomerContext @ $r/s" "errors" "$(fig "$run" "context_open_${r}_errors")" 0
done
row "consumer apply (draining backlog)" "events/s" "$apply_rate" "$(fig "$base" echo_stream_msgs_per_s)"
row "Redis memory per customer, 20 events" "bytes" "$per_customer" 0
echo "(context baseline: bare gRPC echo p50/p99 at the same offered load; target p99 <= 4x)"
