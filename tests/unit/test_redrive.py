"""The redrive tool without a stack: which dead-letter queue a name means (from template.yaml), the
reasons it reads from message attributes, a deployed stack's queues (CloudFormation and SQS stubbed),
and waiting for SQS's move task."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from local_stack.emulator.cfn import load_template
from local_stack.emulator.stack import TEMPLATE_PATH
from operations.__main__ import main
from operations.dead_letter_queues import (
    DeadLetterKind,
    UnknownQueueError,
    dead_letter_queues,
    find_dead_letter_queue,
)
from operations.redrive import MoveNotFinishedError, failure_reason, move_back, redrive
from operations.stack_queues import PhysicalQueue, deployed_stack_queues

REGION = "eu-west-1"
ACCOUNT = "123456789012"
TEMPLATE = load_template(TEMPLATE_PATH)


def queue(logical_id: str) -> PhysicalQueue:
    name = f"nudge-{logical_id}-AbC"
    return PhysicalQueue(
        logical_id,
        f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}",
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
    )


DLQ = queue("CartAbandonedDLQ")
SOURCE = queue("CartAbandonedQueue")


@pytest.mark.parametrize(
    ("name", "dead_letter_queue"),
    [
        ("CartAbandonedDLQ", "CartAbandonedDLQ"),
        ("cart_abandoned", "CartAbandonedDLQ"),
        ("CartAbandonedFunction", "CartAbandonedDLQ"),
        ("CartAbandonedQueue", "CartAbandonedDLQ"),
        ("catalog", "CatalogDLQ"),
        ("customer_updated", "CustomerUpdatedDLQ"),
        ("reengagement_worker", "ReengagementWorkDLQ"),
    ],
)
def test_a_trigger_or_queue_name_means_the_dead_letter_queue_of_its_queue(
    name: str, dead_letter_queue: str
) -> None:
    assert find_dead_letter_queue(TEMPLATE, name).logical_id == dead_letter_queue


def test_each_dead_letter_queue_knows_its_source_and_the_function_that_reads_it() -> None:
    cart = find_dead_letter_queue(TEMPLATE, "cart_abandoned")
    assert (cart.kind, cart.source_queue, cart.function, cart.trigger, cart.max_receive_count) == (
        DeadLetterKind.QUEUE,
        "CartAbandonedQueue",
        "CartAbandonedFunction",
        "cart_abandoned",
        16,
    )
    rules = find_dead_letter_queue(TEMPLATE, "RuleDeliveryDLQ")
    assert rules.kind is DeadLetterKind.RULE_DELIVERY
    assert {"CartAbandonedQueue", "OrderPlacedQueue", "CustomerDeletedQueue"} <= set(rules.rule_targets)
    planner = find_dead_letter_queue(TEMPLATE, "reengagement_planner")
    assert (planner.logical_id, planner.kind) == ("ReengagementPlannerDLQ", DeadLetterKind.ASYNC_INVOCATION)


def test_every_dead_letter_queue_of_the_template_can_be_redriven_or_explained() -> None:
    queues = [
        logical_id
        for logical_id, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue" and logical_id.endswith("DLQ")
    ]
    assert sorted(dead_letter_queues(TEMPLATE)) == sorted(queues)


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownQueueError, match="cart_abandoned"):
        find_dead_letter_queue(TEMPLATE, "cart-abandoned")


def attributes(**values: str) -> dict[str, Any]:
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


def test_the_reason_comes_from_the_attributes_only() -> None:
    problems = json.dumps([{"field": "body.detail.cart_id", "error": "missing"}])
    invalid: Any = {
        "MessageAttributes": attributes(nudge_error="CartAbandonedRecord", nudge_problems=problems)
    }
    assert failure_reason(invalid) == "invalid CartAbandonedRecord: body.detail.cart_id: missing"
    rule: Any = {
        "MessageAttributes": attributes(
            RULE_ARN="arn:aws:events:eu-west-1:1:rule/bus/r",
            TARGET_ARN=SOURCE.arn,
            ERROR_CODE="SQS_PERMISSION_DENIED",
        )
    }
    assert (
        failure_reason(rule) == f"EventBridge could not deliver it to {SOURCE.name} (SQS_PERMISSION_DENIED)"
    )
    scheduled: Any = {"MessageAttributes": attributes(SCHEDULE_ARN="arn:x", ERROR_CODE="AWS.SQS.Throttled")}
    assert "Scheduler could not deliver a deferred send (AWS.SQS.Throttled)" in failure_reason(scheduled)
    lambda_async: Any = {"MessageAttributes": attributes(ErrorCode="200", ErrorMessage="quoted input")}
    assert "quoted input" not in failure_reason(lambda_async)
    exhausted: Any = {
        "Body": '{"detail": {"email": "a@example.com"}}',
        "Attributes": {"ApproximateReceiveCount": "17"},
    }
    assert failure_reason(exhausted) == "retries exhausted"


@pytest.fixture
def sqs() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sqs", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def task(status: str, moved: int, **extra: Any) -> dict[str, Any]:
    return {"Results": [{"Status": status, "ApproximateNumberOfMessagesMoved": moved, **extra}]}


def test_the_move_is_waited_for_until_its_task_completes(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    listed = {"SourceArn": DLQ.arn, "MaxResults": 1}
    stubber.add_response("list_message_move_tasks", task("COMPLETED", 3), listed)
    stubber.add_response(
        "start_message_move_task", {"TaskHandle": "h"}, {"SourceArn": DLQ.arn, "DestinationArn": SOURCE.arn}
    )
    stubber.add_response("list_message_move_tasks", task("RUNNING", 1, TaskHandle="h"), listed)
    stubber.add_response(
        "list_message_move_tasks", task("COMPLETED", 2, ApproximateNumberOfMessagesToMove=2), listed
    )
    slept: list[float] = []
    result = move_back(client, DLQ, SOURCE, sleep=slept.append)
    assert (result.status, result.moved, result.to_move, slept) == ("COMPLETED", 2, 2, [5])


def test_a_move_still_running_is_neither_started_twice_nor_waited_for_forever(
    sqs: tuple[Any, Stubber],
) -> None:
    client, stubber = sqs
    listed = {"SourceArn": DLQ.arn, "MaxResults": 1}
    stubber.add_response("list_message_move_tasks", task("RUNNING", 1, TaskHandle="h"), listed)
    with pytest.raises(MoveNotFinishedError, match="RUNNING already"):
        move_back(client, DLQ, SOURCE)
    stubber.add_response("list_message_move_tasks", {"Results": []}, listed)
    stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "h"},
        {"SourceArn": DLQ.arn, "DestinationArn": SOURCE.arn, "MaxNumberOfMessagesPerSecond": 10},
    )
    stubber.add_response("list_message_move_tasks", task("RUNNING", 40, TaskHandle="h"), listed)
    clock = iter([0.0, 901.0])
    with pytest.raises(MoveNotFinishedError, match="40 moved so far"):
        move_back(client, DLQ, SOURCE, max_per_second=10, monotonic=lambda: next(clock), sleep=lambda _: None)


def test_a_deployed_stack_s_queues_are_found_by_logical_id(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    with Stubber(cloudformation) as stack:
        stack.add_response(
            "describe_stack_resource",
            {
                "StackResourceDetail": {
                    "LogicalResourceId": "CartAbandonedDLQ",
                    "PhysicalResourceId": DLQ.url,
                    "ResourceType": "AWS::SQS::Queue",
                    "LastUpdatedTimestamp": "2026-11-01T00:00:00Z",
                    "ResourceStatus": "CREATE_COMPLETE",
                }
            },
            {"StackName": "nudge", "LogicalResourceId": "CartAbandonedDLQ"},
        )
        stubber.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": DLQ.arn}},
            {"QueueUrl": DLQ.url, "AttributeNames": ["QueueArn"]},
        )
        locate = deployed_stack_queues(cloudformation, client, "nudge")
        assert locate("CartAbandonedDLQ") == DLQ
        assert locate("CartAbandonedDLQ").name == "nudge-CartAbandonedDLQ-AbC"  # asked once


def test_an_empty_dead_letter_queue_is_listed_and_nothing_is_started(
    sqs: tuple[Any, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    client, stubber = sqs
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}},
        {
            "QueueUrl": DLQ.url,
            "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        },
    )
    outcome = redrive(client, TEMPLATE, "cart_abandoned", {"CartAbandonedDLQ": DLQ}.__getitem__)
    assert outcome.moved == 0
    assert capsys.readouterr().out.splitlines()[-2:] == ["  0 messages waiting", "nothing to move"]


def test_the_command_line_refuses_an_unknown_queue_before_it_does_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["redrive", "--queue", "carts"])
    assert exited.value.code == 2
    assert "one of: AttributionDLQ" in capsys.readouterr().err
