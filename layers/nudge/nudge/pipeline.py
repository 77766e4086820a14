"""From one validated trigger event to one decision and, at most once, one email."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from nudge import deferral, formatting, series
from nudge.adapters.ses import SendRefusedError, send_raw
from nudge.carts import CartNote
from nudge.catalog.models import Product
from nudge.dal import frequency_cap
from nudge.dal.customers import record_cart
from nudge.dal.deliveries import (
    Claim,
    Delivery,
    claim_send,
    close_as_sent,
    complete_send,
    get_delivery,
    mark_unconfirmed,
    record_decision,
    release_claim,
    release_unaccepted_claim,
)
from nudge.dal.frequency_cap import Changed, Taken
from nudge.dal.segments import get_segment
from nudge.dal.send_reads import RowsToRefresh, read_profile
from nudge.eligibility import ineligibility
from nudge.envelopes import EventBridgeModel
from nudge.events import TriggerDetail
from nudge.experiments.models import Arm
from nudge.experiments.running import arm_for, running_experiment
from nudge.link_tracking import LinkTracking
from nudge.message_tags import send_tags
from nudge.mime import build_message
from nudge.observability import log_safe_id, logger, metrics, tracer
from nudge.outcome import Decision, Outcome, SkipReason
from nudge.profiles import Customer, Segment
from nudge.recommendations import RecommendationRequest, Recommender, recommender_for, rows_to_refresh
from nudge.rendering import RenderedEmail, language_for, render_email, render_subject
from nudge.settings import Settings
from nudge.timeutil import to_stored, utc_now
from nudge.triggers import TRIGGER_NAMES, Trigger
from nudge.unsubscribe import tokens
from nudge.unsubscribe.keys import signing_key
from nudge.waiting import ComesBackLaterError

# Without a Lambda context (a script, a test calling the pipeline directly), assume the functions'
# timeout; a claim also outlives the deadline by a margin for clock skew between invocations.
DEFAULT_TIMEOUT_SECONDS = 30
LEASE_MARGIN_SECONDS = 5
# What claiming, the profile write, one SES call (connect 3 s, read 10 s at most) and recording it
# need; and, checked again right before SES is called, what the call and its recording need.
CLAIM_RESERVE_SECONDS = 20
SEND_RESERVE_SECONDS = 15
CLAIM_RELEASED_RETRY_SECONDS = 5


def process_delivery(
    trigger: Trigger[Any], event: EventBridgeModel, settings: Settings, lambda_context: LambdaContext | None
) -> Outcome:
    """One event as its queue delivered it; if quiet hours defer it, it is scheduled to come back."""
    detail = event.detail
    if not isinstance(detail, TriggerDetail):
        raise TypeError(f"{type(event).__name__} does not parse its detail into a trigger's detail")
    # EventBridge always writes `time` in UTC with a Z; a hand-made event without an offset means UTC.
    event_time = event.time if event.time.tzinfo else event.time.replace(tzinfo=UTC)
    outcome = process_event(trigger, detail, settings, lambda_context, event_time=event_time)
    if outcome.decision is Decision.DEFERRED and outcome.deferred_until is not None:
        deferral.redeliver_at(
            outcome.deferred_until,
            trigger=trigger.name,
            business_id=outcome.business_id,
            event_json=event.model_dump_json(by_alias=True, exclude_none=True),
            settings=settings.deferral,
        )
    series.after_decision(trigger, event, outcome, settings)
    return outcome


class OutOfTimeError(RuntimeError):
    """The invocation is too close to its timeout to start a send; the record comes back later."""


class SendInProgressError(RuntimeError):
    """Another delivery of this event has claimed its send and may still be running: this record
    fails and comes back after the queue's visibility timeout, when that invocation is certainly over."""


def process_event(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    lambda_context: LambdaContext | None,
    *,
    event_time: datetime | None = None,
) -> Outcome:
    """Decide and send for one event, at most once per business identity, whatever is retried.

    The delivery record is the guard, and it is not read first: every decision is a conditional
    write of it, which fails on a final decision or a claim already stored and returns that record.
    A final decision is returned as it is; a send claimed by an invocation that is certainly dead is
    closed as ``send_unconfirmed`` and never sent again; a deferral is decided anew (the same event,
    back in the morning). A duplicate costs what deciding costs, and is never sent twice.
    """
    if event_time is not None and event_time < utc_now() - settings.replay_window:
        return _skip(trigger, detail, settings, None, SkipReason.EVENT_TOO_OLD)
    return _decide_and_send(trigger, detail, settings, lambda_context, event_time)


def _settled(settings: Settings, stored: Delivery | None) -> Outcome | None:
    """What a stored record already decided: a final decision, or a dead invocation's claim closed
    from SES's own record. None while the event is open (no record yet, or a deferral)."""
    if stored is None:
        return None
    if stored.outcome.decision.is_final:
        return stored.outcome
    if stored.claim is not None:
        return _claimed_before(settings, stored, stored.claim)
    return None


def _claimed_before(settings: Settings, stored: Delivery, claim: Claim) -> Outcome:
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


# The send's profile write is tried again from the profile as it stands when it changed under it
# (a racing email took the last slot, a newer cart was noted); more races than this in a row and the
# claim is given back, so the record comes back and decides anew.
MAX_PROFILE_WRITES = 3


class ProfileContendedError(RuntimeError):
    """The profile kept changing under the send's write; the record comes back and decides again."""


class CustomerNotYetKnownError(ComesBackLaterError):
    """No profile yet, for an event younger than ``UNKNOWN_CUSTOMER_WAIT_SECONDS``: the store's
    Customer Updated may be just behind it (sent at the same checkout, on another queue). The record
    comes back with back-off, and is decided ``unknown_customer`` once the wait is over."""


@tracer.capture_method(capture_response=False)
def _decide_and_send(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    lambda_context: LambdaContext | None,
    event_time: datetime | None = None,
) -> Outcome:
    """Skip, defer or send, from the profile as read. Nothing is written to the profile before the
    delivery record holds the decision (a skip, a deferral, the send's claim): a duplicate or a replay
    stops at that conditional write and changes nothing."""
    customer = (
        trigger.profile_update(detail, settings)
        if trigger.profile_update is not None
        else read_profile(
            settings.customers_table, detail.customer_id, _rows_to_refresh(trigger, detail, settings)
        )
    )
    if customer is None:
        if event_time is not None and utc_now() - event_time < settings.unknown_customer_wait:
            raise CustomerNotYetKnownError(trigger.name)
        return _skip(trigger, detail, settings, None, SkipReason.UNKNOWN_CUSTOMER)
    note = trigger.profile_note(detail)
    cap = _cap(trigger, settings)
    # The cap is checked last, so an email skipped for any other reason never uses up a slot.
    reason = _rule_reason(trigger, detail, settings, customer)
    if reason is not None:
        return _skip(trigger, detail, settings, customer, reason, note=note)
    zone = formatting.resolve_timezone(customer.timezone, settings.default_timezone)
    morning = settings.quiet_hours.over_at(utc_now(), zone)
    if morning is not None:
        return _defer(trigger, detail, settings, customer, morning, note=note)
    reason = _capped(trigger, detail, customer, cap)
    if reason is not None:
        return _skip(trigger, detail, settings, customer, reason, note=note)
    segment = get_segment(settings.segments_table, customer.segment_id)
    unsubscribe_url = unsubscribe_link(settings, customer.customer_id)
    recommendations = _recommendations(trigger, detail, customer, segment, settings)
    context = template_context(trigger, detail, customer, segment, settings, unsubscribe_url, recommendations)
    language = language_for(settings.templates_dir, context["locale"])
    arm = _arm(trigger, customer, settings, context, language)
    if arm is not None and arm.is_holdout:
        return _hold_out(trigger, detail, settings, customer, arm, cap, note)
    return _claim_and_send(
        trigger, detail, settings, customer, segment, unsubscribe_url, context, language, arm, lambda_context
    )


def _rows_to_refresh(trigger: Trigger[Any], detail: TriggerDetail, settings: Settings) -> RowsToRefresh:
    """The rows read with the profile when their cached copies have expired: the segments this
    container knows, and the recommendation and catalog rows of the event's own seeds."""
    if trigger.event_seeds is None:
        return RowsToRefresh(settings.segments_table)
    return rows_to_refresh(settings, *trigger.event_seeds(detail))


def _rule_reason(
    trigger: Trigger[Any], detail: TriggerDetail, settings: Settings, customer: Customer
) -> SkipReason | None:
    """Why the profile as read says no: consent and suppression, the trigger's exit rule, the sunset
    policy."""
    return (
        ineligibility(customer)
        or trigger.exit_reason(detail, customer)
        or _sunset(trigger, customer, settings)
    )


def _capped(
    trigger: Trigger[Any], detail: TriggerDetail, customer: Customer, cap: frequency_cap.Cap | None
) -> SkipReason | None:
    """``frequency_capped`` when the profile as read shows every slot taken by other emails."""
    if cap is not None and frequency_cap.is_full(customer, _claimant(trigger, detail), utc_now(), cap):
        return SkipReason.FREQUENCY_CAPPED
    return None


def _claimant(trigger: Trigger[Any], detail: TriggerDetail) -> str:
    return f"{trigger.name}:{trigger.business_id(detail)}"


def _profile_write(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    customer: Customer,
    cap: frequency_cap.Cap | None,
    note: CartNote | None,
    *,
    marks: tuple[str, ...],
) -> frequency_cap.SlotResult:
    """The email's one write to the profile: its cap slot, ``marks`` and the noted cart."""
    return frequency_cap.take_send_slot(
        settings.customers_table,
        customer,
        _claimant(trigger, detail),
        at=utc_now(),
        cap=cap,
        marks=marks,
        note=note,
    )


def _hold_out(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    customer: Customer,
    arm: Arm,
    cap: frequency_cap.Cap | None,
    note: CartNote | None,
) -> Outcome:
    """The holdout is recorded first; then it takes its slot too (as its email would have), so
    capping thins both arms alike. It is not marked emailed."""
    outcome = _skip(trigger, detail, settings, customer, SkipReason.HOLDOUT, **_arm_facts(arm))
    if outcome.reason is not SkipReason.HOLDOUT:
        return outcome  # a twin decided otherwise
    slot = _profile_write(trigger, detail, settings, customer, cap, note, marks=())
    if not isinstance(slot, Taken):
        _write_note(settings, detail, note)  # a racing email took the slot: the cart is still noted
    return outcome


def _sunset(trigger: Trigger[Any], customer: Customer, settings: Settings) -> SkipReason | None:
    """``unengaged`` once the customer has neither opened nor clicked for ``SunsetAfterDays``."""
    if settings.sunset_after_days == 0 or trigger.name in settings.sunset_exempt:
        return None
    engaged_at = customer.last_engaged_at()
    if engaged_at is None or utc_now() - engaged_at < timedelta(days=settings.sunset_after_days):
        return None
    return SkipReason.UNENGAGED


def _cap(trigger: Trigger[Any], settings: Settings) -> frequency_cap.Cap | None:
    """None when there is no cap: 0 is off, and an exempt trigger (the thank-you for an order) neither
    waits for a slot nor takes one from the marketing emails."""
    if settings.frequency_cap_emails == 0 or trigger.name in settings.frequency_cap_exempt:
        return None
    return frequency_cap.Cap(slots=settings.frequency_cap_emails, window=settings.frequency_cap_window)


def _claim_and_send(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    customer: Customer,
    segment: Segment,
    unsubscribe_url: str,
    context: dict[str, Any],
    language: str,
    arm: Arm | None,
    lambda_context: LambdaContext | None,
) -> Outcome:
    """The send protocol: render, claim the send on the delivery record, call SES once, record the
    answer. A crash between the claim and the record leaves a claim that a retry closes as
    ``send_unconfirmed``: that one email may be lost, but it is never sent twice."""
    email = _render(trigger, detail, settings, unsubscribe_url, context, language, arm)
    claimed = _outcome(
        trigger,
        detail,
        Decision.SENDING,
        segment_id=segment.segment_id,
        subject=email.subject,
        **_arm_facts(arm),
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
        return _decided_by_twin(settings, claimed, holder)
    # Claimed. A crash from here until SES answers leaves a claim that a retry closes as
    # send_unconfirmed; the profile write below is within that window.
    try:
        slot = _take_send_slot(trigger, detail, settings, customer, claimed, claim)
    except Exception:
        # The profile write failed (throttled) and nothing was sent: the claim goes back, so the
        # retry decides anew instead of finding a claim it must close as send_unconfirmed.
        release_claim(settings.deliveries_table, claimed, claim)
        raise
    if isinstance(slot, Outcome):
        return slot
    try:
        return _send(settings, customer, segment, unsubscribe_url, email, claimed, lambda_context, claim)
    except (SendRefusedError, OutOfTimeError):
        # Nothing went out (SES refused, or too little time was left to call it): the slot and the
        # claim go back, and the retry decides anew. Not on a crash or an unknown result: as on
        # AWS, a dying invocation runs no clean-up.
        if slot.slot is not None:
            frequency_cap.release(
                settings.customers_table, customer.customer_id, _claimant(trigger, detail), slot.slot
            )
        release_claim(settings.deliveries_table, claimed, claim)
        raise


def _take_send_slot(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    customer: Customer,
    claimed: Outcome,
    claim: Claim,
) -> Taken | Outcome:
    """The profile's one write for the claimed send: the cap's slot, the send marks and the noted
    cart. When the profile changed since it was read, it is judged again as it stands: still
    sendable, the write is tried again; no longer (capped, superseded, unsubscribed), the claim
    becomes that skip."""
    cap = _cap(trigger, settings)
    note = trigger.profile_note(detail)
    for _ in range(MAX_PROFILE_WRITES):
        slot = _profile_write(
            trigger, detail, settings, customer, cap, note, marks=("last_emailed_at", *trigger.profile_marks)
        )
        if isinstance(slot, Taken):
            return slot
        if isinstance(slot, Changed):
            if slot.customer is None:
                return _claim_skipped(
                    trigger, detail, settings, claimed, claim, SkipReason.UNKNOWN_CUSTOMER, None
                )
            customer = slot.customer
            reason = _rule_reason(trigger, detail, settings, customer) or _capped(
                trigger, detail, customer, cap
            )
            if reason is None:
                continue
        else:
            reason = SkipReason.FREQUENCY_CAPPED
        return _claim_skipped(trigger, detail, settings, claimed, claim, reason, note)
    release_claim(settings.deliveries_table, claimed, claim)
    raise ProfileContendedError(claimed.business_id)


def _claim_skipped(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    claimed: Outcome,
    claim: Claim,
    reason: SkipReason,
    note: CartNote | None,
) -> Outcome:
    """Our claim becomes a skip: the profile as it now stands says no."""
    _write_note(settings, detail, note)
    skipped = claimed.model_copy(update={"decision": Decision.SKIPPED, "reason": reason, "subject": None})
    if not complete_send(
        settings.deliveries_table, skipped, claim, utc_now(), settings.delivery_record_retention
    ):
        raise SendInProgressError(claimed.business_id)  # our claim was closed meanwhile: read it anew
    _count_skip(trigger, skipped, reason)
    return skipped


def _send(
    settings: Settings,
    customer: Customer,
    segment: Segment,
    unsubscribe_url: str,
    email: RenderedEmail,
    claimed: Outcome,
    lambda_context: LambdaContext | None,
    claim: Claim,
) -> Outcome:
    if _seconds_left(lambda_context) < SEND_RESERVE_SECONDS:
        # The profile write took its time: an SES call now might not be answered, or answered
        # and not recorded, before Lambda ends the invocation.
        raise OutOfTimeError("too little time left to call SES and record its answer")
    sent_at = utc_now()
    message = build_message(
        sender=settings.sender,
        recipient_name=customer.full_name,
        recipient_email=customer.email,
        email=email,
        sent_at=sent_at,
        unsubscribe_url=unsubscribe_url,
    )
    message_id = send_raw(
        message,
        configuration_set=settings.configuration_set,
        tags=send_tags(claimed, claim.token),
        seconds_left=lambda: _seconds_left(lambda_context),
    )
    outcome = claimed.model_copy(update={"decision": Decision.SENT, "message_id": message_id})
    metrics.add_metric(name="EmailSent", unit=MetricUnit.Count, value=1)
    logger.info(
        "email sent",
        extra={
            "customer_id": log_safe_id(customer.customer_id),
            "segment_id": segment.segment_id,
            "message_id": message_id,
        },
    )
    # SES has accepted the email. If this write fails, the claim stays, and the retry closes it as
    # sent from SES's Send event on the record: never sent again.
    complete_send(settings.deliveries_table, outcome, claim, sent_at, settings.delivery_record_retention)
    return outcome


def _invocation_deadline(lambda_context: LambdaContext | None) -> datetime:
    """Until when the invocation that claims a send can possibly be alive: Lambda ends it at its
    timeout, so a claim older than that belongs to an invocation that is gone."""
    return utc_now() + timedelta(seconds=_seconds_left(lambda_context) + LEASE_MARGIN_SECONDS)


def _seconds_left(lambda_context: LambdaContext | None) -> float:
    if lambda_context is None:
        return float(DEFAULT_TIMEOUT_SECONDS)
    return lambda_context.get_remaining_time_in_millis() / 1000


def _skip(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    customer: Customer | None,
    reason: SkipReason,
    *,
    note: CartNote | None = None,
    **facts: Any,
) -> Outcome:
    _write_note(settings, detail, note)
    outcome = _outcome(
        trigger,
        detail,
        Decision.SKIPPED,
        reason=reason,
        segment_id=customer.segment_id if customer else None,
        **facts,
    )
    holder = record_decision(
        settings.deliveries_table, outcome, utc_now(), settings.delivery_record_retention
    )
    if holder is not None:
        return _decided_by_twin(settings, outcome, holder)
    _count_skip(trigger, outcome, reason)
    return outcome


def _count_skip(trigger: Trigger[Any], outcome: Outcome, reason: SkipReason) -> None:
    with single_metric(
        name="EmailSkipped", unit=MetricUnit.Count, value=1, default_dimensions=metrics.default_dimensions
    ) as metric:
        metric.add_dimension(name="trigger", value=trigger.name)
        metric.add_dimension(name="reason", value=reason.value)
    logger.info(
        "email skipped", extra={"customer_id": log_safe_id(outcome.customer_id), "reason": reason.value}
    )


def _defer(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    customer: Customer,
    until: datetime,
    *,
    note: CartNote | None,
) -> Outcome:
    _write_note(settings, detail, note)
    outcome = _outcome(
        trigger, detail, Decision.DEFERRED, segment_id=customer.segment_id, deferred_until=until
    )
    holder = record_decision(
        settings.deliveries_table, outcome, utc_now(), settings.delivery_record_retention
    )
    if holder is not None:
        return _decided_by_twin(settings, outcome, holder)
    metrics.add_metric(name="EmailDeferred", unit=MetricUnit.Count, value=1)
    logger.info(
        "email deferred for quiet hours",
        extra={"customer_id": log_safe_id(customer.customer_id), "deferred_until": to_stored(until)},
    )
    return outcome


def _write_note(settings: Settings, detail: TriggerDetail, note: CartNote | None) -> None:
    """A skipped or deferred cart is still the customer's newest: an older cart's series must end."""
    if note is not None:
        record_cart(settings.customers_table, detail.customer_id, note.cart_id, note.abandoned_at)


def _decided_by_twin(settings: Settings, mine: Outcome, holder: Delivery) -> Outcome:
    """Another delivery of the same event wrote a final decision or a claim first: that one stands."""
    settled = _settled(settings, holder)
    if settled is None:
        raise SendInProgressError(mine.business_id)
    return settled


def _outcome(trigger: Trigger[Any], detail: TriggerDetail, decision: Decision, **facts: Any) -> Outcome:
    return Outcome(
        trigger=trigger.name,
        customer_id=detail.customer_id,
        business_id=trigger.business_id(detail),
        decision=decision,
        **facts,
    )


def email_currency(
    trigger: Trigger[Any], detail: TriggerDetail, customer: Customer, settings: Settings
) -> str:
    """The cart's or the order's currency; for a win-back the customer's last order's, else the
    store's (``StoreCurrency``)."""
    return trigger.currency(detail, customer) or settings.store.currency


def shown_in(products: list[Product], currency: str, language: str) -> list[Product]:
    """The products as an email in ``currency`` and ``language`` shows them: priced and named in
    them, and none without a price in that currency (whatever recommender chose them)."""
    return [shown for shown in (product.shown_in(currency, language) for product in products) if shown]


def unsubscribe_link(settings: Settings, customer_id: str) -> str:
    token = tokens.issue(signing_key(settings.unsubscribe_key_secret), customer_id)
    return f"{settings.unsubscribe_url}?{urlencode({'token': token})}"


def _recommendations(
    trigger: Trigger[Any], detail: TriggerDetail, customer: Customer, segment: Segment, settings: Settings
) -> list[Product]:
    recommender = recommender_for(settings) if segment.show_recommendations else None
    return recommendations_for(trigger, detail, customer, segment, settings, recommender)


def recommendations_for(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    customer: Customer,
    segment: Segment,
    settings: Settings,
    recommender: Recommender | None,
) -> list[Product]:
    """Up to ``RecommendationsPerEmail`` products from ``recommender`` (the stack's, or the preview's
    sample catalog); none when the segment turns them off, and none (with a log line and a metric)
    when the recommender fails: it never stops an email."""
    if recommender is None or not segment.show_recommendations:
        return []
    request = RecommendationRequest(
        trigger=trigger.name,
        customer_id=customer.customer_id,
        seed_skus=trigger.seed_skus(detail, customer),
        exclude_skus=frozenset({*trigger.shown_skus(detail), *customer.recent_skus}),
        limit=settings.recommendations_per_email,
        currency=email_currency(trigger, detail, customer, settings),
    )
    try:
        return recommender.recommend(request)
    except Exception:
        logger.exception(
            "recommendations unavailable; the email goes without them",
            extra={"customer_id": log_safe_id(customer.customer_id), "trigger": trigger.name},
        )
        metrics.add_metric(name="RecommendationsUnavailable", unit=MetricUnit.Count, value=1)
        return []


def _arm(
    trigger: Trigger[Any], customer: Customer, settings: Settings, context: dict[str, Any], language: str
) -> Arm | None:
    """The customer's arm of the trigger's running experiment, if there is a valid one."""
    experiment = running_experiment(settings.experiments_table, trigger.name, TRIGGER_NAMES)
    return arm_for(
        experiment,
        customer.customer_id,
        templates_dir=settings.templates_dir,
        language=language,
        context=context,
    )


def _arm_facts(arm: Arm | None) -> dict[str, Any]:
    if arm is None:
        return {}
    return {"experiment_id": arm.experiment.experiment_id, "variant_id": arm.variant_id}


def render_for(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    customer: Customer,
    segment: Segment,
    settings: Settings,
    unsubscribe_url: str,
    recommendations: list[Product] | None = None,
    arm: Arm | None = None,
) -> RenderedEmail:
    """The email for this event and customer: in their language, with every store link tagged, and
    the experiment variant's subject and content when it is in one."""
    context = template_context(trigger, detail, customer, segment, settings, unsubscribe_url, recommendations)
    language = language_for(settings.templates_dir, context["locale"])
    return _render(trigger, detail, settings, unsubscribe_url, context, language, arm)


def _render(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    unsubscribe_url: str,
    context: dict[str, Any],
    language: str,
    arm: Arm | None,
) -> RenderedEmail:
    variant = arm.variant if arm is not None else None
    subject = arm.subject if arm is not None else None
    if subject is None and variant is not None and variant.subject is not None:
        # An arm that did not come through ``arm_for`` (a preview): its subject is rendered here.
        subject = render_subject(
            settings.templates_dir, language, variant.subject, {**context, "variant": variant}
        )
    return render_email(
        settings.templates_dir,
        trigger.name,
        {**context, "variant": variant},
        language=language,
        links=link_tracking(trigger, detail, settings, unsubscribe_url, arm),
        subject=subject,
    )


def link_tracking(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    unsubscribe_url: str,
    arm: Arm | None = None,
) -> LinkTracking | None:
    if not settings.utm_source:
        return None
    return LinkTracking(
        source=settings.utm_source,
        campaign=trigger.campaign(detail),
        domains=settings.store_domains,
        untracked=frozenset({unsubscribe_url}),
        term=arm.utm_term if arm is not None else None,
    )


def template_context(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    customer: Customer,
    segment: Segment,
    settings: Settings,
    unsubscribe_url: str,
    recommendations: list[Product] | None = None,
) -> dict[str, Any]:
    locale = formatting.resolve_locale(customer.locale, settings.default_locale)
    language = language_for(settings.templates_dir, locale)
    currency = email_currency(trigger, detail, customer, settings)
    return {
        "store": settings.store,
        "unsubscribe_url": unsubscribe_url,
        "customer": customer,
        "segment": segment.in_language(language),
        "locale": formatting.in_language(locale, language),
        "timezone": formatting.resolve_timezone(customer.timezone, settings.default_timezone),
        "currency": currency,
        "recommendations": shown_in(recommendations or [], currency, language),
        "reminder_steps": len(settings.cart_reminder_hours),
        "variant": None,
        **trigger.template_data(detail, customer),
    }
