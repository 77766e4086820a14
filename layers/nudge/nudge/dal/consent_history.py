"""The consent history: every statement of a customer's marketing consent, with its time and source,
so a data-protection officer can answer "when and how did this person consent?".

One row per statement (key ``customer_id``, ``changed_at``): the store's ``Customer Updated`` events
that carry ``marketing_consent``, and one-click unsubscribes. A statement is written once; the same
event twice, or a retry after a crash, finds its row and writes nothing. Rows are kept for as long as
the customer is (no expiry) and erased with the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from nudge.adapters import clients
from nudge.dal import partitions
from nudge.dal.items import is_condition_failure, to_item
from nudge.timeutil import to_stored, to_stored_precise

PARTITION, SORT = "customer_id", "changed_at"


@dataclass(frozen=True)
class ConsentStatement:
    customer_id: str
    changed_at: datetime
    """When the customer gave or withdrew consent (the event's ``updated_at``)."""
    marketing_consent: bool
    source: str | None
    """How: ``checkout``, ``preference_center``, ``import``, ``unsubscribe_link``, ..."""


def record(table: str, statement: ConsentStatement, recorded_at: datetime) -> bool:
    """Keep the statement; False when it was kept before (the same event again)."""
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item=to_item(
                {
                    PARTITION: statement.customer_id,
                    SORT: to_stored_precise(statement.changed_at),
                    "marketing_consent": statement.marketing_consent,
                    "consent_source": statement.source,
                    "recorded_at": to_stored(recorded_at),
                }
            ),
            ConditionExpression="attribute_not_exists(changed_at)",
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def history(table: str, customer_id: str) -> list[dict[str, Any]]:
    """Every statement kept for the customer, oldest first."""
    return partitions.rows(table, PARTITION, customer_id)


def erase(table: str, customer_id: str) -> int:
    return partitions.delete_rows(table, PARTITION, SORT, customer_id)
