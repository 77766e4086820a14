"""Runs the real handlers in-process, fed by a stand-in for Lambda's SQS event source mapping."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import time
import uuid
from collections.abc import Callable, Collection
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from local_stack.emulator import clients, failures, ses_send_events
from local_stack.emulator.failures import invocation_deadline, running_invocation
from local_stack.emulator.moto_endpoint import seconds_until_visible
from local_stack.emulator.stack import FunctionSpec, LocalStack, SqsEventSource

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

Handler = Callable[[dict[str, Any], Any], Any]

running_function: ContextVar[FunctionSpec | None] = ContextVar("running_function", default=None)
"""The function whose handler is running on this thread, for observers such as the IAM check."""


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    # The process clock, not a monotonic one: a test that moves the clock moves the deadline with it.
    _started: float = field(default_factory=time.time)

    @property
    def deadline(self) -> float:
        return self._started + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


class LocalFunction:
    """One function of the template, loaded from its CodeUri exactly as Lambda would import it."""

    def __init__(self, spec: FunctionSpec, region: str) -> None:
        self.spec = spec
        self.region = region
        module_name, _, attribute = spec.handler.rpartition(".")
        # Lambda sets the environment before it imports the handler (Powertools reads it at import).
        self._apply_environment()
        self._handler: Handler = getattr(self._load_module(module_name), attribute)

    def _load_module(self, module_name: str) -> ModuleType:
        path = self.spec.code_dir / f"{module_name.replace('.', '/')}.py"
        # A unique module name per function: every handler file is called app.py.
        spec = importlib.util.spec_from_file_location(f"local_lambda_{self.spec.logical_id}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load handler module {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def _apply_environment(self) -> None:
        # Lambda gives each function its own environment; here the functions of one stack share the
        # process, so the function's variables are set before every invocation.
        os.environ.update(self.spec.environment)
        os.environ["AWS_LAMBDA_FUNCTION_NAME"] = self.spec.name

    def invoke(self, event: dict[str, Any]) -> Any:
        self._apply_environment()
        context = LambdaContext(
            function_name=self.spec.name,
            memory_limit_in_mb=self.spec.memory_mb,
            invoked_function_arn=f"arn:aws:lambda:{self.region}:123456789012:function:{self.spec.name}",
            timeout_seconds=self.spec.timeout_seconds,
            log_group_name=f"/aws/lambda/{self.spec.name}",
        )
        token = running_function.set(self.spec)
        # Past its deadline the invocation dies at its next AWS call, as Lambda ends it (failures.py).
        deadline = invocation_deadline.set(context.deadline)
        invocation = running_invocation.set(failures.Invocation())
        try:
            return self._handler(event, context)
        finally:
            running_invocation.reset(invocation)
            invocation_deadline.reset(deadline)
            running_function.reset(token)


@dataclass
class DrainReport:
    invocations: int = 0
    records: int = 0
    failed_records: int = 0
    died: int = 0
    """Invocations that ended at their timeout or in a crash, their whole batch left to come back."""
    waited_seconds: float = 0.0
    """How far the clock was moved for failed records to become visible again."""


class Clock(Protocol):
    """What a drain needs of a test's clock (time_machine's ``Coordinates``)."""

    def shift(self, delta: float) -> None: ...


class EventSourceMappings:
    """Polls each function's SQS queues and invokes it with batches, as Lambda's poller does.

    As on AWS: successful records are deleted; a failed record (in ``batchItemFailures``, or the
    whole batch when the invocation raises, times out or dies) stays invisible until its visibility
    timeout has passed, and after the queue's ``maxReceiveCount`` receives SQS moves it to the
    dead-letter queue. Nothing is made visible early: a drain moves the test's ``clock`` forward to
    when the next failed record comes back, so retries take simulated minutes, not real ones.
    """

    def __init__(self, stack: LocalStack, clock: Clock | None = None) -> None:
        failures.install()
        ses_send_events.install()
        self.functions = [LocalFunction(spec, stack.region) for spec in stack.functions.values()]
        self.sqs = clients.sqs(stack.region)
        self._region = stack.region
        self._clock = clock

    def function(self, logical_id: str) -> LocalFunction:
        return next(f for f in self.functions if f.spec.logical_id == logical_id)

    def drain(
        self, max_rounds: int = 1000, only: Collection[str] = (), max_wait_seconds: float | None = None
    ) -> DrainReport:
        """Poll every queue (or only those of the ``only`` functions) until all are empty, waiting
        out visibility timeouts on the clock; failed records end in their dead-letter queues. With
        ``max_wait_seconds``, stop once waiting longer would pass it (records stay in flight)."""
        report = DrainReport()
        for _ in range(max_rounds):
            if self.poll_once(report, only):
                continue
            wait = self._until_next_visible(only)
            if wait is None:
                return report
            if max_wait_seconds is not None and report.waited_seconds + wait > max_wait_seconds:
                return report
            if self._clock is None:
                raise RuntimeError(
                    "failed records come back only after their queue's visibility timeout: "
                    "give EventSourceMappings a clock to move (tests: the `clock` fixture)"
                )
            self._clock.shift(wait)
            report.waited_seconds += wait
        raise RuntimeError(f"queues still had messages after {max_rounds} rounds")

    def _until_next_visible(self, only: Collection[str]) -> float | None:
        """Seconds to move the clock for the soonest record in flight to come back, or a delayed one
        to be delivered (each record's own visibility and delay as moto holds them; the queue's
        VisibilityTimeout or DelaySeconds where moto is out of reach), or None when nothing waits."""
        waits = []
        for function in self.functions:
            if only and function.spec.logical_id not in only:
                continue
            for source in function.spec.sqs_sources:
                attributes = self.sqs.get_queue_attributes(
                    QueueUrl=source.queue_url,
                    AttributeNames=[
                        "ApproximateNumberOfMessagesNotVisible",
                        "ApproximateNumberOfMessagesDelayed",
                        "VisibilityTimeout",
                        "DelaySeconds",
                    ],
                )["Attributes"]
                in_flight = int(attributes["ApproximateNumberOfMessagesNotVisible"])
                delayed = int(attributes.get("ApproximateNumberOfMessagesDelayed", "0"))
                if in_flight or delayed:
                    exact = seconds_until_visible(source.queue_url, self._region)
                    bound = (
                        attributes["VisibilityTimeout"] if in_flight else attributes.get("DelaySeconds", "0")
                    )
                    waits.append(exact if exact is not None else float(bound))
        return min(waits) if waits else None

    def poll_once(self, report: DrainReport | None = None, only: Collection[str] = ()) -> int:
        """One receive and, where there were messages, one invocation per queue; returns the records."""
        report = report or DrainReport()
        return sum(
            self._poll_once(function, source, report)
            for function in self.functions
            if not only or function.spec.logical_id in only
            for source in function.spec.sqs_sources
        )

    def _poll_once(self, function: LocalFunction, source: SqsEventSource, report: DrainReport) -> int:
        messages = self.sqs.receive_message(
            QueueUrl=source.queue_url,
            MaxNumberOfMessages=min(source.batch_size, 10),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self._sqs_record(message, source) for message in messages]}
        report.invocations += 1
        report.records += len(messages)
        every = {message["MessageId"] for message in messages}
        try:
            response = function.invoke(event) or {}
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
            if failed and not source.reports_batch_item_failures:
                failed = every
        except failures.LambdaDied:
            report.died += 1
            failed = every
        except Exception:
            failed = every
        report.failed_records += len(failed)
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _sqs_record(self, message: MessageTypeDef, source: SqsEventSource) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
            "eventSource": "aws:sqs",
            "eventSourceARN": source.queue_arn,
            "awsRegion": self._region,
        }


class LocalScheduler:
    """Fires a function's schedules on demand: moto stores schedules but never fires them.

    As EventBridge Scheduler does, it fills the context attributes into the schedule's Input and
    invokes the function asynchronously: a failed invocation is retried as Lambda retries one, then
    the event goes to the function's dead-letter queue.
    """

    def __init__(self, mappings: EventSourceMappings) -> None:
        self._mappings = mappings

    def payload(self, logical_id: str, scheduled_time: datetime) -> dict[str, Any]:
        function = self._mappings.function(logical_id)
        (schedule,) = function.spec.schedules
        attributes = {
            "<aws.scheduler.scheduled-time>": scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "<aws.scheduler.execution-id>": uuid.uuid4().hex[:16],
            "<aws.scheduler.attempt-number>": "1",
            "<aws.scheduler.schedule-arn>": (
                f"arn:aws:scheduler:{function.region}:123456789012:schedule/default/{schedule.name}"
            ),
        }
        text = schedule.input_template
        for placeholder, value in attributes.items():
            text = text.replace(placeholder, value)
        return dict(json.loads(text))

    def fire(self, logical_id: str, scheduled_time: datetime) -> Any:
        """Invoke as the schedule would at ``scheduled_time``; returns the result, or None if the
        invocation failed every attempt and went to the dead-letter queue."""
        return self.invoke_async(logical_id, self.payload(logical_id, scheduled_time))

    def invoke_async(self, logical_id: str, event: dict[str, Any]) -> Any:
        function = self._mappings.function(logical_id)
        for _ in range(1 + function.spec.async_retry_attempts):
            try:
                return function.invoke(event)
            except Exception:  # noqa: S112 - Lambda retries whatever the error was
                continue
        if function.spec.dead_letter_queue_url:
            self._mappings.sqs.send_message(
                QueueUrl=function.spec.dead_letter_queue_url, MessageBody=json.dumps(event)
            )
        return None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: str


class LocalFunctionUrls:
    """Serves a request to a function URL from template.yaml the way Lambda does: the request becomes
    a payload-2.0 event (form bodies base64-encoded, as Lambda sends them) and the handler's answer
    the HTTP response. No socket: the URL's host selects the function."""

    def __init__(self, mappings: EventSourceMappings) -> None:
        self._by_url = {f.spec.function_url: f for f in mappings.functions if f.spec.function_url}

    def request(
        self, method: str, url: str, body: str = "", headers: dict[str, str] | None = None
    ) -> HttpResponse:
        parts = urlsplit(url)
        function = self._by_url[f"{parts.scheme}://{parts.netloc}/"]
        now = datetime.now(UTC)
        request_headers = {
            "host": parts.netloc,
            "user-agent": "local",
            **{k.lower(): v for k, v in (headers or {}).items()},
        }
        if body and "content-type" not in request_headers:
            request_headers["content-type"] = "application/x-www-form-urlencoded"
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": parts.path or "/",
            "rawQueryString": parts.query,
            "headers": request_headers,
            "queryStringParameters": dict(parse_qsl(parts.query)) or None,
            "requestContext": {
                "accountId": "anonymous",
                "apiId": parts.netloc.split(".")[0],
                "domainName": parts.netloc,
                "domainPrefix": parts.netloc.split(".")[0],
                "http": {
                    "method": method,
                    "path": parts.path or "/",
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": request_headers["user-agent"],
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": "$default",
                "stage": "$default",
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            },
            "body": base64.b64encode(body.encode()).decode() if body else None,
            "isBase64Encoded": bool(body),
        }
        result = function.invoke(event)
        text = result.get("body") or ""
        if result.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        return HttpResponse(int(result["statusCode"]), dict(result.get("headers") or {}), text)
