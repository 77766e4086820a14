"""What the unsubscribe endpoint needs, read from its environment at handler entry."""

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field


class UnsubscribeSettings(BaseModel):
    """What the unsubscribe endpoint and the SES feedback handler need: where profiles live, and the
    signing key's secret."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)

    customers_table: str = Field(validation_alias="CUSTOMERS_TABLE", min_length=1)
    unsubscribe_key_secret: str = Field(validation_alias="UNSUBSCRIBE_KEY_SECRET", min_length=1)
    consent_history_table: str | None = Field(default=None, validation_alias="CONSENT_HISTORY_TABLE")
    """Where an unsubscribe is kept as a consent statement (withdrawn, ``unsubscribe_<how>``)."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        return cls.model_validate(dict(os.environ if environ is None else environ))
