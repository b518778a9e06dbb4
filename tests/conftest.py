"""Shared pytest configuration."""

pytest_plugins = ["kvsriov.sandbox.pytest_plugin"]
