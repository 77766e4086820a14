"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest

from local_stack.emulator.stack import REPO_ROOT
from nudge.settings import Settings
from tests.unit.environment import TRIGGER_ENVIRONMENT


@pytest.fixture(scope="session")
def settings() -> Settings:
    """A trigger function's settings, rendering the repository's own templates."""
    return Settings.from_environment(
        {**TRIGGER_ENVIRONMENT, "TEMPLATES_DIR": str(REPO_ROOT / "templates"), "STORE_NAME": "Example Shop"}
    )
