"""The handlers of one operator run: every decorated handler, plus the ones the knobs ask for.

The handler modules register with kopf's default registry at import (the usual kopf style).
A handler that must exist only for some knobs, the launcher-pod webhook (absent with
`--vf-requests network-resources-injector` or `--webhook-server none`), cannot live there: the
default registry is one per process, and a webhook kopf manages is registered in the cluster
with its failure policy whether or not it would act. So each run gets its own registry, a copy
of the default one plus those handlers. kopf (1.45) offers `append` and `get_all_handlers` on
each of its sub-registries but no copy; the sub-registry attributes below are its own names
(kopf/_core/intents/registries.py OperatorRegistry).
"""

from __future__ import annotations

import kopf

from kvsriov_operator.handlers import launcher
from kvsriov_operator.settings import Knobs

_PARTS = ("_activities", "_indexing", "_watching", "_spawning", "_changing", "_webhooks")


def run_registry(knobs: Knobs) -> kopf.OperatorRegistry:
    import kvsriov_operator.handlers  # noqa: F401  (registers the decorated handlers)

    default = kopf.get_default_registry()
    registry = kopf.OperatorRegistry()
    for part in _PARTS:
        target = getattr(registry, part)
        for handler in getattr(default, part).get_all_handlers():
            target.append(handler)
    if knobs.injects_vf_requests:
        launcher.register(registry)
    return registry
