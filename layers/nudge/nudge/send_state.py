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

Only Nudge writes the send state, but an item edited by hand or restored from an old backup may hold
an attribute that is not what it should be (a slot time that is not a time). Such an attribute reads
as absent, the rest of the item as it is, and its stored value is kept (``SendState.damaged``) so
that the send's write can replace exactly it: a damaged item neither stops the customer's emails nor
stays damaged after their next one.
"""

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

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    last_emailed_at: AwareDatetime | None = None
    first_emailed_at: AwareDatetime | None = None
    last_winback_at: AwareDatetime | None = None
    latest_cart_id: str | None = None
    latest_cart_at: AwareDatetime | None = None
    send_slots: dict[int, SendSlot] = Field(default_factory=dict)
    damaged: dict[str, Any] = Field(default_factory=dict)
    """The stored value of each attribute that could not be read, by attribute name (the write
    that replaces it is conditioned on that value)."""

    @model_validator(mode="before")
    @classmethod
    def _read_send_slots(cls, data: Any) -> Any:
        return read_send_slots(data)


NO_SEND_STATE = SendState()


MAX_DAMAGE_PASSES = 3
"""Validations of one item, each setting aside the attributes the last one could not read."""


def read_state(item: Mapping[str, Any] | None) -> SendState:
    """The send state an item holds (plain values). An attribute that cannot be read counts as
    absent and is listed, with its stored value, in ``damaged``; the others still count."""
    if not item:
        return NO_SEND_STATE
    # "damaged" is ours to fill, never an attribute's.
    readable = {name: value for name, value in item.items() if name != "damaged"}
    damaged: dict[str, Any] = {}
    for _ in range(MAX_DAMAGE_PASSES):
        try:
            return SendState.model_validate(readable).model_copy(update={"damaged": damaged})
        except ValidationError as error:
            names = {name for problem in error.errors() for name in _attributes_of(problem["loc"])}
            found = names & readable.keys()
            if not found:
                break
            damaged |= {name: readable.pop(name) for name in found}
    # Damaged beyond telling which attribute: nothing in it counts, and every attribute may be replaced.
    return SendState(damaged={name: value for name, value in item.items() if name not in _KEY})


_KEY = ("customer_id", "delivery_key")


def _attributes_of(location: tuple[int | str, ...]) -> tuple[str, ...]:
    """The stored attributes behind a validation problem's location: a slot is two of them."""
    if not location:
        return ()
    if location[0] == "send_slots" and len(location) > 1:
        return (f"cap_{location[1]}_at", f"cap_{location[1]}_by")
    return (str(location[0]),)


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
        update["send_state_damaged"] = state.damaged
    return profile.model_copy(update=update)


def _pick(stored: datetime | None, sent: datetime | None, *, later: bool) -> datetime | None:
    if stored is None or sent is None:
        return sent or stored
    return max(stored, sent) if later else min(stored, sent)
