"""What happened to one trigger event: sent, or skipped and why."""

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict


class SkipReason(StrEnum):
    UNKNOWN_CUSTOMER = "unknown_customer"
    SUPPRESSED = "suppressed"
    UNSUBSCRIBED = "unsubscribed"
    NO_CONSENT = "no_consent"
    ORDERED_SINCE = "ordered_since"
    SUPERSEDED = "superseded"
    """A newer abandoned cart of the same customer ends the older cart's reminder series."""
    UNENGAGED = "unengaged"
    """The sunset policy (``SunsetAfterDays``): no open or click for that long, so marketing email
    stops before it hurts the sender's reputation."""
    FREQUENCY_CAPPED = "frequency_capped"
    HOLDOUT = "holdout"
    """The customer is in a running experiment's holdout: the control group, sent nothing."""
    EVENT_TOO_OLD = "event_too_old"
    """The event is older than the replay window (``IdempotencyTtlDays``): a replay from an archive,
    not news. Nothing is sent and an Order Placed is not counted."""


class Decision(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"
    DEFERRED = "deferred"
    """Quiet hours in the customer's timezone: the event comes back at ``deferred_until``."""
    SENDING = "sending"
    """The send is claimed and SES has not answered yet (a record in flight, never a final one)."""
    SEND_UNCONFIRMED = "send_unconfirmed"
    """The invocation that claimed the send died before it recorded SES's answer: the email may or
    may not have gone out, and it is never sent again (a duplicate is worse than a lost email)."""

    @property
    def is_final(self) -> bool:
        """A later delivery of the same event returns this decision instead of deciding again."""
        return self in (Decision.SENT, Decision.SKIPPED, Decision.SEND_UNCONFIRMED)


class Outcome(BaseModel):
    """Returned by the pipeline and stored as the delivery record, which also guards against a
    second send (see ``nudge.dal.deliveries``)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    trigger: str
    customer_id: str
    business_id: str
    decision: Decision
    reason: SkipReason | None = None
    segment_id: str | None = None
    message_id: str | None = None
    subject: str | None = None
    deferred_until: AwareDatetime | None = None
    experiment_id: str | None = None
    variant_id: str | None = None
    """The experiment arm this email was decided in (``holdout`` for the control group)."""


def delivery_key(trigger: str, business_id: str) -> str:
    """The delivery record's sort key: one record per trigger and business identity."""
    return f"{trigger}#{business_id}"
