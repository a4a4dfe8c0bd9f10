{{/* The four services, their ports (health: plaintext health-only port
used by the kubelet's probes when TLS is on), and the services each one
calls. */}}
{{- define "omnicx.services" -}}
ingestion: {grpc: 50051, metrics: 9451, health: 50061, http: 9080, calls: []}
profile: {grpc: 50052, metrics: 9452, health: 50062, calls: [journey, recommendation]}
journey: {grpc: 50053, metrics: 9453, health: 50063, calls: []}
recommendation: {grpc: 50054, metrics: 9454, health: 50064, calls: []}
{{- end -}}

{{- define "omnicx.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "omnicx.labels" -}}
app.kubernetes.io/name: omnicx
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "ingestion") */}}
{{- define "omnicx.selector" -}}
app.kubernetes.io/name: omnicx
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "omnicx.image" -}}
{{- printf "%s:%s" .Values.global.image.repository (default .Chart.AppVersion .Values.global.image.tag) -}}
{{- end -}}

{{/* "cluster" or "standalone": redis.mode, or the deprecated redis.cluster. */}}
{{- define "omnicx.redisMode" -}}
{{- if or (eq (.Values.redis.mode | default "standalone") "cluster") .Values.redis.cluster -}}
cluster
{{- else -}}
standalone
{{- end -}}
{{- end -}}

{{/* OMNICX_REDIS_ADDRESS: the bundled Redis, the external one, or the
     comma-separated cluster seeds (externalAddress as the one seed when
     redis.seeds is empty). */}}
{{- define "omnicx.redisAddress" -}}
{{- if eq (include "omnicx.redisMode" .) "cluster" -}}
{{- if .Values.redis.bundled -}}
{{- fail "redis.mode cluster needs an external Redis Cluster (redis.bundled false, redis.seeds): the bundled Redis is one standalone primary" -}}
{{- end -}}
{{- if .Values.redis.seeds -}}
{{- join "," .Values.redis.seeds -}}
{{- else -}}
{{- required "redis.seeds (or redis.externalAddress) is required when redis.mode is cluster" .Values.redis.externalAddress -}}
{{- end -}}
{{- else if .Values.redis.bundled -}}
{{- printf "%s-redis:6379" (include "omnicx.fullname" .) -}}
{{- else -}}
{{- required "redis.externalAddress is required when redis.bundled is false" .Values.redis.externalAddress -}}
{{- end -}}
{{- end -}}

{{/* The distinct ports of the external Redis addresses, one per line. */}}
{{- define "omnicx.redisExternalPorts" -}}
{{- $ports := list -}}
{{- range splitList "," (include "omnicx.redisAddress" .) -}}
{{- $ports = append $ports (splitList ":" . | last | int) -}}
{{- end -}}
{{- range $ports | uniq }}
{{ . }}
{{- end -}}
{{- end -}}

{{- define "omnicx.identitySecretName" -}}
{{- default (printf "%s-identity" (include "omnicx.fullname" .)) .Values.global.identitySecret.existingSecret -}}
{{- end -}}

{{- define "omnicx.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "omnicx.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}


{{/* TLS Secret of one service: (dict "root" $ "component" "journey") */}}
{{- define "omnicx.tlsSecretName" -}}
{{- default (printf "%s-%s-tls" (include "omnicx.fullname" .root) .component) (index .root.Values.tls.secrets .component) -}}
{{- end -}}

{{/* Labels of the release namespace for the "restricted" Pod Security Standard. */}}
{{- define "omnicx.podSecurityLabels" -}}
pod-security.kubernetes.io/enforce: restricted
pod-security.kubernetes.io/enforce-version: latest
pod-security.kubernetes.io/audit: restricted
pod-security.kubernetes.io/warn: restricted
{{- end -}}
