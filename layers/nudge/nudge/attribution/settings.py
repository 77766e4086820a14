"""Configuration of the attribution function, read from the environment at handler entry."""

from datetime import timedelta

from pydantic import Field

from nudge.event_times import EventTimeSettings


class AttributionSettings(EventTimeSettings):
    """The field aliases are the environment variable names set in ``template.yaml``."""

    deliveries_table: str = Field(validation_alias="DELIVERIES_TABLE", min_length=1)
    click_window_days: int = Field(default=5, ge=1, le=90, validation_alias="ATTRIBUTION_CLICK_WINDOW_DAYS")
    """An order within this many days after a click is the clicked email's."""
    delivery_window_days: int = Field(
        default=1, ge=0, le=90, validation_alias="ATTRIBUTION_DELIVERY_WINDOW_DAYS"
    )
    """Without a click, an order within this many days after a delivery is the delivered email's (0: off)."""
    delivery_record_ttl_days: int = Field(default=400, ge=1, validation_alias="DELIVERY_RECORD_TTL_DAYS")
    queue_url: str | None = Field(default=None, validation_alias="QUEUE_URL")
    dead_letter_queue_url: str | None = Field(default=None, validation_alias="DEAD_LETTER_QUEUE_URL")

    @property
    def click_window(self) -> timedelta:
        return timedelta(days=self.click_window_days)

    @property
    def delivery_window(self) -> timedelta:
        return timedelta(days=self.delivery_window_days)

    @property
    def guard_retention(self) -> timedelta:
        return timedelta(days=self.delivery_record_ttl_days)
