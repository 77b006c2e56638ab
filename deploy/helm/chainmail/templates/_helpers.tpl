{{- define "chainmail.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "chainmail.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: include "chainmail.selector" (list . "relayer") */}}
{{- define "chainmail.selector" -}}
app.kubernetes.io/name: {{ (index . 0).Chart.Name }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "chainmail.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "chainmail.rpcUrl" -}}
{{- if .Values.chain.rpcUrl -}}
{{- .Values.chain.rpcUrl -}}
{{- else if .Values.besu.enabled -}}
{{- printf "http://%s-besu-rpc:8545" (include "chainmail.fullname" .) -}}
{{- else -}}
{{- fail "chain.rpcUrl is required (the chain's JSON-RPC URL), unless besu.enabled runs the chart's own Besu network." -}}
{{- end -}}
{{- end -}}

{{- define "chainmail.brokers" -}}
{{- if .Values.kafka.brokers -}}
{{- .Values.kafka.brokers -}}
{{- else if .Values.strimzi.enabled -}}
{{- printf "%s-kafka-kafka-bootstrap:9092" (include "chainmail.fullname" .) -}}
{{- else -}}
{{- fail "kafka.brokers is required (comma-separated bootstrap brokers), unless strimzi.enabled runs a Strimzi Kafka cluster." -}}
{{- end -}}
{{- end -}}

{{- define "chainmail.registry" -}}
{{- if not (regexMatch "^0x[0-9a-fA-F]{40}$" (toString .Values.chain.registry)) -}}
{{- fail "chain.registry is required: the MessageRegistry address (0x and 40 hex digits)." -}}
{{- end -}}
{{- .Values.chain.registry -}}
{{- end -}}

{{- define "chainmail.relayerKeysSecret" -}}
{{- if .Values.relayer.signerKeys.existingSecret -}}
{{- .Values.relayer.signerKeys.existingSecret -}}
{{- else if .Values.relayer.signerKeys.keys -}}
{{- printf "%s-relayer-keys" (include "chainmail.fullname" .) -}}
{{- else -}}
{{- fail "relayer.signerKeys.existingSecret is required: a Secret with one entry per relayer pod name holding that pod's signer keys (npx tsx deploy/scripts/relayer-keys.ts makes one)." -}}
{{- end -}}
{{- end -}}

{{/* The most relayer pods that can exist: the Secret needs an entry for each. */}}
{{- define "chainmail.relayerMaxPods" -}}
{{- if .Values.relayer.autoscaling.enabled -}}{{ max .Values.relayer.autoscaling.maxReplicas .Values.relayer.replicas }}{{- else -}}{{ .Values.relayer.replicas }}{{- end -}}
{{- end -}}

{{/* Restricted pod security: non-root, no privilege escalation, no capabilities, read-only root. */}}
{{- define "chainmail.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "chainmail.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}
