{{- define "moeserve.fullname" -}}
{{- printf "%s-moeserve" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "moeserve.labels" -}}
app.kubernetes.io/name: moeserve
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* gRPC health probes on port $port: startup, readiness, liveness. */}}
{{- define "moeserve.probes" -}}
startupProbe:
  grpc: {port: {{ .port }}}
  {{- toYaml .probes.startup | nindent 2 }}
readinessProbe:
  grpc: {port: {{ .port }}}
  {{- toYaml .probes.readiness | nindent 2 }}
livenessProbe:
  grpc: {port: {{ .port }}}
  {{- toYaml .probes.liveness | nindent 2 }}
{{- end -}}

{{/* The model volume and the cluster ConfigMap, mounted the same way in every pod. */}}
{{- define "moeserve.volumes" -}}
volumes:
  - name: model
    persistentVolumeClaim:
      claimName: {{ .Values.model.claimName }}
      readOnly: true
  - name: config
    configMap:
      name: {{ include "moeserve.fullname" . }}-config
{{- end -}}

{{- define "moeserve.volumeMounts" -}}
volumeMounts:
  - name: model
    mountPath: /models/model
    subPath: {{ .Values.model.subPath }}
    readOnly: true
  - name: config
    mountPath: /etc/moeserve
    readOnly: true
{{- end -}}
