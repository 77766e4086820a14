"""Configuration of the engagement function, read from the environment at handler entry."""

from pydantic import Field

from nudge.event_times import EventTimeSettings
from nudge.sqs_batches import BACKOFF_JITTER

SEND_EVENT_RECEIVES = 16
"""The engagement queue's maxReceiveCount (template.yaml): how often a Send event is tried."""


class EngagementSettings(EventTimeSettings):
    """The field aliases are the environment variable names set in ``template.yaml``."""

    customers_table: str = Field(validation_alias="CUSTOMERS_TABLE", min_length=1)
    deliveries_table: str = Field(validation_alias="DELIVERIES_TABLE", min_length=1)
    configuration_set: str = Field(validation_alias="SES_CONFIGURATION_SET", min_length=1)
    """This stack's configuration set: events of any other (another stack's, or forged) are ignored.
    Required: without it no event could be told from a forged one."""
    queue_url: str | None = Field(default=None, validation_alias="QUEUE_URL")
    dead_letter_queue_url: str | None = Field(default=None, validation_alias="DEAD_LETTER_QUEUE_URL")
    unconfirmed_send_grace_seconds: int = Field(
        default=600, ge=0, validation_alias="UNCONFIRMED_SEND_GRACE_SECONDS"
    )

    @property
    def retry_backoff_cap_seconds(self) -> int:
        """A failed record comes back within this: a Send event failing on every receive but its
        last is still recorded within half the grace after which a sender would send its email
        again (a late Send event would then mean the same email twice)."""
        per_receive = self.unconfirmed_send_grace_seconds / (2 * SEND_EVENT_RECEIVES * BACKOFF_JITTER)
        return max(1, int(per_receive))
