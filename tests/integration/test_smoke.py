"""make smoke against the local stack: its events are valid contracts, the reminder is sent to the
address given, and the test customer is erased afterwards. The local stack has no CloudFormation, so
the target comes from the stack's own names, as DescribeStacks would give them."""

from __future__ import annotations

import boto3
import pytest
import time_machine

from local_stack.emulator.fresh import fresh_stack
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.rows import get_outcome
from local_stack.emulator.stack import LocalStack
from nudge.dal.customers import get_profile_item
from smoke.aws import StackAws
from smoke.check import SIMULATOR_SUCCESS, SmokeResult, SmokeTarget, run
from tests.conftest import sent_emails


def target(stack: LocalStack) -> SmokeTarget:
    return SmokeTarget(
        event_bus=stack.names["StoreEventBus"],
        event_source=stack.parameters["EventSource"],
        customers_table=stack.names["CustomersTable"],
        deliveries_table=stack.names["DeliveriesTable"],
        store_url=stack.parameters["StoreUrl"],
    )


def smoke(
    stack: LocalStack, mappings: EventSourceMappings, to: str = SIMULATOR_SUCCESS
) -> tuple[SmokeResult, list[str]]:
    lines: list[str] = []
    result = run(
        target(stack),
        StackAws(boto3.session.Session(region_name=stack.region)),
        # Between two reads of a table, Lambda's poller hands what arrived to the functions.
        sleep=lambda _seconds: mappings.drain(),
        to=to,
        report=lines.append,
    )
    mappings.drain()  # the Customer Deleted
    return result, lines


def test_the_smoke_test_sends_one_reminder_and_leaves_no_customer_behind(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint
) -> None:
    # When the smoke test runs against the local stack
    result, lines = smoke(stack, mappings)

    # Then the reminder was sent to SES's mailbox simulator, and its message id reported
    assert result.passed, lines
    assert result.delivery is not None
    (email,) = sent_emails(moto)
    assert email["To"].addresses[0].addr_spec == SIMULATOR_SUCCESS
    assert email["Subject"] == result.delivery["subject"]
    assert f"SES message id {result.delivery['message_id']}" in lines[-2]
    assert result.delivery["message_id"] in moto.sent_raw_emails()
    # And the test customer is erased: no profile, no delivery record
    assert get_profile_item(stack.names["CustomersTable"], result.customer_id) is None
    assert (
        get_outcome(stack.names["DeliveriesTable"], result.customer_id, "cart_abandoned", result.cart_id)
        is None
    )


@pytest.fixture
def stack_creating_its_identity(moto: MotoEndpoint) -> LocalStack:
    return fresh_stack(moto, CreateSenderIdentity="true")


def test_a_stack_that_creates_its_sender_identity_builds_and_sends_locally(
    stack_creating_its_identity: LocalStack, moto: MotoEndpoint, clock: time_machine.Traveller
) -> None:
    # Given a stack whose template creates the sender's SES identity (not emulated: seeded as verified)
    stack = stack_creating_its_identity
    assert stack.parameters["CreateSenderIdentity"] == "true"
    mappings = EventSourceMappings(stack, clock)
    # When the smoke test sends to an address of the store's own
    result, lines = smoke(stack, mappings, to="me@myshop.com")
    # Then the reminder went there
    assert result.passed, lines
    assert [email["To"].addresses[0].addr_spec for email in sent_emails(moto)] == ["me@myshop.com"]
