"""The values every room of the send path passes along, instead of long parameter lists.

``EmailCase`` is one trigger event's email as it is decided: which trigger, the event's detail and
the settings it is decided under, and what follows from those alone (whose email it is, its identity
on the delivery record, its cap, the cart it notes). ``Recipient`` is who it goes to, as read: the
profile, their segment and their signed unsubscribe link. ``Draft`` is the email before it is
rendered: the recipient, the template context, the copy's language and the experiment arm.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from nudge.carts import CartNote
from nudge.dal.frequency_cap import Cap
from nudge.events import TriggerDetail
from nudge.experiments.models import Arm
from nudge.outcome import Decision, Outcome
from nudge.profiles import Customer, Segment
from nudge.settings import Settings
from nudge.triggers import Trigger


class EmailCase(NamedTuple):
    trigger: Trigger[Any]
    detail: TriggerDetail
    settings: Settings

    @property
    def customer_id(self) -> str:
        return self.detail.customer_id

    @property
    def business_id(self) -> str:
        """What makes two events the same email: the delivery record's key, which guards the send."""
        return self.trigger.business_id(self.detail)

    @property
    def claimant(self) -> str:
        """The email's identity on the frequency cap's slot it takes."""
        return f"{self.trigger.name}:{self.business_id}"

    @property
    def note(self) -> CartNote | None:
        """What the event notes on the send state whatever is decided (the newest cart)."""
        return self.trigger.cart_note_of(self.detail)

    @property
    def cap(self) -> Cap | None:
        """None when there is no cap: 0 is off, and an exempt trigger (the thank-you for an order)
        neither waits for a slot nor takes one from the marketing emails."""
        settings = self.settings
        if settings.frequency_cap_emails == 0 or self.trigger.name in settings.frequency_cap_exempt:
            return None
        return Cap(slots=settings.frequency_cap_emails, window=settings.frequency_cap_window)

    def outcome(self, decision: Decision, **facts: Any) -> Outcome:
        """The delivery record of this email with ``decision``."""
        return Outcome(
            trigger=self.trigger.name,
            customer_id=self.customer_id,
            business_id=self.business_id,
            decision=decision,
            **facts,
        )


class Recipient(NamedTuple):
    customer: Customer
    segment: Segment
    unsubscribe_url: str


class Draft(NamedTuple):
    recipient: Recipient
    context: dict[str, Any]
    language: str
    arm: Arm | None = None
