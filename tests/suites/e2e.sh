#!/usr/bin/env bash
# End-to-end tests: real redis-server (the ACL users of
# helm/omnicx/files/redis-acl.conf, each service as its own user; any
# refused command fails the suite) + service binaries on free loopback
# ports, driven by an independent client (@grpc/grpc-js, Node's test runner).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT/tests/e2e"
if [ ! -d node_modules/@grpc/grpc-js ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
export OMNICX_BUILD_DIR="${OMNICX_BUILD_DIR:-$ROOT/build}"
node --test --test-concurrency=1 ./*.test.mjs
