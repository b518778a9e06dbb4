"""CustomResourceDefinition handling: loading YAML files and the CRD lifecycle.

A stored CRD is what makes a resource type served, so creating one must
also produce the status a real server reports once it has accepted the names
(``Established`` and ``NamesAccepted``): clients such as ``kubectl wait
--for=condition=Established`` and operators' startup checks look for them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from .errors import invalid

Obj = dict[str, Any]
CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
THIRDPARTY_DIR = Path(__file__).parent / "thirdparty_crds"


def load_crd_files(dirs: list[Path]) -> list[Obj]:
    """Every CustomResourceDefinition document in ``*.yaml``/``*.yml``/``*.json`` under ``dirs``."""
    crds: list[Obj] = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml", ".json")):
            for doc in yaml.safe_load_all(path.read_text()):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    crds.append(doc)
    return crds


def check_crd(crd: Obj) -> None:
    """Refuse CRDs whose names cannot be served (422 like the real server)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    name = crd.get("metadata", {}).get("name", "")
    causes = []
    if not spec.get("group"):
        causes.append({"reason": "FieldValueRequired", "field": "spec.group", "message": "Required value"})
    if not names.get("plural") or not names.get("kind"):
        causes.append(
            {
                "reason": "FieldValueRequired",
                "field": "spec.names",
                "message": "Required value: plural and kind are required",
            }
        )
    elif name != f"{names['plural']}.{spec.get('group')}":
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "field": "metadata.name",
                "message": f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
            }
        )
    if not spec.get("versions"):
        causes.append({"reason": "FieldValueRequired", "field": "spec.versions", "message": "Required value"})
    if causes:
        raise invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, causes)


def established_status(crd: Obj, old: Obj | None) -> Obj:
    """Status of an accepted CRD; transition times are kept from ``old`` when unchanged."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = {c.get("type"): c for c in ((old or {}).get("status") or {}).get("conditions") or []}
    names = dict(crd["spec"]["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", f"{names['kind']}List")
    conditions = []
    for ctype, reason, message in (
        ("NamesAccepted", "NoConflicts", "no conflicts found"),
        ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
    ):
        since = before.get(ctype, {}).get("lastTransitionTime", now)
        conditions.append(
            {
                "type": ctype,
                "status": "True",
                "reason": reason,
                "message": message,
                "lastTransitionTime": since,
            }
        )
    stored = [v["name"] for v in crd["spec"].get("versions", []) if v.get("storage")]
    return {"acceptedNames": names, "conditions": conditions, "storedVersions": stored}
