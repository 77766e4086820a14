"""SES bounce and complaint events: a permanent bounce or a complaint suppresses the profile.

The configuration set publishes them to EventBridge (source ``aws.ses``); the message tags we set at
send time come back on the event, and the ``delivery`` tag among them (``customer_id`` for emails
sent before it existed) finds the profile without looking anyone up by email address. A transient
bounce (mailbox full, greylisting) suppresses nobody.

Records run on the batch processor every queue-fed function uses (``nudge.record_batch``): an event
that can never succeed (a complaint without its ``complaint`` object, a time from the far future) is
dead-lettered at once naming the field; a failed write comes back after a back-off.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field, Json, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from nudge.dal.customers import suppress
from nudge.envelopes import SqsRecordModel
from nudge.event_times import EventTime
from nudge.message_tags import delivery_ref, first_tag
from nudge.observability import log_safe_id, logger, metrics
from nudge.record_batch import process_queue_batch
from nudge.ses_events import Mail, SesEventBridgeModel, SesModel
from nudge.settings import FeedbackSettings


class Bounce(SesModel):
    bounce_type: Literal["Permanent", "Transient", "Undetermined"] = Field(alias="bounceType")
    bounce_sub_type: str = Field(alias="bounceSubType")
    timestamp: EventTime


class Complaint(SesModel):
    timestamp: EventTime
    complaint_feedback_type: str | None = Field(default=None, alias="complaintFeedbackType")


class SesEvent(SesModel):
    event_type: Literal["Bounce", "Complaint"] = Field(alias="eventType")
    mail: Mail
    bounce: Bounce | None = Field(default=None, validate_default=True)
    complaint: Complaint | None = Field(default=None, validate_default=True)

    @field_validator("bounce", "complaint")
    @classmethod
    def _present_for_its_event(cls, section: Any, info: ValidationInfo) -> Any:
        """A Bounce carries its ``bounce`` object and a Complaint its ``complaint``: without it there
        is nothing to act on, whatever the retries."""
        if section is None and str(info.data.get("event_type", "")).lower() == info.field_name:
            context = {"event_type": info.data["event_type"], "section": info.field_name}
            raise PydanticCustomError("missing", "a {event_type} event needs its `{section}` object", context)
        return section

    @property
    def timestamp(self) -> datetime:
        """When the bounce or complaint happened (the validator guarantees its section)."""
        section = self.complaint if self.event_type == "Complaint" else self.bounce
        assert section is not None
        return section.timestamp


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
    known = suppress(customers_table, customer_id, reason, event.timestamp)
    metrics.add_metric(name="CustomerSuppressed", unit=MetricUnit.Count, value=1)
    logger.info(
        "customer suppressed",
        extra={**where, "customer_id": log_safe_id(customer_id), "reason": reason, "known": known},
    )


def process_feedback_batch(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = FeedbackSettings.from_environment()

    def handle_record(record: SesFeedbackRecord) -> None:
        handle_feedback(record.body.detail, settings.customers_table)

    return process_queue_batch(
        event,
        context,
        dimension=("function", "ses_feedback"),
        model=SesFeedbackRecord,
        queue_url=settings.queue_url,
        dead_letter_queue_url=settings.dead_letter_queue_url,
        max_clock_skew=settings.max_clock_skew,
        handle_record=handle_record,
    )
