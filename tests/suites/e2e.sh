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
rc=0
node --test --test-concurrency=1 ./*.test.mjs || rc=$?
# The same tests on a local Redis Cluster (3 primaries + 3 replicas,
# OMNICX_E2E_REDIS=cluster in harness.mjs), plus cluster.test.mjs
# (resharding and primary failover under load). OMNICX_E2E_CLUSTER=0 skips
# this pass (for a quicker local run; CI runs both).
if [ "${OMNICX_E2E_CLUSTER:-1}" = 1 ]; then
  echo "# e2e on a Redis Cluster"
  OMNICX_E2E_REDIS=cluster node --test --test-concurrency=1 ./*.test.mjs || rc=$?
fi
exit "$rc"
