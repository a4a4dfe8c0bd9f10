# Shell helpers shared by bench/quality.sh, tests/suites/quality.sh and
# `./omnicx demo`: how far the profile and journey consumers are behind.
#
#   source tools/journeysim/pipeline.sh
#   wait_applied REDIS_PORT TIMEOUT_SECONDS   # 0 once both groups caught up
#
# redis-cli authenticates with REDISCLI_AUTH when the caller sets it (the
# local Redis of ./omnicx has ACL users: the operator's password is
# .state/keys/redis.pass). REDIS_PORT may be any node of a Redis Cluster:
# every command names one key and runs with -c (follow MOVED/ASK), and
# nothing scans the keyspace.

# shard_streams KIND: the stream keys of the shards ("ev" event log, "rv"
# resolved events; 16 unless OMNICX_STREAM_SHARDS says otherwise), named
# directly: finding them with SCAN walks the whole keyspace (every dedup
# entry, every customer key), which on a loaded Redis costs more than the
# consumers' own work and took tens of seconds per look.
shard_streams() {
  local i
  for i in $(seq 0 $(( ${OMNICX_STREAM_SHARDS:-16} - 1 ))); do
    echo "cx:default:{$1:$i}:stream"
  done
}

# backlog REDIS_PORT KIND GROUP: entries the group has not acknowledged
# (lag + pending, summed over the shards). A shard the group has not
# joined yet (its service is still starting, or died) counts whole.
backlog() {
  local total=0 s n
  for s in $(shard_streams "$2"); do
    n=$(redis-cli -c -h 127.0.0.1 -p "$1" xinfo groups "$s" 2>/dev/null | awk -v g="$3" '
      prev=="name" && $1==g {found=1} prev=="name" {name=$1}
      prev=="lag" && name==g {l=$1} prev=="pending" && name==g {p=$1}
      {prev=$1} END {if (found) print l+p; else print -1}')
    if [ "${n:--1}" -lt 0 ]; then
      n=$(redis-cli -c -h 127.0.0.1 -p "$1" xlen "$s")
    fi
    total=$(( total + ${n:-0} ))
  done
  echo "$total"
}

# unfolded REDIS_PORT: aggregate delta records the journey's aggregator has
# not folded yet and churn examples its learner has not learned, over the
# 1024 partitions (libs/keys/key_builder.h Outbox, ChurnExamples), counted
# in one script rather than 2048 round trips. On a Redis Cluster the
# partitions are in 1024 slots and no script may span them: 2048 XLENs, one
# redis-cli -c process following the redirections (about 0.4 s).
unfolded() {
  if redis-cli -h 127.0.0.1 -p "$1" info cluster 2>/dev/null |
    grep -q '^cluster_enabled:1'; then
    local p
    for p in $(seq 0 1023); do
      echo "XLEN cx:default:{p:$p}:outbox"
      echo "XLEN cx:default:{p:$p}:examples"
    done | redis-cli -c -h 127.0.0.1 -p "$1" | awk '{n += $1} END {print n + 0}'
    return
  fi
  redis-cli -h 127.0.0.1 -p "$1" eval "local n = 0
    for p = 0, 1023 do
      n = n + redis.call('XLEN', 'cx:default:{p:' .. p .. '}:outbox')
      n = n + redis.call('XLEN', 'cx:default:{p:' .. p .. '}:examples')
    end
    return n" 0
}

# wait_applied REDIS_PORT TIMEOUT_SECONDS [progress]: until the profile
# group has acknowledged every ingested event, the journey group every
# resolved one, the aggregator has folded every delta into the pain
# points and funnel and the churn learner has learned every example (twice
# in a row, 0.5 s apart); non-zero on timeout.
# With "progress", what is left is shown on stderr as it goes.
wait_applied() {
  local end=$(( $(date +%s) + $2 )) clean=0 p j a
  while [ "$(date +%s)" -lt "$end" ]; do
    p=$(backlog "$1" ev profile)
    j=$(backlog "$1" rv journey)
    a=$(unfolded "$1")
    [ "${3:-}" = progress ] &&
      printf '\r  left to apply: profile %8d   journey %8d   aggregates %8d ' "$p" "$j" "${a:-0}" >&2
    if [ "$p" -eq 0 ] && [ "$j" -eq 0 ] && [ "${a:-1}" -eq 0 ]; then
      clean=$(( clean + 1 ))
      if [ "$clean" -ge 2 ]; then
        [ "${3:-}" = progress ] && printf '\n' >&2
        return 0
      fi
    else
      clean=0
    fi
    sleep 0.5
  done
  [ "${3:-}" = progress ] && printf '\n' >&2
  return 1
}
