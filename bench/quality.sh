#!/usr/bin/env bash
# Scoring quality on a simulated population with held-out ground truth:
# starts its own redis-server, ingestion, profile and journey on free
# loopback ports, sends a population from omnicx-journeysim (fixed seed,
# planted pain points), waits until the journey service has applied every
# event, then prints the churn-risk ROC AUC over a fixed horizon after the
# observation window and whether each planted pain point is in the top three
# of ListPainPoints. Exit 1 when the AUC is below --min-auc or a planted pain
# point is missed.
#
#   bench/quality.sh BUILD_DIR [--customers 5000] [--events 200000] [--seed 1]
#                    [--plant touchpoint=delivery]... [--min-auc 0]
#                    [--horizon-days 30] [--timeout 900]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:?usage: quality.sh BUILD_DIR}"; shift
CUSTOMERS=5000; EVENTS=200000; SEED=1; MIN_AUC=0; HORIZON=30; TIMEOUT=900
PLANTS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --customers) CUSTOMERS="$2"; shift 2 ;;
    --events) EVENTS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --plant) PLANTS+=("--plant=$2"); shift 2 ;;
    --min-auc) MIN_AUC="$2"; shift 2 ;;
    --horizon-days) HORIZON="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ ${#PLANTS[@]} -gt 0 ] || PLANTS=(--plant=touchpoint=delivery)
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_keys
# A signal ends the run through the EXIT trap, which stops every process.
trap 'exit 143' TERM INT
# shellcheck source=tools/journeysim/pipeline.sh
source "$ROOT/tools/journeysim/pipeline.sh"
SIM="$BUILD/tools/omnicx-journeysim"
deadline=$(( $(date +%s) + TIMEOUT ))

declare -A PORT
start_service() { # name redis_port
  local name="$1"
  PORT[$name]=$(free_port)
  OMNICX_REDIS_ADDRESS="127.0.0.1:$2" OMNICX_GRPC_ADDRESS="127.0.0.1:${PORT[$name]}" \
  OMNICX_METRICS_ADDRESS="" OMNICX_HTTP_ADDRESS="" OMNICX_LOG_LEVEL=warn \
  OMNICX_IDENTITY_SECRET=quality-identity-secret-0123456789 \
  OMNICX_AUTH_CREDENTIAL_FILE="$(bench_credential "$name")" \
    "$BUILD/services/$name/omnicx-$name" >"$BENCH_TMP/$name.log" 2>&1 &
  BENCH_PIDS+=($!)
  "$BUILD/tools/omnicx-health" --wait=10s "127.0.0.1:${PORT[$name]}" >/dev/null
}

rp=$(free_port); start_redis "$rp"
for s in ingestion profile journey; do start_service "$s" "$rp"; done
truth="$BENCH_TMP/truth.tsv"
"$SIM" send --key_file="$BENCH_KEYS/app.key" --ingestion="127.0.0.1:${PORT[ingestion]}" --truth="$truth" \
  --customers="$CUSTOMERS" --events="$EVENTS" --seed="$SEED" \
  --horizon-days="$HORIZON" "${PLANTS[@]}"
wait_applied "$rp" $(( deadline - $(date +%s) )) || { echo "quality: the pipeline did not drain in time" >&2; exit 1; }
printf '\nscoring quality: %s customers, %s events, seed %s, %s; %s cores\n' \
  "$CUSTOMERS" "$EVENTS" "$SEED" "${PLANTS[*]}" "$(nproc)"
"$SIM" quality --key_file="$BENCH_KEYS/agent.key" \
  --analyst_key_file="$BENCH_KEYS/analyst.key" \
  --truth="$truth" --journey="127.0.0.1:${PORT[journey]}" \
  --min-auc="$MIN_AUC" --top=3
