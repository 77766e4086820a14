"""The delivery record, decided once: every decision is a conditional write of it, which fails on a
decision or a claim already stored and returns that record; a twin delivery's answer stands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from nudge.carts import CartNote
from nudge.dal.deliveries import (
    Claim,
    Delivery,
    close_as_sent,
    get_delivery,
    mark_unconfirmed,
    record_decision,
    release_unaccepted_claim,
)
from nudge.dal.send_state import note_cart
from nudge.observability import log_safe_id, logger, metrics
from nudge.outcome import Decision, Outcome, SkipReason
from nudge.profiles import Customer
from nudge.sending.case import EmailCase
from nudge.sending.rules import send_state_expiry
from nudge.settings import Settings
from nudge.timeutil import to_stored, utc_now
from nudge.waiting import ComesBackLaterError

CLAIM_RELEASED_RETRY_SECONDS = 5


class SendInProgressError(RuntimeError):
    """Another delivery of this event has claimed its send and may still be running: this record
    fails and comes back after the queue's visibility timeout, when that invocation is certainly over."""


def settled(settings: Settings, stored: Delivery | None) -> Outcome | None:
    """What a stored record already decided: a final decision, or a dead invocation's claim closed
    from SES's own record. None while the event is open (no record yet, or a deferral)."""
    if stored is None:
        return None
    if stored.outcome.decision.is_final:
        return stored.outcome
    if stored.claim is not None:
        return claimed_before(settings, stored, stored.claim)
    return None


def claimed_before(settings: Settings, stored: Delivery, claim: Claim) -> Outcome:
    """A claim another invocation made. Still within its lease: that invocation may be sending, so
    this record waits. Past it, the invocation is certainly gone, and SES's own record decides: the
    email was accepted (its Send event is on the delivery) and the claim is closed as sent; no
    record yet, and the record waits out ``UnconfirmedSendGraceSeconds`` for it; none after that,
    and the claim is released and the event sent again (or, with ``UnconfirmedSends`` ``give_up``,
    closed as ``send_unconfirmed``)."""
    claimed = stored.outcome
    now = utc_now()
    if now < claim.lease_expires_at:
        raise SendInProgressError(claimed.business_id)
    table = settings.deliveries_table
    where = {"customer_id": log_safe_id(claimed.customer_id), "trigger": claimed.trigger}
    if stored.accepted_message_id is not None:
        if close_as_sent(table, claimed, claim.token, stored.accepted_message_id):
            metrics.add_metric(name="SendConfirmedBySes", unit=MetricUnit.Count, value=1)
            logger.info("a dead invocation's send was accepted by SES: closed as sent", extra=where)
        return _read_final(settings, claimed)
    if settings.unconfirmed_sends == "give_up":
        if mark_unconfirmed(table, claimed, claim.token):
            metrics.add_metric(name="SendUnconfirmed", unit=MetricUnit.Count, value=1)
            logger.warning("a send was claimed but never confirmed; it is not sent again", extra=where)
        return _read_final(settings, claimed)
    grace_over = claim.lease_expires_at + settings.unconfirmed_send_grace
    if now < grace_over:
        raise AwaitingSesRecordError(
            claimed.business_id, retry_after_seconds=(grace_over - now).total_seconds()
        )
    if release_unaccepted_claim(table, claimed, claim.token):
        metrics.add_metric(name="UnconfirmedSendRetried", unit=MetricUnit.Count, value=1)
        logger.warning("SES has no record of a dead invocation's send: it is sent again", extra=where)
    raise ClaimReleasedError(claimed.business_id, retry_after_seconds=CLAIM_RELEASED_RETRY_SECONDS)


def _read_final(settings: Settings, claimed: Outcome) -> Outcome:
    stored = get_delivery(
        settings.deliveries_table, claimed.customer_id, claimed.trigger, claimed.business_id
    )
    if stored is None or not stored.outcome.decision.is_final:
        raise SendInProgressError(claimed.business_id)
    return stored.outcome


class AwaitingSesRecordError(ComesBackLaterError):
    """A dead invocation's claim SES has not (yet) reported as accepted: the record comes back when
    the grace period is over, and is decided from what SES has reported by then."""


class ClaimReleasedError(ComesBackLaterError):
    """A dead invocation's claim SES never confirmed was released: the record comes back in seconds
    and is decided (and sent) anew under a claim of its own."""


def skip(
    case: EmailCase,
    customer: Customer | None,
    reason: SkipReason,
    *,
    note: CartNote | None = None,
    **facts: Any,
) -> Outcome:
    """The email is not sent, for ``reason``; ``note`` (the case's cart) is written all the same."""
    write_note(case, note)
    outcome = case.outcome(
        Decision.SKIPPED, reason=reason, segment_id=customer.segment_id if customer else None, **facts
    )
    settings = case.settings
    holder = record_decision(
        settings.deliveries_table, outcome, utc_now(), settings.delivery_record_retention
    )
    if holder is not None:
        return decided_by_twin(settings, outcome, holder)
    count_skip(case, outcome, reason)
    return outcome


def count_skip(case: EmailCase, outcome: Outcome, reason: SkipReason) -> None:
    with single_metric(
        name="EmailSkipped", unit=MetricUnit.Count, value=1, default_dimensions=metrics.default_dimensions
    ) as metric:
        metric.add_dimension(name="trigger", value=case.trigger.name)
        metric.add_dimension(name="reason", value=reason.value)
    logger.info(
        "email skipped", extra={"customer_id": log_safe_id(outcome.customer_id), "reason": reason.value}
    )


def defer(case: EmailCase, customer: Customer, until: datetime) -> Outcome:
    """Quiet hours: the email waits until ``until``; the case's cart is noted now."""
    write_note(case, case.note)
    outcome = case.outcome(Decision.DEFERRED, segment_id=customer.segment_id, deferred_until=until)
    settings = case.settings
    holder = record_decision(
        settings.deliveries_table, outcome, utc_now(), settings.delivery_record_retention
    )
    if holder is not None:
        return decided_by_twin(settings, outcome, holder)
    metrics.add_metric(name="EmailDeferred", unit=MetricUnit.Count, value=1)
    logger.info(
        "email deferred for quiet hours",
        extra={"customer_id": log_safe_id(customer.customer_id), "deferred_until": to_stored(until)},
    )
    return outcome


def write_note(case: EmailCase, note: CartNote | None) -> None:
    """A skipped or deferred cart is still the customer's newest: an older cart's series must end."""
    if note is not None:
        settings = case.settings
        note_cart(settings.deliveries_table, case.customer_id, note, send_state_expiry(settings, utc_now()))


def decided_by_twin(settings: Settings, mine: Outcome, holder: Delivery) -> Outcome:
    """Another delivery of the same event wrote a final decision or a claim first: that one stands."""
    decided = settled(settings, holder)
    if decided is None:
        raise SendInProgressError(mine.business_id)
    return decided
