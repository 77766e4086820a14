"""Configuration read at handler entry: a missing variable is named, never guessed."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from local_stack.emulator.cfn import load_template
from local_stack.emulator.stack import TEMPLATE_PATH
from nudge.settings import Settings
from nudge.triggers import TRIGGERS
from tests.unit.environment import TRIGGER_ENVIRONMENT as COMPLETE


def test_settings_come_from_the_environment_with_defaults() -> None:
    settings = Settings.from_environment(COMPLETE)
    assert settings.customers_table == "customers"
    assert settings.store.name == "Shop"
    assert settings.replay_window.days == 30
    assert settings.delivery_record_retention.days == 400
    assert settings.default_locale == "en-US"
    assert settings.default_timezone == "UTC"
    assert (settings.quiet_hours.start.hour, settings.quiet_hours.end.hour) == (21, 8)
    assert (settings.frequency_cap_emails, settings.frequency_cap_window.days) == (1, 1)
    assert settings.max_clock_skew.total_seconds() == 86_400


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("QUIET_HOURS_START", "25:00", "quiet_hours.start"),
        ("FREQUENCY_CAP_EMAILS", "11", "FREQUENCY_CAP_EMAILS"),
        ("FREQUENCY_CAP_HOURS", "0", "FREQUENCY_CAP_HOURS"),
        ("MAX_CLOCK_SKEW_SECONDS", "59", "MAX_CLOCK_SKEW_SECONDS"),
        ("MAX_CLOCK_SKEW_SECONDS", "604801", "MAX_CLOCK_SKEW_SECONDS"),
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


def test_the_order_thank_you_is_exempt_from_the_cap_by_default() -> None:
    assert Settings.from_environment(COMPLETE).frequency_cap_exempt == {"order_placed"}


@pytest.mark.parametrize(
    ("value", "exempt"),
    [
        ("", set()),
        ("order_placed", {"order_placed"}),
        ("order_placed,cart_abandoned", {"order_placed", "cart_abandoned"}),
        (" order_placed , customer_lapsed ", {"order_placed", "customer_lapsed"}),
    ],
)
def test_exempt_triggers_are_a_comma_separated_parameter(value: str, exempt: set[str]) -> None:
    settings = Settings.from_environment({**COMPLETE, "FREQUENCY_CAP_EXEMPT_TRIGGERS": value})
    assert settings.frequency_cap_exempt == exempt


def test_the_template_accepts_every_trigger_as_exempt_and_refuses_a_typo() -> None:
    """CloudFormation checks the parameter at deploy time: a misspelt trigger must not silently cap
    the thank-you, and a new trigger must be allowed here."""
    parameter = load_template(TEMPLATE_PATH)["Parameters"]["FrequencyCapExemptTriggers"]
    allowed = re.compile(parameter["AllowedPattern"])
    names = [trigger.name for trigger in TRIGGERS]
    assert allowed.fullmatch(parameter["Default"])
    assert allowed.fullmatch("")
    assert allowed.fullmatch(",".join(names))
    assert all(allowed.fullmatch(name) for name in names)
    assert not allowed.fullmatch("order_place")
    assert not allowed.fullmatch("order_placed,")


def test_the_replay_window_stays_within_the_delivery_records_that_recognise_a_replay() -> None:
    # A replay older than the delivery record that would recognise it would send again
    assert Settings.from_environment({**COMPLETE, "IDEMPOTENCY_TTL_DAYS": "400"}).replay_window.days == 400
    with pytest.raises(ValidationError, match="IDEMPOTENCY_TTL_DAYS") as raised:
        Settings.from_environment({**COMPLETE, "IDEMPOTENCY_TTL_DAYS": "401"})
    assert "delivery records" in str(raised.value)


def test_the_template_bounds_the_replay_window_by_the_delivery_records_retention() -> None:
    parameter = load_template(TEMPLATE_PATH)["Parameters"]["IdempotencyTtlDays"]
    retention = Settings.from_environment(COMPLETE).delivery_record_ttl_days
    assert 1 <= int(parameter["Default"]) <= int(parameter["MaxValue"]) <= retention


def test_every_function_gets_the_clock_skew_bounded_by_the_template() -> None:
    template = load_template(TEMPLATE_PATH)
    parameter = template["Parameters"]["MaxClockSkewSeconds"]
    assert int(parameter["Default"]) == 86_400
    assert 0 < int(parameter["MinValue"]) <= 86_400 <= int(parameter["MaxValue"]) <= 7 * 86_400
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["MAX_CLOCK_SKEW_SECONDS"] == {"Ref": "MaxClockSkewSeconds"}
