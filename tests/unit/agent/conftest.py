"""The agent's unit-test fixtures live in agent_helpers.py (a unique module name: tests/ has no packages)."""

from agent_helpers import recorded_netlink, ref_tree, tree

__all__ = ["recorded_netlink", "ref_tree", "tree"]
