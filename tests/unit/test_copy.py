"""The copy as a customer reads it: every email of every trigger, segment, language and cart step,
read for what a proofreader would mark (the defects found by reading the rendered emails)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from local_stack.emulator.scenario import SampleEvent
from nudge.catalog_rows import Product
from nudge.sending.case import EmailCase, Recipient
from nudge.sending.compose import render_for
from nudge.settings import Settings
from nudge.triggers import CART_ABANDONED, CUSTOMER_LAPSED, TRIGGERS
from tests.exhaustive import first_fast
from tests.unit.test_rendering import (
    SEGMENTS,
    SHIPPED_LANGUAGES,
    UNSUBSCRIBE_URL,
    a_customer,
    first_valid_detail,
    translated,
)

# French elides "de", "que", "le", "la"... before a vowel or a mute h: "d'Atelier", never "de Atelier".
FRENCH_MISSED_ELISION = r"\b(?:de|que|le|la|ne|ce|je|se|me|te)\s+{name}\b"
STORE_NAMES_WITH_A_VOWEL = ("Example Shop", "Atelier Olive", "Hôtel des Ventes")
RECOMMENDED = [
    Product(
        sku=f"REC-{number}",
        name=name,
        product_url=f"https://shop.example/p/rec-{number}",
        price=Decimal("19.90"),
        currency="EUR",
        in_stock=True,
        updated_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    for number, name in enumerate(("Linen napkins", "Oak tray"))
]


def every_email(samples: dict[str, SampleEvent], settings: Settings, language: str) -> list[Any]:
    emails = []
    locale = f"{language}-{language.upper()}"
    for trigger in TRIGGERS:
        detail = first_valid_detail(samples, trigger)
        steps = range(1, len(settings.cart_reminder_hours) + 1) if trigger is CART_ABANDONED else [None]
        for step in steps:
            step_detail = detail.model_copy(update={"step": step}) if step else detail
            for segment_id, segment in SEGMENTS.items():
                for order_count in (1, 5):
                    customer = a_customer(segment_id=segment_id, locale=locale, order_count=order_count)
                    emails.append(
                        render_for(
                            EmailCase(trigger, step_detail, settings),
                            Recipient(customer, segment, UNSUBSCRIBE_URL),
                            RECOMMENDED,
                        )
                    )
    return emails


@pytest.mark.parametrize("store_name", first_fast(STORE_NAMES_WITH_A_VOWEL))
def test_french_copy_never_misses_an_elision_before_the_stores_name(
    store_name: str, samples: dict[str, SampleEvent], settings: Settings
) -> None:
    # Each phrase naming the store is one whole message, so the translation can be worded to read
    # right for any name ("envoyés par", "chez"), not glued to a "de" that needs eliding
    store = settings.model_copy(update={"store": settings.store.model_copy(update={"name": store_name})})
    missed = re.compile(FRENCH_MISSED_ELISION.format(name=re.escape(store_name)), re.IGNORECASE)
    for email in every_email(samples, store, "fr"):
        for part in (email.subject, email.html, email.text):
            assert not missed.search(part), missed.search(part)


@pytest.mark.parametrize("language", first_fast(SHIPPED_LANGUAGES))
def test_plain_text_blocks_are_separated_by_a_blank_line(
    language: str, samples: dict[str, SampleEvent], settings: Settings
) -> None:
    # A heading in capitals (the offer's, "YOU MIGHT ALSO LIKE") starts a block of its own: a blank
    # line before it, or the text part runs two blocks together
    for email in every_email(samples, settings, language):
        lines = email.text.splitlines()
        for number, line in enumerate(lines[1:], start=1):
            if _is_heading(line) and lines[number - 1].strip():
                pytest.fail(f"no blank line before {line!r} in:\n{email.text}")


def _is_heading(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 4 and all(c.isupper() for c in letters) and not line.startswith("=")


def _last_cart_step(
    samples: dict[str, SampleEvent], settings: Settings, segment_id: str, language: str
) -> Any:
    detail = first_valid_detail(samples, CART_ABANDONED)
    last = detail.model_copy(update={"step": len(settings.cart_reminder_hours)})
    customer = a_customer(segment_id=segment_id, locale=f"{language}-{language.upper()}")
    return render_for(
        EmailCase(CART_ABANDONED, last, settings), Recipient(customer, SEGMENTS[segment_id], UNSUBSCRIBE_URL)
    )


@pytest.mark.parametrize("language", first_fast(SHIPPED_LANGUAGES))
@pytest.mark.parametrize(
    "segment_id", sorted(s for s, segment in SEGMENTS.items() if segment.discount_percent)
)
def test_the_last_cart_reminders_offer_box_says_what_its_subject_says(
    segment_id: str, language: str, samples: dict[str, SampleEvent], settings: Settings
) -> None:
    # The subject promises "10% off the cart you left": the box must not offer it on the next order
    email = _last_cart_step(samples, settings, segment_id, language)
    percent = SEGMENTS[segment_id].discount_percent
    on_the_cart = translated("Take %(percent)s%% off the cart you left.", language) % {"percent": percent}
    assert on_the_cart in email.html and on_the_cart in email.text
    next_order = [
        m for m in NEXT_ORDER_SENTENCES if translated(m, language) % {"percent": percent} in email.text
    ]
    assert next_order == []


NEXT_ORDER_SENTENCES = (
    "Take %(percent)s%% off your next order.",
    "Enjoy %(percent)s%% off your next order.",
    "Come back for %(percent)s%% off your next order.",
    "A lot has changed since your last visit. Take %(percent)s%% off your first order back.",
)


@pytest.mark.parametrize("language", first_fast(SHIPPED_LANGUAGES))
def test_the_win_back_email_does_not_repeat_its_heading_as_the_offers_title(
    language: str, samples: dict[str, SampleEvent], settings: Settings
) -> None:
    detail = first_valid_detail(samples, CUSTOMER_LAPSED)
    customer = a_customer(segment_id="lapsed", locale=f"{language}-{language.upper()}")
    email = render_for(
        EmailCase(CUSTOMER_LAPSED, detail, settings), Recipient(customer, SEGMENTS["lapsed"], UNSUBSCRIBE_URL)
    )
    # The email opens with "It has been a while, Ada"; its offer box has a title of its own (the
    # text part writes titles in capitals)
    assert translated("It has been a while", language).upper() not in email.text
    assert translated("Your welcome-back offer", language).upper() in email.text
