"""Unsubscribe tokens: what we issue verifies; anything else, however close, does not."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac

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


def _another_customers_token_spliced(token: str) -> str:
    other = issue(KEY, "cus_someone_else")
    return token[: len(token) // 2] + other[len(other) // 2 :]


@pytest.mark.parametrize(
    ("forge", "why"),
    [
        (_flip_last_char, "altered signature"),
        (_another_customers_token_spliced, "half of another customer's token"),
        (lambda t: t[:-5], "truncated"),
        (lambda t: t[:12], "most of it missing"),
        (lambda _: issue(OTHER_KEY, "cus_vip_ada"), "signed with another key (another store)"),
        (lambda _: issue(KEY, "cus_vip_ada", purpose="login"), "issued for another purpose"),
        (lambda t: "v9" + t[2:], "unknown version"),
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


@pytest.mark.parametrize("customer_id", ["cus_vip_ada", "ada@example.com", "kunde-4711"])
def test_a_token_does_not_reveal_whom_it_names(customer_id: str) -> None:
    # An unsubscribe link is seen by mail relays, link scanners and whoever the email is forwarded
    # to: the customer id must not be readable from it, in any encoding
    token = issue(KEY, customer_id)
    readable = {customer_id, *_every_base64_of(customer_id)}
    assert not any(text in token for text in readable)
    assert customer_id not in _every_decoding_of(token)


def test_the_same_customer_always_gets_the_same_token_and_others_another() -> None:
    # An email's link must not change when it is rendered again (a retry, a preview)
    assert issue(KEY, "cus_vip_ada") == issue(KEY, "cus_vip_ada")
    assert issue(KEY, "cus_vip_ada") != issue(KEY, "cus_vip_adb")
    assert issue(KEY, "cus_vip_ada") != issue(OTHER_KEY, "cus_vip_ada")


def _legacy_token(key: bytes, customer_id: str) -> str:
    """A token as emails sent before opaque tokens carry it: ``v1.<id>.<HMAC>``."""
    mac = hmac.new(key, f"v1\x00unsubscribe\x00{customer_id}".encode(), hashlib.sha256).digest()
    return f"v1.{_b64(customer_id.encode())}.{_b64(mac)}"


def test_links_in_emails_sent_before_opaque_tokens_still_unsubscribe() -> None:
    assert verify(KEY, _legacy_token(KEY, "cus_vip_ada")) == "cus_vip_ada"
    # and are as hard to forge as before
    legacy = _legacy_token(KEY, "cus_vip_ada")
    version, _, mac = legacy.split(".")
    someone_else = _legacy_token(KEY, "cus_someone_else").split(".")[1]
    assert verify(OTHER_KEY, legacy) is None
    assert verify(KEY, ".".join((version, someone_else, mac))) is None
    assert verify(KEY, _flip_last_char(legacy)) is None
    assert verify(KEY, legacy.rsplit(".", 1)[0]) is None


def test_the_longest_customer_id_gives_a_token_under_the_verifiers_bound() -> None:
    longest = "ü" * 128  # 256 bytes
    assert len(issue(KEY, longest)) <= 1024
    assert verify(KEY, issue(KEY, longest)) == longest


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _every_base64_of(text: str) -> set[str]:
    # base64 of the text at each of the three alignments, minus the edge characters that depend on
    # what comes before or after it
    data = text.encode()
    return {_b64(pad + data)[len(pad) * 2 : -2] for pad in (b"", b"x", b"xy")}


def _every_decoding_of(token: str) -> str:
    decoded = []
    for part in token.split("."):
        for start in range(4):
            chunk = part[start:]
            with contextlib.suppress(ValueError):
                decoded.append(base64.urlsafe_b64decode(chunk + "=" * (-len(chunk) % 4)).decode("latin-1"))
    return "\n".join(decoded)
