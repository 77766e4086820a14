"""Keyed hashes (HMAC-SHA256 with the stack's secret) of what Nudge must remember without holding it:
an erased customer's address on the suppression list, an erased customer id. Without the key a hash
cannot be tested against a list of addresses, as a bare SHA-256 could."""

from __future__ import annotations

import hashlib
import hmac

from nudge.adapters.secrets import secret_string

KEY_CACHE_SECONDS = 300


def hash_key(secret_id: str) -> bytes:
    value = secret_string(secret_id, max_age=KEY_CACHE_SECONDS)
    if not isinstance(value, str) or len(value) < 32:
        raise ValueError("the address hash key must be a secret string of at least 32 characters")
    return value.encode()


def normalized_address(address: str) -> str:
    """One address, however the store spelled it: mailbox providers treat case as the same mailbox."""
    return address.strip().lower()


def address_hash(key: bytes, address: str) -> str:
    return hmac.new(key, b"address:" + normalized_address(address).encode(), hashlib.sha256).hexdigest()


def customer_hash(key: bytes, customer_id: str) -> str:
    return hmac.new(key, b"customer:" + customer_id.encode(), hashlib.sha256).hexdigest()
