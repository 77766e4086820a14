"""Lazily created, cached AWS clients, all from one boto3 Session.

No client exists until first use, so tests and the local stack can point the SDK at moto (through
``AWS_ENDPOINT_URL``) before anything connects. One Session for every client: each new Session loads
its service models and credential chain again (about 40-70 ms a client on a cold start; `make
bench` measures it). Creation is locked because a boto3 Session is not thread-safe. Each client
sends with ``nudge.adapters.http_session`` (pooled keep-alive connections, not urllib3).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from nudge.adapters import http_session

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sqs import SQSClient

# The local stack's moto answers from Python on one thread: on a loaded machine a large item takes
# seconds where DynamoDB takes milliseconds, and a timeout there would make a test's outcome depend
# on CPU speed. It sets this floor; lost answers are injected explicitly (local_stack.emulator.failures).
LOCAL_READ_TIMEOUT_FLOOR = "NUDGE_LOCAL_READ_TIMEOUT_SECONDS"


def _config(*, attempts: int, connect_timeout: float, read_timeout: float) -> Config:
    # The service validates every request anyway, and the requests are ours, built in the dal and
    # the adapters and exercised by the tests against moto (which validates too): the SDK's own walk
    # over every parameter is about 4 % of a send's CPU for nothing.
    floor = float(os.environ.get(LOCAL_READ_TIMEOUT_FLOOR) or 0)
    return Config(
        retries={"mode": "standard", "max_attempts": attempts},
        connect_timeout=connect_timeout,
        read_timeout=max(read_timeout, floor),
        parameter_validation=False,
    )


def _with_retries() -> Config:
    # Short timeouts (DynamoDB answers in milliseconds): a hung connection must fail within seconds
    # and be retried, not hold the invocation for the SDK's 60 s defaults while a claimed send waits.
    return _config(attempts=4, connect_timeout=2, read_timeout=3)


def _one_attempt() -> Config:
    # SendEmail has no idempotency key: an SDK retry after a lost answer would send the email twice.
    # One attempt; nudge.adapters.ses retries only what SES refused. Short timeouts: an answer that
    # never comes must end well inside the function's own timeout.
    return _config(attempts=1, connect_timeout=3, read_timeout=10)


_lock = threading.Lock()
_clients: dict[str, Any] = {}


@cache
def session() -> boto3.session.Session:
    """The one Session every client of the process comes from (created on first use)."""
    return boto3.session.Session()


def _client(service: str, config: Callable[[], Config]) -> Any:
    """The process's one client of ``service``. Looked up again under the lock: the threads of a
    batch that ask for it together on a cold function share the first one's client rather than each
    creating its own after it (tens of milliseconds each, and a cache of its own behind each)."""
    client = _clients.get(service)
    if client is None:
        with _lock:
            client = _clients.get(service)
            if client is None:
                client = session().client(service, config=config())  # type: ignore[call-overload]
                http_session.install(client)
                _clients[service] = client
    return client


def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb", _with_retries)
    return client


def sesv2() -> SESV2Client:
    client: SESV2Client = _client("sesv2", _one_attempt)
    return client


def events() -> EventBridgeClient:
    client: EventBridgeClient = _client("events", _with_retries)
    return client


def sqs() -> SQSClient:
    client: SQSClient = _client("sqs", _with_retries)
    return client


def scheduler() -> EventBridgeSchedulerClient:
    client: EventBridgeSchedulerClient = _client("scheduler", _with_retries)
    return client


def secretsmanager() -> Any:
    return _client("secretsmanager", _with_retries)


def forget() -> None:
    """Drop the Session and every client: the next call creates them from the environment as it is
    then (the local stack points the SDK at a new moto server; Lambda never needs this)."""
    with _lock:
        _clients.clear()
        session.cache_clear()
