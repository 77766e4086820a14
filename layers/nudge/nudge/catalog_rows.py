"""Rows of the Products table and of the recommendation model (the Recommendations table).

Products (key ``sku``): one row per product, the newest ``updated_at`` wins. ``origin`` says who
wrote it: ``catalog`` (a ``Product Updated`` event, authoritative) or ``order`` (a line item of an
order that named a SKU the catalog did not know yet; any catalog event replaces it).

Recommendations (key ``model_key``), the rows the send path reads:

- ``top#<sku>``: the SKUs most often bought together with ``sku``, most first (``partners``);
- ``bestsellers``: the best-selling SKUs over the rolling window, best first, padded with in-stock
  catalog products while fewer have sold (``skus``): the cold-start fallback.
"""

from decimal import Decimal
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from nudge.localized import for_language

TOP_PARTNERS = 20
"""SKUs kept on each ``top#<sku>`` row: enough that what an email may not show (in the cart, bought
lately, out of stock, not sold in the email's currency) still leaves three."""
BESTSELLERS = 20
"""SKUs kept on the ``bestsellers`` row and on each currency's."""
POPULARITY_KEPT = 100
"""Best-selling SKUs whose order counts the ``bestsellers`` row keeps, for the ranking's damping."""
BESTSELLERS_KEY: Final = "bestsellers"


def top_key(sku: str) -> str:
    return f"top#{sku}"


def bestsellers_key(currency: str) -> str:
    """The best-sellers that have a price in ``currency``."""
    return f"{BESTSELLERS_KEY}#{currency}"


class Product(BaseModel):
    """A Products row. ``prices`` and ``names`` are optional (rows written before them have neither):
    ``price`` in ``currency`` and ``name`` are always there."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

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
    prices: dict[str, Annotated[Decimal, Field(ge=0)]] = Field(default_factory=dict)
    """The price in other currencies the store sells it in (ISO 4217 code -> amount)."""
    names: dict[str, str] = Field(default_factory=dict)
    """The name in other languages (language tag -> name)."""

    def price_in(self, currency: str) -> Decimal | None:
        """The price in ``currency``; None when the product is not sold in it."""
        return self.price if currency == self.currency else self.prices.get(currency)

    def name_in(self, language: str) -> str:
        """The name in ``language`` (``nudge.localized.for_language``), else the stored name."""
        return for_language(self.names, language) or self.name

    def shown_in(self, currency: str, language: str) -> "Product | None":
        """The product as an email in ``currency`` and ``language`` shows it (``price`` and
        ``currency`` that currency's, ``name`` that language's); None when it has no price there."""
        price = self.price_in(currency)
        if price is None:
            return None
        return self.model_copy(update={"price": price, "currency": currency, "name": self.name_in(language)})


class Popular(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    sku: str
    orders: Annotated[int, Field(ge=1)]


class Partner(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    sku: str
    count: Annotated[int, Field(ge=1)]


class TopPartners(BaseModel):
    """A ``top#<sku>`` row."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    model_key: str
    partners: tuple[Partner, ...] = ()


class Bestsellers(BaseModel):
    """The ``bestsellers`` row (every currency), or a ``bestsellers#<currency>`` row."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    model_key: str = BESTSELLERS_KEY
    skus: tuple[str, ...] = ()
    computed_at: AwareDatetime | None = None
    popularity: tuple[Popular, ...] = ()
    """The window's best-selling SKUs with their orders (``POPULARITY_KEPT``; the global row only)."""
    currencies: tuple[str, ...] = ()
    """The currencies whose ``bestsellers#<currency>`` rows were written with it (the global row)."""
    short_currencies: tuple[str, ...] = ()
    """Those whose list is shorter than ``BESTSELLERS`` (a small market: the global row)."""

    @property
    def orders(self) -> dict[str, int]:
        return {entry.sku: entry.orders for entry in self.popularity}
