"""Money and dates as the customer reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from nudge.formatting import long_date, money, resolve_locale, resolve_timezone


@pytest.mark.parametrize(
    ("tag", "amount", "currency", "expected"),
    [
        ("en-US", "1234.5", "USD", "$1,234.50"),
        ("de-DE", "1234.5", "EUR", "1.234,50\xa0€"),
        ("en-IN", "123456", "INR", "₹1,23,456.00"),
        ("ja-JP", "15800", "JPY", "￥15,800"),
        ("en-GB", "0.1", "GBP", "£0.10"),
    ],
)
def test_money_is_formatted_for_the_customers_locale(
    tag: str, amount: str, currency: str, expected: str
) -> None:
    assert money(Decimal(amount), currency, resolve_locale(tag, "en-US")) == expected


@pytest.mark.parametrize("tag", [None, "", "xx-not-a-locale", "!!"])
def test_a_missing_or_unknown_locale_falls_back_to_the_default(tag: str | None) -> None:
    assert str(resolve_locale(tag, "de-DE")) == "de_DE"


def test_dates_are_shown_in_the_customers_timezone() -> None:
    late_evening_utc = datetime(2026, 11, 23, 20, 30, tzinfo=UTC)
    # Already the next day in Tokyo.
    assert (
        long_date(late_evening_utc, resolve_locale("en-US", "en-US"), resolve_timezone("Asia/Tokyo"))
        == "November 24, 2026"
    )
    assert (
        long_date(late_evening_utc, resolve_locale("de-DE", "en-US"), resolve_timezone(None))
        == "23. November 2026"
    )


def test_an_unknown_timezone_falls_back_to_utc() -> None:
    assert str(resolve_timezone("Mars/Olympus_Mons")) == "UTC"


def test_equal_amounts_format_alike_whichever_is_formatted_first() -> None:
    # money() remembers what it formatted, and Decimal("129.0") == Decimal("129.00") share an entry
    german = resolve_locale("de-DE", "en-US")
    first, second = money(Decimal("129.0"), "EUR", german), money(Decimal("129.00"), "EUR", german)
    assert first == second == "129,00\xa0€"
    assert money(Decimal("129"), "JPY", resolve_locale("ja-JP", "en-US")) == "￥129"
