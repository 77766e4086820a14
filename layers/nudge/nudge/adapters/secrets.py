"""Secrets Manager, through Powertools Parameters (which caches each value for ``max_age``)."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters


def secret_string(secret_id: str, *, max_age: int) -> object:
    """The secret's value as stored (a string for a SecretString secret), cached for ``max_age`` s."""
    return parameters.get_secret(secret_id, max_age=max_age)
