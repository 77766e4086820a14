"""Secrets Manager, on the process's shared client (``nudge.adapters.clients``), each value cached for
``max_age`` seconds: a rotated key reaches every warm function within that time, and a busy function
reads it a few times an hour, not per email.

Threads that find a secret missing or expired together make one GetSecretValue (a cold function's
batch of ten would otherwise make ten): a lock per secret, under which the first reader calls and the
others find its value. A value read through a client the process has since dropped
(``clients.forget``, as the local stack does for a new server) is read anew. A read that fails caches
nothing. (Powertools' Parameters did this before, with neither the lock nor a lighter import.)
"""

from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple

from nudge.adapters import clients


class _Cached(NamedTuple):
    client: Any
    expires_at: float
    value: object


_lock = threading.Lock()
_reading: dict[str, threading.Lock] = {}
_values: dict[str, _Cached] = {}


def secret_string(secret_id: str, *, max_age: int) -> object:
    """The secret's value as stored (a string for a SecretString secret, else its SecretBinary),
    cached for ``max_age`` s; threads that find it missing or expired together make one call."""
    client = clients.secretsmanager()
    with _lock:
        reading = _reading.setdefault(secret_id, threading.Lock())
    with reading:
        cached = _values.get(secret_id)
        if cached is not None and cached.client is client and time.time() < cached.expires_at:
            return cached.value
        answer = client.get_secret_value(SecretId=secret_id)
        value = answer["SecretString"] if "SecretString" in answer else answer.get("SecretBinary")
        _values[secret_id] = _Cached(client, time.time() + max_age, value)
        return value
