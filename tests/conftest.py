"""Shared pytest configuration."""

import pytest

pytest_plugins = ["kvsriov.sandbox.pytest_plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/unit/golden/ from the current renderers instead of comparing with them",
    )
