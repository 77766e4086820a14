"""What happened to one trigger event: sent, or skipped and why."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict


class SkipReason(StrEnum):
    UNKNOWN_CUSTOMER = "unknown_customer"
    SUPPRESSED = "suppressed"
    UNSUBSCRIBED = "unsubscribed"
    NO_CONSENT = "no_consent"
    ORDERED_SINCE = "ordered_since"
    FREQUENCY_CAPPED = "frequency_capped"


class Decision(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"
    DEFERRED = "deferred"
    """Quiet hours in the customer's timezone: the event comes back at ``deferred_until``."""


class Outcome(BaseModel):
    """Returned by the pipeline, stored as the idempotency result and as the delivery record."""

    model_config = ConfigDict(frozen=True)

    trigger: str
    customer_id: str
    business_id: str
    decision: Decision
    reason: SkipReason | None = None
    segment_id: str | None = None
    message_id: str | None = None
    subject: str | None = None
    deferred_until: AwareDatetime | None = None
