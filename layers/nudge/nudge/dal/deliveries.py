"""The delivery log: one record per trigger event and customer, saying what was decided and why."""

from __future__ import annotations

from datetime import datetime, timedelta

from nudge import aws
from nudge.dal.items import from_item, to_item
from nudge.outcome import Outcome
from nudge.timeutil import to_stored


def delivery_key(trigger: str, business_id: str) -> str:
    return f"{trigger}#{business_id}"


def record_outcome(table: str, outcome: Outcome, decided_at: datetime, retention: timedelta) -> None:
    aws.dynamodb().put_item(
        TableName=table,
        Item=to_item(
            {
                **outcome.model_dump(mode="json"),
                "delivery_key": delivery_key(outcome.trigger, outcome.business_id),
                "decided_at": to_stored(decided_at),
                "expires_at": int((decided_at + retention).timestamp()),
            }
        ),
    )


def get_outcome(table: str, customer_id: str, trigger: str, business_id: str) -> Outcome | None:
    item = (
        aws.dynamodb()
        .get_item(
            TableName=table,
            Key=to_item({"customer_id": customer_id, "delivery_key": delivery_key(trigger, business_id)}),
            ConsistentRead=True,
        )
        .get("Item")
    )
    return Outcome.model_validate(from_item(item)) if item else None
