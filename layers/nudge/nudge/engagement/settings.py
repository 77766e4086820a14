"""Configuration of the engagement function, read from the environment at handler entry."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import ConfigDict, Field

from nudge.event_times import EventTimeSettings


class EngagementSettings(EventTimeSettings):
    """The field aliases are the environment variable names set in ``template.yaml``."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    customers_table: str = Field(validation_alias="CUSTOMERS_TABLE", min_length=1)
    deliveries_table: str = Field(validation_alias="DELIVERIES_TABLE", min_length=1)
    configuration_set: str = Field(validation_alias="SES_CONFIGURATION_SET", min_length=1)
    """This stack's configuration set: events of any other (another stack's, or forged) are ignored.
    Required: without it no event could be told from a forged one."""
    queue_url: str | None = Field(default=None, validation_alias="QUEUE_URL")
    dead_letter_queue_url: str | None = Field(default=None, validation_alias="DEAD_LETTER_QUEUE_URL")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> EngagementSettings:
        return cls.model_validate(dict(os.environ if environ is None else environ))
