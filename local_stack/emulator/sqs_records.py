"""The SQS batch Lambda hands a queue-fed function, built from EventBridge events: what the emulator
delivers, and what a unit test hands a handler without starting the local stack."""

from __future__ import annotations

import json
from typing import Any


def sqs_event(*events: dict[str, Any] | str, message_ids: list[str] | None = None) -> dict[str, Any]:
    """The SQS batch Lambda would hand a trigger function for these EventBridge events (each a dict,
    or its JSON text as it is: a body ``json.dumps`` cannot write, such as one nested too deep)."""
    ids = message_ids or [f"msg-{number}" for number in range(len(events))]
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": f"receipt-{message_id}",
                "body": event if isinstance(event, str) else json.dumps(event),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1763884800000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1763884800000",
                },
                "messageAttributes": {},
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:queue",
                "awsRegion": "us-east-1",
            }
            for message_id, event in zip(ids, events, strict=True)
        ]
    }
