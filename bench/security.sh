#!/usr/bin/env bash
# Security benchmark: what API keys and mTLS add to the machine CPU of a call,
# for Recommend (service key) and GetCustomerContext (agent key), in one run.
#
#   bench/security.sh BUILD_DIR [--customers N] [--events E] [--rate R]
#                     [--seconds S] [--rounds K]
#
# One redis-server and the four services on free loopback ports, a seeded
# population (N customers × E events through ingestion with the app key,
# drained by profile and journey), then, per round:
#   (a) plaintext + API key  and  (b) mTLS + API key (the services restarted
#   with certificates made by openssl in a temp dir, as `./omnicx up --tls`
#   makes them; the load generator presents a client certificate),
# in the order a b in odd rounds and b a in even ones, each call at R calls/s
# for S s on one reused channel (after 300 warm-up calls). The CPU of the four
# services and Redis is read from /proc around each open loop (the load
# generator is left out) and divided by the calls: µs of machine CPU per call.
#
# The services cannot run without authentication (there is no switch, by
# design), so "without auth" is DERIVED: (a) minus the cost of
# Authenticator::Authorize measured in a loop in the load generator (the same
# keys file, the services' own rate limit), times the authenticated calls
# each external call makes inside the suite (counted from the services'
# grpc_server_handled_total). Target (security issue): (b) at most 10 % above
# the derived no-auth figure.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:?usage: security.sh BUILD_DIR [--customers N] [--events E] [--rate R] [--seconds S] [--rounds K]}"; shift
CUSTOMERS=10000; EVENTS=5; RATE=500; SECONDS_PER=10; ROUNDS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --customers) CUSTOMERS="$2"; shift 2 ;;
    --events) EVENTS="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --seconds) SECONDS_PER="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
LOAD="$BUILD/bench/security_load"
SERVICES=(ingestion profile journey recommendation)
command -v openssl >/dev/null || { echo "needs the openssl command" >&2; exit 1; }

# --- keys and certificates -------------------------------------------------
KEYS="$BENCH_TMP/keys"
"$ROOT/tools/api-keys/provision.sh" "$KEYS" default

# A CA and one certificate per service plus "cli" (the load generator and
# omnicx-health), as the omnicx script's tls_generate and tls_issue make them.
TLS="$BENCH_TMP/tls"
mkdir -p "$TLS"
(umask 077
 openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
   -keyout "$TLS/ca.key" -subj "/CN=omnicx bench CA" -days 1 -out "$TLS/ca.crt" \
   -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
 for name in "${SERVICES[@]}" cli; do
   openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
     -keyout "$TLS/$name.key" -subj "/CN=omnicx-$name" -out "$TLS/$name.csr" 2>/dev/null
   printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
     "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth,clientAuth" >"$TLS/$name.ext"
   openssl x509 -req -in "$TLS/$name.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" -CAcreateserial \
     -days 1 -sha256 -extfile "$TLS/$name.ext" -out "$TLS/$name.crt" 2>/dev/null
 done)

# --- redis and the services ------------------------------------------------
rport=$(free_port); start_redis "$rport"; RPID=${BENCH_PIDS[-1]}
declare -A PORT MPORT SPID
# Ports below the kernel's ephemeral range (a port some outgoing connection
# holds cannot be bound either, though nothing listens on it), no socket on
# them, and all ten different.
USED=" $rport "
EPHEMERAL_LOW=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range)
unique_port() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % (EPHEMERAL_LOW - 20000) ))
    case "$USED" in *" $p "*) continue ;; esac
    [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] || continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    echo "$p"; return
  done
}
for s in "${SERVICES[@]}"; do
  PORT[$s]=$(unique_port); USED="$USED${PORT[$s]} "
  MPORT[$s]=$(unique_port); USED="$USED${MPORT[$s]} "
done

# TLS flags of the load generator and omnicx-health for a transport.
client_flags() {
  [ "$1" = mtls ] || return 0
  echo "--tls_ca_file=$TLS/ca.crt --tls_cert_file=$TLS/cli.crt --tls_key_file=$TLS/cli.key"
}

start_services() {  # plain|mtls
  local s tls_env
  for s in "${SERVICES[@]}"; do
    tls_env=()
    if [ "$1" = mtls ]; then
      tls_env=(OMNICX_TLS_CERT_FILE="$TLS/$s.crt" OMNICX_TLS_KEY_FILE="$TLS/$s.key"
               OMNICX_TLS_CA_FILE="$TLS/ca.crt" OMNICX_TLS_REQUIRE_CLIENT_CERT=true)
    fi
    cred=()
    case "$s" in
      profile|recommendation) cred=(OMNICX_AUTH_CREDENTIAL_FILE="$KEYS/internal-$s.key") ;;
    esac
    env "${tls_env[@]}" "${cred[@]}" \
      OMNICX_AUTH_API_KEYS_FILE="$KEYS/api-keys.yaml" \
      OMNICX_REDIS_ADDRESS="127.0.0.1:$rport" OMNICX_GRPC_ADDRESS="127.0.0.1:${PORT[$s]}" \
      OMNICX_METRICS_ADDRESS="127.0.0.1:${MPORT[$s]}" OMNICX_LOG_LEVEL=warn \
      OMNICX_IDENTITY_SECRET=bench-identity-secret-0123456789 \
      OMNICX_JOURNEY_ADDRESS="127.0.0.1:${PORT[journey]}" \
      OMNICX_RECOMMENDATION_ADDRESS="127.0.0.1:${PORT[recommendation]}" \
      OMNICX_PROFILE_ADDRESS="127.0.0.1:${PORT[profile]}" \
      "$BUILD/services/$s/omnicx-$s" >>"$BENCH_TMP/$s.log" 2>&1 &
    SPID[$s]=$!; BENCH_PIDS+=($!)
  done
  for s in "${SERVICES[@]}"; do
    # shellcheck disable=SC2046
    "$BUILD/tools/omnicx-health" --wait=20s $(client_flags "$1") "127.0.0.1:${PORT[$s]}" >/dev/null ||
      { echo "omnicx-$s did not become SERVING; its log:" >&2; tail -5 "$BENCH_TMP/$s.log" >&2; exit 1; }
  done
}

stop_services() {
  local s
  for s in "${SERVICES[@]}"; do kill "${SPID[$s]}" 2>/dev/null || true; done
  for s in "${SERVICES[@]}"; do wait "${SPID[$s]}" 2>/dev/null || true; done
}

# Authenticated RPCs the services completed so far, "method code count"
# lines summed over the four services (health checks are not counted).
handled() {
  local s
  for s in "${SERVICES[@]}"; do
    curl -s --max-time 5 "http://127.0.0.1:${MPORT[$s]}/metrics"
  done | awk '/^grpc_server_handled_total\{/ && /omnicx\.v1\./ {
      match($0, /method="[^"]*"/); m = substr($0, RSTART + 8, RLENGTH - 9)
      match($0, /code="[^"]*"/); c = substr($0, RSTART + 6, RLENGTH - 7)
      n[m " " c] += $NF }
    END { for (k in n) print k, n[k] }' | sort
}

# --- seed --------------------------------------------------------------------
start_services plain
"$LOAD" --mode=seed --target="127.0.0.1:${PORT[ingestion]}" --key_file="$KEYS/app.key" \
  --customers="$CUSTOMERS" --events="$EVENTS" >"$BENCH_TMP/seed.txt"
drain "$rport" ev profile >/dev/null
drain "$rport" rv journey >/dev/null

PIDS_ARG() {
  echo "redis:$RPID,ingestion:${SPID[ingestion]},profile:${SPID[profile]},journey:${SPID[journey]},recommendation:${SPID[recommendation]}"
}

# measure TRANSPORT ROUND: both calls; figures in $BENCH_TMP/<call>-<transport>-<round>.txt,
# and the authenticated calls made inside the suite per external call.
measure() {
  local t="$1" r="$2" call key target out h0 h1
  for call in recommend context; do
    if [ "$call" = recommend ]; then key=service; target=${PORT[recommendation]}
    else key=agent; target=${PORT[profile]}; fi
    out="$BENCH_TMP/$call-$t-$r.txt"
    h0="$BENCH_TMP/h0"; h1="$BENCH_TMP/h1"
    handled >"$h0"
    # shellcheck disable=SC2046
    "$LOAD" --mode=call --call="$call" --target="127.0.0.1:$target" \
      --key_file="$KEYS/$key.key" --customers="$CUSTOMERS" --rate="$RATE" \
      --seconds="$SECONDS_PER" --pids="$(PIDS_ARG)" $(client_flags "$t") >"$out"
    handled >"$h1"
    # Per external call: authenticated calls served, by method ("hops_<Method>"),
    # and any that did not end OK.
    awk -v n="$(fig "$out" "${call}_issued")" -v c="$call" '
      FILENAME == ARGV[1] { b[$1 " " $2] = $3; next }
      { d = $3 - b[$1 " " $2]; if (d == 0) next
        split($1, p, "/"); hops[p[3]] += d / n; if ($2 != "OK") bad += d }
      END { for (m in hops) printf "%s_hops_%s=%.3f\n", c, m, hops[m]; printf "%s_not_ok=%d\n", c, bad + 0 }
    ' "$h0" "$h1" >>"$out"
  done
}

# Odd rounds plaintext first, even rounds mTLS first (a b b a ...), so a drift
# of the shared machine during the run does not favour either transport.
running=plain
for r in $(seq 1 "$ROUNDS"); do
  order="plain mtls"; [ $((r % 2)) -eq 1 ] || order="mtls plain"
  for t in $order; do
    [ "$t" = "$running" ] || { stop_services; start_services "$t"; running=$t; }
    measure "$t" "$r"
  done
done
stop_services

# --- Authorize alone -----------------------------------------------------------
auth="$BENCH_TMP/authorize.txt"
"$LOAD" --mode=authorize --keys_file="$KEYS/api-keys.yaml" --keys_dir="$KEYS" --calls=200000 \
  --checks=service=/omnicx.v1.RecommendationService/Recommend,agent=/omnicx.v1.ProfileService/GetCustomerContext,internal-recommendation=/omnicx.v1.ProfileService/GetProfile,internal-recommendation=/omnicx.v1.JourneyService/GetJourney,internal-profile=/omnicx.v1.RecommendationService/Recommend,internal-profile=/omnicx.v1.JourneyService/GetJourney \
  >"$auth"

# Authorize µs per external call: each hop at the cost of its credential
# (in the Recommend run, GetProfile and GetJourney come from the
# recommendation service; in the context run, Recommend and GetJourney from
# the profile service, GetProfile from the recommendation service).
auth_per_call() {  # CALL FILE
  local f="$2"
  if [ "$1" = recommend ]; then
    awk -v a="$(fig "$f" recommend_hops_Recommend)" -v b="$(fig "$f" recommend_hops_GetProfile)" \
        -v c="$(fig "$f" recommend_hops_GetJourney)" \
        -v ca="$(fig "$auth" authorize_service_Recommend_us)" \
        -v cb="$(fig "$auth" authorize_internal-recommendation_GetProfile_us)" \
        -v cc="$(fig "$auth" authorize_internal-recommendation_GetJourney_us)" \
        'BEGIN {printf "%.3f", a * ca + b * cb + c * cc}'
  else
    awk -v a="$(fig "$f" context_hops_GetCustomerContext)" -v b="$(fig "$f" context_hops_Recommend)" \
        -v c="$(fig "$f" context_hops_GetProfile)" -v d="$(fig "$f" context_hops_GetJourney)" \
        -v ca="$(fig "$auth" authorize_agent_GetCustomerContext_us)" \
        -v cb="$(fig "$auth" authorize_internal-profile_Recommend_us)" \
        -v cc="$(fig "$auth" authorize_internal-recommendation_GetProfile_us)" \
        -v cd="$(fig "$auth" authorize_internal-profile_GetJourney_us)" \
        'BEGIN {printf "%.3f", a * ca + b * cb + c * cc + d * cd}'
  fi
}
hops_of() {  # CALL FILE: authenticated calls per external call
  grep "^$1_hops_" "$2" | awk -F= '{t += $2} END {printf "%.2f", t}'
}

printf '\nsecurity benchmark: %s customers × %s events, %s calls/s for %s s per call and transport, %s round(s), %s cores\n' \
  "$CUSTOMERS" "$EVENTS" "$RATE" "$SECONDS_PER" "$ROUNDS" "$(nproc)"
echo "machine CPU per call = the four services + Redis, from /proc (load generator excluded)"
printf '\n%-20s %-6s | %6s %6s %6s %6s | %8s %8s | %9s | %s\n' call transport ok errors degr notOK "p50 ms" "p99 ms" "µs/call" "per process µs (redis ingestion profile journey recommendation)"
for r in $(seq 1 "$ROUNDS"); do
  for call in recommend context; do
    for t in plain mtls; do
      f="$BENCH_TMP/$call-$t-$r.txt"
      printf '%-20s %-6s | %6s %6s %6s %6s | %8.2f %8.2f | %9.1f | %s %s %s %s %s\n' \
        "$call (round $r)" "$t" "$(fig "$f" "${call}_ok")" "$(fig "$f" "${call}_errors")" \
        "$(fig "$f" "${call}_degraded")" "$(fig "$f" "${call}_not_ok")" \
        "$(fig "$f" "${call}_p50_ms")" "$(fig "$f" "${call}_p99_ms")" "$(fig "$f" "${call}_cpu_us_per_call")" \
        "$(fig "$f" "${call}_cpu_us_redis")" "$(fig "$f" "${call}_cpu_us_ingestion")" \
        "$(fig "$f" "${call}_cpu_us_profile")" "$(fig "$f" "${call}_cpu_us_journey")" \
        "$(fig "$f" "${call}_cpu_us_recommendation")"
      printf '%-20s %-6s   authenticated calls in the suite per call: %s\n' "" "" \
        "$(grep "^${call}_hops_" "$f" | sed "s/^${call}_hops_//" | sort | tr '\n' ' ')"
    done
  done
done
echo
echo "Authenticator::Authorize alone (thread CPU per call, 200,000 calls, median of 3; $(grep -c '^  - name' "$KEYS/api-keys.yaml") keys, rate limit as configured):"
sed 's/^authorize_/  /; s/_us=/ µs: /' "$auth"

printf '\n%-28s | %10s | %10s | %16s | %10s | %9s | %8s | %s\n' call "plain+key" "mTLS+key" "Authorize (hops)" "no-auth*" "TLS share" "added" "target ≤ 10 %"
printf '%s\n' "--------------------------------------------------------------------------------------------------------------------------"
# summary_row NAME PLAIN MTLS AUTH HOPS NOTE
summary_row() {
  awk -v n="$1" -v a="$2" -v b="$3" -v au="$4" -v h="$5" -v note="$6" 'BEGIN {
    base = a - au; added = (b - base) / base * 100
    printf "%-28s | %7.1f µs | %7.1f µs | %6.2f µs (%.1f) | %7.1f µs | %6.1f µs | %7.1f%% | %s%s\n",
      n, a, b, au, h, base, b - a, added, (added <= 10 ? "met" : "not met"), note }'
}
for call in recommend context; do
  name=$([ "$call" = recommend ] && echo "Recommend" || echo "GetCustomerContext")
  a=0; b=0; au=0; hops=0
  for r in $(seq 1 "$ROUNDS"); do
    fa="$BENCH_TMP/$call-plain-$r.txt"; fb="$BENCH_TMP/$call-mtls-$r.txt"
    ya=$(fig "$fa" "${call}_cpu_us_per_call"); yb=$(fig "$fb" "${call}_cpu_us_per_call")
    yau=$(auth_per_call "$call" "$fa"); yh=$(hops_of "$call" "$fa")
    # A phase with more than 1 % failed calls did less work per call.
    note=$(awk -v e1="$(fig "$fa" "${call}_errors")" -v e2="$(fig "$fb" "${call}_errors")" \
      -v n1="$(fig "$fa" "${call}_ok")" -v n2="$(fig "$fb" "${call}_ok")" \
      'BEGIN {if (e1 > 0.01 * (n1 + e1) || e2 > 0.01 * (n2 + e2)) print " (errors > 1 %: not comparable)"}')
    [ "$ROUNDS" -eq 1 ] || summary_row "$name, round $r" "$ya" "$yb" "$yau" "$yh" "$note"
    a=$(awk -v x="$a" -v y="$ya" 'BEGIN {print x + y}')
    b=$(awk -v x="$b" -v y="$yb" 'BEGIN {print x + y}')
    au=$(awk -v x="$au" -v y="$yau" 'BEGIN {print x + y}')
    hops=$(awk -v x="$hops" -v y="$yh" 'BEGIN {print x + y}')
  done
  k=$ROUNDS
  summary_row "$name$([ "$k" -eq 1 ] || echo ", mean")" \
    "$(awk -v x="$a" -v k="$k" 'BEGIN {print x / k}')" "$(awk -v x="$b" -v k="$k" 'BEGIN {print x / k}')" \
    "$(awk -v x="$au" -v k="$k" 'BEGIN {print x / k}')" "$(awk -v x="$hops" -v k="$k" 'BEGIN {print x / k}')" \
    "$( [ "$k" -eq 1 ] && echo "$note" || true)"
done
echo
echo "* no-auth is DERIVED, not measured: the services have no unauthenticated mode (by design), so it is"
echo "  plain+key minus Authorize's cost times the authenticated calls one external call makes in the suite"
echo "  (hops, from grpc_server_handled_total). The bearer header's bytes on the wire and the client-side"
echo "  AddMetadata are not subtracted. TLS share = mTLS+key - plain+key; added = (mTLS+key - no-auth) / no-auth."
