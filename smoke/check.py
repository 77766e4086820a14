"""The smoke test's steps, against any stack that answers the ``Aws`` calls: a deployed one
(``smoke.aws``) or the local stack on moto (tests/integration/test_smoke.py).

1. a ``Customer Updated`` creates a test customer (``nudge-smoke-<time>-<random>``) with the address
   given and marketing consent, in a time zone where it is about noon, so quiet hours never hold
   the email back;
2. once the profile exists, a ``Cart Abandoned`` for one item;
3. the Deliveries table is read until the reminder's record holds a decision (``sent``, ``skipped``,
   ``deferred`` or ``send_unconfirmed``; ``sending`` is still in flight);
4. a ``Customer Deleted`` erases the test customer, whatever happened before.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

SIMULATOR_SUCCESS = "success@simulator.amazonses.com"
"""SES's mailbox simulator address that accepts every email: sendable from the SES sandbox, and not
counted in the sending quota or the bounce and complaint rates."""

EVENTS_SOURCE_PARAMETER = "EventSource"
CONSENT_SOURCE = "smoke_test"
DECIDED = frozenset({"sent", "skipped", "deferred", "send_unconfirmed"})
"""Decisions a delivery record ends the wait with (``sending``: SES has not answered yet)."""


@dataclass(frozen=True)
class SmokeTarget:
    """Where the test's events go and its results are read: a stack's bus, its events' source and
    two of its tables, and the store's URL (the cart link)."""

    event_bus: str
    event_source: str
    customers_table: str
    deliveries_table: str
    store_url: str


class Aws(Protocol):
    def put_event(self, bus: str, source: str, detail_type: str, detail: Mapping[str, Any]) -> None: ...

    def profile_exists(self, table: str, customer_id: str) -> bool: ...

    def delivery(self, table: str, customer_id: str, delivery_key: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class SmokeResult:
    customer_id: str
    cart_id: str
    delivery: dict[str, Any] | None
    """The reminder's delivery record; None when no decision came within the wait."""
    profile_created: bool

    @property
    def decision(self) -> str | None:
        return None if self.delivery is None else str(self.delivery["decision"])

    @property
    def passed(self) -> bool:
        return self.decision == "sent"


def noon_timezone(now: datetime) -> str:
    """An IANA zone (``Etc/GMT-2``: two hours ahead of UTC) where it is between 11:30 and 12:30 now.
    The ``Etc`` zones' signs are POSIX's, the reverse of the offset's."""
    hours_ahead = round(12 - now.astimezone(UTC).hour - now.minute / 60)
    hours_ahead = (hours_ahead + 12) % 24 - 12  # -12 .. 11, all of which exist
    if hours_ahead == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if hours_ahead > 0 else '+'}{abs(hours_ahead)}"


def smoke_customer_id(now: datetime) -> str:
    return f"nudge-smoke-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def customer_updated(customer_id: str, to: str, now: datetime) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "updated_at": now.isoformat(),
        "email": to,
        "first_name": "Smoke",
        "last_name": "Test",
        "locale": "en-GB",
        "timezone": noon_timezone(now),
        "marketing_consent": True,
        "consent_source": CONSENT_SOURCE,
    }


def cart_abandoned(customer_id: str, cart_id: str, store_url: str, now: datetime) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "cart_id": cart_id,
        "abandoned_at": now.isoformat(),
        "currency": "USD",
        "cart_url": f"{store_url.rstrip('/')}/cart/{cart_id}",
        "items": [
            {"sku": "NUDGE-SMOKE-TEST", "name": "Smoke test item", "quantity": 1, "unit_price": "1.00"}
        ],
    }


def customer_deleted(customer_id: str, now: datetime) -> dict[str, Any]:
    return {"customer_id": customer_id, "requested_at": now.isoformat()}


def run(
    target: SmokeTarget,
    aws: Aws,
    *,
    to: str = SIMULATOR_SUCCESS,
    sleep: Callable[[float], object],
    report: Callable[[str], None] = lambda line: None,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 120.0,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SmokeResult:
    """The four steps; ``sleep`` is called between reads of a table (a test drives the local stack's
    poller there). Once its Customer Updated is on the bus, the test customer is erased whatever
    happens next."""
    started = now()
    customer_id = smoke_customer_id(started)
    cart_id = f"{customer_id}-cart"
    polls = max(1, round(timeout_seconds / poll_seconds))
    delivery: dict[str, Any] | None = None
    detail = customer_updated(customer_id, to, started)
    aws.put_event(target.event_bus, target.event_source, "Customer Updated", detail)
    report(f"Customer Updated  {customer_id} <{to}>, consent, time zone {detail['timezone']}")
    try:
        created = _wait(
            lambda: aws.profile_exists(target.customers_table, customer_id), polls, poll_seconds, sleep
        )
        if not created:
            report(
                f"no profile after {timeout_seconds:.0f} s: see CustomerUpdatedDLQ and its function's logs"
            )
            return SmokeResult(customer_id, cart_id, None, profile_created=False)
        report("profile created")
        aws.put_event(
            target.event_bus,
            target.event_source,
            "Cart Abandoned",
            cart_abandoned(customer_id, cart_id, target.store_url, now()),
        )
        report(f"Cart Abandoned    cart {cart_id}")
        key = f"cart_abandoned#{cart_id}"

        def decided() -> bool:
            nonlocal delivery
            delivery = aws.delivery(target.deliveries_table, customer_id, key)
            return delivery is not None and delivery.get("decision") in DECIDED

        if not _wait(decided, polls, poll_seconds, sleep):
            report(f"no decision after {timeout_seconds:.0f} s: see CartAbandonedDLQ and its function's logs")
            return SmokeResult(customer_id, cart_id, None, profile_created=True)
        assert delivery is not None
        report(describe(delivery))
        return SmokeResult(customer_id, cart_id, delivery, profile_created=True)
    finally:
        aws.put_event(
            target.event_bus, target.event_source, "Customer Deleted", customer_deleted(customer_id, now())
        )
        report(f"Customer Deleted  {customer_id} (erased with everything stored about it)")


def describe(delivery: Mapping[str, Any]) -> str:
    decision = str(delivery["decision"])
    if decision == "sent":
        message_id, subject = delivery.get("message_id"), delivery.get("subject")
        return f"decision: sent, SES message id {message_id}, subject {subject!r}"
    if decision == "skipped":
        return f"decision: skipped, reason {delivery.get('reason')}"
    if decision == "deferred":
        return f"decision: deferred until {delivery.get('deferred_until')} (quiet hours)"
    return f"decision: {decision}"


def _wait(
    done: Callable[[], bool], polls: int, poll_seconds: float, sleep: Callable[[float], object]
) -> bool:
    for attempt in range(polls + 1):
        if done():
            return True
        if attempt < polls:
            sleep(poll_seconds)
    return False
