"""A deploy names a real sender and a real store: the parameters every email shows have no default,
and their AllowedPattern refuses an empty value and the example shop's values (CloudFormation checks
them before it creates anything). The local stack runs as the example shop through its own values.

CloudFormation's patterns are Java regular expressions matched against the whole value; these use
only what Java and Python read alike, so ``re.fullmatch`` stands in for CloudFormation here."""

from __future__ import annotations

import re
from typing import Any

import pytest

from local_stack.emulator.cfn import load_template
from local_stack.emulator.stack import LOCAL_PARAMETERS, TEMPLATE_PATH

PARAMETERS: dict[str, Any] = load_template(TEMPLATE_PATH)["Parameters"]

# What the store's operator must state; each is shown in or behind every email.
MUST_BE_REAL = (
    "SenderAddress",
    "SenderIdentity",
    "StoreName",
    "StoreUrl",
    "StorePostalAddress",
    "PreferencesUrl",
)

REFUSED = {
    "SenderAddress": [
        "Example Shop <hello@shop.example>",
        "hello@shop.example",
        "Shop <news@example.com>",
        "news@mail.example.org",
        "Shop <news@EXAMPLE.NET>",
        "Shop <hello@shop.example",
        "Shop hello@myshop.com",
        "hello",
    ],
    "SenderIdentity": [
        "shop.example",
        "example.com",
        "mail.example.net",
        "hello@shop.example",
        "Shop.Example",
        "myshop",
        "my shop.com",
    ],
    "StoreName": ["Example Shop", "example shop ", " Myshop"],
    "StoreUrl": [
        "https://shop.example",
        "https://shop.example/",
        "https://www.example.com",
        "https://example.org:8443/shop",
        "http://myshop.com",
        "myshop.com",
        "https://",
    ],
    "StorePostalAddress": [
        "Example Shop Ltd, 1 Market Street, Springfield",
        "EXAMPLE SHOP LTD, 2 Other Road, Townsville",
        "n/a",
        " 12 High Street, Bath",
    ],
    "PreferencesUrl": [
        "https://shop.example/account/email-preferences",
        "https://example.com/preferences",
        "http://myshop.com/account/email",
    ],
}

ACCEPTED = {
    "SenderAddress": [
        "Myshop <hello@myshop.com>",
        "Müller & Söhne <news@mueller-soehne.de>",
        "news@mail.myshop.co.uk",
        "Examples R Us <hi@examplesrus.com>",
    ],
    "SenderIdentity": ["myshop.com", "mail.myshop.co.uk", "news@myshop.com", "example-goods.shop"],
    "StoreName": ["Myshop", "Müller & Söhne", "Example Shop Supplies"],
    "StoreUrl": ["https://myshop.com", "https://www.myshop.co.uk/en/", "https://shop.myexample.com:8443"],
    "StorePostalAddress": [
        "Myshop Ltd, 12 High Street, Bath BA1 1AA, United Kingdom",
        "Müller & Söhne GmbH, Hauptstraße 1, 10115 Berlin",
        "742 Evergreen Terrace, Springfield, OR 97403",
    ],
    "PreferencesUrl": ["https://myshop.com/account/email-preferences", "https://myshop.com/prefs?tab=email"],
}


def allows(name: str, value: str) -> bool:
    return re.fullmatch(PARAMETERS[name]["AllowedPattern"], value) is not None


@pytest.mark.parametrize("name", MUST_BE_REAL)
def test_a_parameter_every_email_shows_has_no_default_and_says_what_it_needs(name: str) -> None:
    parameter = PARAMETERS[name]
    assert "Default" not in parameter
    assert parameter["AllowedPattern"] and parameter["ConstraintDescription"]


@pytest.mark.parametrize("name", MUST_BE_REAL)
def test_the_pattern_refuses_an_empty_value_and_the_example_shop(name: str) -> None:
    refused = ["", " ", LOCAL_PARAMETERS[name], *REFUSED[name]]
    assert [value for value in refused if allows(name, value)] == []


@pytest.mark.parametrize("name", MUST_BE_REAL)
def test_the_pattern_accepts_a_real_store_s_values(name: str) -> None:
    assert [value for value in ACCEPTED[name] if not allows(name, value)] == []


def test_the_local_stack_runs_as_the_example_shop_the_demo_s_emails_show() -> None:
    assert LOCAL_PARAMETERS == {
        "SenderAddress": "Example Shop <hello@shop.example>",
        "SenderIdentity": "shop.example",
        "StoreName": "Example Shop",
        "StoreUrl": "https://shop.example",
        "StorePostalAddress": "Example Shop Ltd, 1 Market Street, Springfield",
        "PreferencesUrl": "https://shop.example/account/email-preferences",
    }


def test_every_pattern_is_anchored_and_every_default_matches_its_pattern() -> None:
    for name, parameter in PARAMETERS.items():
        if "AllowedPattern" not in parameter:
            continue
        pattern = parameter["AllowedPattern"]
        assert pattern.removeprefix("(?i)").startswith("^") and pattern.endswith("$"), name
        if "Default" in parameter:
            assert re.fullmatch(pattern, str(parameter["Default"])), name
