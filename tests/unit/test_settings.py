"""Configuration read at handler entry: a missing variable is named, never guessed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nudge.settings import Settings

COMPLETE = {
    "CUSTOMERS_TABLE": "customers",
    "SEGMENTS_TABLE": "segments",
    "DELIVERIES_TABLE": "deliveries",
    "IDEMPOTENCY_TABLE": "idempotency",
    "SENDER_ADDRESS": "Shop <hello@shop.example>",
    "SES_CONFIGURATION_SET": "marketing",
    "TEMPLATES_DIR": "/opt",
    "STORE_NAME": "Shop",
    "STORE_URL": "https://shop.example",
    "STORE_POSTAL_ADDRESS": "1 Market Street",
    "PREFERENCES_URL": "https://shop.example/prefs",
    "UNSUBSCRIBE_URL": "https://u.lambda-url.us-east-1.on.aws/",
    "UNSUBSCRIBE_KEY_SECRET": "arn:aws:secretsmanager:us-east-1:123456789012:secret:unsubscribe",
}


def test_settings_come_from_the_environment_with_defaults() -> None:
    settings = Settings.from_environment(COMPLETE)
    assert settings.customers_table == "customers"
    assert settings.store.name == "Shop"
    assert settings.idempotency_ttl_seconds == 30 * 24 * 3600
    assert settings.delivery_record_retention.days == 400
    assert settings.default_locale == "en-US"


@pytest.mark.parametrize("variable", ["CUSTOMERS_TABLE", "SENDER_ADDRESS", "STORE_POSTAL_ADDRESS"])
def test_a_missing_variable_is_named_in_the_error(variable: str) -> None:
    environment = {k: v for k, v in COMPLETE.items() if k != variable}
    with pytest.raises(ValidationError, match=variable):
        Settings.from_environment(environment)
