"""Event contracts: the ``detail`` of each EventBridge event a store sends, and its SQS envelope.

Unknown extra fields are allowed so stores can send more than we read; a missing or malformed
required field fails validation with an error that names it. Money is ``Decimal`` end to end.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Annotated, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SqsRecordModel
from babel.numbers import list_currencies
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, Json

from nudge.timeutil import to_stored


@cache
def _iso_4217_codes() -> frozenset[str]:
    return frozenset(list_currencies())


def _known_currency(code: str) -> str:
    if code not in _iso_4217_codes():
        raise ValueError("not an ISO 4217 currency code")
    return code


CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$"), AfterValidator(_known_currency)]
Money = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Identifier = Annotated[str, Field(min_length=1, max_length=256)]


class _Detail(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class LineItem(_Detail):
    sku: Identifier
    name: Annotated[str, Field(min_length=1, max_length=500)]
    quantity: Annotated[int, Field(ge=1, strict=True)]
    unit_price: Money
    image_url: HttpUrl | None = None
    product_url: HttpUrl | None = None

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


Items = Annotated[list[LineItem], Field(min_length=1, max_length=100)]


class TriggerDetail(_Detail):
    """What every trigger event says: whom it is about."""

    customer_id: Identifier


class CartAbandoned(TriggerDetail):
    cart_id: Identifier
    abandoned_at: AwareDatetime
    currency: CurrencyCode
    cart_url: HttpUrl
    items: Items

    @property
    def subtotal(self) -> Decimal:
        return sum((item.line_total for item in self.items), Decimal(0))


class OrderPlaced(TriggerDetail):
    order_id: Identifier
    placed_at: AwareDatetime
    currency: CurrencyCode
    total: Money
    items: Items
    cart_id: Identifier | None = None


class CustomerLapsed(TriggerDetail):
    last_order_at: AwareDatetime
    days_since_last_order: Annotated[int, Field(ge=0, strict=True)]
    run_id: Identifier | None = None
    """Set by the scheduled re-engagement run (its date); absent on events a store sends."""

    @property
    def identity(self) -> str:
        """One win-back per lapse (a new order starts a new lapse with a new last_order_at), and per
        scheduled run: a rerun of the same day's run is the same event, the next run a new one."""
        lapse = f"{self.customer_id}@{to_stored(self.last_order_at)}"
        return f"{lapse}#{self.run_id}" if self.run_id else lapse


class _StoreEvent(EventBridgeModel):
    # EventBridge always sets the account, but moto's delivery to SQS omits it; nothing here reads it.
    account: str | None = None  # type: ignore[assignment]


# EventBridge envelopes: the detail-type is pinned so an event routed to the wrong queue fails loudly.
class CartAbandonedEvent(_StoreEvent):
    detail_type: Literal["Cart Abandoned"] = Field(alias="detail-type")
    detail: CartAbandoned


class OrderPlacedEvent(_StoreEvent):
    detail_type: Literal["Order Placed"] = Field(alias="detail-type")
    detail: OrderPlaced


class CustomerLapsedEvent(_StoreEvent):
    detail_type: Literal["Customer Lapsed"] = Field(alias="detail-type")
    detail: CustomerLapsed


# SQS records whose body is the EventBridge event the rule delivered.
class CartAbandonedRecord(SqsRecordModel):
    body: Json[CartAbandonedEvent]


class OrderPlacedRecord(SqsRecordModel):
    body: Json[OrderPlacedEvent]


class CustomerLapsedRecord(SqsRecordModel):
    body: Json[CustomerLapsedEvent]
