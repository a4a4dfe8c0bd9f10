#!/usr/bin/env bash
# Scoring quality on a simulated population with held-out ground truth:
# starts its own redis-server, ingestion, profile and journey on free
# loopback ports, sends a population from omnicx-journeysim (fixed seed,
# planted pain points), waits until the journey service has applied every
# event and learned from every label, then prints the churn-risk ROC AUC over
# a fixed horizon after the observation window, the share of the gap between
# a naive failure count and the simulator's hidden damage it closes, its
# calibration error, and each planted pain point's rank in ListPainPoints.
#
# The held-out protocol (default): touchpoints renamed and their importance
# redrawn for the seed, half of the customers' churn reported as `churned`
# events (the training half), AUC and calibration measured on the other
# half only. --protocol unlabelled: the same population without labels
# (what the configured model alone does); classic: default touchpoints, no
# labels, everyone measured (the numbers before the churn learner).
#
#   bench/quality.sh BUILD_DIR [--customers 5000] [--events 200000] [--seed 1]
#                    [--plant touchpoint=delivery]... [--min-auc 0]
#                    [--min-gap-closed X] [--max-ece X] [--top 3]
#                    [--protocol held-out|unlabelled|classic]
#                    [--horizon-days 30] [--timeout 900]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:?usage: quality.sh BUILD_DIR}"; shift
CUSTOMERS=5000; EVENTS=200000; SEED=1; MIN_AUC=0; HORIZON=30; TIMEOUT=900
MIN_GAP=-1000; MAX_ECE=1; TOP=3; PROTOCOL=held-out
PLANTS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --customers) CUSTOMERS="$2"; shift 2 ;;
    --events) EVENTS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --plant) PLANTS+=("--plant=$2"); shift 2 ;;
    --min-auc) MIN_AUC="$2"; shift 2 ;;
    --min-gap-closed) MIN_GAP="$2"; shift 2 ;;
    --max-ece) MAX_ECE="$2"; shift 2 ;;
    --top) TOP="$2"; shift 2 ;;
    --protocol) PROTOCOL="$2"; shift 2 ;;
    --horizon-days) HORIZON="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ ${#PLANTS[@]} -gt 0 ] || PLANTS=(--plant=touchpoint=delivery)
case "$PROTOCOL" in
  held-out) PROTOCOL_FLAGS=(--label-share=0.5 --redraw-touchpoints) ;;
  unlabelled) PROTOCOL_FLAGS=(--redraw-touchpoints) ;;
  classic) PROTOCOL_FLAGS=() ;;
  *) echo "--protocol is held-out, unlabelled or classic" >&2; exit 2 ;;
esac
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
  --horizon-days="$HORIZON" "${PLANTS[@]}" "${PROTOCOL_FLAGS[@]}"
wait_applied "$rp" $(( deadline - $(date +%s) )) || { echo "quality: the pipeline did not drain in time" >&2; exit 1; }
printf '\nscoring quality (%s): %s customers, %s events, seed %s, %s; %s cores\n' \
  "$PROTOCOL" "$CUSTOMERS" "$EVENTS" "$SEED" "${PLANTS[*]}" "$(nproc)"
"$SIM" quality --key_file="$BENCH_KEYS/agent.key" \
  --analyst_key_file="$BENCH_KEYS/analyst.key" \
  --truth="$truth" --journey="127.0.0.1:${PORT[journey]}" \
  --min-auc="$MIN_AUC" --min-gap-closed="$MIN_GAP" --max-ece="$MAX_ECE" \
  --top="$TOP"
