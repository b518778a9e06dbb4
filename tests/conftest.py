"""Shared pytest configuration."""

from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ["kvsriov.sandbox.pytest_plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/unit/golden/ from the current renderers instead of comparing with them",
    )


@pytest.fixture
def matches_golden(request: pytest.FixtureRequest) -> Callable[[Path, str], None]:
    """Compare `rendered` with the golden file at `path`; with --update-golden, rewrite it first."""

    def check(path: Path, rendered: str) -> None:
        if request.config.getoption("--update-golden"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(rendered)
        assert path.exists(), f"{path} missing: run pytest --update-golden and review the diff"
        assert rendered == path.read_text(), f"{path} differs: run pytest --update-golden and review the diff"

    return check
