{{- define "kvsriov.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "kvsriov.labels" -}}
app.kubernetes.io/part-of: kvsriov
{{- end -}}
