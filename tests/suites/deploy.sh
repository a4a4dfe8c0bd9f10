#!/usr/bin/env bash
# Kubernetes and Helm checks (no cluster needed): see deploy/validate.sh.
set -euo pipefail
exec bash "$(cd "$(dirname "$0")/../.." && pwd)/deploy/validate.sh"
