"""One timestamp format for everything we store, so stored times compare correctly as strings."""

from __future__ import annotations

from datetime import UTC, datetime


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
