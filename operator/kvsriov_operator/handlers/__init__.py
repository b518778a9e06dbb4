"""Thin kopf handlers, one module per kind; importing this package registers them all."""

from kvsriov_operator import settings
from kvsriov_operator.handlers import kubevirt, l2, l3, migration, vms, webhooks

__all__ = ["kubevirt", "l2", "l3", "migration", "settings", "vms", "webhooks"]
