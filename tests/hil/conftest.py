"""Hardware-in-the-loop tier: `hil` tests run only inside the QEMU test bed (TESTBED.md)."""

from __future__ import annotations

import os

import pytest

SKIP_REASON = "needs the QEMU test bed: run via ../shared/testbed/run-guest.sh"


def in_testbed() -> bool:
    """run-guest.sh sets KVSRIOV_TESTBED=1 in the guest's environment."""
    return os.environ.get("KVSRIOV_TESTBED") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if in_testbed():
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if item.get_closest_marker("hil") is not None:
            item.add_marker(skip)
