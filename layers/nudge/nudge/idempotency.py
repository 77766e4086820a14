"""At-most-once execution of side effects, keyed on a business identity (Powertools Idempotency).

Each purpose gets its own persistence layer and config: Powertools configures a persistence layer
once, so sharing one between purposes would silently reuse the first purpose's settings.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, cast

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

JsonObject = dict[str, Any]
Action = Callable[[], JsonObject]


@cache
def _guarded_runner(
    purpose: str, table: str, ttl_seconds: int
) -> tuple[IdempotencyConfig, Callable[..., JsonObject]]:
    config = IdempotencyConfig(expires_after_seconds=ttl_seconds, raise_on_no_idempotency_key=True)
    persistence = DynamoDBPersistenceLayer(table_name=table)

    def run(*, identity: JsonObject, action: Action) -> JsonObject:
        return action()

    # key_prefix keeps the stored key independent of the function and module names.
    guarded = idempotent_function(
        run,
        data_keyword_argument="identity",
        persistence_store=persistence,
        config=config,
        key_prefix=purpose,
    )
    return config, cast(Callable[..., JsonObject], guarded)


def run_once(
    *,
    purpose: str,
    identity: str,
    action: Action,
    table: str,
    ttl_seconds: int,
    lambda_context: LambdaContext | None,
) -> JsonObject:
    """Run ``action`` once per (purpose, identity); later calls return the first call's result.

    A concurrent duplicate raises ``IdempotencyAlreadyInProgressError``: its record fails and is
    retried, by which time it finds the completed result. If ``action`` raises, nothing is stored
    and a retry runs it again.
    """
    config, run = _guarded_runner(purpose, table, ttl_seconds)
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    return run(identity={"id": identity}, action=action)
