{{/* Names: "<fullnameOverride or release name>-<component>", so a release "tradefleet" gives
tradefleet-operator, tradefleet-exchange, tradefleet-jaeger, tradefleet-postgresql. */}}
{{- define "tradefleet.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "tradefleet.operatorName" -}}
{{- printf "%s-operator" (include "tradefleet.fullname" .) -}}
{{- end -}}

{{- /* the release's ClusterKopfPeering (cluster-scoped: the namespace keeps releases apart) */ -}}
{{- define "tradefleet.peeringName" -}}
{{- printf "%s-%s" (include "tradefleet.operatorName" .) .Release.Namespace | trunc 253 | trimSuffix "-" -}}
{{- end -}}

{{- define "tradefleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tradefleet.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: name the existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tradefleet.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* app.kubernetes.io labels; call with (dict "root" $ "component" "operator") */}}
{{- define "tradefleet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: tradefleet
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "tradefleet.selectorLabels" . }}
{{- end -}}

{{- define "tradefleet.selectorLabels" -}}
app.kubernetes.io/name: tradefleet-{{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The namespaces the operator watches. */}}
{{- define "tradefleet.watchNamespaces" -}}
{{- if .Values.operator.watchNamespaces -}}
{{- join "," (uniq .Values.operator.watchNamespaces) -}}
{{- else -}}
{{- .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* The Secret and key of the database DSN (the bundled server's or database.existingSecret). */}}
{{- define "tradefleet.dbSecret" -}}
{{- if .Values.postgresql.enabled -}}
{{- printf "%s-postgresql" (include "tradefleet.fullname" .) -}}
{{- else -}}
{{- required "database.existingSecret: name the Secret holding the database DSN (or set postgresql.enabled=true to try the bundled server)" .Values.database.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "tradefleet.dbSecretKey" -}}
{{- if .Values.postgresql.enabled -}}dsn{{- else -}}{{ .Values.database.secretKey }}{{- end -}}
{{- end -}}

{{- define "tradefleet.dbSslmode" -}}
{{- if .Values.postgresql.enabled -}}disable{{- else -}}{{ .Values.database.sslmode }}{{- end -}}
{{- end -}}

{{/* Where traces go: the bundled Jaeger, a collector of the user's, or nowhere. */}}
{{- define "tradefleet.otlpEndpoint" -}}
{{- if .Values.jaeger.enabled -}}
{{- /* namespace-qualified: worker pods may run in other watched namespaces */ -}}
{{- printf "http://%s-jaeger.%s.svc:4318" (include "tradefleet.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.otel.endpoint -}}
{{- end -}}
{{- end -}}

{{/* The pod-level security context of every tradefleet container (the image's user). */}}
{{- define "tradefleet.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "tradefleet.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* TRADEFLEET_SIM_CLOCK (SimClock.to_env()) of the simulated session, or nothing. */}}
{{- define "tradefleet.simClock" -}}
{{- with .Values.simulation -}}
{{- if .start -}}
{{- printf "{\"sim_start\": %q, \"speed\": %v, \"real_start\": %d}" .start (float64 .speed) (int64 .realStart) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Every port the chart configures must differ: the operator pod's liveness and metrics
ports, and the worker pods' health port (with /metrics on the same listener), which is kept
apart from both so that the same settings also serve a fleet on one host. 0 switches a port off
and clashes with nothing. Rendering fails naming both values. */}}
{{- define "tradefleet.checkPorts" -}}
{{- $ports := dict -}}
{{- range $name, $port := dict "operator.livenessPort" .Values.operator.livenessPort "operator.metricsPort" .Values.operator.metricsPort "operator.workerHealthPort" .Values.operator.workerHealthPort -}}
{{- if $port -}}
{{- $key := toString $port -}}
{{- if hasKey $ports $key -}}
{{- fail (printf "%s and %s are both %s: every port must differ" (get $ports $key) $name $key) -}}
{{- end -}}
{{- $_ := set $ports $key $name -}}
{{- end -}}
{{- end -}}
{{- end -}}
