"""SES's ``Email Sent``, ``Email Delivered``, ``Email Opened`` and ``Email Clicked`` events, as
EventBridge delivers them.

Only what engagement needs is read: the event's timestamp and, for a click, the link. The recipient's
IP address and user agent are never stored (personal data we have no use for).
"""

from datetime import datetime
from enum import StrEnum
from typing import Literal, Self

from pydantic import Field, Json, model_validator

from nudge.envelopes import SqsRecordModel
from nudge.event_times import EventTime
from nudge.ses_events import Mail, SesEventBridgeModel, SesModel


class Engagement(StrEnum):
    SEND = "Send"
    """SES accepted the message: not engagement, but the evidence that the email went out."""
    DELIVERY = "Delivery"
    OPEN = "Open"
    CLICK = "Click"


class SendDetail(SesModel):
    """SES's ``send`` object is empty; the time is the ``mail`` object's."""


class DeliveryDetail(SesModel):
    timestamp: EventTime


class OpenDetail(SesModel):
    timestamp: EventTime


class ClickDetail(SesModel):
    timestamp: EventTime
    link: str = Field(min_length=1, max_length=8192)


class EngagementDetail(SesModel):
    event_type: Engagement = Field(alias="eventType")
    mail: Mail
    send: SendDetail | None = None
    delivery: DeliveryDetail | None = None
    open: OpenDetail | None = None
    click: ClickDetail | None = None

    @model_validator(mode="after")
    def _has_its_section(self) -> Self:
        section = self.event_type.value.lower()
        if getattr(self, section) is None:
            raise ValueError(f"an {self.event_type.value} event needs its `{section}` object")
        return self

    @property
    def timestamp(self) -> datetime:
        if self.event_type is Engagement.SEND:
            if self.mail.timestamp is None:
                raise ValueError("a Send event needs mail.timestamp")
            return self.mail.timestamp
        section = self.delivery or self.open or self.click
        assert section is not None  # the validator guarantees it
        return section.timestamp


class EngagementEvent(SesEventBridgeModel):
    detail_type: Literal["Email Sent", "Email Delivered", "Email Opened", "Email Clicked"] = Field(
        alias="detail-type"
    )
    detail: EngagementDetail


class EngagementRecord(SqsRecordModel):
    body: Json[EngagementEvent]
