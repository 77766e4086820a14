"""What attribution reads of one delivery record: a value the data layer builds from a row and the
attribution rules judge (``nudge.attribution.rules``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nudge.experiments.models import HOLDOUT

CART_TRIGGER = "cart_abandoned"


@dataclass(frozen=True)
class DeliveryFacts:
    """What attribution reads of one delivery record."""

    delivery_key: str
    trigger: str
    business_id: str
    decision: str
    reason: str | None
    decided_at: datetime
    delivered_at: datetime | None
    click_times: tuple[datetime, ...]
    converted_order_id: str | None
    experiment_id: str | None = None
    variant_id: str | None = None

    @property
    def sent(self) -> bool:
        return self.decision == "sent"

    @property
    def held_out(self) -> bool:
        return self.decision == "skipped" and self.reason == HOLDOUT

    def is_cart(self, cart_id: str) -> bool:
        return self.trigger == CART_TRIGGER and (
            self.business_id == cart_id or self.business_id.startswith(f"{cart_id}#")
        )
