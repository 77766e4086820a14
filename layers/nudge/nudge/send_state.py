"""What sending leaves on a customer, kept apart from the profile so that a send never rewrites it.

DynamoDB bills a write by the size of the whole item, and an engaged customer's profile (order
history, opens, clicks, recent SKUs) grows past 3 KB: rewritten by every email, it cost 4 write
units an email. So the frequency cap's slots (``cap_<i>_at``, ``cap_<i>_by``), the send marks
(``last_emailed_at``, ``first_emailed_at``, ``last_winback_at``) and the newest cart noted
(``latest_cart_id``, ``latest_cart_at``) live in one small item of their own, the customer's
*send state* in the Deliveries table (``nudge.dal.send_state``), under the same attribute names.

The profile may carry the same attributes: written there before the send state existed, or by an
import. They still count, merged here: the later mark, the earlier first email, the newer cart, and
every slot the send state does not hold itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from nudge.profiles import Customer, CustomerFacts, SendSlot, read_send_slots

LATEST_MARKS = ("last_emailed_at", "last_winback_at")
"""Marks that move forward: the later of the profile's and the send state's counts."""

FIRST_MARKS = ("first_emailed_at",)
"""Marks set once: the earlier counts."""

FACT_MARKS = (*LATEST_MARKS, *FIRST_MARKS)
"""The marks segmentation and the scheduled run read (``CustomerFacts``)."""

ProfileT = TypeVar("ProfileT", bound=CustomerFacts)


class SendState(BaseModel):
    """The send state item as read; absent attributes are None (a customer never emailed has none)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    last_emailed_at: AwareDatetime | None = None
    first_emailed_at: AwareDatetime | None = None
    last_winback_at: AwareDatetime | None = None
    latest_cart_id: str | None = None
    latest_cart_at: AwareDatetime | None = None
    send_slots: dict[int, SendSlot] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _read_send_slots(cls, data: Any) -> Any:
        return read_send_slots(data)


NO_SEND_STATE = SendState()


def read_state(item: Mapping[str, Any] | None) -> SendState:
    """The send state an item holds (plain values); an unreadable one reads as none, so a damaged
    item cannot stop the customer's emails (its cap and marks then start again)."""
    if not item:
        return NO_SEND_STATE
    try:
        return SendState.model_validate(dict(item))
    except ValidationError:
        return NO_SEND_STATE


def with_send_state(profile: ProfileT, state: SendState) -> ProfileT:
    """The profile as the send rules read it: its own marks merged with the send state's."""
    update: dict[str, Any] = {}
    for name in LATEST_MARKS:
        update[name] = _pick(getattr(profile, name), getattr(state, name), later=True)
    for name in FIRST_MARKS:
        update[name] = _pick(getattr(profile, name), getattr(state, name), later=False)
    if isinstance(profile, Customer):
        newer_cart = state.latest_cart_at is not None and (
            profile.latest_cart_at is None or state.latest_cart_at >= profile.latest_cart_at
        )
        if newer_cart:
            update |= {"latest_cart_id": state.latest_cart_id, "latest_cart_at": state.latest_cart_at}
        # Replaced, not merged: a slot given back since the last read is free again.
        update["send_state_slots"] = state.send_slots
    return profile.model_copy(update=update)


def _pick(stored: datetime | None, sent: datetime | None, *, later: bool) -> datetime | None:
    if stored is None or sent is None:
        return sent or stored
    return max(stored, sent) if later else min(stored, sent)
