"""When an email would land at night in the customer's timezone, and when their morning begins."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from nudge.quiet_hours import QuietHours

NIGHT = QuietHours(start=time(21), end=time(8))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now_utc", "zone", "morning_utc"),
    [
        # 23:30 in Tokyo (UTC+9, no DST): the next 08:00 there
        ("2026-11-23T14:30", "Asia/Tokyo", "2026-11-23T23:00"),
        # 06:30 in Los Angeles (PST): still night, later the same local day
        ("2026-11-23T14:30", "America/Los_Angeles", "2026-11-23T16:00"),
        # 21:00 sharp in Kolkata (UTC+5:30): quiet hours have begun
        ("2026-11-23T15:30", "Asia/Kolkata", "2026-11-24T02:30"),
        # New York, the night DST ends (1 Nov 2026): 22:00 EDT to 08:00 EST is 11 hours
        ("2026-11-01T02:00", "America/New_York", "2026-11-01T13:00"),
        # Berlin, the night DST begins (29 Mar 2026): 22:00 CET to 08:00 CEST is 9 hours
        ("2026-03-28T21:00", "Europe/Berlin", "2026-03-29T06:00"),
        # Sydney, southern spring (DST begins 4 Oct 2026): 23:00 AEST to 08:00 AEDT
        ("2026-10-03T13:00", "Australia/Sydney", "2026-10-03T21:00"),
        # Kathmandu (UTC+5:45)
        ("2026-11-23T20:00", "Asia/Kathmandu", "2026-11-24T02:15"),
    ],
)
def test_a_night_time_email_waits_for_eight_in_the_customers_morning(
    now_utc: str, zone: str, morning_utc: str
) -> None:
    assert NIGHT.over_at(utc(now_utc), ZoneInfo(zone)) == utc(morning_utc)


@pytest.mark.parametrize(
    ("now_utc", "zone"),
    [
        ("2026-11-23T14:30", "Europe/London"),  # 14:30
        ("2026-11-23T14:30", "America/Chicago"),  # 08:30
        ("2026-11-23T16:00", "America/Los_Angeles"),  # 08:00 sharp: quiet hours are over
        ("2026-11-23T15:29", "Asia/Kolkata"),  # 20:59
        # The first morning of US daylight saving time (8 Mar 2026): 08:00 EDT is 12:00 UTC
        ("2026-03-08T12:00", "America/New_York"),
    ],
)
def test_a_daytime_email_goes_now(now_utc: str, zone: str) -> None:
    assert NIGHT.over_at(utc(now_utc), ZoneInfo(zone)) is None


def test_quiet_hours_within_one_day_do_not_span_midnight() -> None:
    siesta = QuietHours(start=time(14), end=time(16))
    madrid = ZoneInfo("Europe/Madrid")
    assert siesta.over_at(utc("2026-11-23T13:30"), madrid) == utc("2026-11-23T15:00")
    assert siesta.over_at(utc("2026-11-23T22:00"), madrid) is None


def test_equal_start_and_end_mean_no_quiet_hours() -> None:
    never = QuietHours(start=time(8), end=time(8))
    assert never.over_at(utc("2026-11-23T03:00"), ZoneInfo("Europe/London")) is None


def test_an_end_inside_the_spring_forward_gap_moves_past_the_gap() -> None:
    # 02:30 does not exist in New York on 8 Mar 2026; the customer's clock reads 03:30 EDT then.
    early = QuietHours(start=time(0), end=time(2, 30))
    morning = early.over_at(utc("2026-03-08T06:00"), ZoneInfo("America/New_York"))
    assert morning == utc("2026-03-08T07:30")


def test_an_end_that_happens_twice_is_the_next_one_still_to_come() -> None:
    # 01:30 happens twice in New York on 1 Nov 2026; at 01:15 EST the EDT one is already past.
    early = QuietHours(start=time(0), end=time(1, 30))
    second_pass = utc("2026-11-01T06:15")  # 01:15 EST
    assert early.over_at(second_pass, ZoneInfo("America/New_York")) == utc("2026-11-01T06:30")
