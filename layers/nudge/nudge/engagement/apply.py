"""SES engagement events -> the delivery record they belong to and the recipient's profile.

Configuration set -> default bus (``aws.ses``) -> this stack's rule -> SQS -> the engagement function.
The delivery is found through the message tags (``nudge.message_tags``), never by email address.
Each write is repeatable and order-free (``nudge.dal.engagement``, ``record_engagement``), so a
duplicate, a retry after a crash or an open delivered before its delivery event changes nothing twice.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from nudge.dal.customer_history import record_engagement
from nudge.dal.engagement import Counted, record_accepted, record_click, record_delivered, record_open
from nudge.engagement.events import Engagement, EngagementDetail, EngagementRecord
from nudge.engagement.settings import EngagementSettings
from nudge.message_tags import DeliveryRef, first_tag
from nudge.observability import log_safe_id, logger, metrics
from nudge.ses_origin import from_our_configuration_set, named_delivery
from nudge.sqs_batches import PartialItemFailureResponse, process_queue_batch

NO_VARIANT = "none"
"""The ``variant`` metric dimension of an email sent outside any experiment."""

_METRIC = {
    Engagement.DELIVERY: "EmailDelivered",
    Engagement.OPEN: "EmailOpened",
    Engagement.CLICK: "EmailClicked",
}


def utm_content(link: str) -> str | None:
    """The ``utm_content`` of a clicked link: which block of the email it was."""
    values = parse_qs(urlsplit(link).query).get("utm_content")
    return values[0][:256] if values else None


def apply_engagement(detail: EngagementDetail, settings: EngagementSettings) -> Counted | None:
    """Apply one event; None when it belongs to no delivery record we keep."""
    where = {"ses_message_id": detail.mail.message_id, "event_type": detail.event_type.value}
    if not from_our_configuration_set(detail.mail, settings.configuration_set, where):
        # The rule matches this stack's configuration set; anything else reached the queue another
        # way (a forged message, another stack's event): it changes nothing here.
        return None
    ref = named_delivery(detail.mail, settings.deliveries_table)
    if ref is None:
        metrics.add_metric(name="EngagementWithoutDelivery", unit=MetricUnit.Count, value=1)
        logger.warning("engagement event for no delivery record we know: nothing to update", extra=where)
        return None
    at = detail.timestamp
    if detail.event_type is Engagement.SEND:
        _accepted(detail, settings, ref, where)
        return None
    if detail.event_type is Engagement.DELIVERY:
        counted = record_delivered(settings.deliveries_table, ref, at)
    elif detail.event_type is Engagement.OPEN:
        counted = record_open(settings.deliveries_table, ref, at)
    else:
        assert detail.click is not None  # the model requires it on a Click
        counted = record_click(settings.deliveries_table, ref, at, utm_content(detail.click.link))
    extra = {**where, "customer_id": log_safe_id(ref.customer_id)}
    if counted is None:
        # No such email of ours (expired after DELIVERY_RECORD_TTL_DAYS, or a forged event naming a
        # delivery that never was): the profile is not touched either.
        metrics.add_metric(name="EngagementWithoutDelivery", unit=MetricUnit.Count, value=1)
        logger.warning("engagement for a delivery record that does not exist", extra=extra)
        return None
    if detail.event_type is not Engagement.DELIVERY:
        # After the delivery's own write, and whether or not that write was new: a retry after a
        # crash between the two still brings the profile up to date (the write is repeatable).
        kind = "opened" if detail.event_type is Engagement.OPEN else "clicked"
        record_engagement(settings.customers_table, ref.customer_id, kind, at)
    if counted.new:
        _count_metric(detail, counted)
    logger.info("engagement applied", extra={**extra, "new": counted.new})
    return counted


def _accepted(
    detail: EngagementDetail, settings: EngagementSettings, ref: DeliveryRef, where: dict[str, str]
) -> None:
    """SES accepted the email: the delivery record keeps it, so a send whose invocation died before
    it recorded SES's answer is closed as sent from this, never sent again."""
    accepted = record_accepted(settings.deliveries_table, ref, detail.mail.message_id, detail.timestamp)
    extra = {**where, "customer_id": log_safe_id(ref.customer_id)}
    if accepted is None:
        logger.warning("SES accepted an email whose delivery record does not exist", extra=extra)
        return
    if accepted > 1:
        # Two emails for one event: a resend after a lost or late Send event (UnconfirmedSends).
        metrics.add_metric(name="DuplicateSend", unit=MetricUnit.Count, value=1)
        logger.error("SES accepted a second email for one delivery", extra={**extra, "accepted": accepted})
    logger.info("send accepted by SES", extra=extra)


def _count_metric(detail: EngagementDetail, counted: Counted) -> None:
    trigger = counted.trigger or first_tag(detail.mail.tags, "trigger") or "unknown"
    with single_metric(
        name=_METRIC[detail.event_type],
        unit=MetricUnit.Count,
        value=1,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name="trigger", value=trigger)
        metric.add_dimension(name="variant", value=counted.variant_id or NO_VARIANT)


def process_engagement_batch(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = EngagementSettings.from_environment()

    def handle_record(record: EngagementRecord) -> None:
        apply_engagement(record.body.detail, settings)

    return process_queue_batch(
        event,
        context,
        dimension=("function", "engagement"),
        model=EngagementRecord,
        queue_url=settings.queue_url,
        dead_letter_queue_url=settings.dead_letter_queue_url,
        max_clock_skew=settings.max_clock_skew,
        handle_record=handle_record,
        backoff_cap=settings.retry_backoff_cap_seconds,
    )
