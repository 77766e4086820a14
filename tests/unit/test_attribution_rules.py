"""Which email an order is attributed to: the cart it names, then the last click within the click
window, then the last delivery within the delivery window, then a holdout; never after the order,
never an email that already converted another order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from nudge.attribution.rules import Windows, attributed_email
from nudge.delivery_facts import DeliveryFacts

PLACED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
WINDOWS = Windows(click=timedelta(days=5), delivery=timedelta(days=1))


def email(key: str, *, days_before: float, **facts: object) -> DeliveryFacts:
    decided = PLACED - timedelta(days=days_before)
    base = DeliveryFacts(
        delivery_key=key,
        trigger=str(facts.pop("trigger", "customer_lapsed")),
        business_id=str(facts.pop("business_id", key)),
        decision="sent",
        reason=None,
        decided_at=decided,
        delivered_at=decided + timedelta(seconds=3),
        click_times=(),
        converted_order_id=None,
    )
    return replace(base, **facts)  # type: ignore[arg-type]


def clicked(days_before: float) -> tuple[datetime, ...]:
    return (PLACED - timedelta(days=days_before),)


def chosen(*emails: DeliveryFacts, cart_id: str | None = None) -> str | None:
    found = attributed_email(emails, order_id="ord_9", cart_id=cart_id, placed_at=PLACED, windows=WINDOWS)
    return found.delivery_key if found else None


def test_the_cart_the_order_names_wins_over_a_later_click_and_takes_the_last_step_sent() -> None:
    step1 = email("cart_abandoned#c1", days_before=3, trigger="cart_abandoned", business_id="c1")
    step2 = email("cart_abandoned#c1#2", days_before=2, trigger="cart_abandoned", business_id="c1#2")
    other = email("customer_lapsed#x", days_before=1, click_times=clicked(0.5))
    assert chosen(step1, step2, other, cart_id="c1") == "cart_abandoned#c1#2"
    # An order naming another cart falls through to the click
    assert chosen(step1, step2, other, cart_id="c2") == "customer_lapsed#x"


def test_the_last_click_within_five_days_wins_over_a_more_recent_delivery() -> None:
    clicked_earlier = email("a", days_before=4, click_times=clicked(4))
    delivered_later = email("b", days_before=0.2)
    assert chosen(clicked_earlier, delivered_later) == "a"
    assert chosen(email("a", days_before=6, click_times=clicked(5.1)), delivered_later) == "b"


def test_of_two_clicked_emails_the_later_click_wins_and_a_click_after_the_order_never_counts() -> None:
    first = email("a", days_before=4, click_times=clicked(1))
    second = email("b", days_before=3, click_times=(*clicked(2), PLACED + timedelta(minutes=5)))
    assert chosen(first, second) == "a"


def test_a_delivery_counts_within_one_day_and_not_after() -> None:
    assert chosen(email("a", days_before=0.9)) == "a"
    assert chosen(email("a", days_before=1.1)) is None
    # A sent email SES never reported delivered is not "delivered"
    assert chosen(email("a", days_before=0.5, delivered_at=None)) is None


def test_an_email_that_converted_another_order_or_was_decided_after_it_is_no_candidate() -> None:
    assert chosen(email("a", days_before=1, click_times=clicked(1), converted_order_id="ord_1")) is None
    assert chosen(email("a", days_before=-0.1)) is None
    # The same order again (a retry) finds its own email
    assert chosen(email("a", days_before=1, click_times=clicked(1), converted_order_id="ord_9")) == "a"


def test_a_holdout_converts_like_a_recipient_but_only_when_no_email_earned_the_order() -> None:
    held = email("h", days_before=3, decision="skipped", reason="holdout", delivered_at=None)
    assert chosen(held) == "h"
    assert chosen(held, email("a", days_before=0.5)) == "a"
    assert chosen(replace(held, decided_at=PLACED - timedelta(days=6))) is None
    skipped = email("s", days_before=1, decision="skipped", reason="frequency_capped", delivered_at=None)
    assert chosen(skipped) is None
