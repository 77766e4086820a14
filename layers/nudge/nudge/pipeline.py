"""From one validated trigger event to one decision and, at most once, one email."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from nudge import deferral, formatting, idempotency
from nudge.dal import frequency_cap
from nudge.dal.customers import mark_emailed
from nudge.dal.deliveries import record_outcome
from nudge.dal.segments import get_segment
from nudge.eligibility import ineligibility
from nudge.events import TriggerDetail
from nudge.mime import build_message
from nudge.observability import logger, metrics, tracer
from nudge.outcome import Decision, Outcome, SkipReason
from nudge.profiles import Customer, Segment
from nudge.rendering import render_email
from nudge.sending import send_raw
from nudge.settings import Settings
from nudge.timeutil import to_stored, utc_now
from nudge.triggers import Trigger
from nudge.unsubscribe import tokens
from nudge.unsubscribe.keys import signing_key


def process_delivery(
    trigger: Trigger[Any], event: EventBridgeModel, settings: Settings, lambda_context: LambdaContext | None
) -> Outcome:
    """One event as its queue delivered it; if quiet hours defer it, it is scheduled to come back."""
    detail = event.detail
    if not isinstance(detail, TriggerDetail):
        raise TypeError(f"{type(event).__name__} does not parse its detail into a trigger's detail")
    outcome = process_event(trigger, detail, settings, lambda_context)
    if outcome.deferred_until is not None:
        deferral.redeliver_at(
            outcome.deferred_until,
            trigger=trigger.name,
            business_id=outcome.business_id,
            event_json=event.model_dump_json(by_alias=True, exclude_none=True),
            settings=settings.deferral,
        )
    return outcome


def process_event(
    trigger: Trigger[Any], detail: TriggerDetail, settings: Settings, lambda_context: LambdaContext | None
) -> Outcome:
    """Decide and send for one event; a duplicate of an event already handled returns its outcome.

    A deferral is returned but not remembered: the same event, back in the morning, is decided anew.
    """

    def decide() -> dict[str, Any]:
        outcome = _decide_and_send(trigger, detail, settings, lambda_context)
        if outcome.decision is Decision.DEFERRED:
            raise _Deferred(outcome)
        return outcome.model_dump(mode="json")

    try:
        result = idempotency.run_once(
            purpose=trigger.name,
            identity=trigger.business_id(detail),
            action=decide,
            table=settings.idempotency_table,
            ttl_seconds=settings.idempotency_ttl_seconds,
            lambda_context=lambda_context,
        )
    except _Deferred as deferred:
        return deferred.outcome
    return Outcome.model_validate(result)


class _Deferred(Exception):
    """Raised out of the idempotent step so Powertools stores nothing for a deferred event."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.business_id)
        self.outcome = outcome


@tracer.capture_method
def _decide_and_send(
    trigger: Trigger[Any], detail: TriggerDetail, settings: Settings, lambda_context: LambdaContext | None
) -> Outcome:
    customer = trigger.load_customer(detail, settings, lambda_context)
    if customer is None:
        return _skip(trigger, detail, settings, None, SkipReason.UNKNOWN_CUSTOMER)
    reason = ineligibility(customer) or trigger.exit_reason(detail, customer)
    if reason is not None:
        return _skip(trigger, detail, settings, customer, reason)
    zone = formatting.resolve_timezone(customer.timezone, settings.default_timezone)
    morning = settings.quiet_hours.over_at(utc_now(), zone)
    if morning is not None:
        return _defer(trigger, detail, settings, customer, morning)
    if not _is_capped(trigger, settings):
        return _send(trigger, detail, settings, customer)
    # The cap is checked last, so an email skipped for any other reason never uses up a slot.
    claimant = f"{trigger.name}:{trigger.business_id(detail)}"
    if not _claim_send_slot(settings, customer.customer_id, claimant):
        return _skip(trigger, detail, settings, customer, SkipReason.FREQUENCY_CAPPED)
    try:
        return _send(trigger, detail, settings, customer)
    except BaseException:
        # Not sent (SES refused, a template failed): the slot goes back, and the retry claims again.
        frequency_cap.release(
            settings.customers_table, customer.customer_id, claimant, slots=settings.frequency_cap_emails
        )
        raise


def _is_capped(trigger: Trigger[Any], settings: Settings) -> bool:
    """A cap of 0 is off; an exempt trigger (the thank-you for an order) neither waits for a slot nor
    takes one from the marketing emails."""
    return settings.frequency_cap_emails > 0 and trigger.name not in settings.frequency_cap_exempt


def _claim_send_slot(settings: Settings, customer_id: str, claimant: str) -> bool:
    return frequency_cap.claim(
        settings.customers_table,
        customer_id,
        claimant,
        at=utc_now(),
        slots=settings.frequency_cap_emails,
        window=settings.frequency_cap_window,
    )


def _send(trigger: Trigger[Any], detail: TriggerDetail, settings: Settings, customer: Customer) -> Outcome:
    segment = get_segment(settings.segments_table, customer.segment_id)
    unsubscribe_url = unsubscribe_link(settings, customer.customer_id)
    context = template_context(trigger, detail, customer, segment, settings, unsubscribe_url)
    email = render_email(settings.templates_dir, trigger.name, context)
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
        # customer_id comes back on SES's bounce and complaint events: how feedback finds the profile.
        tags={"trigger": trigger.name, "segment": segment.segment_id, "customer_id": customer.customer_id},
    )
    outcome = _outcome(
        trigger,
        detail,
        Decision.SENT,
        segment_id=segment.segment_id,
        message_id=message_id,
        subject=email.subject,
    )
    metrics.add_metric(name="EmailSent", unit=MetricUnit.Count, value=1)
    logger.info(
        "email sent",
        extra={
            "customer_id": customer.customer_id,
            "segment_id": segment.segment_id,
            "message_id": message_id,
        },
    )
    # SES has accepted the email: from here on nothing may fail the record, or a retry would send it again.
    try:
        mark_emailed(settings.customers_table, customer.customer_id, sent_at, also=trigger.profile_marks)
        record_outcome(settings.deliveries_table, outcome, sent_at, settings.delivery_record_retention)
    except Exception:
        logger.exception(
            "email sent but bookkeeping failed",
            extra={"customer_id": customer.customer_id, "message_id": message_id},
        )
        metrics.add_metric(name="BookkeepingFailed", unit=MetricUnit.Count, value=1)
    return outcome


def _skip(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    customer: Customer | None,
    reason: SkipReason,
) -> Outcome:
    outcome = _outcome(
        trigger, detail, Decision.SKIPPED, reason=reason, segment_id=customer.segment_id if customer else None
    )
    record_outcome(settings.deliveries_table, outcome, utc_now(), settings.delivery_record_retention)
    with single_metric(
        name="EmailSkipped", unit=MetricUnit.Count, value=1, default_dimensions=metrics.default_dimensions
    ) as metric:
        metric.add_dimension(name="trigger", value=trigger.name)
        metric.add_dimension(name="reason", value=reason.value)
    logger.info("email skipped", extra={"customer_id": outcome.customer_id, "reason": reason.value})
    return outcome


def _defer(
    trigger: Trigger[Any], detail: TriggerDetail, settings: Settings, customer: Customer, until: datetime
) -> Outcome:
    outcome = _outcome(
        trigger, detail, Decision.DEFERRED, segment_id=customer.segment_id, deferred_until=until
    )
    record_outcome(settings.deliveries_table, outcome, utc_now(), settings.delivery_record_retention)
    metrics.add_metric(name="EmailDeferred", unit=MetricUnit.Count, value=1)
    logger.info(
        "email deferred for quiet hours",
        extra={"customer_id": customer.customer_id, "deferred_until": to_stored(until)},
    )
    return outcome


def _outcome(trigger: Trigger[Any], detail: TriggerDetail, decision: Decision, **facts: Any) -> Outcome:
    return Outcome(
        trigger=trigger.name,
        customer_id=detail.customer_id,
        business_id=trigger.business_id(detail),
        decision=decision,
        **facts,
    )


def unsubscribe_link(settings: Settings, customer_id: str) -> str:
    token = tokens.issue(signing_key(settings.unsubscribe_key_secret), customer_id)
    return f"{settings.unsubscribe_url}?{urlencode({'token': token})}"


def template_context(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    customer: Customer,
    segment: Segment,
    settings: Settings,
    unsubscribe_url: str,
) -> dict[str, Any]:
    return {
        "store": settings.store,
        "unsubscribe_url": unsubscribe_url,
        "customer": customer,
        "segment": segment,
        "locale": formatting.resolve_locale(customer.locale, settings.default_locale),
        "timezone": formatting.resolve_timezone(customer.timezone, settings.default_timezone),
        "currency": trigger.currency(detail),
        **trigger.template_data(detail, customer),
    }
