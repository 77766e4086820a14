"""Run checkpoints: one row per (run, scan shard) saying how far its worker got.

A row moves ``pending`` -> ``running`` (claimed by one work-item message, with a lease) -> ``pending``
again when a worker hands over to a continuation, and finally ``done``. The scan position
(``last_evaluated_key``) and the running totals are saved after every page, only ever forwards, so a
worker that dies resumes from its last finished page when its message is redelivered.

The run's own row is shard 0's: besides that shard's progress it holds ``finished_shards``, the set of
shards that are done, so exactly one worker learns that it finished the whole run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from botocore.exceptions import ClientError

from nudge.adapters import clients
from nudge.dal.items import from_item, is_condition_failure, to_item
from nudge.reengagement.models import Tally, WorkItem
from nudge.timeutil import to_stored

PENDING, RUNNING, DONE = "pending", "running", "done"


@dataclass(frozen=True)
class Checkpoint:
    run_id: str
    shard: int
    status: str
    pages: int
    tally: Tally
    last_evaluated_key: dict[str, Any] | None
    as_of: datetime
    total_shards: int


def _key(run_id: str, shard: int) -> dict[str, Any]:
    return to_item({"run_id": run_id, "shard": shard})


def plan_shard(table: str, item: WorkItem, planned_at: datetime, retention: timedelta) -> Checkpoint:
    """Create the shard's row unless the run already has it; return the row as it now stands."""
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item=to_item(
                {
                    "run_id": item.run_id,
                    "shard": item.shard,
                    "total_shards": item.total_shards,
                    "as_of": to_stored(item.as_of),
                    "status": PENDING,
                    "pages": 0,
                    **Tally().as_dict(),
                    "planned_at": to_stored(planned_at),
                    "expires_at": int((planned_at + retention).timestamp()),
                }
            ),
            ConditionExpression="attribute_not_exists(run_id)",
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise
    checkpoint = get_checkpoint(table, item.run_id, item.shard)
    if checkpoint is None:  # only if the row expired between the two calls
        raise RuntimeError(f"checkpoint {item.run_id}/{item.shard} vanished while planning")
    return checkpoint


def get_checkpoint(table: str, run_id: str, shard: int) -> Checkpoint | None:
    item = (
        clients.dynamodb().get_item(TableName=table, Key=_key(run_id, shard), ConsistentRead=True).get("Item")
    )
    return checkpoint_from_row(from_item(item)) if item else None


def checkpoint_from_row(row: dict[str, Any]) -> Checkpoint:
    key = row.get("last_evaluated_key")
    return Checkpoint(
        run_id=str(row["run_id"]),
        shard=int(row["shard"]),
        status=str(row["status"]),
        pages=int(row.get("pages", 0)),
        tally=Tally(**{name: int(row.get(name, 0)) for name in Tally().as_dict()}),
        last_evaluated_key=json.loads(key) if key else None,
        as_of=datetime.fromisoformat(str(row["as_of"])),
        total_shards=int(row["total_shards"]),
    )


@dataclass(frozen=True)
class ClaimRefused:
    """The work item may not take its shard: it is done, or another live message holds it."""

    shard_done: bool


def claim(
    table: str, item: WorkItem, owner: str, now: datetime, lease: timedelta
) -> Checkpoint | ClaimRefused:
    """Take the shard for this message, or say why not.

    The same message (redelivered after its worker died) may always take it back.
    """
    try:
        response = clients.dynamodb().update_item(
            TableName=table,
            Key=_key(item.run_id, item.shard),
            UpdateExpression="SET #status = :running, lease_owner = :owner, lease_until = :until",
            ConditionExpression=(
                "attribute_exists(run_id) AND (#status = :pending OR (#status = :running AND "
                "(lease_owner = :owner OR lease_until < :now)))"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(
                {
                    ":running": RUNNING,
                    ":pending": PENDING,
                    ":owner": owner,
                    ":until": to_stored(now + lease),
                    ":now": to_stored(now),
                }
            ),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if is_condition_failure(error):
            # ReturnValuesOnConditionCheckFailure puts the row as it stood in the error; its types omit it.
            refused_row = from_item(cast(dict[str, Any], error.response).get("Item", {}))
            return ClaimRefused(shard_done=refused_row.get("status") == DONE)
        raise
    return checkpoint_from_row(from_item(response["Attributes"]))


def save_progress(
    table: str,
    item: WorkItem,
    owner: str,
    *,
    pages: int,
    tally: Tally,
    last_evaluated_key: dict[str, Any] | None,
    now: datetime,
) -> None:
    """Record a finished page. Only the lease holder writes, and the page count only grows."""
    values: dict[str, Any] = {
        ":owner": owner,
        ":pages": pages,
        ":now": to_stored(now),
        **{f":{name}": value for name, value in tally.as_dict().items()},
    }
    assignments = ["pages = :pages", "updated_at = :now", *(f"{name} = :{name}" for name in tally.as_dict())]
    if last_evaluated_key is None:
        assignments.append("#status = :done")
        values[":done"] = DONE
        removals = " REMOVE last_evaluated_key, lease_owner, lease_until"
    else:
        assignments.append("last_evaluated_key = :lek")
        values[":lek"] = json.dumps(last_evaluated_key, sort_keys=True)
        removals = ""
    arguments: dict[str, Any] = {
        "TableName": table,
        "Key": _key(item.run_id, item.shard),
        "UpdateExpression": "SET " + ", ".join(assignments) + removals,
        "ConditionExpression": "lease_owner = :owner AND pages < :pages",
        "ExpressionAttributeValues": to_item(values),
    }
    if last_evaluated_key is None:
        arguments["ExpressionAttributeNames"] = {"#status": "status"}
    clients.dynamodb().update_item(**arguments)


def release(table: str, item: WorkItem, owner: str) -> None:
    """Hand the shard over to a continuation message: back to pending, lease dropped."""
    clients.dynamodb().update_item(
        TableName=table,
        Key=_key(item.run_id, item.shard),
        UpdateExpression="SET #status = :pending REMOVE lease_owner, lease_until",
        ConditionExpression="lease_owner = :owner",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=to_item({":pending": PENDING, ":owner": owner}),
    )


def count_finished_shard(table: str, item: WorkItem) -> bool:
    """Add a done shard to its run's ``finished_shards``; True only for the one call that completes
    the set: that caller finished the run. Adding to a set is idempotent, so a redelivered work item
    may count its shard again without the run being counted twice."""
    response = clients.dynamodb().update_item(
        TableName=table,
        Key=_key(item.run_id, 0),
        UpdateExpression="ADD finished_shards :shard",
        ConditionExpression="attribute_exists(run_id)",
        ExpressionAttributeValues=to_item({":shard": {item.shard}}),
        ReturnValues="ALL_OLD",
    )
    finished_before: set[Any] = from_item(response.get("Attributes", {})).get("finished_shards", set())
    return item.shard not in finished_before and len(finished_before) + 1 == item.total_shards
