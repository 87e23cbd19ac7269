{{/* Chart name, truncated to the 63 characters of a label value. */}}
{{- define "aws-lb-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects. */}}
{{- define "aws-lb-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "aws-lb-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "aws-lb-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels selecting the operator's pods. */}}
{{- define "aws-lb-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aws-lb-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Name of the ServiceAccount. */}}
{{- define "aws-lb-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aws-lb-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Port of metricsBindAddress ("0.0.0.0:8080" -> 8080). */}}
{{- define "aws-lb-operator.metricsPort" -}}
{{- $port := regexFind "[0-9]+$" .Values.metricsBindAddress }}
{{- if not $port }}
{{- fail (printf "metricsBindAddress %q must end with a port, e.g. 0.0.0.0:8080" .Values.metricsBindAddress) }}
{{- end }}
{{- $port }}
{{- end }}

{{/* Namespace of the leader-election Lease. */}}
{{- define "aws-lb-operator.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElectionNamespace }}
{{- end }}
