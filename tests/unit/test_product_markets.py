"""Product Updated's optional ``prices`` and ``names``: bounded like every other field (a hostile or
mistaken map is refused naming the field), stored with the product, and what an email shows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from nudge.catalog.events import ProductUpdated
from nudge.catalog.ingest import catalog_product
from nudge.catalog_rows import Product

VALID: dict[str, Any] = {
    "sku": "SKU-1",
    "name": "Bombilla LED",
    "product_url": "https://shop.example/p/SKU-1",
    "price": "7.10",
    "currency": "EUR",
    "in_stock": True,
    "updated_at": "2026-11-22T08:00:00Z",
}


def errors_of(**fields: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as raised:
        ProductUpdated.model_validate({**VALID, **fields})
    return [(".".join(str(p) for p in e["loc"]), e["type"]) for e in raised.value.errors()]


def test_prices_and_names_are_optional_and_kept_with_the_product() -> None:
    assert catalog_product(ProductUpdated.model_validate(VALID)).prices == {}
    detail = ProductUpdated.model_validate(
        {**VALID, "prices": {"GBP": "6.20", "USD": 7.9}, "names": {"de": "LED-Glühbirne", "pt-BR": "Lâmpada"}}
    )
    product = catalog_product(detail)
    assert product.prices == {"GBP": Decimal("6.20"), "USD": Decimal("7.9")}
    assert product.names == {"de": "LED-Glühbirne", "pt-BR": "Lâmpada"}


@pytest.mark.parametrize(
    ("prices", "expected"),
    [
        ({"XXY": "1.00"}, [("prices.XXY.[key]", "value_error")]),
        ({"usd": "1.00"}, [("prices.usd.[key]", "string_pattern_mismatch")]),
        ({"GBP": "-1"}, [("prices.GBP", "greater_than_equal")]),
        ({"GBP": "1.00001"}, [("prices.GBP", "decimal_max_places")]),
        ({"GBP": "1E+28"}, [("prices.GBP", "less_than_equal")]),
        ({"GBP": "NaN"}, [("prices.GBP", "finite_number")]),
        ({"GBP": True}, [("prices.GBP", "decimal_type")]),
        ("GBP 6.20", [("prices", "dict_type")]),
        # The event's own currency at another amount: which one is the price?
        ({"EUR": "7.20"}, [("prices", "price_disagrees")]),
    ],
)
def test_a_bad_price_map_is_refused_naming_the_field(prices: Any, expected: list[tuple[str, str]]) -> None:
    assert errors_of(prices=prices) == expected


def test_a_price_map_as_large_as_every_currency_is_refused() -> None:
    from babel.numbers import list_currencies

    every = {code: "1.00" for code in sorted(list_currencies()) if len(code) == 3 and code.isupper()}
    assert ("prices", "too_long") in errors_of(prices=every)
    # The event's own currency at the same amount is no contradiction
    assert ProductUpdated.model_validate({**VALID, "prices": {"EUR": "7.1"}}).prices == {
        "EUR": Decimal("7.1")
    }


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ({"de": 42}, [("names.de", "string_type")]),
        ({"de": ["LED"]}, [("names.de", "string_type")]),
        ({"de": ""}, [("names.de", "string_too_short")]),
        ({"de": "x" * 501}, [("names.de", "string_too_long")]),
        ({"German": "LED"}, [("names.German.[key]", "string_pattern_mismatch")]),
        ({"de\n": "LED"}, [("names.de\n.[key]", "string_pattern_mismatch")]),
        ({f"{a}{b}": "LED" for a in "abc" for b in "abcdefghijklmnopqrstuvwxyz"}, [("names", "too_long")]),
        (["de", "LED"], [("names", "dict_type")]),
    ],
)
def test_bad_names_are_refused_naming_the_field(names: Any, expected: list[tuple[str, str]]) -> None:
    assert errors_of(names=names) == expected


def a_product(**fields: Any) -> Product:
    return Product.model_validate(
        {
            **VALID,
            "price": Decimal("7.10"),
            "updated_at": datetime(2026, 11, 22, tzinfo=UTC),
            **fields,
        }
    )


def test_a_product_is_shown_only_in_a_currency_it_has_a_price_in() -> None:
    product = a_product(prices={"GBP": Decimal("6.20")})
    assert product.price_in("EUR") == Decimal("7.10")
    assert product.price_in("GBP") == Decimal("6.20")
    assert product.price_in("USD") is None
    shown = product.shown_in("GBP", "en")
    assert shown is not None and (shown.price, shown.currency) == (Decimal("6.20"), "GBP")
    assert product.shown_in("USD", "en") is None


def test_the_name_shown_is_the_languages_then_a_regional_ones_then_the_stored_one() -> None:
    product = a_product(names={"de-CH": "LED-Birne", "de-AT": "LED-Lampe", "fr": "Ampoule LED"})
    assert product.name_in("fr") == "Ampoule LED"
    assert product.name_in("de") == "LED-Lampe"  # the first regional entry, by tag
    assert product.name_in("en") == "Bombilla LED"
    assert a_product().name_in("de") == "Bombilla LED"  # a row stored without names


def test_a_row_stored_before_prices_and_names_reads_as_one_with_neither() -> None:
    row = {**VALID, "price": Decimal("7.10"), "updated_at": "2026-11-22T08:00:00Z", "origin": "catalog"}
    product = Product.model_validate(row)
    assert (product.prices, product.names) == ({}, {})
    assert product.price_in("EUR") == Decimal("7.10") and product.price_in("GBP") is None
