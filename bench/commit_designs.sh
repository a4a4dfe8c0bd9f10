#!/usr/bin/env bash
# Redis main-thread µs per customer commit for each atomic-commit design a
# consumer could use (bench/pipeline/commit_designs.cc says what each one
# sends), on one private Redis configured as `./omnicx up` runs it (AOF
# everysec). The baseline of the run is `plain`: the same writes with no
# atomicity. Profile-sized state (400 bytes) for every design, then the
# journey's script with a state of the journey's size (2,200 bytes) beside
# it. About a minute.
#
#   bench/commit_designs.sh BUILD_DIR [--customers 10000] [--rounds 20]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:?usage: commit_designs.sh BUILD_DIR}"; shift
CUSTOMERS=10000; ROUNDS=20
while [ $# -gt 0 ]; do
  case "$1" in
    --customers) CUSTOMERS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
port=$(free_port); start_redis "$port"
run() {
  "$BUILD/bench/commit_designs" --redis="127.0.0.1:$port" --script_dir="$ROOT/services" \
    --customers="$CUSTOMERS" --rounds="$ROUNDS" "$@"
}
echo "# $CUSTOMERS customers x $ROUNDS commits each, $(date -u +%FT%TZ), $(git -C "$ROOT" rev-parse --short HEAD)"
echo "## 400-byte state, one 115-byte timeline entry per commit"
run --design=plain --state_bytes=400
run --design=profile --state_bytes=400
for g in 4 8 16; do run --design=partition --group="$g" --state_bytes=400; done
for g in 1 8 32; do run --design=watch --group="$g" --state_bytes=400; done
echo "## 2,200-byte state (the journey's at 20 events), 80-byte outbox record"
run --design=plain --state_bytes=2200
run --design=journey --state_bytes=2200
