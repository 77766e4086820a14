"""Money and dates in the customer's own locale and timezone (CLDR data through Babel)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency

UTC_ZONE = ZoneInfo("UTC")


@cache
def resolve_locale(tag: str | None, fallback: str) -> Locale:
    """A Babel locale for a BCP 47 tag such as ``de-DE``; the fallback for a missing or unknown tag."""
    for candidate in (tag, fallback):
        if not candidate:
            continue
        try:
            return Locale.parse(candidate.replace("-", "_"))
        except (ValueError, UnknownLocaleError):
            continue
    return Locale.parse("en_US")


@cache
def in_language(locale: Locale, language: str) -> Locale:
    """How dates and numbers read in copy written in ``language`` for a customer in ``locale``: their
    own locale when the copy is in its language, else that language in their region where CLDR knows
    it (English in Germany: "22 November 2026", "72,00 US$"), else the language's own. A sentence in
    one language with a date in another reads as a mistake."""
    if locale.language == language:
        return locale
    try:
        return Locale(language, locale.territory) if locale.territory else Locale.parse(language)
    except UnknownLocaleError:
        return Locale.parse(language)


@cache
def resolve_timezone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """The IANA zone of that name; the fallback for a missing or unknown name, UTC as a last resort."""
    for candidate in (name, fallback):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return UTC_ZONE


# An email formats a dozen prices, mostly the same few, and Babel formats each afresh (about 9 µs):
# a warm function remembers them. Equal amounts format alike (the currency fixes the decimals).
@lru_cache(maxsize=4096)
def money(amount: Decimal, currency: str, locale: Locale) -> str:
    return str(format_currency(amount, currency, locale=locale))


def long_date(moment: datetime, locale: Locale, zone: ZoneInfo) -> str:
    return str(format_date(moment.astimezone(zone).date(), format="long", locale=locale))
