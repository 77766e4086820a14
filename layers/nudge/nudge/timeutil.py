"""How times are stored: ISO 8601 for single attributes (they compare correctly as strings), and a
compact form for the histories a profile keeps (order dates, opens, clicks), where every byte of
every element is paid for on each write of the profile (one write unit per KB)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal


def to_stored(moment: datetime) -> str:
    """UTC, second precision, fixed width: lexicographic order equals time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_stored_ms(moment: datetime) -> str:
    """UTC with milliseconds, fixed width: an SES event's own timestamp, precise enough to tell two
    opens of one email apart (and so to recognise the same event delivered twice)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def to_epoch_seconds(moment: datetime) -> int:
    """A history element of ``recent_order_dates``: 6 bytes as a DynamoDB number, not 20."""
    return int(moment.timestamp())


def to_epoch_ms_text(moment: datetime) -> str:
    """A history element of ``recent_open_dates``/``recent_click_dates`` (string sets): the SES
    event's millisecond time as digits, 13 bytes instead of 24, and still a string, so it joins the
    sets profiles already hold."""
    return str(int(moment.timestamp() * 1000))


# Above this a number is milliseconds, not seconds (seconds reach it in the year 2603).
_MILLISECONDS_FROM = 20_000_000_000


def from_stored_moment(value: object) -> object:
    """A stored history element as pydantic reads a datetime: ISO text as it is; epoch seconds or
    milliseconds (a DynamoDB number, or digits in a string set) as an aware UTC datetime."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = float(value)
        seconds = number / 1000 if number >= _MILLISECONDS_FROM else number
        return datetime.fromtimestamp(seconds, UTC)
    return value


def stored_moment(value: str | int | Decimal) -> datetime:
    """A stored history element, whichever form it has, as an aware UTC datetime."""
    parsed = from_stored_moment(value)
    return parsed if isinstance(parsed, datetime) else datetime.fromisoformat(str(parsed))


def to_stored_precise(moment: datetime) -> str:
    """UTC with microseconds, fixed width: for times that order a store's own changes, which may come
    within one second of each other (a sign-up, then its consent). Compare only with its own kind."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
