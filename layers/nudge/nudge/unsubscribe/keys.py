"""The signing key, read from Secrets Manager (nudge.adapters.secrets) and cached."""

from __future__ import annotations

from nudge.adapters.secrets import secret_string

# Long enough that a rotated key reaches every warm function within minutes, short enough that a
# busy function reads the secret a few times an hour, not per email.
KEY_CACHE_SECONDS = 300


def signing_key(secret_id: str) -> bytes:
    value = secret_string(secret_id, max_age=KEY_CACHE_SECONDS)
    if not isinstance(value, str) or len(value) < 32:
        raise ValueError("the unsubscribe signing key must be a secret string of at least 32 characters")
    return value.encode()
