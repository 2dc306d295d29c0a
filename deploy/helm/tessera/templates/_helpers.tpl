{{/* Chart name, cut to the 63 characters of a DNS label. */}}
{{- define "tessera.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every resource name: <release>-tessera, or the release name when it holds the chart name. */}}
{{- define "tessera.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tessera.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "tessera.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tessera
{{- end -}}

{{- define "tessera.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tessera.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component: include "tessera.componentLabels" (list $ "server") */}}
{{- define "tessera.componentLabels" -}}
{{ include "tessera.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "tessera.componentSelector" -}}
{{ include "tessera.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "tessera.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tessera.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tessera.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Where the chart mounts what it gives the pods. */}}
{{- define "tessera.configPath" -}}/etc/tessera/tessera.yaml{{- end -}}
{{- define "tessera.tlsDir" -}}/etc/tessera/tls{{- end -}}
{{- define "tessera.redisTlsDir" -}}/etc/tessera/redis-tls{{- end -}}
{{- define "tessera.probeScript" -}}/etc/tessera/probe/grpc-health.mjs{{- end -}}
{{- define "tessera.writerDataDir" -}}/data/writer{{- end -}}
{{- define "tessera.serverDataDir" -}}/data/server{{- end -}}

{{/* The chart's own Secret: only when some secret is given inline. */}}
{{- define "tessera.secretName" -}}{{ include "tessera.fullname" . }}{{- end -}}
{{- define "tessera.ownSecretNeeded" -}}
{{- $v := .Values -}}
{{- if or (and $v.redis.password.enabled (not $v.redis.password.existingSecret)) (and $v.clickhouse.enabled (not $v.clickhouse.existingSecret)) -}}true{{- end -}}
{{- end -}}
{{- define "tessera.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "tessera.fullname" .)) .Values.tls.existingSecret -}}
{{- end -}}

{{/* exec probes when asked, or (auto) when the gRPC port speaks TLS: kubelet's gRPC probe has no TLS. */}}
{{- define "tessera.execProbes" -}}
{{- $kind := .Values.server.probes.kind -}}
{{- if or (eq $kind "exec") (and (eq $kind "auto") .Values.tls.enabled) -}}true{{- end -}}
{{- end -}}

{{/* The port and mode the exec probe script uses: mTLS would refuse it, so it goes to the local listener. */}}
{{- define "tessera.probeTarget" -}}
{{- if and .Values.tls.enabled .Values.tls.clientCa.enabled -}}
127.0.0.1:{{ .Values.server.localPort }} plaintext
{{- else if .Values.tls.enabled -}}
127.0.0.1:{{ .Values.server.port }} tls
{{- else -}}
127.0.0.1:{{ .Values.server.port }} plaintext
{{- end -}}
{{- end -}}

{{/* Checks values that the schema cannot relate to each other. */}}
{{- define "tessera.validate" -}}
{{- $v := .Values -}}
{{- if and $v.writer.enabled (not $v.clickhouse.enabled) -}}
{{- fail "writer.enabled: writers insert into ClickHouse; set clickhouse.enabled (with clickhouse.url or clickhouse.existingSecret) or writer.enabled=false" -}}
{{- end -}}
{{- if not (or $v.tls.enabled $v.config.server.insecure) -}}
{{- fail "tls.enabled: the server refuses a pod address without TLS and API keys; set tls.enabled (tls.existingSecret, e.g. from cert-manager) or config.server.insecure=true behind a mesh that encrypts" -}}
{{- end -}}
{{- if and (not $v.config.auth.enabled) (not $v.config.server.insecure) -}}
{{- fail "config.auth.enabled: the server refuses a pod address without API keys; keep config.auth.enabled or set config.server.insecure=true" -}}
{{- end -}}
{{- if and $v.tls.enabled $v.tls.clientCa.enabled (eq (include "tessera.execProbes" .) "true") (eq (int $v.server.localPort) 0) -}}
{{- fail "server.localPort: with mTLS the exec probes need the pod-local plaintext listener; set server.localPort (e.g. 6567)" -}}
{{- end -}}
{{- if and (eq $v.server.probes.kind "grpc") $v.tls.enabled -}}
{{- fail "server.probes.kind: kubelet's gRPC probe cannot speak TLS; use auto or exec with tls.enabled" -}}
{{- end -}}
{{- if and $v.metrics.serviceMonitor.enabled (not $v.metrics.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled: needs metrics.enabled" -}}
{{- end -}}
{{- if and $v.writer.autoscaling.enabled (lt (int $v.writer.autoscaling.maxReplicas) (int $v.writer.autoscaling.minReplicas)) -}}
{{- fail "writer.autoscaling.maxReplicas: must be at least writer.autoscaling.minReplicas" -}}
{{- end -}}
{{- if and $v.server.autoscaling.enabled (lt (int $v.server.autoscaling.maxReplicas) (int $v.server.autoscaling.minReplicas)) -}}
{{- fail "server.autoscaling.maxReplicas: must be at least server.autoscaling.minReplicas" -}}
{{- end -}}
{{- if and $v.server.autoscaling.enabled (eq (int $v.server.autoscaling.targetCPUUtilizationPercentage) 0) (not $v.server.autoscaling.customMetric.enabled) -}}
{{- fail "server.autoscaling: needs targetCPUUtilizationPercentage > 0 or customMetric.enabled" -}}
{{- end -}}
{{- end -}}

{{/* The configuration file: the user's settings, then what the chart owns (ports, files, backend). */}}
{{- define "tessera.config" -}}
{{- include "tessera.configFor" (list . false) -}}
{{- end -}}

{{/*
The apply Job's variant: its own server listens on the pod's loopback only (no API keys, no TLS, no
metrics), for the apply beside it.
*/}}
{{- define "tessera.applyConfig" -}}
{{- include "tessera.configFor" (list . true) -}}
{{- end -}}

{{- define "tessera.configFor" -}}
{{- $job := index . 1 -}}
{{- with index . 0 -}}
{{- $v := .Values -}}
{{- $c := deepCopy $v.config -}}
{{- $server := dict "host" "0.0.0.0" "port" (int $v.server.port) -}}
{{- if gt (int $v.server.localPort) 0 -}}{{- $_ := set $server "localPort" (int $v.server.localPort) -}}{{- end -}}
{{- $nodes := list -}}
{{- range $v.redis.nodes -}}{{- $nodes = append $nodes (dict "host" .host "port" (int .port)) -}}{{- end -}}
{{- $redis := dict "nodes" $nodes "keyPrefix" $v.redis.keyPrefix -}}
{{- if $v.redis.username -}}{{- $_ := set $redis "username" $v.redis.username -}}{{- end -}}
{{- if $v.redis.tls.enabled -}}
{{- $rtls := dict "enabled" true "caFile" (printf "%s/ca.crt" (include "tessera.redisTlsDir" .)) -}}
{{- if $v.redis.tls.clientCertificate -}}
{{- $_ := set $rtls "certFile" (printf "%s/tls.crt" (include "tessera.redisTlsDir" .)) -}}
{{- $_ := set $rtls "keyFile" (printf "%s/tls.key" (include "tessera.redisTlsDir" .)) -}}
{{- end -}}
{{- if $v.redis.tls.serverName -}}{{- $_ := set $rtls "serverName" $v.redis.tls.serverName -}}{{- end -}}
{{- $_ := set $redis "tls" $rtls -}}
{{- end -}}
{{- $backend := dict "kind" "redis-cluster" "dataDir" (include "tessera.serverDataDir" .) "redis" $redis -}}
{{- $tls := dict -}}
{{- if $v.tls.enabled -}}
{{- $tls = dict "certFile" (printf "%s/tls.crt" (include "tessera.tlsDir" .)) "keyFile" (printf "%s/tls.key" (include "tessera.tlsDir" .)) -}}
{{- if $v.tls.clientCa.enabled -}}{{- $_ := set $tls "clientCaFile" (printf "%s/ca.crt" (include "tessera.tlsDir" .)) -}}{{- end -}}
{{- end -}}
{{- $metrics := dict "enabled" $v.metrics.enabled -}}
{{- if $v.metrics.enabled -}}{{- $metrics = dict "enabled" true "host" "0.0.0.0" "port" (int $v.metrics.port) -}}{{- end -}}
{{- $owned := dict
  "server" $server
  "backend" $backend
  "writer" (dict "dataDir" (include "tessera.writerDataDir" .))
  "tls" $tls
  "metrics" $metrics -}}
{{- if $v.config.feast.enabled -}}{{- $_ := set $owned "feast" (dict "host" "0.0.0.0") -}}{{- end -}}
{{- if $job -}}
{{- $_ := set $owned "server" (dict "host" "127.0.0.1" "port" (int $v.server.port)) -}}
{{- $_ := set $owned "tls" (dict) -}}
{{- $_ := set $owned "metrics" (dict "enabled" false) -}}
{{- $_ := set $c "tls" (dict) -}}
{{- $_ := set $c "auth" (dict "enabled" false) -}}
{{- $_ := set $c "feast" (dict "enabled" false) -}}
{{- $_ := unset $owned "feast" -}}
{{- end -}}
{{- $merged := mustMergeOverwrite $c $owned -}}
{{- toYaml $merged -}}
{{- end -}}
{{- end -}}

{{/* Environment of every Tessera container: secrets as TESSERA_<PATH> variables, never argv. */}}
{{- define "tessera.secretEnv" -}}
{{- $v := .Values -}}
- name: HOME
  value: /tmp
{{- if $v.redis.password.enabled }}
- name: TESSERA_BACKEND_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (include "tessera.secretName" .) $v.redis.password.existingSecret }}
      key: {{ if $v.redis.password.existingSecret }}{{ $v.redis.password.existingSecretKey }}{{ else }}redis-password{{ end }}
{{- end }}
{{- if $v.clickhouse.enabled }}
- name: TESSERA_BACKEND_CLICKHOUSE_URL
  valueFrom:
    secretKeyRef:
      name: {{ default (include "tessera.secretName" .) $v.clickhouse.existingSecret }}
      key: {{ if $v.clickhouse.existingSecret }}{{ $v.clickhouse.existingSecretKey }}{{ else }}clickhouse-url{{ end }}
{{- end }}
{{- end -}}

{{/* Volumes shared by the Tessera pods: the configuration, the probe script, TLS, /tmp. */}}
{{- define "tessera.volumes" -}}
{{- $v := .Values -}}
- name: config
  configMap:
    name: {{ include "tessera.fullname" . }}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- if $v.tls.enabled }}
- name: tls
  secret:
    secretName: {{ include "tessera.tlsSecretName" . }}
    defaultMode: 0440
{{- end }}
{{- if $v.redis.tls.enabled }}
- name: redis-tls
  secret:
    secretName: {{ $v.redis.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "tessera.volumeMounts" -}}
{{- $v := .Values -}}
- name: config
  mountPath: /etc/tessera/tessera.yaml
  subPath: tessera.yaml
  readOnly: true
- name: config
  mountPath: /etc/tessera/probe
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if $v.tls.enabled }}
- name: tls
  mountPath: {{ include "tessera.tlsDir" . }}
  readOnly: true
{{- end }}
{{- if $v.redis.tls.enabled }}
- name: redis-tls
  mountPath: {{ include "tessera.redisTlsDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* topologySpreadConstraints of a component: include "tessera.topologySpread" (list $ "server" .Values.server.topologySpread) */}}
{{- define "tessera.topologySpread" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $spread := index . 2 -}}
{{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
- maxSkew: {{ $spread.maxSkew }}
  topologyKey: {{ $key }}
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "tessera.componentSelector" (list $root $component) | nindent 6 }}
{{- end }}
{{- end -}}

{{- define "tessera.egressRules" -}}
{{- if .Values.networkPolicy.egress.enabled }}
egress:
  # DNS, then what the values allow (Redis Cluster, ClickHouse, an OTLP collector).
  - ports:
      - { port: 53, protocol: UDP }
      - { port: 53, protocol: TCP }
  {{- with .Values.networkPolicy.egress.to }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* The apply Job's environment: the store secrets, from the hook's copy when the chart holds them. */}}
{{- define "tessera.applySecretEnv" -}}
{{- $v := .Values -}}
{{- $own := printf "%s-apply" (include "tessera.fullname" .) -}}
- name: HOME
  value: /tmp
{{- if $v.redis.password.enabled }}
- name: TESSERA_BACKEND_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default $own $v.redis.password.existingSecret }}
      key: {{ if $v.redis.password.existingSecret }}{{ $v.redis.password.existingSecretKey }}{{ else }}redis-password{{ end }}
{{- end }}
{{- if $v.clickhouse.enabled }}
- name: TESSERA_BACKEND_CLICKHOUSE_URL
  valueFrom:
    secretKeyRef:
      name: {{ default $own $v.clickhouse.existingSecret }}
      key: {{ if $v.clickhouse.existingSecret }}{{ $v.clickhouse.existingSecretKey }}{{ else }}clickhouse-url{{ end }}
{{- end }}
{{- end -}}

{{- define "tessera.applyVolumeMounts" -}}
- name: config
  mountPath: /etc/tessera/tessera.yaml
  subPath: tessera.yaml
  readOnly: true
- name: config
  mountPath: /etc/tessera/probe
  readOnly: true
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /data
{{- if .Values.registry.apply.enabled }}{{- if .Values.redis.tls.enabled }}
- name: redis-tls
  mountPath: {{ include "tessera.redisTlsDir" . }}
  readOnly: true
{{- end }}{{- end }}
{{- end -}}
