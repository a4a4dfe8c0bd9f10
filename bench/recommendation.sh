#!/usr/bin/env bash
# Recommendation benchmark: Recommend decisions/s at concurrency 16 and p99 at
# 1,000 calls/s with a 200-action catalog and 100,000 customers, beside the
# bare gRPC echo measured in the same run (target: >= 40% of bare unary qps
# at concurrency 16). The recommendation service runs alone over its Redis:
# the synthetic customers have no stored profile or journey, so each
# decision is one read round trip that finds nobody, the arbitration over
# 200 actions on rules without journey features, and one Lua reservation.
# (Until #22 the inputs came from stand-in gRPC peers; bench/cost.sh
# measures decisions for customers with stored state.)
#
#   bench/recommendation.sh BUILD_DIR [--customers N] [--seconds S] [--actions A]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:?usage: recommendation.sh BUILD_DIR}"; shift
CUSTOMERS=100000; SECONDS_PER=5; ACTIONS=200; RATES=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --customers) CUSTOMERS="$2"; shift 2 ;;
    --seconds) SECONDS_PER="$2"; shift 2 ;;
    --actions) ACTIONS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_keys

base="$BENCH_TMP/base.txt"
bash "$ROOT/bench/baseline.sh" "$BUILD" --out "$base" --seconds 3 --rates "$RATES" >/dev/null

rport=$(free_port); start_redis "$rport"
gport=$(free_port)
"$BUILD/bench/recommendation_load" --mode=catalog --actions="$ACTIONS" >"$BENCH_TMP/catalog.yaml"

OMNICX_REDIS_ADDRESS="127.0.0.1:$rport" OMNICX_GRPC_ADDRESS="127.0.0.1:$gport" \
OMNICX_METRICS_ADDRESS="" OMNICX_HTTP_ADDRESS="" OMNICX_LOG_LEVEL=warn \
OMNICX_IDENTITY_SECRET=bench-identity-secret-0123456789 \
OMNICX_CATALOG_FILE="$BENCH_TMP/catalog.yaml" OMNICX_THOMPSON_SEED=2026 \
  "$BUILD/services/recommendation/omnicx-recommendation" >"$BENCH_TMP/recommendation.log" 2>&1 &
BENCH_PIDS+=($!)
"$BUILD/tools/omnicx-health" --wait=10s "127.0.0.1:$gport" >/dev/null

run="$BENCH_TMP/run.txt"
"$BUILD/bench/recommendation_load" --mode=decide --target="127.0.0.1:$gport" --key_file="$BENCH_KEYS/service.key" \
  --customers="$CUSTOMERS" --concurrency=16 --rates="$RATES" \
  --seconds="$SECONDS_PER" --hot=1000 >"$run"

printf '\nrecommendation benchmark: %s actions, %s customers, %s cores\n' \
  "$ACTIONS" "$CUSTOMERS" "$(nproc)"
printf '%-36s | %-14s | %12s | %12s | %8s\n' scenario metric value baseline ratio
printf '%s\n' "----------------------------------------------------------------------------------------------"
row() {
  awk -v n="$1" -v m="$2" -v v="$3" -v b="$4" 'BEGIN {
    if (b > 0) printf "%-36s | %-14s | %12.2f | %12.2f | %7.2fx\n", n, m, v, b, v/b;
    else printf "%-36s | %-14s | %12.2f | %12s | %8s\n", n, m, v, "-", "-" }'
}
row "Recommend c16" "decisions/s" "$(fig "$run" reco_c16_qps)" "$(fig "$base" echo_unary_c16_qps)"
row "Recommend c16" "p50 ms" "$(fig "$run" reco_c16_p50_ms)" "$(fig "$base" echo_unary_c16_p50_ms)"
row "Recommend c16" "p99 ms" "$(fig "$run" reco_c16_p99_ms)" "$(fig "$base" echo_unary_c16_p99_ms)"
row "Recommend c16" "errors" "$(fig "$run" reco_c16_errors)" 0
row "Recommend c16" "fallbacks" "$(fig "$run" reco_c16_fallbacks)" 0
for r in ${RATES//,/ }; do
  row "Recommend @ $r/s" "p50 ms" "$(fig "$run" "reco_open_${r}_p50_ms")" "$(fig "$base" "echo_open_${r}_p50_ms")"
  row "Recommend @ $r/s" "p99 ms" "$(fig "$run" "reco_open_${r}_p99_ms")" "$(fig "$base" "echo_open_${r}_p99_ms")"
  row "Recommend @ $r/s" "errors" "$(fig "$run" "reco_open_${r}_errors")" 0
  row "Recommend @ $r/s" "fallbacks" "$(fig "$run" "reco_open_${r}_fallbacks")" 0
done
row "Recommend c16, 1,000 hot customers" "decisions/s" "$(fig "$run" reco_hot_c16_qps)" "$(fig "$base" echo_unary_c16_qps)"
row "Recommend c16, 1,000 hot customers" "p99 ms" "$(fig "$run" reco_hot_c16_p99_ms)" "$(fig "$base" echo_unary_c16_p99_ms)"
echo "(hot: profile and journey answers come from the service's 1 s cache — the decision path without its two outgoing calls)"
echo "(baseline: bare gRPC echo from the same run; target: decisions/s at c16 >= 0.40x bare unary qps)"
