#!/usr/bin/env bash
# Redis instructions per stored event of the ingestion append script, counted
# by callgrind: unlike time on this VM, the count is the same from run to run
# (±0.1 %), so a change to the Lua can be judged by one run. Runs
# redis-server (AOF everysec) under valgrind, warms it with 2,000 script
# calls, then counts CALLS more of N events each (150-byte events, fresh ids)
# and subtracts a run without them. Prints the same for a bare XADD (no
# script, no dedup) to show what the script adds. Needs valgrind.
#
#   bench/ingestion_script_cost.sh BUILD_DIR [--events-per-call N] [--calls CALLS]
#   (BUILD_DIR is not used: the script is read from the source, as
#   `./omnicx bench ingestion_script_cost` passes it to every benchmark)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
shift || true
N=10; CALLS=2000
while [ $# -gt 0 ]; do
  case "$1" in
    --events-per-call) N="$2"; shift 2 ;;
    --calls) CALLS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"

# The script exactly as the service sends it (embedded at build time).
lua="$ROOT/services/ingestion/lua/append_events.lua"
[ -s "$lua" ] || { echo "$lua not found" >&2; exit 1; }

payload=$(head -c 150 /dev/zero | tr '\0' 'e')
window=604800000
bucket=$(( $(date +%s%3N) / window - 2 ))

# instructions MODE CALLS: total instructions of a redis-server that served
# the warm-up plus CALLS more (MODE script | xadd).
instructions() {
  local mode="$1" calls="$2" port dir
  port=$(free_port); dir="$BENCH_TMP/cg-$mode-$calls"; mkdir -p "$dir"
  valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
    redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly yes \
    --appendfsync everysec --dir "$dir" >/dev/null 2>&1 &
  local vpid=$!; BENCH_PIDS+=("$vpid")
  for _ in $(seq 1 150); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.2; done
  local cmd=()
  if [ "$mode" = script ]; then
    local sha args=()
    sha=$(redis-cli -p "$port" script load "$(cat "$lua")")
    for _ in $(seq 1 "$N"); do args+=("id__rand_int__"); done
    for _ in $(seq 1 "$N"); do args+=("$payload"); done
    cmd=(evalsha "$sha" 5 s dd:$bucket dd:$((bucket + 1)) dd:$((bucket + 2)) dd:$((bucket + 3))
         "$window" "$bucket" "${args[@]}")
  else
    cmd=(xadd s '*' e "$payload")
  fi
  local per=$N  # commands per N events
  [ "$mode" = script ] && per=1
  redis-benchmark -p "$port" -r 100000000 -n $(( 2000 * per )) -c 2 -P 4 "${cmd[@]}" >/dev/null
  [ "$calls" -gt 0 ] &&
    redis-benchmark -p "$port" -r 100000000 -n $(( calls * per )) -c 2 -P 4 "${cmd[@]}" >/dev/null
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$vpid" 2>/dev/null || true
  callgrind_annotate "$dir/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}

for mode in script xadd; do
  with=$(instructions "$mode" "$CALLS"); without=$(instructions "$mode" 0)
  awk -v m="$mode" -v a="$with" -v b="$without" -v n="$(( CALLS * N ))" 'BEGIN {
    printf "%-6s %8.0f Redis instructions per event\n", m, (a - b) / n }'
done
echo "(script: the append script, $N events per call; xadd: a bare pipelined XADD of the same event)"
