"""Thin kopf handlers, one module per kind; importing this package registers them all."""

from kvsriov_operator import settings
from kvsriov_operator.handlers import l2, l3, webhooks

__all__ = ["l2", "l3", "settings", "webhooks"]
