"""From one validated trigger event to one decision and, at most once, one email: the rooms of
``nudge.sending`` in order (judge the profile, compose, claim and send)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nudge import deferral, formatting, series
from nudge.dal.segments import get_segment
from nudge.dal.send_reads import RowsToRefresh, read_profile
from nudge.envelopes import EventBridgeModel
from nudge.events import TriggerDetail
from nudge.observability import tracer
from nudge.outcome import Decision, Outcome, SkipReason
from nudge.recommendations import rows_to_refresh
from nudge.sending.case import EmailCase, Recipient
from nudge.sending.compose import draft_for, recommend_for_email, unsubscribe_link
from nudge.sending.protocol import claim_and_send, hold_out
from nudge.sending.records import defer, skip
from nudge.sending.rules import capped, rule_reason
from nudge.settings import Settings
from nudge.timeutil import utc_now
from nudge.triggers import Trigger
from nudge.waiting import ComesBackLaterError


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
    case = EmailCase(trigger, detail, settings)
    if event_time is not None and event_time < utc_now() - settings.replay_window:
        return skip(case, None, SkipReason.EVENT_TOO_OLD)
    return _decide_and_send(case, lambda_context, event_time)


class CustomerNotYetKnownError(ComesBackLaterError):
    """No profile yet, for an event younger than ``UNKNOWN_CUSTOMER_WAIT_SECONDS``: the store's
    Customer Updated may be just behind it (sent at the same checkout, on another queue). The record
    comes back with back-off, and is decided ``unknown_customer`` once the wait is over."""


@tracer.capture_method(capture_response=False)
def _decide_and_send(
    case: EmailCase, lambda_context: LambdaContext | None, event_time: datetime | None = None
) -> Outcome:
    """Skip, defer or send, from the profile as read. Nothing is written to the profile before the
    delivery record holds the decision (a skip, a deferral, the send's claim): a duplicate or a replay
    stops at that conditional write and changes nothing."""
    trigger, detail, settings = case.trigger, case.detail, case.settings
    customer = (
        trigger.profile_update(detail, settings)
        if trigger.profile_update is not None
        else read_profile(
            settings.customers_table,
            settings.deliveries_table,
            detail.customer_id,
            _rows_to_refresh(case),
            cap_slots=settings.frequency_cap_emails,
        )
    )
    if customer is None:
        if event_time is not None and utc_now() - event_time < settings.unknown_customer_wait:
            raise CustomerNotYetKnownError(trigger.name)
        return skip(case, None, SkipReason.UNKNOWN_CUSTOMER)
    # The cap is checked last, so an email skipped for any other reason never uses up a slot.
    reason = rule_reason(case, customer)
    if reason is not None:
        return skip(case, customer, reason, note=case.note)
    zone = formatting.resolve_timezone(customer.timezone, settings.default_timezone)
    morning = settings.quiet_hours.over_at(utc_now(), zone)
    if morning is not None:
        return defer(case, customer, morning)
    reason = capped(case, customer)
    if reason is not None:
        return skip(case, customer, reason, note=case.note)
    recipient = Recipient(
        customer,
        get_segment(settings.segments_table, customer.segment_id),
        unsubscribe_link(settings, customer.customer_id),
    )
    draft = draft_for(case, recipient, recommend_for_email(case, recipient))
    if draft.arm is not None and draft.arm.is_holdout:
        return hold_out(case, customer, draft.arm)
    return claim_and_send(case, draft, lambda_context)


def _rows_to_refresh(case: EmailCase) -> RowsToRefresh:
    """The rows read with the profile when their cached copies have expired: the segments this
    container knows, and the recommendation and catalog rows of the event's own seeds."""
    if case.trigger.event_seeds is None:
        return RowsToRefresh(case.settings.segments_table)
    return rows_to_refresh(case.settings, *case.trigger.event_seeds(case.detail))
