#!/usr/bin/env bash
# The live pipeline measured from outside (ingestion → profile consumer →
# journey consumer, one private Redis with AOF everysec, API keys on every
# call), at each population size, beside ingestion alone from the same run:
#
#   1. populate: CUSTOMERS × EVENTS events through the running pipeline,
#      drained; Redis memory per customer (INFO used_memory delta, with and
#      without ingestion's dedup records and what is left in the streams);
#   2. ingestion alone (profile and journey stopped): TrackBatch flat out,
#      events/s and Redis main-thread µs per event;
#   3. profile alone, then journey alone, draining the backlog step 2 left:
#      apply events/s and Redis main-thread µs per event of each stage
#      (INFO cpu used_cpu_{user,sys}_main_thread deltas; the stages run one
#      at a time, so each delta is one stage's);
#   4. end to end: open-loop TrackBatch at fixed offered rates, stepped up
#      by 1.25× from half the slower consumer's rate alone; a step is
#      bounded when every event was accepted at the offered rate and both
#      consumer groups' backlog is zero within 2 s of the load stopping.
#      The highest bounded rate is the end-to-end rate (then one step
#      between it and the first unbounded one);
#   5. freshness at half that rate: a probe event (a support contact on a
#      unique case id) for a random customer, then GetJourney with an agent
#      key every 10 ms until the case shows (at most 10 s), p50 and p99.
#
#   bench/pipeline.sh BUILD_DIR [--populations 10000:20,1000000:1]
#       [--ingest-seconds 4] [--ingest-events 200000] [--step-seconds 15]
#       [--fresh-seconds 20]
#       [--out FILE]
#   bench/pipeline.sh BUILD_DIR --cluster [--populations 100000:1]
#       [--step-seconds 10] [--start-rate R] [--out FILE]
#
# --cluster (issue #21): one population, in one run on 1 primary (a
# standalone redis-server, as above) and on a Redis Cluster of 3 primaries
# (no replicas), each fresh, with the three services in cluster mode:
#   1. populate through the running pipeline and drain, as step 1 above;
#      then each primary's DBSIZE, slots and used_memory (also its growth
#      over the populate), and each one's deviation from the mean (the key
#      and memory balance; target within ±10 %);
#   2. end to end as step 4 above, both topologies from the same start rate
#      (--start-rate, default half the standalone's populate apply rate),
#      with each redis-server's and each service's CPU from /proc per event
#      at the highest bounded rate: the CPU split across the primaries.
# Steps 2, 3 and 5 above are left out to keep the run to a few minutes. The
# client's own routing cost is measured by build/bench/cluster_routing_bench
# (bench/redis/cluster_routing_bench.cc), not here.
#
# A population is CUSTOMERS:EVENTS_PER_CUSTOMER. At a million customers one
# event each (a million events through the pipeline, about two minutes at
# today's apply rates); memory per customer "with 20 events" is measured at
# the population that has 20.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:?usage: pipeline.sh BUILD_DIR}"; shift
POPULATIONS=10000:20,1000000:1; INGEST_SECONDS=4; STEP_SECONDS=15
FRESH_SECONDS=20; OUT=""; INGEST_EVENTS=200000; CLUSTER=""; START_RATE=""
STEPS_SET=""; POPS_SET=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cluster) CLUSTER=1; shift ;;
    --start-rate) START_RATE="$2"; shift 2 ;;
    --populations) POPULATIONS="$2"; POPS_SET=1; shift 2 ;;
    --ingest-seconds) INGEST_SECONDS="$2"; shift 2 ;;
    --ingest-events) INGEST_EVENTS="$2"; shift 2 ;;
    --step-seconds) STEP_SECONDS="$2"; STEPS_SET=1; shift 2 ;;
    --fresh-seconds) FRESH_SECONDS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -n "$CLUSTER" ]; then
  [ -n "$POPS_SET" ] || POPULATIONS=100000:1
  [ -n "$STEPS_SET" ] || STEP_SECONDS=10
  case "$POPULATIONS" in *,*) echo "--cluster takes one population" >&2; exit 2 ;; esac
fi
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
LOAD="$BUILD/bench/pipeline_load"
[ -x "$LOAD" ] || { echo "missing $LOAD (build the pipeline_load target)" >&2; exit 1; }

# The machine's idle share over the run (others may share the cores).
read -r _ u0 n0 s0 i0 w0 _ < /proc/stat
KEYS="$BENCH_TMP/keys"
bash "$ROOT/tools/api-keys/provision.sh" "$KEYS"

declare -A PORT SPID
# REDIS_CLUSTER_MODE=true: the services route on a cluster; their Redis
# address is then the seeds ("host:port,host:port,...").
REDIS_CLUSTER_MODE=false
start_service() { # name redis_port_or_addresses
  local name="$1" raddr="$2"
  case "$raddr" in *:*) ;; *) raddr="127.0.0.1:$raddr" ;; esac
  env OMNICX_REDIS_ADDRESS="$raddr" OMNICX_REDIS_CLUSTER="$REDIS_CLUSTER_MODE" \
  OMNICX_GRPC_ADDRESS="127.0.0.1:${PORT[$name]}" \
  OMNICX_METRICS_ADDRESS="" OMNICX_HTTP_ADDRESS="" OMNICX_LOG_LEVEL=warn \
  OMNICX_IDENTITY_SECRET=bench-identity-secret-0123456789 \
  OMNICX_AUTH_API_KEYS_FILE="$KEYS/api-keys.yaml" OMNICX_AUTH_RATE_LIMIT=0 \
  OMNICX_MAX_CONSUMER_LAG=1000000000 \
  OMNICX_JOURNEY_ADDRESS="127.0.0.1:${PORT[journey]}" \
  OMNICX_RECOMMENDATION_ADDRESS="127.0.0.1:${PORT[journey]}" \
  ${3:+"OMNICX_AUTH_CREDENTIAL_FILE=$3"} \
    "$BUILD/services/$name/omnicx-$name" >>"$BENCH_TMP/$name.log" 2>&1 &
  SPID[$name]=$!
  BENCH_PIDS+=($!)
  "$BUILD/tools/omnicx-health" --wait=10s "127.0.0.1:${PORT[$name]}" >/dev/null || {
    tail -n 5 "$BENCH_TMP/$name.log" >&2; echo "$name did not start" >&2; exit 1; }
}
stop_service() { # name
  kill "${SPID[$1]}" 2>/dev/null || true
  wait "${SPID[$1]}" 2>/dev/null || true
}
start_consumer() { # name redis_port
  if [ "$1" = profile ]; then
    start_service profile "$2" "$KEYS/internal-profile.key"
  else
    start_service "$1" "$2"
  fi
}
# drain_alone NAME REDIS_PORT OUTFILE: starts the consumer with the drain
# watcher already counting, so the watcher sees the whole backlog. Also
# records the consumer process's own CPU over its life (started for this
# drain, so start-up is included: a slight overestimate), µs per event.
drain_alone() {
  local group="$1"
  "$LOAD" --mode=drain --redis="127.0.0.1:$2" --groups="$group" --timeout=900 >"$3" &
  local watcher=$!
  sleep 0.3
  start_consumer "$1" "$2"
  wait "$watcher"
  awk -v tck="$(getconf CLK_TCK)" -v n="$(fig "$3" drain_events)" \
    '{ printf "drain_service_us_per_event=%.2f\n", ($14 + $15) / tck * 1e6 / (n > 0 ? n : 1) }' \
    "/proc/${SPID[$1]}/stat" >>"$3"
}

# run_population CUSTOMERS EVENTS: every figure into $BENCH_TMP/p-CUSTOMERS.txt.
run_population() {
  local customers="$1" events="$2" f="$BENCH_TMP/p-$1.txt"
  local rport; rport=$(free_port); start_redis "$rport"
  local redis_pid=${BENCH_PIDS[-1]}
  for s in ingestion profile journey; do PORT[$s]=$(free_port); done
  local app="$KEYS/app.key" ing="127.0.0.1:${PORT[ingestion]}"
  start_service ingestion "$rport"
  start_consumer profile "$rport"
  start_consumer journey "$rport"
  {
    echo "customers=$customers"
    echo "events_per_customer=$events"
    "$LOAD" --mode=memory --redis="127.0.0.1:$rport" | sed 's/^/mem0_/'
  } >"$f"

  echo "[$customers] populating: $customers customers x $events events" >&2
  "$LOAD" --mode=populate --target="$ing" --key_file="$app" \
    --customers="$customers" --events="$events" >>"$f"
  "$LOAD" --mode=drain --redis="127.0.0.1:$rport" --timeout=900 | sed 's/^/populate_/' >>"$f"
  "$LOAD" --mode=memory --redis="127.0.0.1:$rport" --events=$((customers * events)) |
    sed 's/^/mem1_/' >>"$f"

  echo "[$customers] ingestion alone" >&2
  stop_service profile
  stop_service journey
  "$LOAD" --mode=ingest --target="$ing" --key_file="$app" --redis="127.0.0.1:$rport" \
    --customers="$customers" --seconds="$INGEST_SECONDS" --max_events="$INGEST_EVENTS" >>"$f"
  echo "[$customers] profile alone, then journey alone, draining it" >&2
  drain_alone profile "$rport" "$BENCH_TMP/d.txt"; sed 's/^/profile_/' "$BENCH_TMP/d.txt" >>"$f"
  drain_alone journey "$rport" "$BENCH_TMP/d.txt"; sed 's/^/journey_/' "$BENCH_TMP/d.txt" >>"$f"

  local start
  start=$(awk -v p="$(fig "$f" profile_drain_events_per_s)" -v j="$(fig "$f" journey_drain_events_per_s)" \
    'BEGIN {m = p < j ? p : j; m = m / 2; if (m < 500) m = 500; printf "%.0f", m}')
  echo "[$customers] end to end, stepping up from $start events/s" >&2
  "$LOAD" --mode=steps --target="$ing" --key_file="$app" --redis="127.0.0.1:$rport" \
    --customers="$customers" --start="$start" --factor=1.25 --step_seconds="$STEP_SECONDS" \
    --bound=2 --max_steps=10 | tee "$BENCH_TMP/steps-$customers.txt" | grep -v '^#' >>"$f"
  grep '^#' "$BENCH_TMP/steps-$customers.txt" >&2 || true

  local half
  half=$(awk -v e="$(fig "$f" e2e_events_per_s)" 'BEGIN {h = e / 2; if (h < 100) h = 100; printf "%.0f", h}')
  echo "half_rate=$half" >>"$f"
  echo "[$customers] freshness at $half events/s" >&2
  "$LOAD" --mode=fresh --target="$ing" --journey="127.0.0.1:${PORT[journey]}" \
    --key_file="$app" --agent_key_file="$KEYS/agent.key" --customers="$customers" \
    --rate="$half" --seconds="$FRESH_SECONDS" --probes=1000 >>"$f"

  for s in journey profile ingestion; do stop_service "$s"; done
  redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true
  wait "$redis_pid" 2>/dev/null || true
}

# --cluster: run_topology NAME CUSTOMERS EVENTS, NAME standalone (one
# redis-server) or cluster (3 primaries); every figure into
# $BENCH_TMP/t-NAME.txt.
run_topology() {
  local name="$1" customers="$2" events="$3" f="$BENCH_TMP/t-$1.txt"
  local ports=() pids=() addr
  if [ "$name" = cluster ]; then
    start_redis_cluster 3
    ports=("${CLUSTER_PORTS[@]}"); pids=("${CLUSTER_PIDS[@]}")
    addr="$CLUSTER_SEEDS"; REDIS_CLUSTER_MODE=true
  else
    ports=("$(free_port)"); start_redis "${ports[0]}"
    pids=("${BENCH_PIDS[-1]}"); addr="127.0.0.1:${ports[0]}"; REDIS_CLUSTER_MODE=false
  fi
  local cl=""; [ "$name" = cluster ] && cl="--cluster"
  for s in ingestion profile journey; do PORT[$s]=$(free_port); done
  local app="$KEYS/app.key" ing="127.0.0.1:${PORT[ingestion]}" i
  start_service ingestion "$addr"
  start_consumer profile "$addr"
  start_consumer journey "$addr"
  {
    echo "primaries=${#ports[@]}"
    "$LOAD" --mode=memory --redis="$addr" $cl | sed 's/^/mem0_/'
    for i in "${!ports[@]}"; do
      echo "node${i}_used_memory0=$(redis-cli -p "${ports[$i]}" info memory | tr -d '\r' | sed -n 's/^used_memory://p')"
    done
  } >"$f"
  echo "[$name] populating: $customers customers x $events events" >&2
  "$LOAD" --mode=populate --target="$ing" --key_file="$app" \
    --customers="$customers" --events="$events" >>"$f"
  "$LOAD" --mode=drain --redis="$addr" $cl --timeout=900 | sed 's/^/populate_/' >>"$f"
  "$LOAD" --mode=memory --redis="$addr" $cl --events=$((customers * events)) |
    sed 's/^/mem1_/' >>"$f"
  # The balance: each primary's keys, slots and memory after the load.
  for i in "${!ports[@]}"; do
    local slots=16384
    if [ "$name" = cluster ]; then
      slots=$(redis-cli -p "${ports[$i]}" cluster nodes | awk '/myself/ {
        n = 0; for (k = 9; k <= NF; k++) { split($k, r, "-"); n += (r[2] == "" ? 1 : r[2] - r[1] + 1) } print n }')
    fi
    echo "node${i}_port=${ports[$i]}"
    echo "node${i}_slots=$slots"
    echo "node${i}_keys=$(redis-cli -p "${ports[$i]}" dbsize)"
    echo "node${i}_used_memory=$(redis-cli -p "${ports[$i]}" info memory | tr -d '\r' | sed -n 's/^used_memory://p')"
  done >>"$f"

  local start="$START_RATE" plist=""
  [ -n "$start" ] || start=$(awk -v p="$(fig "$f" populate_drain_events_per_s)" \
    'BEGIN {m = p / 2; if (m < 500) m = 500; printf "%.0f", m}')
  START_RATE="$start"  # the cluster steps from the same rate
  for i in "${!pids[@]}"; do plist+="redis$i:${pids[$i]},"; done
  for s in ingestion profile journey; do plist+="$s:${SPID[$s]},"; done
  echo "[$name] end to end, stepping up from $start events/s" >&2
  "$LOAD" --mode=steps --target="$ing" --key_file="$app" --redis="$addr" $cl \
    --customers="$customers" --start="$start" --factor=1.25 --step_seconds="$STEP_SECONDS" \
    --bound=2 --max_steps=10 --pids="${plist%,}" | tee "$BENCH_TMP/steps-$name.txt" |
    grep -v '^#' >>"$f"
  sed "s/^# /# [$name] /" "$BENCH_TMP/steps-$name.txt" | grep '^#' >&2 || true

  for s in journey profile ingestion; do stop_service "$s"; done
  for i in "${!ports[@]}"; do
    redis-cli -p "${ports[$i]}" shutdown nosave >/dev/null 2>&1 || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
}

cluster_report() { # CUSTOMERS EVENTS
  local s="$BENCH_TMP/t-standalone.txt" c="$BENCH_TMP/t-cluster.txt" i
  read -r _ u1 n1 s1 i1 w1 _ < /proc/stat
  printf '\nRedis Cluster benchmark (pipeline --cluster), %s cores, %s; machine idle %s%% of the run, load average %s\n' \
    "$(nproc)" "$(date -u '+%Y-%m-%d %H:%M UTC')" \
    "$(awk -v b=$((u1+n1+s1+i1+w1-u0-n0-s0-i0-w0)) -v i=$((i1+w1-i0-w0)) 'BEGIN {printf "%.0f", b ? 100*i/b : 0}')" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "== $1 customers x $2 event(s), populated through the running pipeline; 1 primary = standalone redis-server, 3 primaries = Redis Cluster, no replicas"
  printf '%-56s | %11s | %11s | %7s | %-18s\n' figure "1 primary" "3 primaries" ratio target
  printf '%s\n' "---------------------------------------------------------------------------------------------------------------"
  crow() { # name standalone cluster target
    awk -v n="$1" -v a="$2" -v b="$3" -v t="$4" 'BEGIN {
      printf "%-56s | %11.1f | %11.1f | %7s | %-18s\n", n, a, b, (a > 0 ? sprintf("%.2fx", b / a) : "-"), t }'
  }
  crow "end to end, events/s (highest bounded offered rate)" "$(fig "$s" e2e_events_per_s)" "$(fig "$c" e2e_events_per_s)" "flat on 2 cores"
  crow "  first unbounded offered rate, events/s" "$(fig "$s" e2e_first_unbounded)" "$(fig "$c" e2e_first_unbounded)" ""
  crow "populate: consumers' apply rate after the load, events/s" "$(fig "$s" populate_drain_events_per_s)" "$(fig "$c" populate_drain_events_per_s)" ""
  local rs=0 rc=0
  rs=$(fig "$s" e2e_cpu_us_per_event_redis0)
  rc=$(awk -v a="$(fig "$c" e2e_cpu_us_per_event_redis0)" -v b="$(fig "$c" e2e_cpu_us_per_event_redis1)" \
    -v d="$(fig "$c" e2e_cpu_us_per_event_redis2)" 'BEGIN {printf "%.2f", a + b + d}')
  echo "-- CPU per event at the highest bounded rate (/proc, all threads)"
  crow "Redis us/event, all redis-server processes" "$rs" "$rc" ""
  for i in 0 1 2; do
    local v; v=$(fig "$c" "e2e_cpu_us_per_event_redis$i")
    awk -v n="  primary $((i + 1)) (port $(fig "$c" "node${i}_port")) us/event" -v v="$v" -v t="$rc" 'BEGIN {
      printf "%-56s | %11s | %11.1f | %7s | %-18s\n", n, "", v, "", sprintf("%.0f %% of Redis", t > 0 ? 100 * v / t : 0) }'
  done
  crow "Redis main-thread us/event (INFO, summed over primaries)" "$(fig "$s" e2e_redis_us_per_event)" "$(fig "$c" e2e_redis_us_per_event)" ""
  for svc in ingestion profile journey; do
    crow "service CPU us/event: $svc" "$(fig "$s" "e2e_cpu_us_per_event_$svc")" "$(fig "$c" "e2e_cpu_us_per_event_$svc")" ""
  done
  echo "-- balance after the load, 3 primaries (deviation from the mean of the 3)"
  printf '%-10s | %6s | %10s | %7s | %15s | %7s | %17s | %7s\n' primary slots keys dev "used_memory MiB" dev "growth MiB (load)" dev
  awk -v f="$c" 'BEGIN {
    while ((getline line < f) > 0) { split(line, kv, "="); v[kv[1]] = kv[2] }
    for (i = 0; i < 3; i++) {
      k[i] = v["node" i "_keys"]; m[i] = v["node" i "_used_memory"]; g[i] = m[i] - v["node" i "_used_memory0"]
      sk += k[i]; sm += m[i]; sg += g[i] }
    sk /= 3; sm /= 3; sg /= 3
    for (i = 0; i < 3; i++) {
      dk = sk ? 100 * (k[i] - sk) / sk : 0; dm = sm ? 100 * (m[i] - sm) / sm : 0; dg = sg ? 100 * (g[i] - sg) / sg : 0
      printf "%-10s | %6d | %10d | %+6.1f%% | %15.1f | %+6.1f%% | %17.1f | %+6.1f%%\n", "primary " i + 1, v["node" i "_slots"], k[i], dk, m[i] / 1048576, dm, g[i] / 1048576, dg
    }
  }'
  awk -v f="$c" 'BEGIN {
    while ((getline line < f) > 0) { split(line, kv, "="); v[kv[1]] = kv[2] }
    for (i = 0; i < 3; i++) { k[i] = v["node" i "_keys"]; m[i] = v["node" i "_used_memory"]; sk += k[i]; sm += m[i] }
    sk /= 3; sm /= 3
    for (i = 0; i < 3; i++) { d = 100 * (k[i] - sk) / sk; if (d < 0) d = -d; if (d > wk) wk = d
      d = 100 * (m[i] - sm) / sm; if (d < 0) d = -d; if (d > wm) wm = d }
    printf "worst deviation: keys %.1f %%, used_memory %.1f %% (target <= 10 %%): %s\n", wk, wm, (wk <= 10 && wm <= 10) ? "met" : "NOT met"
  }'
  awk -v a="$(fig "$s" node0_keys)" -v m="$(fig "$s" node0_used_memory)" \
    'BEGIN {printf "(1 primary after the same load: %d keys, used_memory %.1f MiB)\n", a, m / 1048576}'
  echo "(end to end steps: open loop, ${STEP_SECONDS} s each, 1.25x apart, both from the same start rate; the client's routing cost: build/bench/cluster_routing_bench)"
}

if [ -n "$CLUSTER" ]; then
  cc="${POPULATIONS%%:*}"; ce="${POPULATIONS##*:}"
  run_topology standalone "$cc" "$ce"
  run_topology cluster "$cc" "$ce"
  cluster_report "$cc" "$ce"
  if [ -n "$OUT" ]; then
    for t in standalone cluster; do sed "s/^/$t./" "$BENCH_TMP/t-$t.txt"; done >"$OUT"
  fi
  exit 0
fi

pops=()
for p in ${POPULATIONS//,/ }; do
  run_population "${p%%:*}" "${p##*:}"
  pops+=("${p%%:*}")
done

# The report: each population's figures, the target beside each.
read -r _ u1 n1 s1 i1 w1 _ < /proc/stat
printf '\npipeline benchmark, %s cores, %s; machine idle %s%% of the run, load average %s\n' \
  "$(nproc)" "$(date -u '+%Y-%m-%d %H:%M UTC')" \
  "$(awk -v b=$((u1+n1+s1+i1+w1-u0-n0-s0-i0-w0)) -v i=$((i1+w1-i0-w0)) 'BEGIN {printf "%.0f", b ? 100*i/b : 0}')" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-58s | %12s | %12s | %8s | %-16s\n' figure value "ingest alone" ratio target
printf '%s\n' "-------------------------------------------------------------------------------------------------------------------"
row() { # name value baseline target
  awk -v n="$1" -v v="$2" -v b="$3" -v t="$4" 'BEGIN {
    if (b > 0) printf "%-58s | %12.1f | %12.1f | %7.2fx | %-16s\n", n, v, b, v/b, t;
    else printf "%-58s | %12.1f | %12s | %8s | %-16s\n", n, v, "-", "-", t }'
}
for c in "${pops[@]}"; do
  f="$BENCH_TMP/p-$c.txt"
  ev=$(fig "$f" events_per_customer)
  base=$(fig "$f" ingest_events_per_s)
  echo "== $c customers ($ev events each before the measurements)"
  row "ingestion alone, events/s (consumers stopped)" "$base" 0 ""
  row "end to end, events/s (highest bounded offered rate)" "$(fig "$f" e2e_events_per_s)" "$base" ">= 25000"
  row "  first unbounded offered rate, events/s" "$(fig "$f" e2e_first_unbounded)" "$base" ""
  row "profile apply alone, events/s (draining)" "$(fig "$f" profile_drain_events_per_s)" "$base" ""
  row "journey apply alone, events/s (draining)" "$(fig "$f" journey_drain_events_per_s)" "$base" ""
  row "Redis main-thread us/event: ingestion" "$(fig "$f" ingest_redis_us_per_event)" 0 ""
  row "Redis main-thread us/event: profile" "$(fig "$f" profile_drain_redis_us_per_event)" 0 "<= 12"
  row "Redis main-thread us/event: journey" "$(fig "$f" journey_drain_redis_us_per_event)" 0 "<= 12"
  row "service CPU us/event (all threads): profile" "$(fig "$f" profile_drain_service_us_per_event)" 0 ""
  row "service CPU us/event (all threads): journey" "$(fig "$f" journey_drain_service_us_per_event)" 0 ""
  row "Redis main-thread us/event: whole pipeline at e2e rate" "$(fig "$f" e2e_redis_us_per_event)" 0 ""
  row "freshness event->GetJourney p50 ms @ $(fig "$f" half_rate)/s" "$(fig "$f" fresh_p50_ms)" 0 ""
  row "freshness event->GetJourney p99 ms @ $(fig "$f" half_rate)/s" "$(fig "$f" fresh_p99_ms)" 0 "<= 1000"
  row "  probes / timed out (10 s) / load errors" "$(fig "$f" fresh_probes)" 0 \
    "$(fig "$f" fresh_timeouts) / $(fig "$f" fresh_load_errors)"
  row "populate: consumers' apply rate after the load, events/s" "$(fig "$f" populate_drain_events_per_s)" 0 ""
  mem() { # KEY_EXPR: bytes per customer
    awk -v a="$(fig "$f" mem1_used_memory)" -v b="$(fig "$f" mem0_used_memory)" \
      -v d="$(fig "$f" mem1_dedup_bytes)" -v s="$(fig "$f" mem1_stream_bytes)" \
      -v d0="$(fig "$f" mem0_dedup_bytes)" -v s0="$(fig "$f" mem0_stream_bytes)" \
      -v c="$c" -v all="$1" 'BEGIN {x = a - b; if (!all) x -= (d - d0) + (s - s0); printf "%.0f", x / c}'
  }
  tgt=""; [ "$ev" = 20 ] && tgt="<= 5120"
  row "Redis bytes/customer, $ev event(s): customer state" "$(mem 0)" 0 "$tgt"
  row "Redis bytes/customer, $ev event(s): used_memory delta" "$(mem 1)" 0 ""
done
if [ "${#pops[@]}" -ge 2 ]; then
  s="$BENCH_TMP/p-${pops[0]}.txt"; l="$BENCH_TMP/p-${pops[-1]}.txt"
  echo "== cost per event at ${pops[-1]} vs ${pops[0]} customers"
  for k in profile:profile_drain journey:journey_drain "whole pipeline:e2e" ingestion:ingest; do
    row "Redis us/event ${k%%:*}, ${pops[-1]} vs ${pops[0]} customers" \
      "$(fig "$l" "${k#*:}_redis_us_per_event")" "$(fig "$s" "${k#*:}_redis_us_per_event")" "<= 1.20x"
  done
fi
echo "(ingest alone: TrackBatch flat out, 4 callers x 100 events, consumers stopped; end to end steps: open loop, ${STEP_SECONDS} s each, 1.25x apart)"
if [ -n "$OUT" ]; then
  for c in "${pops[@]}"; do sed "s/^/p$c./" "$BENCH_TMP/p-$c.txt"; done >"$OUT"
fi
