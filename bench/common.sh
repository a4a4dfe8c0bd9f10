# Shared by the benchmark scripts: free ports, a private redis-server, cleanup.
# Everything binds 127.0.0.1 and is stopped on exit.
BENCH_PIDS=()
BENCH_TMP="$(mktemp -d -t omnicx-bench-XXXXXX)"
bench_cleanup() {
  for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BENCH_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
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
