#!/usr/bin/env bash
# Baselines measured on this machine, now: a bare gRPC echo server and client
# built with the same flags as omnicx (unary at concurrency 1/16/64, client
# streaming, open-loop unary at fixed rates), and raw redis-benchmark XADD and
# HSET at pipeline depth 1 and 32 against a redis-server with AOF everysec.
#
#   bench/baseline.sh BUILD_DIR [--out FILE] [--seconds N] [--rates 500,1000,2000]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:?usage: baseline.sh BUILD_DIR [--out FILE]}"; shift
OUT=""; SECONDS_PER=3; RATES="${OMNICX_BENCH_RATES:-500,1000,2000}"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --seconds) SECONDS_PER="$2"; shift 2 ;;
    --rates) RATES="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
figures="$BENCH_TMP/baseline.txt"

# Raw Redis.
rport=$(free_port)
start_redis "$rport"
value=$(head -c 200 /dev/zero | tr '\0' 'v')
for depth in 1 32; do
  n=$(( depth == 1 ? 50000 : 400000 ))
  xadd=$(redis-benchmark -h 127.0.0.1 -p "$rport" -n "$n" -P "$depth" -c 16 --csv \
    XADD bench:stream '*' e "$value" | tail -1 | cut -d, -f2 | tr -d '"')
  hset=$(redis-benchmark -h 127.0.0.1 -p "$rport" -n "$n" -P "$depth" -c 16 -r 100000 --csv \
    HSET bench:h:__rand_int__ f "$value" | tail -1 | cut -d, -f2 | tr -d '"')
  echo "redis_xadd_p${depth}_rps=$xadd" >>"$figures"
  echo "redis_hset_p${depth}_rps=$hset" >>"$figures"
  redis-cli -p "$rport" del bench:stream >/dev/null
done

# Bare gRPC echo.
"$BUILD/bench/echo_server" --port=0 --max_seconds=300 >"$BENCH_TMP/echo.out" &
BENCH_PIDS+=($!)
for _ in $(seq 1 50); do grep -q PORT "$BENCH_TMP/echo.out" && break; sleep 0.1; done
eport=$(awk '/PORT/ {print $2}' "$BENCH_TMP/echo.out")
"$BUILD/bench/echo_load" --target="127.0.0.1:$eport" --seconds="$SECONDS_PER" --rates="$RATES" >>"$figures"

echo "Baselines on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ) (load generator, server and Redis share the machine)"
printf '%-36s %14s\n' "figure" "value"
while IFS='=' read -r k v; do printf '%-36s %14s\n' "$k" "$v"; done <"$figures"
[ -n "$OUT" ] && cp "$figures" "$OUT"
exit 0
