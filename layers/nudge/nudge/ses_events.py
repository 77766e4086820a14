"""What every SES event published to EventBridge carries: the ``mail`` object, with our message tags.

The configuration set publishes to the account's default bus (source ``aws.ses``). Field names are
SES's own (camelCase); unknown fields are kept, so a new SES attribute never breaks parsing.
"""

from pydantic import BaseModel, ConfigDict, Field

from nudge.envelopes import EventBridgeModel
from nudge.event_times import EventTime


class SesModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)


class Mail(SesModel):
    message_id: str = Field(alias="messageId")
    timestamp: EventTime | None = None
    """When SES accepted the message (every SES event carries it); bounded like every event time."""
    tags: dict[str, list[str]] = {}


class SesEventBridgeModel(EventBridgeModel):
    account: str | None = None  # type: ignore[assignment]  # moto's delivery to SQS omits it
