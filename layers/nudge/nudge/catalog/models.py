"""Rows of the Products table and of the recommendation model (the Recommendations table).

Products (key ``sku``): one row per product, the newest ``updated_at`` wins. ``origin`` says who
wrote it: ``catalog`` (a ``Product Updated`` event, authoritative) or ``order`` (a line item of an
order that named a SKU the catalog did not know yet; any catalog event replaces it).

Recommendations (key ``model_key``), the rows the send path reads:

- ``top#<sku>``: the SKUs most often bought together with ``sku``, most first (``partners``);
- ``bestsellers``: the best-selling SKUs over the rolling window, best first, padded with in-stock
  catalog products while fewer have sold (``skus``): the cold-start fallback.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

TOP_PARTNERS = 10
"""SKUs kept on each ``top#<sku>`` row."""
BESTSELLERS = 20
"""SKUs kept on the ``bestsellers`` row."""
BESTSELLERS_KEY: Final = "bestsellers"


def top_key(sku: str) -> str:
    return f"top#{sku}"


class Product(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    sku: str
    name: str
    product_url: str
    image_url: str | None = None
    price: Annotated[Decimal, Field(ge=0)]
    currency: str
    in_stock: bool
    category: str | None = None
    updated_at: AwareDatetime
    origin: Literal["catalog", "order"] = "catalog"


class Partner(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    sku: str
    count: Annotated[int, Field(ge=1)]


class TopPartners(BaseModel):
    """A ``top#<sku>`` row."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model_key: str
    partners: tuple[Partner, ...] = ()


class Bestsellers(BaseModel):
    """The ``bestsellers`` row."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model_key: Literal["bestsellers"] = "bestsellers"
    skus: tuple[str, ...] = ()
    computed_at: AwareDatetime | None = None
