"""Configuration of the catalog function, read from the environment at handler entry."""

from datetime import timedelta

from pydantic import Field

from nudge.event_times import EventTimeSettings


class CatalogSettings(EventTimeSettings):
    """The field aliases are the environment variable names set in ``template.yaml``."""

    products_table: str = Field(validation_alias="PRODUCTS_TABLE", min_length=1)
    recommendations_table: str = Field(validation_alias="RECOMMENDATIONS_TABLE", min_length=1)
    queue_url: str | None = Field(default=None, validation_alias="QUEUE_URL")
    dead_letter_queue_url: str | None = Field(default=None, validation_alias="DEAD_LETTER_QUEUE_URL")
    bestseller_window_days: int = Field(default=30, ge=1, le=365, validation_alias="BESTSELLER_WINDOW_DAYS")
    """Best-sellers count the orders of this many days, today included."""
    bestsellers_max_age_minutes: int = Field(default=60, ge=1, validation_alias="BESTSELLERS_MAX_AGE_MINUTES")
    """A full best-seller list older than this is recomputed by the next event that sees it."""
    order_guard_ttl_days: int = Field(default=400, ge=1, validation_alias="ORDER_GUARD_TTL_DAYS")
    """How long an order's guard row says it was counted: a replay within it counts nothing."""

    @property
    def bestseller_window(self) -> timedelta:
        return timedelta(days=self.bestseller_window_days)

    @property
    def bestsellers_max_age(self) -> timedelta:
        return timedelta(minutes=self.bestsellers_max_age_minutes)

    @property
    def order_guard_retention(self) -> timedelta:
        return timedelta(days=self.order_guard_ttl_days)
