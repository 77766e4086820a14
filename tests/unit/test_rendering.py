"""Rendering: every trigger for every segment, escaping, strictness, locale formatting."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_bytes, policy
from html.parser import HTMLParser
from typing import Any

import pytest
from babel.support import Translations
from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from local_stack.emulator.scenario import SampleEvent, load_sample_rows
from local_stack.emulator.stack import REPO_ROOT
from nudge.events import CartAbandoned
from nudge.experiments.models import Arm, Experiment
from nudge.mime import build_message
from nudge.profiles import Customer, Segment
from nudge.rendering import RenderedEmail, environment, render_email, shipped_languages
from nudge.sending.case import EmailCase, Recipient
from nudge.sending.compose import render_for
from nudge.settings import Settings
from nudge.triggers import CART_ABANDONED, CUSTOMER_LAPSED, ORDER_PLACED, TRIGGERS, Trigger
from tests.exhaustive import first_fast
from tests.unit.links import untracked_store_links

TEMPLATES_DIR = str(REPO_ROOT / "templates")
SHIPPED_LANGUAGES = sorted(shipped_languages(TEMPLATES_DIR))
assert len(SHIPPED_LANGUAGES) >= 4, "the catalogs are compiled by tests/conftest.py"
SEGMENTS = {row["segment_id"]: Segment.model_validate(row) for row in load_sample_rows("segments")}

# What only that segment's email says: the per-segment conditional blocks.
SEGMENT_MARKERS = {
    "vip": "Your VIP perks",
    "at_risk": "We have missed you",
    "new_customer": "A welcome gift",
    "frequent_buyer": "Thanks for being a regular",
    "default": None,
}


# Quote and angle brackets: a URL must stay one attribute value whatever it holds.
UNSUBSCRIBE_URL = 'https://u.lambda-url.us-east-1.on.aws/?token=v1.YzE.sig&x="><i>y</i>'


def a_customer(**overrides: Any) -> Customer:
    fields: dict[str, Any] = {
        "customer_id": "c1",
        "email": "ada@example.com",
        "first_name": "Ada",
        "locale": "en-US",
        "marketing_consent": True,
        "order_count": 3,
        "total_spent": Decimal("300"),
    }
    fields.update(overrides)
    return Customer.model_validate(fields)


def first_valid_detail(samples: dict[str, SampleEvent], trigger: Trigger[Any]) -> Any:
    sample = next(s for s in samples.values() if s.detail_type == trigger.detail_type and not s.is_invalid)
    return trigger.parse(sample.event)


def render(
    trigger: Trigger[Any], detail: Any, customer: Customer, segment: Segment, settings: Settings
) -> RenderedEmail:
    """As the pipeline renders: the customer's language, links tagged."""
    return render_for(EmailCase(trigger, detail, settings), Recipient(customer, segment, UNSUBSCRIBE_URL))


def last_step(detail: Any, settings: Settings) -> Any:
    """A cart at the last reminder of its series (the one with the offer); other details as they are."""
    if isinstance(detail, CartAbandoned):
        return detail.model_copy(update={"step": len(settings.cart_reminder_hours)})
    return detail


def translated(message: str, language: str) -> str:
    return Translations.load(f"{TEMPLATES_DIR}/locale", [language]).gettext(message)


def render_cart_for(customer: Customer, samples: dict[str, SampleEvent], settings: Settings) -> RenderedEmail:
    return render(
        CART_ABANDONED, first_valid_detail(samples, CART_ABANDONED), customer, SEGMENTS["vip"], settings
    )


@pytest.mark.parametrize("language", first_fast(SHIPPED_LANGUAGES))
@pytest.mark.parametrize("segment_id", sorted(SEGMENT_MARKERS))
@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda t: t.name)
def test_every_trigger_renders_for_every_segment_in_every_shipped_language(
    trigger: Trigger[Any], segment_id: str, language: str, samples: dict[str, SampleEvent], settings: Settings
) -> None:
    segment = SEGMENTS[segment_id]
    detail = last_step(first_valid_detail(samples, trigger), settings)
    customer = a_customer(segment_id=segment_id, locale=f"{language}-{language.upper()}")
    email = render(trigger, detail, customer, segment, settings)

    assert email.language == language
    assert f'<html lang="{language}"' in email.html
    assert email.subject and "\n" not in email.subject
    assert "Ada" in email.subject
    for body in (email.html, email.text):
        assert "Ada" in body
        assert "%(" not in body and "%%" not in body
        assert settings.store.postal_address in body
        assert settings.store.preferences_url in body
        marker = SEGMENT_MARKERS[segment_id]
        if marker:
            assert translated(marker, language).lower() in body.lower()
        others = [translated(m, language) for s, m in SEGMENT_MARKERS.items() if m and s != segment_id]
        assert not any(other.lower() in body.lower() for other in others)
        if segment.coupon_code:
            assert segment.coupon_code in body
    assert untracked_store_links(email, settings) == []


def test_a_locale_without_a_catalog_renders_in_english_and_says_so(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    email = render_cart_for(a_customer(locale="ja-JP"), samples, settings)
    assert email.language == "en" and '<html lang="en"' in email.html
    assert "Still thinking it over, Ada?" in email.html
    # Dates and numbers follow the copy's language, so the sentence reads as one language: an
    # English sentence with a Japanese date in it reads as a mistake. The currency is the cart's.
    assert "2026年" not in email.text and "年" not in email.html
    assert "on November 22, 2026" in email.text
    assert "$72.00" in email.text


def test_a_customer_whose_language_is_shipped_reads_dates_and_money_in_their_own_region(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    # A Swiss customer reads German copy with Swiss number formats
    email = render_cart_for(a_customer(locale="de-CH"), samples, settings)
    assert email.language == "de" and "22. November 2026" in email.text
    assert "$\xa072.00" in email.text


def test_an_english_copy_keeps_the_customers_region_where_english_has_one(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    # A customer in Sweden, whose language has no catalog (Swedish copy is not shipped) but whose
    # region English knows (en-SE): the date in English, the region's number format
    email = render_cart_for(a_customer(locale="sv-SE"), samples, settings)
    assert email.language == "en"
    assert "22 November 2026" in email.text and "72,00\xa0US$" in email.text


# Every email that greets by name, as a customer created from only an address gets it: (trigger,
# sample, cart step or none, segment, order_count).
NAMELESS_EMAILS: dict[str, tuple[Trigger[Any], str, int | None, str, int]] = {
    "cart first step": (CART_ABANDONED, "cart_abandoned/new_customer_jonas.json", 1, "new_customer", 3),
    "cart first step, vip": (CART_ABANDONED, "cart_abandoned/vip_ada.json", 1, "vip", 3),
    "cart middle step": (CART_ABANDONED, "cart_abandoned/vip_ada.json", 2, "vip", 3),
    "cart last step, offer": (CART_ABANDONED, "cart_abandoned/vip_ada.json", 3, "vip", 3),
    "cart last step, no offer": (CART_ABANDONED, "cart_abandoned/vip_ada.json", 3, "default", 3),
    "first order": (ORDER_PLACED, "order_placed/first_order_priya.json", None, "new_customer", 1),
    "repeat order": (ORDER_PLACED, "order_placed/repeat_order_maria.json", None, "frequent_buyer", 7),
    "lapsed, offer": (CUSTOMER_LAPSED, "customer_lapsed/at_risk_sam.json", None, "at_risk", 3),
    "lapsed, no offer": (CUSTOMER_LAPSED, "customer_lapsed/at_risk_sam.json", None, "default", 3),
}
# A greeting that lost its name: a comma with nothing before it, or nothing but punctuation after it.
DANGLING_COMMA = re.compile(r"(^|\s),|,\s*[,.;:!?]")


@pytest.mark.parametrize("language", first_fast(SHIPPED_LANGUAGES))
@pytest.mark.parametrize("case", sorted(NAMELESS_EMAILS))
def test_an_email_to_a_customer_without_a_first_name_reads_naturally(
    case: str, language: str, samples: dict[str, SampleEvent], settings: Settings
) -> None:
    trigger, sample, step, segment_id, order_count = NAMELESS_EMAILS[case]
    detail = trigger.parse(samples[sample].event)
    if step is not None:
        detail = detail.model_copy(update={"step": step})
    customer = a_customer(
        first_name=None,
        segment_id=segment_id,
        order_count=order_count,
        locale=f"{language}-{language.upper()}",
    )
    email = render(trigger, detail, customer, SEGMENTS[segment_id], settings)

    assert email.language == language
    visible_html = [piece.strip() for piece in Elements.of(email.html).text if piece.strip()]
    for part, pieces in (
        ("subject", [email.subject]),
        ("text", email.text.splitlines()),
        ("html", visible_html),
    ):
        assert not [p for p in pieces if "None" in p], f"{part} says None"
        assert not [p for p in pieces if DANGLING_COMMA.search(p)], f"{part}: a greeting lost its name"
    assert "None" not in email.html
    assert not email.subject.lstrip("¡¿")[:1].islower(), email.subject


def test_the_to_header_of_a_customer_without_a_name_is_the_bare_address() -> None:
    customer = a_customer(first_name=None)
    message = build_message(
        sender="Example Shop <hello@shop.example>",
        recipient_name=customer.full_name,
        recipient_email=customer.email,
        email=RenderedEmail(subject="You left something in your cart", html="<p>x</p>", text="x"),
        sent_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        unsubscribe_url=UNSUBSCRIBE_URL,
    )
    assert b"\r\nTo: ada@example.com\r\n" in message.data
    received = message_from_bytes(message.data, policy=policy.default)
    (address,) = received["To"].addresses
    assert (address.display_name, address.addr_spec) == ("", "ada@example.com")
    # Only a last name: that is the display name, with no stray space
    assert a_customer(first_name=None, last_name="Lovelace").full_name == "Lovelace"


def test_the_first_reminder_carries_no_offer_and_the_last_one_does(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    first = render_cart_for(a_customer(), samples, settings)
    detail = first_valid_detail(samples, CART_ABANDONED)
    middle, last = (
        render(
            CART_ABANDONED, detail.model_copy(update={"step": step}), a_customer(), SEGMENTS["vip"], settings
        )
        for step in (2, 3)
    )
    assert "VIP15" not in first.html and "VIP15" not in middle.html and "VIP15" in last.html
    assert "Still thinking it over" in first.html
    assert "still waiting" in middle.subject and "One last reminder" in last.html
    assert "utm_campaign=cart_abandoned-3" in last.html and "utm_campaign=cart_abandoned-1" in first.html


def test_cart_lists_items_with_quantities_and_locale_prices(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    trigger = next(t for t in TRIGGERS if t.name == "cart_abandoned")
    detail = trigger.parse(samples["cart_abandoned/new_customer_jonas.json"].event)
    email = render(
        trigger, detail, a_customer(locale="de-DE", first_name="Jonas"), SEGMENTS["new_customer"], settings
    )
    assert "Kaffeebecher Steingut: 4 x 12,90\xa0€ = 51,60\xa0€" in email.text
    assert f"{translated('Subtotal', 'de')}: 76,59\xa0€" in email.text
    assert "51,60&nbsp;€" in email.html or "51,60\xa0€" in email.html
    assert 'href="https://shop.example/de/cart/cart_91bc?utm_source=nudge&amp;' in email.html
    # CSS is inlined for mail clients that drop <style>; only media queries (dark mode, small screens)
    # cannot be, and stay behind in <style>.
    styles = Elements.of(email.html).style_blocks
    assert all(block.lstrip().startswith("@media") for block in styles)
    assert 'style="' in email.html


def test_first_order_gets_a_welcome_and_repeat_orders_a_thank_you(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    trigger = next(t for t in TRIGGERS if t.name == "order_placed")
    detail = trigger.parse(samples["order_placed/first_order_priya.json"].event)
    first = render(trigger, detail, a_customer(order_count=1), SEGMENTS["new_customer"], settings)
    repeat = render(trigger, detail, a_customer(order_count=7), SEGMENTS["frequent_buyer"], settings)
    assert "first order" in first.subject and "Welcome, Ada!" in first.html
    assert "first order" not in repeat.subject and "order number 7" in repeat.text


def test_profile_data_cannot_inject_markup_into_html(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    email = render_cart_for(a_customer(first_name='<script>alert("x")</script>'), samples, settings)
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html


def test_a_newline_in_data_cannot_break_the_subject_line(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    email = render_cart_for(a_customer(first_name="Ada\r\nBcc: x@evil.example"), samples, settings)
    assert "\r" not in email.subject and "\n" not in email.subject


def test_event_data_cannot_inject_markup_either(samples: dict[str, SampleEvent], settings: Settings) -> None:
    sample = samples["cart_abandoned/vip_ada.json"].event
    item = {**sample["detail"]["items"][0], "name": '<img src=x onerror="alert(1)">Lamp'}
    detail = CART_ABANDONED.parse({**sample, "detail": {**sample["detail"], "items": [item]}})
    email = render(CART_ABANDONED, detail, a_customer(), SEGMENTS["vip"], settings)
    # The name is text in the link and the image's alt text; it never becomes an element or attribute.
    assert "&lt;img src=x onerror=" in email.html
    elements = Elements.of(email.html)
    assert not any("onerror" in attrs for _, attrs in elements.tags)
    assert [attrs["src"] for tag, attrs in elements.tags if tag == "img"] == [item["image_url"]]
    assert [attrs["alt"] for tag, attrs in elements.tags if tag == "img"] == [item["name"]]


def test_the_unsubscribe_link_is_in_both_parts_and_escaped_in_html(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    email = render_cart_for(a_customer(), samples, settings)
    assert f"Unsubscribe: {UNSUBSCRIBE_URL}" in email.text
    links = LinkCollector()
    links.feed(email.html)
    # What a mail client follows is exactly the signed URL, and its markup-like characters stay data.
    assert links.by_text["Unsubscribe"] == UNSUBSCRIBE_URL


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of every <style> block, as a browser parses them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.style_blocks: list[str] = []
        self.text: list[str] = []
        """What a reader sees: every piece of text outside <style>."""
        self._in_style = False

    @classmethod
    def of(cls, html: str) -> Elements:
        parser = cls()
        parser.feed(html)
        return parser

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.style_blocks if self._in_style else self.text).append(data)


class LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.by_text: dict[str, str] = {}
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        if self._href is not None and data.strip():
            self.by_text[data.strip()] = self._href
            self._href = None


def test_a_template_cannot_reach_python_internals(tmp_path: Any) -> None:
    """Marketers edit templates: the sandbox stops a template from walking to Python's internals."""
    family = tmp_path / "curious"
    family.mkdir()
    for name in ("subject.txt.j2", "body.html.j2", "body.txt.j2"):
        (family / name).write_text("{{ customer.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(SecurityError):
        render_email(str(tmp_path), "curious", {"customer": a_customer()})


def test_an_undefined_variable_is_an_error_not_an_empty_string(tmp_path: Any) -> None:
    family = tmp_path / "broken"
    family.mkdir()
    for name in ("subject.txt.j2", "body.html.j2", "body.txt.j2"):
        (family / name).write_text("Hello {{ customer.nickname }}")
    with pytest.raises(UndefinedError):
        render_email(str(tmp_path), "broken", {"customer": a_customer()})


def test_lapsed_email_shows_the_last_order_date_in_the_customers_words(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    trigger = next(t for t in TRIGGERS if t.name == "customer_lapsed")
    detail = trigger.parse(samples["customer_lapsed/at_risk_sam.json"].event)
    email = render(
        trigger, detail, a_customer(locale="fr-FR", timezone="Europe/Paris"), SEGMENTS["at_risk"], settings
    )
    assert "14 mai 2026" in email.text
    assert "il y a 192\xa0jours" in email.text or "il y a 192 jours" in email.text


def test_the_unsubscribe_link_is_never_click_tracked_by_ses(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    detail = first_valid_detail(samples, CART_ABANDONED)
    email = render(CART_ABANDONED, detail, a_customer(), SEGMENTS["vip"], settings)
    anchors: list[dict[str, str | None]] = []

    class Anchors(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "a":
                anchors.append(dict(attrs))

    Anchors().feed(email.html)
    (unsubscribe,) = [a for a in anchors if a.get("href") == UNSUBSCRIBE_URL]
    # SES leaves a link marked ses:no-track unwrapped: a click on it is no engagement, and the
    # one-click URL stays exactly ours
    assert "ses:no-track" in unsubscribe
    assert not [a for a in anchors if a is not unsubscribe and "ses:no-track" in a]


def test_a_variant_subject_renders_with_the_subject_context_and_templates_see_the_variant(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    experiment = Experiment.model_validate(
        {
            "experiment_id": "cart-subject-nov",
            "trigger": "cart_abandoned",
            "status": "running",
            "variants": [
                {
                    "variant_id": "b",
                    "weight": 100,
                    "subject": "{{ customer.first_name }} ({{ variant.variant_id }})",
                }
            ],
        }
    )
    detail = first_valid_detail(samples, CART_ABANDONED)
    arm = Arm(experiment=experiment, variant=experiment.variants[0])
    email = render_for(
        EmailCase(CART_ABANDONED, detail, settings),
        Recipient(a_customer(), SEGMENTS["vip"], UNSUBSCRIBE_URL),
        arm=arm,
    )
    assert email.subject == "Ada (b)"
    assert "utm_term=cart-subject-nov.b" in email.html and "utm_term=cart-subject-nov.b" in email.text


def test_the_sandbox_remembering_its_answers_answers_as_jinjas_own() -> None:
    remembering = environment(TEMPLATES_DIR)
    jinjas = ImmutableSandboxedEnvironment()
    objects: list[Any] = [
        a_customer(),
        [],
        {},
        set(),
        "text",
        len,
        lambda: 0,
        (n for n in range(0)),
        type,
        Decimal(1),
    ]
    names = ["__class__", "_private", "append", "pop", "update", "add", "mro", "gi_frame", "gi_code"]
    names += ["__globals__", "upper", "email", "first_name", "items", "keys", "copy"]
    for _ in range(2):  # asked, then remembered
        for obj in objects:
            for name in names:
                value = getattr(obj, name, None)
                assert remembering.is_safe_attribute(obj, name, value) == jinjas.is_safe_attribute(
                    obj, name, value
                )
