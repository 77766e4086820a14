"""SQS: dead-lettering and backing off records, enqueueing work items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from nudge.adapters import clients

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef


def send_message(queue_url: str, body: str, string_attributes: Mapping[str, str] | None = None) -> None:
    clients.sqs().send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value}
            for name, value in (string_attributes or {}).items()
        },
    )


def send_message_batch(queue_url: str, bodies: Mapping[str, str]) -> set[str]:
    """Send up to ten messages, each under its id; returns the ids SQS did not accept."""
    entries: Sequence[SendMessageBatchRequestEntryTypeDef] = [
        {"Id": entry_id, "MessageBody": body} for entry_id, body in bodies.items()
    ]
    response = clients.sqs().send_message_batch(QueueUrl=queue_url, Entries=entries)
    return {failure["Id"] for failure in response.get("Failed", [])}


def change_visibility(queue_url: str, receipt_handle: str, seconds: int) -> None:
    clients.sqs().change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
    )
