"""core/v1 Events: how a change or refusal reaches `kubectl describe` and `kubectl get events`.

Repeats of the same (object, reason, message) bump `count` on the Event
already written, as the kubelet's recorder does, instead of piling up new ones.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from kvsriov_agent.kube.client import ApiError, KubeClient, Obj, ResourcePath

log = logging.getLogger(__name__)

EVENTS = ResourcePath("", "v1", "events")
#: Cluster-scoped objects get their Events in `default`, as kubectl looks for them there.
DEFAULT_NAMESPACE = "default"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    def __init__(self, client: KubeClient, component: str, host: str) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._seen: dict[tuple[str, str, str, str], tuple[str, int]] = {}

    def record(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Best effort: an Event that cannot be written is logged, never fatal to reconciling."""
        meta = obj.get("metadata", {})
        namespace = meta.get("namespace") or DEFAULT_NAMESPACE
        key = (str(meta.get("uid", meta.get("name"))), type_, reason, message)
        try:
            if key in self._seen:
                name, count = self._seen[key]
                patch = {"count": count + 1, "lastTimestamp": _now()}
                self.client.merge_patch(EVENTS, name, patch, namespace=namespace)
                self._seen[key] = (name, count + 1)
                return
            name = f"{meta.get('name', 'object')}.{uuid.uuid4().hex[:12]}"
            now = _now()
            self.client.create(
                EVENTS,
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": name, "namespace": namespace},
                    "involvedObject": {
                        "apiVersion": obj.get("apiVersion"),
                        "kind": obj.get("kind"),
                        "name": meta.get("name"),
                        "namespace": meta.get("namespace"),
                        "uid": meta.get("uid"),
                        "resourceVersion": meta.get("resourceVersion"),
                    },
                    "reason": reason,
                    "message": message,
                    "type": type_,
                    "count": 1,
                    "firstTimestamp": now,
                    "lastTimestamp": now,
                    "source": {"component": self.component, "host": self.host},
                    "reportingComponent": self.component,
                    "reportingInstance": self.host,
                },
                namespace=namespace,
            )
            self._seen[key] = (name, 1)
        except (ApiError, OSError) as err:
            log.warning("could not record event %s on %s: %s", reason, meta.get("name"), err)
