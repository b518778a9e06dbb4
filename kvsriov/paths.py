"""Where the project's own files are, for the commands that read or write them.

`crds/` and `samples/` sit at the repository root beside the `kvsriov` package
(an editable install or the image's /app); KVSRIOV_CRDS_DIR overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def crds_dir() -> Path:
    return Path(os.environ.get("KVSRIOV_CRDS_DIR", PROJECT_ROOT / "crds"))


def kustomize_crds_dir() -> Path:
    """The CRDs again, as a kustomization (deploy/kustomize/base includes it): kustomize reads
    no file outside a kustomization's own directory, and `crds/` stays plain for `kubectl -f`."""
    return PROJECT_ROOT / "deploy" / "kustomize" / "crds"


def helm_crds_dir() -> Path:
    """The CRDs again, in the chart's crds/ (Helm installs those before the templates)."""
    return PROJECT_ROOT / "deploy" / "helm" / "kvsriov" / "crds"


def samples_dir() -> Path:
    return PROJECT_ROOT / "samples"
