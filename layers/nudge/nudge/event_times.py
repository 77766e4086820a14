"""Event times: every time an event says something happened at, store's or SES's.

Two bounds, both refused as validation errors naming the field (the event is dead-lettered at once):

- From 2000 up to, not including, 2100: a time outside them can never be stored or compared usefully.
- Not more than ``MAX_CLOCK_SKEW_SECONDS`` ahead of the clock (a day by default). The fields these times
  land in only move forward (a customer's latest cart, last order, last open; a product's or a field
  group's newest update), so one event from the far future would freeze them until that date: a cart
  "abandoned" in 2099 would supersede every real reminder, an order from 2099 end every series.

The second bound needs the clock and the setting, which the batch processor gives as pydantic's
validation context (``validation_context``) when it validates a record. A model validated without it
(a contract test, a sample file) checks the first bound only.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NamedTuple

from pydantic import AfterValidator, AwareDatetime, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from nudge.environment_settings import EnvironmentSettings
from nudge.timeutil import to_stored

EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
END_OF_EVENT_TIMES = datetime(2100, 1, 1, tzinfo=UTC)
"""Exclusive: every event time is before it."""

DEFAULT_MAX_CLOCK_SKEW_SECONDS = 86_400
MIN_MAX_CLOCK_SKEW_SECONDS = 60
MAX_MAX_CLOCK_SKEW_SECONDS = 7 * 86_400

_CONTEXT_KEY = "nudge_event_clock"


class EventClock(NamedTuple):
    """When the events of a batch are received, and how far ahead of that a store's clock may be."""

    now: datetime
    max_skew: timedelta

    @property
    def latest(self) -> datetime:
        """The latest time an event may name."""
        return self.now + self.max_skew


def validation_context(now: datetime, max_skew: timedelta) -> dict[str, Any]:
    """Pydantic's validation context that bounds event times by this clock (``model_validate(...,
    context=...)``)."""
    return {_CONTEXT_KEY: EventClock(now=now, max_skew=max_skew)}


def _clock_of(info: ValidationInfo) -> EventClock | None:
    context = info.context
    clock = context.get(_CONTEXT_KEY) if isinstance(context, dict) else None
    return clock if isinstance(clock, EventClock) else None


def _within_event_times(moment: datetime, info: ValidationInfo) -> datetime:
    if not EARLIEST_EVENT_TIME <= moment < END_OF_EVENT_TIMES:
        raise PydanticCustomError(
            "timestamp_out_of_range",
            "timestamp must be from {earliest} up to, not including, {end}",
            {"earliest": to_stored(EARLIEST_EVENT_TIME), "end": to_stored(END_OF_EVENT_TIMES)},
        )
    clock = _clock_of(info)
    if clock is not None and moment > clock.latest:
        raise PydanticCustomError(
            "timestamp_in_future",
            "timestamp is more than {max_skew_seconds} seconds ahead of the clock",
            {"max_skew_seconds": int(clock.max_skew.total_seconds())},
        )
    return moment


EventTime = Annotated[AwareDatetime, AfterValidator(_within_event_times)]
"""Every time an event names: timezone-aware, within the years an event can be about, and (validated
with ``validation_context``) not further ahead of the clock than the skew allows."""


class EventTimeSettings(EnvironmentSettings):
    """What every function that receives events needs to bound their times; the other settings of a
    queue-fed function extend it. The alias is the environment variable set in ``template.yaml``."""

    max_clock_skew_seconds: int = Field(
        default=DEFAULT_MAX_CLOCK_SKEW_SECONDS,
        ge=MIN_MAX_CLOCK_SKEW_SECONDS,
        le=MAX_MAX_CLOCK_SKEW_SECONDS,
        validation_alias="MAX_CLOCK_SKEW_SECONDS",
    )
    """How far ahead of the clock an event's time may be (a store's clock running fast) before the
    event is refused as ``timestamp_in_future``."""

    @property
    def max_clock_skew(self) -> timedelta:
        return timedelta(seconds=self.max_clock_skew_seconds)
