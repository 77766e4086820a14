"""Unsubscribe tokens: the customer id, encrypted and authenticated, for one purpose.

A token proves we issued it for this customer and this purpose; it grants nothing else, so it carries
no expiry (an unsubscribe link must keep working in an old email). It does not reveal the customer id:
the link is seen by mail relays, link scanners and whoever the email is forwarded to.

``v2.<siv><ciphertext>`` (base64url) is deterministic authenticated encryption built from HMAC-SHA256
alone, in the shape of SIV (RFC 5297): the synthetic IV is an HMAC over the purpose and the id, the id
is XORed with an HMAC keystream seeded by that IV, and decrypting recomputes the IV to check it. The
same customer always gets the same link (an email rendered again is unchanged), and the layer needs
no cryptography package. Altered, truncated, forged or foreign tokens (another key, another purpose)
all fail the same way, in constant time.

``v1.<id>.<HMAC>`` tokens, which showed the id in readable base64, are still accepted: they are in
emails already sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

VERSION = "v2"
LEGACY_VERSION = "v1"
UNSUBSCRIBE = "unsubscribe"
SIV_BYTES = 16
MAX_TOKEN_LENGTH = 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _subkey(key: bytes, label: str) -> bytes:
    """Separate keys for the IV and the keystream, derived from the one secret."""
    return hmac.new(key, f"nudge-token-{label}".encode(), hashlib.sha256).digest()


def _siv(key: bytes, purpose: str, plaintext: bytes) -> bytes:
    message = f"{VERSION}\x00{purpose}\x00".encode() + plaintext
    return hmac.new(_subkey(key, "siv"), message, hashlib.sha256).digest()[:SIV_BYTES]


def _xor_keystream(key: bytes, siv: bytes, data: bytes) -> bytes:
    stream_key = _subkey(key, "stream")
    stream = b"".join(
        hmac.new(stream_key, siv + block.to_bytes(4, "big"), hashlib.sha256).digest()
        for block in range(-(-len(data) // 32))
    )
    return bytes(a ^ b for a, b in zip(data, stream, strict=False))


def issue(key: bytes, customer_id: str, purpose: str = UNSUBSCRIBE) -> str:
    plaintext = customer_id.encode()
    siv = _siv(key, purpose, plaintext)
    return f"{VERSION}.{_b64(siv + _xor_keystream(key, siv, plaintext))}"


def verify(key: bytes, token: str | None, purpose: str = UNSUBSCRIBE) -> str | None:
    """The customer id the token was issued for, or None for anything we did not issue."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    version, _, rest = token.partition(".")
    try:
        if version == VERSION and "." not in rest:
            return _opened(key, _unb64(rest), purpose)
        if version == LEGACY_VERSION and rest.count(".") == 1:
            encoded_id, _, encoded_mac = rest.partition(".")
            return _legacy(key, _unb64(encoded_id), _unb64(encoded_mac), purpose)
    except (binascii.Error, ValueError):
        return None
    return None


def _opened(key: bytes, sealed: bytes, purpose: str) -> str | None:
    siv, ciphertext = sealed[:SIV_BYTES], sealed[SIV_BYTES:]
    if len(siv) != SIV_BYTES or not ciphertext:
        return None
    plaintext = _xor_keystream(key, siv, ciphertext)
    if not hmac.compare_digest(siv, _siv(key, purpose, plaintext)):
        return None
    return plaintext.decode("utf-8")


def _legacy(key: bytes, customer_id: bytes, presented: bytes, purpose: str) -> str | None:
    if not customer_id:
        return None
    message = f"{LEGACY_VERSION}\x00{purpose}\x00".encode() + customer_id
    expected = hmac.new(key, message, hashlib.sha256).digest()
    return customer_id.decode("utf-8") if hmac.compare_digest(presented, expected) else None
