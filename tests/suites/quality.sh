#!/usr/bin/env bash
# Scoring-quality regression check: a small simulated population (fixed seed,
# one planted pain point) through redis-server + ingestion + profile +
# journey on free loopback ports (bench/quality.sh starts and stops them);
# fails when the churn-risk ROC AUC falls below 0.75 or the planted pain
# point is not in the top three of ListPainPoints. Every step is bounded
# (service start 10 s each, sending by retry limits, draining 120 s, lookups
# by deadlines), and bench/quality.sh stops what it started on exit.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${OMNICX_BUILD_DIR:-$ROOT/build}"
exec bash "$ROOT/bench/quality.sh" "$BUILD" \
  --customers 2000 --events 80000 --seed 7 --plant touchpoint=delivery \
  --min-auc 0.75 --timeout 120
