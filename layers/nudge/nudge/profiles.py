"""The customer profile and segment records stored in DynamoDB."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

DEFAULT_SEGMENT_ID = "default"


class Customer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    customer_id: str
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    first_name: str
    last_name: str | None = None
    locale: str | None = None
    timezone: str | None = None
    marketing_consent: bool = False
    unsubscribed_at: AwareDatetime | None = None
    suppressed_reason: str | None = None
    segment_id: str | None = None
    order_count: Annotated[int, Field(ge=0)] = 0
    total_spent: Annotated[Decimal, Field(ge=0)] = Decimal(0)
    last_order_at: AwareDatetime | None = None
    last_emailed_at: AwareDatetime | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


class Segment(BaseModel):
    """A marketing segment and its offer; marketing edits these rows without a deploy."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    segment_id: str
    name: str
    discount_percent: Annotated[int, Field(ge=0, le=100)] = 0
    coupon_code: str | None = None
    free_shipping: bool = False
    perks: tuple[str, ...] = ()


# Used when a customer has no segment, names an unknown one, and the table has no "default" row.
FALLBACK_SEGMENT = Segment(segment_id=DEFAULT_SEGMENT_ID, name="Everyone")
