"""The ``Product Updated`` contract, and the catalog queue's SQS record: either a Product Updated or
an Order Placed event (the same Order Placed model the thank-you email reads).

Bounds are those of every other event (``nudge.events``): an event that could never be stored fails
validation with the field named and is dead-lettered at once, instead of failing every retry.
"""

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, Json, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from nudge.envelopes import EventBridgeModel, SqsRecordModel
from nudge.event_times import EventTime
from nudge.events import CurrencyCode, Identifier, Money, OrderPlacedEvent
from nudge.localized import MAX_LANGUAGES, LanguageTag

Name = Annotated[str, Field(min_length=1, max_length=500)]
Category = Annotated[str, Field(min_length=1, max_length=256)]
MAX_PRICES = 50
"""Currencies a product may be priced in besides its own: more than any store sells in, and a
row that stays small (about 20 bytes a price)."""


class ProductUpdated(BaseModel):
    """A product as the store's catalog says it is now; a newer ``updated_at`` replaces an older."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    sku: Identifier
    name: Name
    product_url: HttpUrl
    image_url: HttpUrl | None = None
    price: Money
    currency: CurrencyCode
    in_stock: Annotated[bool, Field(strict=True)]
    category: Category | None = None
    updated_at: EventTime
    prices: Annotated[dict[CurrencyCode, Money], Field(max_length=MAX_PRICES)] = Field(default_factory=dict)
    """The price in other currencies the store sells it in (``{"EUR": "29.00", "GBP": "25.00"}``):
    an email in a currency shows only products with a price in it."""
    names: Annotated[dict[LanguageTag, Name], Field(max_length=MAX_LANGUAGES)] = Field(default_factory=dict)
    """The name in other languages (``{"de": "LED-Glühbirne"}``): an email names the product in its
    copy's language, else as ``name``."""

    @field_validator("prices")
    @classmethod
    def _agrees_with_price(cls, prices: dict[str, Decimal], info: ValidationInfo) -> dict[str, Decimal]:
        own = prices.get(info.data.get("currency", ""))
        if own is not None and "price" in info.data and own != info.data["price"]:
            raise PydanticCustomError(
                "price_disagrees", "names the product's own currency at another amount than price"
            )
        return prices


class ProductUpdatedEvent(EventBridgeModel):
    # EventBridge always sets the account, but moto's delivery to SQS omits it; nothing here reads it.
    account: str | None = None  # type: ignore[assignment]
    detail_type: Literal["Product Updated"] = Field(alias="detail-type")
    detail: ProductUpdated


CATALOG_DETAIL_TYPES = ("Product Updated", "Order Placed")
"""The detail-types the catalog rule routes to the catalog function (Order Placed also goes to its
own trigger's rule: the thank-you email does not wait for the counters)."""

CatalogEvent = Annotated[ProductUpdatedEvent | OrderPlacedEvent, Field(discriminator="detail_type")]
"""What the catalog rule delivers, told apart by ``detail-type``."""


class CatalogRecord(SqsRecordModel):
    body: Json[CatalogEvent]
