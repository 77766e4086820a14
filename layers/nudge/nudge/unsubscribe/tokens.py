"""Unsubscribe tokens: the customer id and an HMAC-SHA256 over it and the token's purpose.

A token proves we issued it for this customer and this purpose; it grants nothing else, so it carries
no expiry (an unsubscribe link must keep working in an old email). Altered, truncated, forged or
foreign tokens (another key, another purpose) all fail the same way, in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

VERSION = "v1"
UNSUBSCRIBE = "unsubscribe"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, customer_id: str) -> bytes:
    message = f"{VERSION}\x00{purpose}\x00{customer_id}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()


def issue(key: bytes, customer_id: str, purpose: str = UNSUBSCRIBE) -> str:
    return f"{VERSION}.{_b64(customer_id.encode())}.{_b64(_mac(key, purpose, customer_id))}"


def verify(key: bytes, token: str | None, purpose: str = UNSUBSCRIBE) -> str | None:
    """The customer id the token was issued for, or None for anything we did not issue."""
    if not token or len(token) > 1024 or token.count(".") != 2:
        return None
    version, _, rest = token.partition(".")
    encoded_id, _, encoded_mac = rest.partition(".")
    if version != VERSION or not encoded_id or not encoded_mac:
        return None
    try:
        customer_id = _unb64(encoded_id).decode("utf-8")
        presented = _unb64(encoded_mac)
    except (binascii.Error, ValueError):
        return None
    expected = _mac(key, purpose, customer_id)
    return customer_id if hmac.compare_digest(presented, expected) else None
