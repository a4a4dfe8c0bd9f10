#!/usr/bin/env bash
# The floor that a call graph alone sets on this machine: chains of bare echo
# servers (bench/echo/echo_server --forward) shaped like the services' calls,
# doing none of their work and touching no Redis, against one bare echo
# server, in the same run. A service cannot beat its own call graph, so a
# target that the bare graph misses is out of reach for that graph here.
#
#   recommend graph: caller -> R -> (P || J)       Recommend, with GetProfile
#                                                  and GetJourney in parallel
#   context graph:   caller -> C -> (J || R -> (P || J))
#                                                  GetCustomerContext: GetJourney
#                                                  and Recommend in parallel
#
# Three rounds (the VM changes speed from minute to minute); each round
# measures the bare echo and both graphs back to back, the table shows the
# median round's ratios.
#
#   bench/call_graph.sh BUILD_DIR [--seconds N] [--rates 500,1000,2000]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:?usage: call_graph.sh BUILD_DIR [--seconds N] [--rates R,...]}"; shift
SECONDS_PER=3; RATES="${OMNICX_BENCH_RATES:-500,1000,2000}"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_PER="$2"; shift 2 ;;
    --rates) RATES="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"

# echo_node NAME [--forward=...]: starts a bare echo server and sets the
# variable NAME to its port (not in a subshell, so cleanup knows its pid).
echo_node() {
  local name="$1"; shift
  "$BUILD/bench/echo_server" --port=0 --max_seconds=300 "$@" \
    >"$BENCH_TMP/$name.out" 2>"$BENCH_TMP/$name.err" &
  BENCH_PIDS+=($!)
  for _ in $(seq 1 50); do grep -q PORT "$BENCH_TMP/$name.out" && break; sleep 0.1; done
  printf -v "$name" '%s' "$(awk '/PORT/ {print $2}' "$BENCH_TMP/$name.out")"
}
journey="" profile="" reco="" context=""
echo_node journey
echo_node profile
echo_node reco --forward="127.0.0.1:$profile,127.0.0.1:$journey"
echo_node context --forward="127.0.0.1:$journey,127.0.0.1:$reco"

load() {  # load PORT OUTFILE SCENARIOS
  "$BUILD/bench/echo_load" --target="127.0.0.1:$1" --seconds="$SECONDS_PER" \
    --scenarios="$3" --concurrency=16 --rates="$RATES" >"$2"
}
IFS=',' read -r -a rates <<<"$RATES"
rounds="$BENCH_TMP/rounds.txt"; : >"$rounds"
for round in 1 2 3; do
  d="$BENCH_TMP/direct-$round.txt"; r="$BENCH_TMP/reco-$round.txt"; c="$BENCH_TMP/context-$round.txt"
  load "$journey" "$d" unary,open
  load "$reco" "$r" unary
  load "$context" "$c" open
  # round, direct c16 qps, reco graph c16 qps, then per rate: direct p99, context p99
  line="$round $(fig "$d" echo_unary_c16_qps) $(fig "$r" echo_unary_c16_qps)"
  for rate in "${rates[@]}"; do
    line="$line $(fig "$d" "echo_open_${rate}_p99_ms") $(fig "$c" "echo_open_${rate}_p99_ms")"
  done
  echo "$line" >>"$rounds"
done

# median COLUMN_NUMERATOR COLUMN_DENOMINATOR: the median round's "num den".
median() {
  awk -v a="$1" -v b="$2" '{print $a/$b, $a, $b}' "$rounds" | sort -g | sed -n 2p | cut -d' ' -f2-
}
printf '\ncall-graph floors: %s s per figure, %s cores, bare echo servers only (no service work, no Redis)\n' \
  "$SECONDS_PER" "$(nproc)"
printf '%-44s | %10s | %10s | %8s | %s\n' scenario graph "bare echo" ratio "target"
printf '%s\n' "------------------------------------------------------------------------------------------------"
read -r g e <<<"$(median 3 2)"
awk -v g="$g" -v e="$e" 'BEGIN {
  printf "%-44s | %10.1f | %10.1f | %7.2fx | >= 0.40x (issue #6)\n", "recommend graph, c16 calls/s", g, e, g/e }'
col=4
for rate in "${rates[@]}"; do
  read -r g e <<<"$(median $((col + 1)) "$col")"
  awk -v n="context graph @ $rate/s, p99 ms" -v g="$g" -v e="$e" 'BEGIN {
    printf "%-44s | %10.2f | %10.2f | %7.2fx | <= 4x (issue #4)\n", n, g, e, g/e }'
  col=$((col + 2))
done
echo "(each row: the median of 3 rounds; rounds as measured:"
awk -v n="${#rates[@]}" -v rs="$RATES" 'BEGIN {split(rs, R, ",")} {
  printf "  round %d: recommend graph %.0f vs echo %.0f calls/s (%.2fx)", $1, $3, $2, $3/$2
  for (i = 0; i < n; i++) printf "; @%s/s p99 %.2f vs %.2f ms (%.1fx)", R[i+1], $(5+2*i), $(4+2*i), $(5+2*i)/$(4+2*i)
  printf "\n" }' "$rounds"
echo ")"
