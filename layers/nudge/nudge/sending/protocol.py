"""The claim-and-send protocol: claim the send on the delivery record, take the profile's slot, call
SES once, record its answer; and what happens when any step fails or the invocation runs out of time."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import NamedTuple

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from nudge.adapters.ses import SendRefusedError, send_raw
from nudge.carts import CartNote
from nudge.dal import frequency_cap
from nudge.dal.deliveries import (
    Claim,
    claim_send,
    complete_send,
    release_claim,
)
from nudge.dal.frequency_cap import Changed, Taken
from nudge.experiments.models import Arm
from nudge.message_tags import send_tags
from nudge.mime import build_message
from nudge.observability import log_safe_id, logger, metrics
from nudge.outcome import Decision, Outcome, SkipReason
from nudge.profiles import Customer
from nudge.rendering import RenderedEmail
from nudge.sending.case import Draft, EmailCase, Recipient
from nudge.sending.compose import arm_facts, compose_email
from nudge.sending.records import (
    SendInProgressError,
    count_skip,
    decided_by_twin,
    skip,
    write_note,
)
from nudge.sending.rules import capped, rule_reason, send_write
from nudge.timeutil import utc_now

# Without a Lambda context (a script, a test calling the pipeline directly), assume the functions'
# timeout; a claim also outlives the deadline by a margin for clock skew between invocations.
DEFAULT_TIMEOUT_SECONDS = 30


LEASE_MARGIN_SECONDS = 5


# What claiming, the send-state write, one SES call (connect 3 s, read 10 s at most) and recording it
# need; and, checked again right before SES is called, what the call and its recording need.
CLAIM_RESERVE_SECONDS = 20


SEND_RESERVE_SECONDS = 15


class OutOfTimeError(RuntimeError):
    """The invocation is too close to its timeout to start a send; the record comes back later."""


# The send's write is tried again from the send state as it stands when it changed under it
# (a racing email took the last slot, a newer cart was noted); more races than this in a row and the
# claim is given back, so the record comes back and decides anew.
MAX_SEND_STATE_WRITES = 3


class SendStateContendedError(RuntimeError):
    """The profile kept changing under the send's write; the record comes back and decides again."""


def hold_out(case: EmailCase, customer: Customer, arm: Arm) -> Outcome:
    """The holdout is recorded first; then it takes its slot too (as its email would have), so
    capping thins both arms alike. It is not marked emailed."""
    outcome = skip(case, customer, SkipReason.HOLDOUT, **arm_facts(arm))
    if outcome.reason is not SkipReason.HOLDOUT:
        return outcome  # a twin decided otherwise
    slot = send_write(case, customer, marks=())
    if not isinstance(slot, Taken):
        write_note(case, case.note)  # a racing email took the slot: the cart is still noted
    return outcome


class _Claimed(NamedTuple):
    """The send as claimed on the delivery record: its record, and the claim that holds it."""

    outcome: Outcome
    claim: Claim


def claim_and_send(case: EmailCase, draft: Draft, lambda_context: LambdaContext | None) -> Outcome:
    """The send protocol: render, claim the send on the delivery record, call SES once, record the
    answer. A crash between the claim and the record leaves a claim that a retry closes as
    ``send_unconfirmed``: that one email may be lost, but it is never sent twice."""
    settings = case.settings
    email = compose_email(case, draft)
    claimed = case.outcome(
        Decision.SENDING,
        segment_id=draft.recipient.segment.segment_id,
        subject=email.subject,
        **arm_facts(draft.arm),
    )
    if _seconds_left(lambda_context) < CLAIM_RESERVE_SECONDS:
        # A claim the invocation cannot see through to SES's answer would only become
        # send_unconfirmed: let the record come back instead, with nothing claimed.
        raise OutOfTimeError("too little time left to claim and send")
    claim = Claim(token=uuid.uuid4().hex, lease_expires_at=_invocation_deadline(lambda_context))
    holder = claim_send(
        settings.deliveries_table, claimed, claim, utc_now(), settings.delivery_record_retention
    )
    if holder is not None and not (holder.claim is not None and holder.claim.token == claim.token):
        # A twin delivery decided first: its decision, or its claim, is the answer. (Our own token
        # in the way is our own claim: the SDK retried a write whose answer was lost.)
        return decided_by_twin(settings, claimed, holder)
    # Claimed. A crash from here until SES answers leaves a claim that a retry closes as
    # send_unconfirmed; the send-state write below is within that window.
    held = _Claimed(claimed, claim)
    try:
        slot = _take_send_slot(case, draft.recipient.customer, held)
    except Exception:
        # The send-state write failed (throttled) and nothing was sent: the claim goes back, so the
        # retry decides anew instead of finding a claim it must close as send_unconfirmed.
        release_claim(settings.deliveries_table, claimed, claim)
        raise
    if isinstance(slot, Outcome):
        return slot
    try:
        return _send(case, draft.recipient, email, held, lambda_context)
    except (SendRefusedError, OutOfTimeError):
        # Nothing went out (SES refused, or too little time was left to call it): the slot and the
        # claim go back, and the retry decides anew. Not on a crash or an unknown result: as on
        # AWS, a dying invocation runs no clean-up.
        if slot.slot is not None:
            frequency_cap.release(settings.deliveries_table, case.customer_id, case.claimant, slot.slot)
        release_claim(settings.deliveries_table, claimed, claim)
        raise


def _take_send_slot(case: EmailCase, customer: Customer, held: _Claimed) -> Taken | Outcome:
    """The send's one write, to the customer's send state: the cap's slot, the send marks and the
    noted cart. When the send state changed since it was read, the customer is judged again as it
    stands: still sendable, the write is tried again; no longer (capped, superseded), the claim
    becomes that skip."""
    for _ in range(MAX_SEND_STATE_WRITES):
        slot = send_write(case, customer, marks=("last_emailed_at", *case.trigger.send_marks))
        if isinstance(slot, Taken):
            return slot
        if isinstance(slot, Changed):
            customer = slot.customer
            reason = rule_reason(case, customer) or capped(case, customer)
            if reason is None:
                continue
        else:
            reason = SkipReason.FREQUENCY_CAPPED
        return _claim_skipped(case, held, reason, note=case.note)
    release_claim(case.settings.deliveries_table, held.outcome, held.claim)
    raise SendStateContendedError(held.outcome.business_id)


def _claim_skipped(case: EmailCase, held: _Claimed, reason: SkipReason, *, note: CartNote | None) -> Outcome:
    """Our claim becomes a skip: the customer as it now stands says no."""
    settings = case.settings
    write_note(case, note)
    skipped = held.outcome.model_copy(
        update={"decision": Decision.SKIPPED, "reason": reason, "subject": None}
    )
    if not complete_send(
        settings.deliveries_table, skipped, held.claim, utc_now(), settings.delivery_record_retention
    ):
        raise SendInProgressError(held.outcome.business_id)  # our claim was closed meanwhile: read it anew
    count_skip(case, skipped, reason)
    return skipped


def _send(
    case: EmailCase,
    recipient: Recipient,
    email: RenderedEmail,
    held: _Claimed,
    lambda_context: LambdaContext | None,
) -> Outcome:
    if _seconds_left(lambda_context) < SEND_RESERVE_SECONDS:
        # The send-state write took its time: an SES call now might not be answered, or answered
        # and not recorded, before Lambda ends the invocation.
        raise OutOfTimeError("too little time left to call SES and record its answer")
    settings, customer = case.settings, recipient.customer
    sent_at = utc_now()
    message = build_message(
        sender=settings.sender,
        recipient_name=customer.full_name,
        recipient_email=customer.email,
        email=email,
        sent_at=sent_at,
        unsubscribe_url=recipient.unsubscribe_url,
    )
    message_id = send_raw(
        message,
        configuration_set=settings.configuration_set,
        tags=send_tags(held.outcome, held.claim.token),
        seconds_left=lambda: _seconds_left(lambda_context),
    )
    outcome = held.outcome.model_copy(update={"decision": Decision.SENT, "message_id": message_id})
    metrics.add_metric(name="EmailSent", unit=MetricUnit.Count, value=1)
    logger.info(
        "email sent",
        extra={
            "customer_id": log_safe_id(customer.customer_id),
            "segment_id": recipient.segment.segment_id,
            "message_id": message_id,
        },
    )
    # SES has accepted the email. If this write fails, the claim stays, and the retry closes it as
    # sent from SES's Send event on the record: never sent again.
    complete_send(settings.deliveries_table, outcome, held.claim, sent_at, settings.delivery_record_retention)
    return outcome


def _invocation_deadline(lambda_context: LambdaContext | None) -> datetime:
    """Until when the invocation that claims a send can possibly be alive: Lambda ends it at its
    timeout, so a claim older than that belongs to an invocation that is gone."""
    return utc_now() + timedelta(seconds=_seconds_left(lambda_context) + LEASE_MARGIN_SECONDS)


def _seconds_left(lambda_context: LambdaContext | None) -> float:
    if lambda_context is None:
        return float(DEFAULT_TIMEOUT_SECONDS)
    return lambda_context.get_remaining_time_in_millis() / 1000
