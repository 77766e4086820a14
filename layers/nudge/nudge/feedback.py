"""SES bounce and complaint events: a permanent bounce or a complaint suppresses the profile.

The configuration set publishes them to EventBridge (source ``aws.ses``); the message tags we set at
send time come back on the event, and the ``delivery`` tag among them (``customer_id`` for emails
sent before it existed) finds the profile without looking anyone up by email address. A transient
bounce (mailbox full, greylisting) suppresses nobody.
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime, Field, Json

from nudge.dal.customers import suppress
from nudge.envelopes import SqsRecordModel
from nudge.message_tags import delivery_ref, first_tag
from nudge.observability import log_safe_id, logger, metrics
from nudge.record_batch import SqsBatchProcessor
from nudge.ses_events import Mail, SesEventBridgeModel, SesModel
from nudge.settings import UnsubscribeSettings


class Bounce(SesModel):
    bounce_type: Literal["Permanent", "Transient", "Undetermined"] = Field(alias="bounceType")
    bounce_sub_type: str = Field(alias="bounceSubType")
    timestamp: AwareDatetime


class Complaint(SesModel):
    timestamp: AwareDatetime
    complaint_feedback_type: str | None = Field(default=None, alias="complaintFeedbackType")


class SesEvent(SesModel):
    event_type: Literal["Bounce", "Complaint"] = Field(alias="eventType")
    mail: Mail
    bounce: Bounce | None = None
    complaint: Complaint | None = None


class SesFeedbackEvent(SesEventBridgeModel):
    detail_type: Literal["Email Bounced", "Email Complaint Received"] = Field(alias="detail-type")
    detail: SesEvent


class SesFeedbackRecord(SqsRecordModel):
    body: Json[SesFeedbackEvent]


def suppression_reason(event: SesEvent) -> str | None:
    if event.event_type == "Complaint":
        return "complaint"
    if event.bounce is not None and event.bounce.bounce_type == "Permanent":
        return "permanent_bounce"
    return None


def customer_of(mail: Mail) -> str | None:
    """The customer an email went to: exact from the delivery tag; from the readable ``customer_id``
    tag for emails sent before it existed (exact only for ids SES's tag alphabet can hold)."""
    ref = delivery_ref(mail.tags)
    return ref.customer_id if ref is not None else first_tag(mail.tags, "customer_id")


def handle_feedback(event: SesEvent, customers_table: str) -> None:
    customer_id = customer_of(event.mail)
    reason = suppression_reason(event)
    where = {"ses_message_id": event.mail.message_id, "event_type": event.event_type}
    if reason is None:
        metrics.add_metric(name="TransientBounce", unit=MetricUnit.Count, value=1)
        logger.info("transient bounce: nobody suppressed", extra=where)
        return
    if customer_id is None:
        metrics.add_metric(name="FeedbackWithoutCustomer", unit=MetricUnit.Count, value=1)
        logger.error("bounce or complaint for a message without a customer_id tag", extra=where)
        return
    at = event.complaint.timestamp if event.complaint else event.bounce.timestamp  # type: ignore[union-attr]
    known = suppress(customers_table, customer_id, reason, at)
    metrics.add_metric(name="CustomerSuppressed", unit=MetricUnit.Count, value=1)
    logger.info(
        "customer suppressed",
        extra={**where, "customer_id": log_safe_id(customer_id), "reason": reason, "known": known},
    )


def process_feedback_batch(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = UnsubscribeSettings.from_environment()
    processor = SqsBatchProcessor(model=SesFeedbackRecord, raw_records=event.get("Records", []))

    def handle_record(record: SesFeedbackRecord) -> None:
        handle_feedback(record.body.detail, settings.customers_table)

    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
