"""What the unsubscribe endpoint needs, read from its environment at handler entry."""

from pydantic import Field

from nudge.environment_settings import EnvironmentSettings


class UnsubscribeSettings(EnvironmentSettings):
    """What the unsubscribe endpoint needs: where profiles live, the signing key's secret, and where
    consent statements are kept. (The SES feedback function has settings of its own, in
    ``nudge.feedback``.)"""

    customers_table: str = Field(validation_alias="CUSTOMERS_TABLE", min_length=1)
    unsubscribe_key_secret: str = Field(validation_alias="UNSUBSCRIBE_KEY_SECRET", min_length=1)
    consent_history_table: str | None = Field(default=None, validation_alias="CONSENT_HISTORY_TABLE")
    """Where an unsubscribe is kept as a consent statement (withdrawn, ``unsubscribe_<how>``)."""
