"""Every AWS call of the smoke test: the stack's outputs and parameters (CloudFormation), events on its
bus (EventBridge), and one item at a time from two of its tables (DynamoDB)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

from smoke.check import EVENTS_SOURCE_PARAMETER, SmokeTarget

OUTPUTS = {
    "event_bus": "EventBusName",
    "customers_table": "CustomersTableName",
    "deliveries_table": "DeliveriesTableName",
}
"""Each name the test needs, by the template output that holds it."""
PARAMETERS = {"event_source": EVENTS_SOURCE_PARAMETER, "store_url": "StoreUrl"}
"""Each value the test needs, by the template parameter it was deployed with."""


class IncompleteStackError(LookupError):
    """The stack lacks an output or parameter the test needs (another template, or an older one)."""


def target_of(cloudformation: Any, stack_name: str) -> SmokeTarget:
    """The stack's bus, tables, event source and store URL (cloudformation:DescribeStacks)."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
    parameters = {
        item["ParameterKey"]: item.get("ParameterValue", "") for item in stack.get("Parameters", [])
    }
    missing = sorted(
        {f"output {name}" for name in OUTPUTS.values() if name not in outputs}
        | {f"parameter {name}" for name in PARAMETERS.values() if name not in parameters}
    )
    if missing:
        raise IncompleteStackError(f"stack {stack_name} has no {', '.join(missing)}")
    return SmokeTarget(
        **{field: outputs[name] for field, name in OUTPUTS.items()},
        **{field: parameters[name] for field, name in PARAMETERS.items()},
    )


class StackAws:
    """The calls ``smoke.check.run`` makes, with one session's clients."""

    def __init__(self, session: boto3.session.Session) -> None:
        self._events = session.client("events")
        self._dynamodb = session.client("dynamodb")
        self._deserializer = TypeDeserializer()

    def put_event(self, bus: str, source: str, detail_type: str, detail: Mapping[str, Any]) -> None:
        response = self._events.put_events(
            Entries=[
                {
                    "EventBusName": bus,
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                }
            ]
        )
        if response["FailedEntryCount"]:  # PutEvents does not raise for a refused entry
            raise RuntimeError(f"{detail_type} refused by EventBridge: {response['Entries']}")

    def profile_exists(self, table: str, customer_id: str) -> bool:
        return self._item(table, {"customer_id": {"S": customer_id}}) is not None

    def delivery(self, table: str, customer_id: str, delivery_key: str) -> dict[str, Any] | None:
        return self._item(table, {"customer_id": {"S": customer_id}, "delivery_key": {"S": delivery_key}})

    def _item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item = self._dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        if item is None:
            return None
        return {name: self._deserializer.deserialize(value) for name, value in item.items()}


def deployed(stack_name: str, region: str | None) -> tuple[SmokeTarget, StackAws]:
    session = boto3.session.Session(region_name=region)
    return target_of(session.client("cloudformation"), stack_name), StackAws(session)
