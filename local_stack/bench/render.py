"""Render to bytes per email, side by side: the naive way, the shipped path, and plain Jinja's floor.

Each row is one cart-abandoned email with three recommendations and tagged links, from its context
to what SES receives (subject, HTML, text, inline CSS, MIME bytes), in CPU time of this thread
(``time.thread_time``), the three variants measured round-robin in one run (batches of emails
taking turns) so a busy machine slows each alike:

(a) naive: a new Environment per send (templates compiled from source), css_inline on the rendered
    HTML, the stdlib's EmailMessage and ``as_bytes``;
(b) shipped: ``render_for`` and ``nudge.mime.build_message`` (templates compiled once, CSS inlined
    at load, MIME written directly);
(c) floor: the three templates rendered by a plain, non-sandboxed, precompiled Environment: no
    CSS, no link tagging, no MIME.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any, cast

from local_stack.emulator.catalogs import compile_catalogs
from local_stack.emulator.scenario import SAMPLE_DAY_CLOCK, SampleEvent, load_sample_events
from local_stack.emulator.stack import REPO_ROOT
from nudge.catalog_rows import Product
from nudge.events import TriggerDetail
from nudge.inlined_css import inliner
from nudge.link_tracking import track_email
from nudge.mime import build_message
from nudge.profiles import Customer, Segment
from nudge.rendering import build_environment, language_for
from nudge.sending.case import EmailCase, Recipient
from nudge.sending.compose import link_tracking, render_for, template_context
from nudge.settings import Settings
from nudge.text import one_line
from nudge.timeutil import utc_now
from nudge.triggers import CART_ABANDONED

ROUNDS = 15


def _cart_sample() -> SampleEvent:
    return next(s for s in load_sample_events() if s.name == "cart_abandoned/vip_ada.json")


# Three products, as RecommendationsPerEmail (default 3) puts in each email.
BENCH_PRODUCTS = [
    Product(
        sku=f"SKU-BENCH-{n}",
        name=f"Merino beanie {n}",
        product_url=f"https://shop.example/p/SKU-BENCH-{n}",
        image_url=f"https://shop.example/img/SKU-BENCH-{n}.jpg",
        price=Decimal("39.00"),
        currency="GBP",
        in_stock=True,
        updated_at=SAMPLE_DAY_CLOCK,
    )
    for n in range(3)
]
BATCH = 20
Row = tuple[str, float, str]

SEGMENT = Segment(segment_id="vip", name="VIP", discount_percent=15, coupon_code="VIP15", perks=("a", "b"))
CUSTOMER = Customer(
    customer_id="c", email="a@example.com", first_name="Ada", locale="en-GB", marketing_consent=True
)
FAMILY = CART_ABANDONED.name


def render_rows(settings: Settings, rounds: int = ROUNDS) -> list[Row]:
    """(variant, ms per email, note) for (a), (b) and (c), then the ratios: the median of ``rounds``
    batches of ``BATCH`` emails each, the variants' batches taking turns."""
    detail = cast(TriggerDetail, CART_ABANDONED.parse(_cart_sample().event))
    unsubscribe_url = f"{settings.unsubscribe_url}?token=v1.Yw.bench"
    case = EmailCase(CART_ABANDONED, detail, settings)
    recipient = Recipient(CUSTOMER, SEGMENT, unsubscribe_url)
    context = template_context(case, recipient, BENCH_PRODUCTS)
    language = language_for(settings.templates_dir, context["locale"])
    context = {**context, "language": language}
    links = link_tracking(case, unsubscribe_url)
    assert links is not None, "the benchmark tags links, as the pipeline does"

    def naive() -> bytes:
        env = build_environment(settings.templates_dir, language, inline_css_at_load=False)
        subject = env.get_template(f"{FAMILY}/subject.txt.j2").render(context)
        html = str(inliner().inline(env.get_template(f"{FAMILY}/body.html.j2").render(context)))
        text = env.get_template(f"{FAMILY}/body.txt.j2").render(context)
        html, text = track_email(html, text, links)
        message = EmailMessage(policy=SMTP)
        message["From"] = settings.sender
        message["To"] = f"Ada <{CUSTOMER.email}>"
        message["Subject"] = one_line(subject)
        message["Date"] = format_datetime(utc_now())
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
        return message.as_bytes()

    def shipped() -> bytes:
        email = render_for(case, recipient, BENCH_PRODUCTS)
        return build_message(
            sender=settings.sender,
            recipient_name=CUSTOMER.full_name,
            recipient_email=CUSTOMER.email,
            email=email,
            sent_at=utc_now(),
            unsubscribe_url=unsubscribe_url,
        ).data

    plain = build_environment(settings.templates_dir, language, inline_css_at_load=False, sandboxed=False)
    compiled = [
        plain.get_template(f"{FAMILY}/{name}") for name in ("subject.txt.j2", "body.html.j2", "body.txt.j2")
    ]

    def floor() -> Any:
        return [template.render(context) for template in compiled]

    variants: dict[str, Callable[[], Any]] = {
        "(a) naive: Environment per send, css_inline, EmailMessage": naive,
        "(b) shipped: render_for + build_message": shipped,
        "(c) floor: plain precompiled Jinja, no CSS/MIME": floor,
    }
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for run in variants.values():
        run()  # a warm function: compiled templates, formatted prices, filled caches
    for _ in range(rounds):
        for name, run in variants.items():
            # A batch of emails in a row, as a warm function sends them: one naive email evicts the
            # CPU caches the next variant's first email would have found warm.
            started = time.thread_time()
            for _ in range(BATCH):
                run()
            timings[name].append((time.thread_time() - started) / BATCH)
    ms = {name: statistics.median(measured) * 1000 for name, measured in timings.items()}
    rows: list[Row] = [(name, ms[name], f"{1000 / ms[name]:,.0f} emails/s/core") for name in variants]
    naive_ms, shipped_ms, floor_ms = ms.values()
    rows.append(("(b) vs (a): times faster than naive", naive_ms / shipped_ms, "target >= 50x"))
    rows.append(("(b) vs (c): times the plain-Jinja floor", shipped_ms / floor_ms, ""))
    return rows


def bench_settings() -> Settings:
    """A trigger function's settings rendering the repository's templates, without a stack."""
    compile_catalogs(REPO_ROOT / "templates")
    return Settings.from_environment(
        {
            "CUSTOMERS_TABLE": "customers",
            "SEGMENTS_TABLE": "segments",
            "DELIVERIES_TABLE": "deliveries",
            "SENDER_ADDRESS": "Example Shop <hello@shop.example>",
            "SES_CONFIGURATION_SET": "marketing",
            "TEMPLATES_DIR": str(REPO_ROOT / "templates"),
            "STORE_NAME": "Example Shop",
            "STORE_URL": "https://shop.example",
            "STORE_POSTAL_ADDRESS": "1 Market Street",
            "PREFERENCES_URL": "https://shop.example/prefs",
            "UNSUBSCRIBE_URL": "https://u.lambda-url.us-east-1.on.aws/",
            "UNSUBSCRIBE_KEY_SECRET": "arn:aws:secretsmanager:us-east-1:123456789012:secret:unsubscribe",
            "DEFERRAL_SCHEDULE_GROUP": "nudge-quiet-hours",
            "DEFERRAL_ROLE_ARN": "arn:aws:iam::123456789012:role/nudge-quiet-hours",
            "DEFERRAL_QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:cart-abandoned",
            "DEFERRAL_DLQ_ARN": "arn:aws:sqs:us-east-1:123456789012:cart-abandoned-dlq",
        }
    )


def main() -> None:
    print(
        f"render to MIME bytes, cart_abandoned with 3 recommendations, CPU per email "
        f"(median of {ROUNDS} round-robin batches of {BATCH}):"
    )
    for name, value, note in render_rows(bench_settings()):
        unit = "x" if name.startswith("(b) vs") else " ms/email"
        print(f"  {name:<58} {value:>8.2f}{unit}  {note}")


if __name__ == "__main__":
    main()
