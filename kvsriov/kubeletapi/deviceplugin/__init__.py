"""Device plugin API (k8s.io/kubelet pkg/apis/deviceplugin)."""
