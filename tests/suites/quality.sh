#!/usr/bin/env bash
# Scoring-quality regression check, held-out protocol (bench/quality.sh
# starts and stops redis-server + ingestion + profile + journey on free
# loopback ports): a simulated population with renamed touchpoints and
# redrawn importances (fixed seed, one planted pain point), half of whose
# churn is reported as `churned` events. On the other half it fails when
# the churn-risk ROC AUC falls below 0.8, churn risk closes less than 50%
# of the gap between the naive failure count and the true hazard (the
# target is 60%: docs/quality.md has the measured spread), its calibration
# error exceeds 0.05, or the planted pain point is not first in
# ListPainPoints. Every step is bounded (service start 10 s each, sending by
# retry limits, draining 240 s, lookups by deadlines).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${OMNICX_BUILD_DIR:-$ROOT/build}"
exec bash "$ROOT/bench/quality.sh" "$BUILD" \
  --customers 5000 --events 200000 --seed 1 --plant touchpoint=delivery \
  --min-auc 0.8 --min-gap-closed 0.5 --max-ece 0.05 --top 1 --timeout 240
