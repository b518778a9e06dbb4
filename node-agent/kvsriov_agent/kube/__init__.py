"""A small Kubernetes API client on the standard library (see client.py for why not the official one)."""

from kvsriov_agent.kube.client import ApiError, KubeClient, ResourcePath
from kvsriov_agent.kube.config import KubeConfig, load_config

__all__ = ["ApiError", "KubeClient", "KubeConfig", "ResourcePath", "load_config"]
