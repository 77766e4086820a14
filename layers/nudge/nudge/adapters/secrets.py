"""Secrets Manager, through Powertools Parameters (which caches each value for ``max_age``), on the
process's shared Session (``nudge.adapters.clients``) rather than a Session of its own."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from nudge.adapters import clients


@cache
def _provider(client: Any) -> SecretsProvider:
    """One provider (and its cache of values) per client: a process that creates its clients anew
    (``clients.forget``) reads the secrets anew too."""
    return SecretsProvider(boto3_client=client)


def secret_string(secret_id: str, *, max_age: int) -> object:
    """The secret's value as stored (a string for a SecretString secret), cached for ``max_age`` s."""
    return _provider(clients.secretsmanager()).get(secret_id, max_age=max_age)
