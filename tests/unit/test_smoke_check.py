"""The smoke test's steps against a fake stack, and how it finds a deployed stack's bus, tables and
parameters (CloudFormation, stubbed)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.stub import Stubber

from local_stack.emulator.cfn import load_template
from local_stack.emulator.stack import TEMPLATE_PATH
from smoke.aws import OUTPUTS, PARAMETERS, IncompleteStackError, target_of
from smoke.check import SIMULATOR_SUCCESS, SmokeTarget, noon_timezone, run

TARGET = SmokeTarget(
    event_bus="nudge-store-events",
    event_source="com.myshop",
    customers_table="nudge-CustomersTable-1",
    deliveries_table="nudge-DeliveriesTable-2",
    store_url="https://myshop.com/",
)
NOW = datetime(2026, 11, 23, 21, 40, tzinfo=UTC)


class FakeStack:
    """Puts are recorded; the profile appears after ``profile_after`` reads, the delivery record
    runs through ``deliveries`` one read at a time."""

    def __init__(self, profile_after: int | None = 0, deliveries: list[dict[str, Any] | None] | None = None):
        self.events: list[tuple[str, str, str, dict[str, Any]]] = []
        self.profile_after = profile_after
        self.profile_reads = 0
        self.deliveries = list(deliveries or [])
        self.delivery_keys: list[tuple[str, str, str]] = []

    def put_event(self, bus: str, source: str, detail_type: str, detail: Mapping[str, Any]) -> None:
        self.events.append((bus, source, detail_type, dict(detail)))

    def profile_exists(self, table: str, customer_id: str) -> bool:
        self.profile_reads += 1
        return self.profile_after is not None and self.profile_reads > self.profile_after

    def delivery(self, table: str, customer_id: str, delivery_key: str) -> dict[str, Any] | None:
        self.delivery_keys.append((table, customer_id, delivery_key))
        return self.deliveries.pop(0) if len(self.deliveries) > 1 else self.deliveries[0]


def smoke(stack: FakeStack, **options: Any) -> tuple[Any, list[float], list[str]]:
    slept: list[float] = []
    lines: list[str] = []
    result = run(TARGET, stack, sleep=slept.append, report=lines.append, now=lambda: NOW, **options)
    return result, slept, lines


def test_a_sent_reminder_passes_and_the_test_customer_is_erased_after() -> None:
    # Given a stack that creates the profile on the second read and sends the reminder
    sent = {"decision": "sent", "message_id": "0100-abc", "subject": "You left something behind"}
    stack = FakeStack(profile_after=1, deliveries=[None, {"decision": "sending"}, sent])

    # When the smoke test runs
    result, slept, lines = smoke(stack)

    # Then the customer, the cart and the erasure went to the stack's bus, in order, with its source
    assert [(bus, source, kind) for bus, source, kind, _ in stack.events] == [
        ("nudge-store-events", "com.myshop", "Customer Updated"),
        ("nudge-store-events", "com.myshop", "Cart Abandoned"),
        ("nudge-store-events", "com.myshop", "Customer Deleted"),
    ]
    customer, cart, deleted = (detail for *_, detail in stack.events)
    assert customer["customer_id"].startswith("nudge-smoke-20261123T214000Z-")
    assert customer["email"] == SIMULATOR_SUCCESS and customer["marketing_consent"] is True
    assert cart["customer_id"] == deleted["customer_id"] == customer["customer_id"]
    assert cart["cart_url"] == f"https://myshop.com/cart/{cart['cart_id']}"
    # And the reminder's record was read by its key until it held a decision
    assert set(stack.delivery_keys) == {
        ("nudge-DeliveriesTable-2", customer["customer_id"], f"cart_abandoned#{cart['cart_id']}")
    }
    assert result.passed and result.decision == "sent" and slept == [5.0, 5.0, 5.0]
    assert "decision: sent, SES message id 0100-abc, subject 'You left something behind'" in lines


def test_a_skipped_reminder_fails_and_says_why() -> None:
    stack = FakeStack(deliveries=[{"decision": "skipped", "reason": "no_consent"}])
    result, _, lines = smoke(stack, to="me@myshop.com")
    assert not result.passed and "decision: skipped, reason no_consent" in lines
    assert stack.events[0][3]["email"] == "me@myshop.com"
    assert stack.events[-1][2] == "Customer Deleted"


def test_no_profile_within_the_wait_fails_without_a_cart_and_still_erases() -> None:
    stack = FakeStack(profile_after=None)
    result, slept, lines = smoke(stack, timeout_seconds=20, poll_seconds=5)
    assert not result.passed and not result.profile_created
    assert [kind for _, _, kind, _ in stack.events] == ["Customer Updated", "Customer Deleted"]
    assert slept == [5, 5, 5, 5] and any("see CustomerUpdatedDLQ" in line for line in lines)


def test_no_decision_within_the_wait_fails_and_still_erases() -> None:
    stack = FakeStack(deliveries=[None])
    result, _, lines = smoke(stack, timeout_seconds=10)
    assert result.delivery is None and not result.passed
    assert stack.events[-1][2] == "Customer Deleted" and any("see CartAbandonedDLQ" in line for line in lines)


@pytest.mark.parametrize("minutes", range(0, 24 * 60, 25))
def test_the_test_customer_lives_where_it_is_about_noon(minutes: int) -> None:
    now = datetime(2026, 3, 29, tzinfo=UTC) + timedelta(minutes=minutes)
    local = now.astimezone(ZoneInfo(noon_timezone(now)))
    assert abs((local.hour * 60 + local.minute) - 12 * 60) <= 30


@pytest.fixture
def cloudformation() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("cloudformation", region_name="eu-west-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def described(outputs: dict[str, str], parameters: dict[str, str]) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "nudge",
                "CreationTime": "2026-11-01T00:00:00Z",
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            }
        ]
    }


STACK_OUTPUTS = {
    "EventBusName": "nudge-store-events",
    "CustomersTableName": "nudge-CustomersTable-1",
    "DeliveriesTableName": "nudge-DeliveriesTable-2",
    "ProductsTableName": "nudge-ProductsTable-3",
}
STACK_PARAMETERS = {"EventSource": "com.myshop", "StoreUrl": "https://myshop.com/", "LogLevel": "INFO"}


def test_a_deployed_stack_s_outputs_and_parameters_name_the_target(
    cloudformation: tuple[Any, Stubber],
) -> None:
    client, stubber = cloudformation
    stubber.add_response(
        "describe_stacks", described(STACK_OUTPUTS, STACK_PARAMETERS), {"StackName": "nudge"}
    )
    assert target_of(client, "nudge") == TARGET


def test_a_stack_without_what_the_test_needs_is_named(cloudformation: tuple[Any, Stubber]) -> None:
    client, stubber = cloudformation
    outputs = {k: v for k, v in STACK_OUTPUTS.items() if k != "DeliveriesTableName"}
    stubber.add_response("describe_stacks", described(outputs, {"StoreUrl": "https://myshop.com"}))
    with pytest.raises(IncompleteStackError, match="no output DeliveriesTableName, parameter EventSource"):
        target_of(client, "nudge")


def test_the_template_has_every_output_and_parameter_the_test_reads() -> None:
    template = load_template(TEMPLATE_PATH)
    assert set(OUTPUTS.values()) <= set(template["Outputs"])
    assert set(PARAMETERS.values()) <= set(template["Parameters"])
