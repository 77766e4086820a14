"""Configuration of the planner and the workers, read from the environment at handler entry."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from nudge.environment_settings import EnvironmentSettings


class RunSettings(EnvironmentSettings):
    """The field aliases are the environment variable names set in ``template.yaml``."""

    customers_table: str = Field(validation_alias="CUSTOMERS_TABLE", min_length=1)
    segments_table: str = Field(validation_alias="SEGMENTS_TABLE", min_length=1)
    deliveries_table: str = Field(validation_alias="DELIVERIES_TABLE", min_length=1)
    """Where the customers' send states are (``nudge.dal.send_state``): the send marks."""
    runs_table: str = Field(validation_alias="RUNS_TABLE", min_length=1)
    work_queue_url: str = Field(validation_alias="WORK_QUEUE_URL", min_length=1)
    event_bus: str = Field(validation_alias="EVENT_BUS_NAME", min_length=1)
    event_source: str = Field(validation_alias="REENGAGEMENT_EVENT_SOURCE", min_length=1)
    parallelism: int = Field(validation_alias="REENGAGEMENT_PARALLELISM", ge=1, le=1000)
    """``ReengagementParallelism``: a run scans the Customers table in this many shards, one work
    item and at most one worker each (a work item's ``total_shards`` is its run's parallelism)."""
    timezone: str = Field(default="UTC", validation_alias="REENGAGEMENT_TIMEZONE")
    lapsed_after_days: int = Field(default=90, ge=1, validation_alias="LAPSED_AFTER_DAYS")
    cooldown_days: int = Field(default=30, ge=0, validation_alias="WINBACK_COOLDOWN_DAYS")
    page_size: int = Field(default=1000, ge=1, le=10_000, validation_alias="SCAN_PAGE_SIZE")
    checkpoint_ttl_days: int = Field(default=30, ge=1, validation_alias="RUN_RECORD_TTL_DAYS")
    # Stop taking new pages with this much of the invocation left, and continue in a fresh one.
    time_reserve_ms: int = Field(default=60_000, ge=0, validation_alias="WORKER_TIME_RESERVE_MS")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        ZoneInfo(name)  # raises for an unknown zone
        return name

    @property
    def lapsed_after(self) -> timedelta:
        return timedelta(days=self.lapsed_after_days)

    @property
    def cooldown(self) -> timedelta:
        return timedelta(days=self.cooldown_days)

    @property
    def checkpoint_retention(self) -> timedelta:
        return timedelta(days=self.checkpoint_ttl_days)
