"""One timestamp format for everything we store, so stored times compare correctly as strings."""

from __future__ import annotations

from datetime import UTC, datetime


def to_stored(moment: datetime) -> str:
    """UTC, second precision, fixed width: lexicographic order equals time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now() -> datetime:
    return datetime.now(UTC)
