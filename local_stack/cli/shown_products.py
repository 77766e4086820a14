"""What the demo checks in every email it sent: each recommended product has a price in the email's
currency, is shown at that price (in the customer's locale) and named in the email's language.

The email's currency is worked out here from the sample events and the stored profile, apart from
the pipeline (``nudge.sending.compose.email_currency``): a cart's or an order's own, for a win-back the
customer's last order's, else the store's ``StoreCurrency``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from babel import Locale

from local_stack.emulator.outbox import parse_email
from local_stack.emulator.rows import get_product
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.stack import REPO_ROOT, LocalStack
from nudge.catalog_rows import Product
from nudge.dal.customers import get_customer
from nudge.formatting import in_language, money, resolve_locale
from nudge.outcome import Outcome
from nudge.rendering import language_for

TEMPLATES_DIR = str(REPO_ROOT / "templates")
_RECOMMENDATION = re.compile(
    r"^- (?P<name>.+), (?P<price>.+?): (?P<url>https?://\S+/p/(?P<sku>[^?\s]+)\?\S*)$"
)


@dataclass(frozen=True)
class Shown:
    sku: str
    name: str
    price: str


def recommendations_in(raw: str) -> list[Shown]:
    """The recommendations of an email, from its text part (``- name, price: link``; only links
    tagged ``utm_content=recommendation``)."""
    text = parse_email(raw).get_body(("plain",))
    if text is None:
        return []
    found = []
    for line in str(text.get_content()).splitlines():
        match = _RECOMMENDATION.match(line.strip())
        if match and "utm_content=recommendation" in match["url"]:
            found.append(Shown(match["sku"], match["name"], match["price"]))
    return found


def currencies_by_business_id(samples: Iterable[SampleEvent]) -> dict[str, str]:
    """The currency of each cart (``cart_id``) and order (``order_id``) among the samples."""
    found = {}
    for sample in samples:
        detail = sample.event.get("detail", {})
        for key in ("cart_id", "order_id"):
            if sample.detail_type in ("Cart Abandoned", "Order Placed") and key in detail:
                found[detail[key]] = detail["currency"]
    return found


def verdict(item: Shown, product: Product | None, currency: str, locale: Locale, language: str) -> str | None:
    """What is wrong with one recommendation as shown, or None: the product must have a price in
    the email's currency, be shown at it (in the customer's locale, as the copy's language writes
    it) and under its name in the copy's language."""
    price = product.price_in(currency) if product else None
    if product is None or price is None:
        return f"{item.sku} has no {currency} price (shown at {item.price})"
    expected = (product.name_in(language), money(price, currency, in_language(locale, language)))
    if (item.name, item.price) != expected:
        return f"{item.sku} shown as {item.name!r} at {item.price!r}, not {expected[0]!r} at {expected[1]!r}"
    return None


def check(
    stack: LocalStack, sent: Iterable[Outcome], raw: Mapping[str, str], samples: Iterable[SampleEvent]
) -> tuple[bool, list[str]]:
    """Whether every sent email recommends only products sold in its currency, at that price and
    with the name of its language, and the lines that say so."""
    currencies = currencies_by_business_id(samples)
    problems: list[str] = []
    per_currency: Counter[str] = Counter()
    emails = without = 0
    for outcome in sent:
        emails += 1
        customer = get_customer(stack.names["CustomersTable"], outcome.customer_id)
        currency = currencies.get(outcome.business_id.split("#", 1)[0]) or (
            (customer.last_order_currency if customer else None) or stack.parameters["StoreCurrency"]
        )
        locale = resolve_locale(customer.locale if customer else None, "en-US")
        language = language_for(TEMPLATES_DIR, locale)
        shown = recommendations_in(raw[str(outcome.message_id)])
        without += not shown
        for item in shown:
            per_currency[currency] += 1
            product = get_product(stack.names["ProductsTable"], item.sku)
            problem = verdict(item, product, currency, locale, language)
            if problem:
                problems.append(f"{outcome.customer_id}: {problem}")
    counts = ", ".join(f"{code} {count}" for code, count in sorted(per_currency.items()))
    lines = [
        f"\nrecommendations in the {emails} emails: {sum(per_currency.values())} products ({counts}), "
        + (
            "each with a price in its email's currency, shown at it and named in the email's language"
            if not problems
            else f"{len(problems)} NOT as they should be"
        )
        + (f"; {without} emails without any" if without else "")
    ]
    lines += [f"X {problem}" for problem in problems]
    return not problems, lines
