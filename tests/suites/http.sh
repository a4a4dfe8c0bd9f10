#!/usr/bin/env bash
# The HTTP tracking API with real clients: Segment's and RudderStack's node
# SDKs (also retrying a request omnicx stored but answered 500 through a
# test proxy) and Segment's browser SDK in Debian's headless Chromium on
# another origin, each read back from the customer's timeline through the
# profile service. Redis and the services run on free loopback ports
# (tests/e2e/harness.mjs, whose client this suite reuses); each test file
# stops what it started. Bounded: 150 s for the whole suite.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/tests/suites/lib/node.sh"
CHROMIUM="${OMNICX_CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || { echo "http suite: $CHROMIUM missing (Debian package chromium; ./omnicx installs it)" >&2; exit 1; }
npm_ci_if_needed "$ROOT/tests/e2e"
npm_ci_if_needed "$ROOT/tests/http"
cd "$ROOT/tests/http"
export OMNICX_BUILD_DIR="${OMNICX_BUILD_DIR:-$ROOT/build}" OMNICX_CHROMIUM="$CHROMIUM"
# SIGTERM first, so node's test runner stops its files (and their after hooks).
timeout -k 10 150 node --test --test-concurrency=1 --test-timeout=60000 ./*.test.mjs
