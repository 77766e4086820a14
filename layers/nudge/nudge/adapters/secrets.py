"""Secrets Manager, through Powertools Parameters (which caches each value for ``max_age``), on the
process's shared Session (``nudge.adapters.clients``) rather than a Session of its own.

Powertools' cache lets threads that miss it together each call GetSecretValue (a cold function's
batch of ten made ten calls). A lock per secret makes them one: the first reader calls, the others
wait and find its value in the cache. The value is still read anew once ``max_age`` has passed (a
rotated key reaches every warm function within that time).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from nudge.adapters import clients

_lock = threading.Lock()
_reading: dict[str, threading.Lock] = {}


@cache
def _provider(client: Any) -> SecretsProvider:
    """One provider (and its cache of values) per client: a process that creates its clients anew
    (``clients.forget``) reads the secrets anew too. Called under ``_lock``, so one per client."""
    return SecretsProvider(boto3_client=client)


def secret_string(secret_id: str, *, max_age: int) -> object:
    """The secret's value as stored (a string for a SecretString secret), cached for ``max_age`` s;
    threads that find it missing or expired together make one call."""
    client = clients.secretsmanager()
    with _lock:
        provider = _provider(client)
        reading = _reading.setdefault(secret_id, threading.Lock())
    with reading:
        return provider.get(secret_id, max_age=max_age)
