# Shared by the benchmark scripts: free ports, a private redis-server, cleanup.
# Everything binds 127.0.0.1 and is stopped on exit. BENCH_KEEP=DIR keeps a
# copy of the run's temp dir (service logs, loader figures) there.
BENCH_PIDS=()
BENCH_TMP="$(mktemp -d -t omnicx-bench-XXXXXX)"
bench_cleanup() {
  for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BENCH_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "${BENCH_KEEP:-}" ]; then cp -r "$BENCH_TMP" "$BENCH_KEEP"; fi
  rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT

# free_port: a port nothing listens on, below the kernel's ephemeral range
# (so an outgoing connection cannot take it before the server binds it).
free_port() {
  local p low=32768
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  [ "$low" -gt 11000 ] || low=32768
  while :; do
    p=$(( 10000 + RANDOM % (low - 10000) ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# start_redis PORT [extra redis-server args...]: configured as `./omnicx up` and
# the chart run it (AOF everysec, no RDB snapshots, lazy expiry, compact
# timelines), data in a
# temp dir.
start_redis() {
  local port="$1"; shift
  mkdir -p "$BENCH_TMP/redis-$port"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$BENCH_TMP/redis-$port" \
    --appendonly yes --appendfsync everysec --save "" --lazyfree-lazy-expire yes \
    --zset-max-listpack-value 512 --hash-max-listpack-value 4096 \
    "$@" >"$BENCH_TMP/redis-$port.log" 2>&1 &
  BENCH_PIDS+=($!)
  for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  tail -n 5 "$BENCH_TMP/redis-$port.log" >&2
  echo "redis-server did not start" >&2; exit 1
}

# start_redis_cluster N: N primaries, no replicas, each a start_redis in
# cluster mode (bus on its own free port), the 16,384 slots split evenly by
# `redis-cli --cluster create`; returns when every node reports
# cluster_state:ok and `redis-cli --cluster check` passes (at most 20 s).
# Sets CLUSTER_PORTS and CLUSTER_PIDS (node order) and CLUSTER_SEEDS
# ("127.0.0.1:P1,127.0.0.1:P2,...").
start_redis_cluster() {
  local n="$1" port bus nodes=() i
  CLUSTER_PORTS=(); CLUSTER_PIDS=()
  for _ in $(seq 1 "$n"); do
    port=$(free_port)
    bus=$(free_port); while [ "$bus" = "$port" ]; do bus=$(free_port); done
    start_redis "$port" --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-port "$bus" --cluster-node-timeout 5000
    CLUSTER_PORTS+=("$port"); CLUSTER_PIDS+=("${BENCH_PIDS[-1]}")
    nodes+=("127.0.0.1:$port")
  done
  CLUSTER_SEEDS=$(IFS=,; echo "${nodes[*]}")
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes \
    >"$BENCH_TMP/cluster-create.log" 2>&1 ||
    { cat "$BENCH_TMP/cluster-create.log" >&2; echo "redis-cli --cluster create failed" >&2; exit 1; }
  for i in $(seq 1 200); do
    local ok=1
    for port in "${CLUSTER_PORTS[@]}"; do
      redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ok=0
    done
    [ "$ok" = 1 ] && redis-cli --cluster check "${nodes[0]}" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "the Redis Cluster did not reach cluster_state:ok" >&2; exit 1
}

# bench_keys: API keys for the services a benchmark starts, provisioned
# (tools/api-keys/provision.sh) into $BENCH_KEYS, and exported settings that
# every service started afterwards inherits: its keys file, and no rate
# limit — a load generator is one credential sending thousands of calls a
# second, and the default limit (2,000 calls/s per credential) would
# measure the limiter, not the service. The load generators take
# --key_file="$BENCH_KEYS/<role>.key".
bench_keys() {
  BENCH_KEYS="$BENCH_TMP/keys"
  "$(dirname "${BASH_SOURCE[0]}")/../tools/api-keys/provision.sh" "$BENCH_KEYS" default
  export OMNICX_AUTH_API_KEYS_FILE="$BENCH_KEYS/api-keys.yaml" OMNICX_AUTH_RATE_LIMIT=0
}
# bench_credential SERVICE: the file of the key a service sends on its own
# calls to the others (profile, the only service that calls another; empty
# for the rest), for OMNICX_AUTH_CREDENTIAL_FILE.
bench_credential() {
  case "$1" in profile) echo "$BENCH_KEYS/internal-$1.key" ;; esac
}

# fig FILE KEY: a figure from a key=value file (0 when missing).
fig() { awk -F= -v k="$2" '$1==k {print $2; found=1} END {if (!found) print 0}' "$1"; }

# shard_streams and backlog (how far a consumer group is behind) are shared
# with the demo and the quality suite.
# shellcheck source=tools/journeysim/pipeline.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tools/journeysim/pipeline.sh"

# drain REDIS_PORT KIND GROUP: waits until that backlog is gone (at most
# 20 minutes) and prints the seconds it took.
drain() {
  local start; start=$(date +%s.%N)
  sleep 0.2
  while [ "$(backlog "$1" "$2" "$3")" -gt 0 ]; do
    sleep 0.2
    if awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN {exit !(n - s > 1200)}'; then
      echo "$3 did not drain $2 in 20 minutes" >&2; exit 1
    fi
  done
  awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN {printf "%.2f", n - s}'
}

# start_suite BUILD CUSTOMERS EVENTS: one private redis-server and the four
# services with API keys (no rate limit) on free loopback ports, seeded with
# CUSTOMERS × EVENTS through ingestion (bench/security/security_load
# --mode=seed) and drained by profile and journey. Sets PORT[service],
# SPID[service], RPID, rport and PIDS (redis:PID,ingestion:PID,... for
# security_load --pids). Used by bench/cost.sh and bench/overload.sh.
start_suite() {
  local build="$1" customers="$2" events="$3" s cred seed_start
  bench_keys
  SERVICES=(ingestion profile journey recommendation)
  rport=$(free_port); start_redis "$rport"; RPID=${BENCH_PIDS[-1]}
  declare -gA PORT SPID
  for s in "${SERVICES[@]}"; do PORT[$s]=$(free_port); done
  for s in "${SERVICES[@]}"; do
    cred=()
    [ -z "$(bench_credential "$s")" ] || cred=(OMNICX_AUTH_CREDENTIAL_FILE="$(bench_credential "$s")")
    env "${cred[@]}" \
      OMNICX_REDIS_ADDRESS="127.0.0.1:$rport" OMNICX_GRPC_ADDRESS="127.0.0.1:${PORT[$s]}" \
      OMNICX_METRICS_ADDRESS="" OMNICX_LOG_LEVEL=warn \
      OMNICX_IDENTITY_SECRET=bench-identity-secret-0123456789 \
      OMNICX_JOURNEY_ADDRESS="127.0.0.1:${PORT[journey]}" \
      OMNICX_RECOMMENDATION_ADDRESS="127.0.0.1:${PORT[recommendation]}" \
      OMNICX_PROFILE_ADDRESS="127.0.0.1:${PORT[profile]}" \
      "$build/services/$s/omnicx-$s" >>"$BENCH_TMP/$s.log" 2>&1 &
    SPID[$s]=$!; BENCH_PIDS+=($!)
  done
  for s in "${SERVICES[@]}"; do
    "$build/tools/omnicx-health" --wait=20s "127.0.0.1:${PORT[$s]}" >/dev/null ||
      { echo "omnicx-$s did not become SERVING; its log:" >&2; tail -5 "$BENCH_TMP/$s.log" >&2; exit 1; }
  done
  PIDS="redis:$RPID"
  for s in "${SERVICES[@]}"; do PIDS="$PIDS,$s:${SPID[$s]}"; done

  seed_start=$(date +%s)
  "$build/bench/security_load" --mode=seed --target="127.0.0.1:${PORT[ingestion]}" \
    --key_file="$BENCH_KEYS/app.key" --customers="$customers" --events="$events" >"$BENCH_TMP/seed.txt"
  drain "$rport" ev profile >/dev/null
  drain "$rport" rv journey >/dev/null
  echo "seeded $(fig "$BENCH_TMP/seed.txt" seed_events) events for $customers customers in $(( $(date +%s) - seed_start )) s"
}

# rss_kb PID: the resident set of a process now, in KiB.
rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }
