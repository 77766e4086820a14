"""The local stack's StartMessageMoveTask and ListMessageMoveTasks
(local_stack.emulator.moto_message_moves): they behave as AWS documents them, and moto still lacks them.
The moto internals they rely on are named in local_stack.emulator.patches.PRIVATE and checked by
tests/tools/test_private_patches.py."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import boto3
import moto.sqs.responses
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from mypy_boto3_sqs import SQSClient

from local_stack.emulator import moto_message_moves

REGION = "eu-west-1"
ACTIONS = ("start_message_move_task", "list_message_move_tasks")


def test_moto_itself_still_lacks_both_actions() -> None:
    # When moto implements them, its own should replace this patch:
    # delete local_stack/emulator/moto_message_moves.py.
    source = Path(inspect.getfile(moto.sqs.responses)).read_text(encoding="utf-8")
    for action in ACTIONS:
        assert f"def {action}(" not in source, f"moto now implements {action}: drop the local patch"


@pytest.fixture
def sqs() -> Iterator[SQSClient]:
    moto_message_moves.install()
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def arn(sqs: SQSClient, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def queue_pair(sqs: SQSClient, name: str) -> tuple[str, str]:
    """A dead-letter queue and the queue whose redrive policy names it: (dead-letter URL, source URL)."""
    dead_letter = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    policy = f'{{"deadLetterTargetArn": "{arn(sqs, dead_letter)}", "maxReceiveCount": 3}}'
    source = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy})["QueueUrl"]
    return dead_letter, source


def test_a_task_moves_every_message_with_its_body_and_attributes_and_completes(sqs: SQSClient) -> None:
    # Given a dead-letter queue holding two messages, one with the attributes a function writes
    dead_letter, source = queue_pair(sqs, "cart")
    attributes = {"nudge_error": {"DataType": "String", "StringValue": "CartAbandonedEvent"}}
    sqs.send_message(QueueUrl=dead_letter, MessageBody='{"n": 1}', MessageAttributes=attributes)  # type: ignore[arg-type]
    sqs.send_message(QueueUrl=dead_letter, MessageBody='{"n": 2}')
    # When a task moves them to the source queue
    handle = sqs.start_message_move_task(SourceArn=arn(sqs, dead_letter), DestinationArn=arn(sqs, source))
    assert handle["TaskHandle"]
    # Then it is reported completed, with both moved
    (task,) = sqs.list_message_move_tasks(SourceArn=arn(sqs, dead_letter))["Results"]
    assert (
        task["Status"],
        task["ApproximateNumberOfMessagesMoved"],
        task["ApproximateNumberOfMessagesToMove"],
    ) == (
        "COMPLETED",
        2,
        2,
    )
    assert task["DestinationArn"] == arn(sqs, source) and "TaskHandle" not in task
    # And the source queue holds them as new messages, bodies and attributes unchanged
    received = sqs.receive_message(
        QueueUrl=source, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
    )["Messages"]
    assert sorted(m["Body"] for m in received) == ['{"n": 1}', '{"n": 2}']
    first = next(m for m in received if m["Body"] == '{"n": 1}')
    assert first["MessageAttributes"]["nudge_error"]["StringValue"] == "CartAbandonedEvent"
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in received} == {"1"}
    assert "Messages" not in sqs.receive_message(QueueUrl=dead_letter, MaxNumberOfMessages=10)


def test_without_a_destination_messages_return_to_the_one_source_queue(sqs: SQSClient) -> None:
    dead_letter, source = queue_pair(sqs, "orders")
    sqs.send_message(QueueUrl=dead_letter, MessageBody="{}")
    sqs.start_message_move_task(SourceArn=arn(sqs, dead_letter))
    assert len(sqs.receive_message(QueueUrl=source).get("Messages", [])) == 1


def test_the_most_recent_task_is_listed_first(sqs: SQSClient) -> None:
    dead_letter, source = queue_pair(sqs, "lapsed")
    sqs.send_message(QueueUrl=dead_letter, MessageBody="{}")
    sqs.start_message_move_task(SourceArn=arn(sqs, dead_letter), DestinationArn=arn(sqs, source))
    sqs.start_message_move_task(SourceArn=arn(sqs, dead_letter), DestinationArn=arn(sqs, source))
    tasks = sqs.list_message_move_tasks(SourceArn=arn(sqs, dead_letter), MaxResults=10)["Results"]
    assert [task["ApproximateNumberOfMessagesMoved"] for task in tasks] == [0, 1]


def test_only_a_dead_letter_queue_that_exists_can_be_a_source(sqs: SQSClient) -> None:
    _, source = queue_pair(sqs, "catalog")
    with pytest.raises(ClientError) as not_a_dead_letter_queue:
        sqs.start_message_move_task(SourceArn=arn(sqs, source))
    assert not_a_dead_letter_queue.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as missing:
        sqs.start_message_move_task(SourceArn=f"arn:aws:sqs:{REGION}:123456789012:no-such-queue")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
