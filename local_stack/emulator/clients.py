"""The local stack's own boto3 clients (building, seeding, putting events, reading results).

One per service, region and endpoint, all from one session: every new ``Session`` loads the service
models from disk again, 40 to 70 ms a client, which once cost more than most tests. The handlers
never use these; they have their own (``nudge.adapters.clients``).
"""

from __future__ import annotations

import os
import threading
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sqs import SQSClient

_session = boto3.session.Session()
_lock = threading.Lock()


@cache
def _client(service: str, region: str, endpoint_url: str | None) -> Any:
    with _lock:  # a boto3 session is not thread-safe
        return _session.client(service, region_name=region, endpoint_url=endpoint_url)  # type: ignore[call-overload]


def client(service: str, region: str) -> Any:
    """A cached client for the endpoint the process points at now (moto's, in tests and the demo)."""
    return _client(service, region, os.environ.get("AWS_ENDPOINT_URL"))


def dynamodb(region: str) -> DynamoDBClient:
    return client("dynamodb", region)  # type: ignore[no-any-return]


def sqs(region: str) -> SQSClient:
    return client("sqs", region)  # type: ignore[no-any-return]


def sesv2(region: str) -> SESV2Client:
    return client("sesv2", region)  # type: ignore[no-any-return]


def events(region: str) -> EventBridgeClient:
    return client("events", region)  # type: ignore[no-any-return]


def scheduler(region: str) -> EventBridgeSchedulerClient:
    return client("scheduler", region)  # type: ignore[no-any-return]
