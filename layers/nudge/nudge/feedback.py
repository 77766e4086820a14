"""SES bounce and complaint events: a permanent bounce or a complaint suppresses the profile.

The configuration set publishes them to EventBridge (source ``aws.ses``); the message tags we set at
send time come back on the event, and the ``delivery`` tag among them (``customer_id`` for emails
sent before it existed) finds the profile without looking anyone up by email address. A transient
bounce (mailbox full, greylisting) suppresses nobody.

Suppression is for good, so only feedback about an email we sent counts (``nudge.ses_origin``): one
through another configuration set is ignored (``ForeignSesEvent``), and one whose delivery record we
do not hold, or whose SES message id is not that record's email, suppresses nobody
(``FeedbackWithoutDelivery``). Neither is retried: retrying cannot make it ours.

Records run on the batch processor every queue-fed function uses (``nudge.sqs_batches``): an event
that can never succeed (a complaint without its ``complaint`` object, a time from the far future) is
dead-lettered at once naming the field; a failed write comes back after a back-off.
"""

from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field, Json, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from nudge.dal.customers import suppress
from nudge.envelopes import SqsRecordModel
from nudge.event_times import EventTime, EventTimeSettings
from nudge.observability import log_safe_id, logger, metrics
from nudge.ses_events import Mail, SesEventBridgeModel, SesModel
from nudge.ses_origin import from_our_configuration_set, sent_delivery
from nudge.sqs_batches import PartialItemFailureResponse, process_queue_batch


class FeedbackSettings(EventTimeSettings):
    """What the SES feedback function needs: where profiles and delivery records live, our
    configuration set, and its queues."""

    customers_table: str = Field(validation_alias="CUSTOMERS_TABLE", min_length=1)
    deliveries_table: str = Field(validation_alias="DELIVERIES_TABLE", min_length=1)
    """Where a bounce or complaint must find the email it is about before it suppresses anyone."""
    configuration_set: str = Field(validation_alias="SES_CONFIGURATION_SET", min_length=1)
    """This stack's configuration set: feedback of any other (another stack's, or forged) is ignored."""
    queue_url: str | None = Field(default=None, validation_alias="QUEUE_URL")
    """The feedback queue: failed records are backed off on it by receive count."""
    dead_letter_queue_url: str | None = Field(default=None, validation_alias="DEAD_LETTER_QUEUE_URL")
    """Where a record that can never succeed goes at once, instead of being retried."""


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


def handle_feedback(event: SesEvent, settings: FeedbackSettings) -> None:
    where = {"ses_message_id": event.mail.message_id, "event_type": event.event_type}
    if not from_our_configuration_set(event.mail, settings.configuration_set, where):
        return
    reason = suppression_reason(event)
    if reason is None:
        metrics.add_metric(name="TransientBounce", unit=MetricUnit.Count, value=1)
        logger.info("transient bounce: nobody suppressed", extra=where)
        return
    ref = sent_delivery(event.mail, settings.deliveries_table)
    if ref is None:
        # Not an email we sent, or not this one: a forged event, or an email whose record expired
        # (DELIVERY_RECORD_TTL_DAYS). The customer the tags name is not logged: it may be made up.
        metrics.add_metric(name="FeedbackWithoutDelivery", unit=MetricUnit.Count, value=1)
        logger.warning("bounce or complaint of no email we sent: nobody suppressed", extra=where)
        return
    known = suppress(settings.customers_table, ref.customer_id, reason, event.timestamp)
    metrics.add_metric(name="CustomerSuppressed", unit=MetricUnit.Count, value=1)
    logger.info(
        "customer suppressed",
        extra={**where, "customer_id": log_safe_id(ref.customer_id), "reason": reason, "known": known},
    )


def process_feedback_batch(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = FeedbackSettings.from_environment()

    def handle_record(record: SesFeedbackRecord) -> None:
        handle_feedback(record.body.detail, settings)

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
