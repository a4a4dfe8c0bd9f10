#!/usr/bin/env bash
# End-to-end tests: real redis-server (the ACL users of
# helm/omnicx/files/redis-acl.conf, each service as its own user; any
# refused command fails the suite) + service binaries on free loopback
# ports, driven by an independent client (@grpc/grpc-js, Node's test runner).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/tests/suites/lib/node.sh"
npm_ci_if_needed "$ROOT/tests/e2e"
cd "$ROOT/tests/e2e"
export OMNICX_BUILD_DIR="${OMNICX_BUILD_DIR:-$ROOT/build}"
node --test --test-concurrency=1 ./*.test.mjs
