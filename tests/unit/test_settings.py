"""Configuration read at handler entry: a missing variable is named, never guessed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nudge.settings import Settings
from tests.unit.environment import TRIGGER_ENVIRONMENT as COMPLETE


def test_settings_come_from_the_environment_with_defaults() -> None:
    settings = Settings.from_environment(COMPLETE)
    assert settings.customers_table == "customers"
    assert settings.store.name == "Shop"
    assert settings.idempotency_ttl_seconds == 30 * 24 * 3600
    assert settings.delivery_record_retention.days == 400
    assert settings.default_locale == "en-US"
    assert settings.default_timezone == "UTC"
    assert (settings.quiet_hours.start.hour, settings.quiet_hours.end.hour) == (21, 8)
    assert (settings.frequency_cap_emails, settings.frequency_cap_window.days) == (1, 1)


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("QUIET_HOURS_START", "25:00", "quiet_hours.start"),
        ("FREQUENCY_CAP_EMAILS", "11", "FREQUENCY_CAP_EMAILS"),
        ("FREQUENCY_CAP_HOURS", "0", "FREQUENCY_CAP_HOURS"),
    ],
)
def test_an_impossible_value_is_named_in_the_error(variable: str, value: str, named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        Settings.from_environment({**COMPLETE, variable: value})


@pytest.mark.parametrize(
    "variable", ["CUSTOMERS_TABLE", "SENDER_ADDRESS", "STORE_POSTAL_ADDRESS", "DEFERRAL_QUEUE_ARN"]
)
def test_a_missing_variable_is_named_in_the_error(variable: str) -> None:
    environment = {k: v for k, v in COMPLETE.items() if k != variable}
    with pytest.raises(ValidationError, match=variable):
        Settings.from_environment(environment)
