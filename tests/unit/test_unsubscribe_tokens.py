"""Unsubscribe tokens: what we issue verifies; anything else, however close, does not."""

from __future__ import annotations

import pytest

from nudge.unsubscribe.tokens import issue, verify

KEY = b"k" * 64
OTHER_KEY = b"o" * 64


def test_a_token_we_issued_names_its_customer() -> None:
    assert verify(KEY, issue(KEY, "cus_vip_ada")) == "cus_vip_ada"


def test_ids_with_any_characters_round_trip() -> None:
    for customer_id in ("a.b@c", "ünïcødé", "x" * 200, "with.dots.and=equals"):
        assert verify(KEY, issue(KEY, customer_id)) == customer_id


def _flip_last_char(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def _other_customer_same_signature(token: str) -> str:
    version, _, mac = token.split(".")
    return ".".join((version, issue(KEY, "cus_someone_else").split(".")[1], mac))


@pytest.mark.parametrize(
    ("forge", "why"),
    [
        (_flip_last_char, "altered signature"),
        (_other_customer_same_signature, "signature of another customer"),
        (lambda t: t[:-5], "truncated"),
        (lambda t: t.rsplit(".", 1)[0], "signature missing"),
        (lambda _: issue(OTHER_KEY, "cus_vip_ada"), "signed with another key (another store)"),
        (lambda _: issue(KEY, "cus_vip_ada", purpose="login"), "issued for another purpose"),
        (lambda t: "v2" + t[2:], "unknown version"),
        (lambda _: "", "empty"),
        (lambda _: "v1.!!!.###", "not base64"),
        (lambda t: t + "." + t, "extra parts"),
        (lambda t: t + "A" * 2000, "oversized"),
    ],
)
def test_every_forgery_is_refused(forge: object, why: str) -> None:
    assert callable(forge)
    assert verify(KEY, forge(issue(KEY, "cus_vip_ada"))) is None, why


def test_no_token_at_all_is_refused() -> None:
    assert verify(KEY, None) is None
