"""AWS's failure semantics for handlers running in this process: timeouts, crashes and throttling.

- **An invocation dies, it does not raise.** Lambda ends a function at its ``Timeout`` and a crash
  ends it anywhere: no ``except`` or ``finally`` of the handler runs. Here that is ``LambdaDied``, a
  ``BaseException`` the handlers' ``except Exception`` blocks do not see, raised at the first AWS call
  after the invocation's deadline (on the process clock, so a test's clock decides), or at a crash
  point a test names (``crash_after``).
- **Throttling happens on the wire.** ``throttled`` answers a share of the handlers' DynamoDB and SES
  calls with the HTTP error AWS sends (``ProvisionedThroughputExceededException``,
  ``ThrottlingException``, ``TooManyRequestsException``), so botocore's own retries, back-off and
  retry quota apply exactly as on AWS. Its back-off sleeps move the test clock instead of waiting.

Only calls made inside an invocation (``LocalFunction.invoke``) are affected; the test's own calls
(putting events, reading tables) never are.
"""

from __future__ import annotations

import contextvars
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import botocore.client
import botocore.endpoint
import botocore.exceptions
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders

from local_stack.emulator import patches


class LambdaDied(BaseException):
    """The invocation ended where it stood: its messages come back after the visibility timeout."""


class InvocationTimedOut(LambdaDied):
    """Lambda ended the invocation at its Timeout."""


class SimulatedCrash(LambdaDied):
    """The process died at a point a test chose (out of memory, a host failure)."""


invocation_deadline: ContextVar[float | None] = ContextVar("invocation_deadline", default=None)
"""The running invocation's deadline (``time.time()``), None outside an invocation."""


@dataclass
class Invocation:
    """Shared by every thread of one invocation (a batch's records run on threads): once one of them
    dies, the process is gone, so every other thread dies at its next AWS call too."""

    died: bool = False
    slept: dict[int, float] = field(default_factory=dict)
    """Seconds each of its threads has slept (SDK back-off): the threads sleep at the same time."""
    clock_moved: float = 0.0
    """How far those sleeps have moved the clock: the longest any one thread slept."""


running_invocation: ContextVar[Invocation | None] = ContextVar("running_invocation", default=None)

Answer = tuple[int, dict[str, str], bytes]
"""An HTTP answer as AWS sent it: status, headers, body."""
AnswerKey = tuple[str, str, str]
"""Which request an answer belongs to: service, operation and, for DynamoDB, the table(s) it names
(a send reads several tables with the same operation)."""
CANNED_ANSWER_HEADER = "x-nudge-canned-answer"
"""Names the answer a canned-answer server (local_stack.bench.canned_server) is to give a request."""


_current_call: ContextVar[AnswerKey | None] = ContextVar("current_call", default=None)
"""The call whose request is being sent, inside an invocation: its answer's key."""


def answer_key(service: str, operation: str, params: dict[str, Any]) -> AnswerKey:
    """From the call's parameters, not its serialised body: parsing the body again would add CPU to
    the handler's that it never spends on AWS."""
    if service != "dynamodb":
        return service, operation, ""
    tables = [params["TableName"]] if "TableName" in params else sorted(params.get("RequestItems", {}))
    return service, operation, ",".join(tables)


@dataclass
class CannedAnswers:
    """AWS's recorded answer to each operation, given again without a request leaving the process
    (after ``latency[service]`` seconds of sleep): the handlers' own CPU, botocore's serialising and
    parsing included, without moto's."""

    answers: dict[AnswerKey, Answer]
    latency: dict[str, float] = field(default_factory=dict)
    server: str | None = None
    """A canned-answer server's URL (local_stack.bench.canned_server, in another process): each request is
    then sent to it over a real socket, through botocore's HTTP stack and connection pool."""

    def answer(self, call: AnswerKey, request: AWSPreparedRequest) -> AWSResponse:
        status, headers, body = self.answers[call]
        delay = self.latency.get(call[0], 0.0)
        if delay:
            time.sleep(delay)
        wire_headers = HTTPHeaders()
        for name, value in headers.items():
            wire_headers[name] = value
        return AWSResponse(request.url, status, wire_headers, _Body(body))


@dataclass(kw_only=True)
class _NthCall:
    """Fires once, on the ``nth`` call of ``service.operation``."""

    service: str
    operation: str
    nth: int = 1
    seen: int = 0
    fired: bool = False

    def hit(self, service: str, operation: str) -> bool:
        if self.fired or (service, operation) != (self.service, self.operation):
            return False
        self.seen += 1
        self.fired = self.seen == self.nth
        return self.fired


@dataclass(kw_only=True)
class CrashPoint(_NthCall):
    """Die right after (or, with ``after=False``, right before) that call."""

    after: bool = True


@dataclass
class Throttling:
    """Refuse this share of the handlers' calls to these services, as AWS does under load."""

    rate: float
    services: frozenset[str] = frozenset({"dynamodb", "email"})
    seed: int = 7
    refused: dict[str, int] = field(default_factory=dict)
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 (a reproducible fault plan, not security)

    def refuses(self, service: str) -> bool:
        if service not in self.services:
            return False
        with self._lock:
            refused = self._random.random() < self.rate
            if refused:
                self.refused[service] = self.refused.get(service, 0) + 1
            return refused


@dataclass(kw_only=True)
class Refusal(_NthCall):
    """Answer that call with this error, as the caller sees it once the SDK's own retries are spent
    (a throttled write that stays throttled), with this HTTP status (5xx: the service failed, and the
    request may have been carried out)."""

    code: str = "ProvisionedThroughputExceededException"
    status: int = 400


@dataclass(kw_only=True)
class LostAnswer(_NthCall):
    """The request reaches AWS and is carried out, but its answer never comes back (a read timeout):
    the SDK sends it again, as botocore's standard retries do."""


@dataclass(kw_only=True)
class Stall(_NthCall):
    """That call answers only after ``seconds`` (a slow dependency): the clock moves on by that much,
    and an invocation past its timeout dies at its next call."""

    seconds: float
    move_clock: Callable[[float], None]


@dataclass
class _Faults:
    crash_points: list[CrashPoint] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    stalls: list[Stall] = field(default_factory=list)
    lost_answers: list[LostAnswer] = field(default_factory=list)
    observers: list[Callable[[botocore.client.BaseClient, str, dict[str, Any], Any], None]] = field(
        default_factory=list
    )
    """What AWS does after a call succeeded (SES publishing its Send event): run outside the
    invocation, so neither its faults nor its recorders see it."""
    throttling: Throttling | None = None
    recorders: list[list[tuple[str, str]]] = field(default_factory=list)
    answer_recorders: list[dict[AnswerKey, Answer]] = field(default_factory=list)
    request_recorders: list[list[tuple[str, str, dict[str, Any]]]] = field(default_factory=list)
    canned: CannedAnswers | None = None


_faults = _Faults()
_installed = threading.Lock()
_original_make_api_call: Any = None
_original_send: Any = None


def install() -> None:
    """Put the fault points into botocore once per process (idempotent)."""
    global _original_make_api_call, _original_send
    with _installed:
        if _original_make_api_call is not None:
            return
        # The one place every call passes, and the one place every request is sent (patches.py).
        _original_make_api_call, _original_send = patches.wrap_botocore(_make_api_call, _send)


def _make_api_call(client: botocore.client.BaseClient, operation: str, params: dict[str, Any]) -> Any:
    deadline = invocation_deadline.get()
    if deadline is None:
        return _original_make_api_call(client, operation, params)
    invocation = running_invocation.get()
    if invocation is not None and invocation.died:
        raise SimulatedCrash(f"the process had died before {operation}")
    try:
        return _call_within_invocation(client, operation, params, deadline)
    except LambdaDied:
        if invocation is not None:
            invocation.died = True
        raise


def _call_within_invocation(
    client: botocore.client.BaseClient, operation: str, params: dict[str, Any], deadline: float
) -> Any:
    if time.time() > deadline:
        raise InvocationTimedOut(f"the invocation passed its timeout before {operation}")
    service = client.meta.service_model.service_name
    for recorder in _faults.recorders:
        recorder.append((service, operation))
    for requests in _faults.request_recorders:
        requests.append((service, operation, params))
    for point in _faults.crash_points:
        if not point.after and point.hit(service, operation):
            raise SimulatedCrash(f"died before {service}.{operation}")
    for refusal in _faults.refusals:
        if refusal.hit(service, operation):
            error = {
                "Error": {"Code": refusal.code, "Message": f"{refusal.code} (injected)"},
                "ResponseMetadata": {"HTTPStatusCode": refusal.status},
            }
            raise botocore.exceptions.ClientError(error, operation)  # type: ignore[arg-type]
    token = _current_call.set(answer_key(service, operation, params))
    try:
        response = _original_make_api_call(client, operation, params)
    finally:
        _current_call.reset(token)
    if _faults.canned is None:
        for observer in _faults.observers:
            # A fresh context: AWS's own side effects are not the invocation's calls.
            contextvars.Context().run(observer, client, operation, params, response)
    for stall in _faults.stalls:
        if stall.hit(service, operation):
            stall.move_clock(stall.seconds)
    for point in _faults.crash_points:
        if point.after and point.hit(service, operation):
            raise SimulatedCrash(f"died after {service}.{operation}")
    return response


def _send(endpoint: botocore.endpoint.Endpoint, request: AWSPreparedRequest) -> AWSResponse:
    throttling = _faults.throttling
    prefix = patches.endpoint_prefix(endpoint)
    if throttling is not None and invocation_deadline.get() is not None and throttling.refuses(prefix):
        return _throttled_response(prefix, request)
    call = _current_call.get()
    canned = _faults.canned
    if canned is not None and call is not None:
        if canned.server is None:
            return canned.answer(call, request)
        request.headers[CANNED_ANSWER_HEADER] = json.dumps(call)
        request.url = canned.server + urlsplit(request.url).path
        canned_response: AWSResponse = _original_send(endpoint, request)
        return canned_response
    response: AWSResponse = _original_send(endpoint, request)
    if call is not None and any(lost.hit(*call[:2]) for lost in _faults.lost_answers):
        raise botocore.exceptions.ReadTimeoutError(endpoint_url=request.url)
    if call is not None:
        for answers in _faults.answer_recorders:
            answers.setdefault(call, (response.status_code, dict(response.headers), response.content))
    return response


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _throttled_response(prefix: str, request: AWSPreparedRequest) -> AWSResponse:
    """What DynamoDB or SES answers a request it refuses for load."""
    if prefix == "dynamodb":
        kind = random.choice(  # noqa: S311
            ["ProvisionedThroughputExceededException", "ThrottlingException"]
        )
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{kind}", "message": "Rate exceeded"})
        return AWSResponse(request.url, 400, headers, _Body(body.encode()))
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/json"
    headers["x-amzn-ErrorType"] = "TooManyRequestsException"
    body = json.dumps({"message": "Maximum sending rate exceeded."})
    return AWSResponse(request.url, 429, headers, _Body(body.encode()))


@contextmanager
def recording_requests() -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """Each handler call made meanwhile, with its parameters, in order."""
    requests: list[tuple[str, str, dict[str, Any]]] = []
    _faults.request_recorders.append(requests)
    try:
        yield requests
    finally:
        _faults.request_recorders.remove(requests)


@contextmanager
def recording_answers() -> Iterator[dict[AnswerKey, Answer]]:
    """The first answer AWS (moto) gave to each operation (and table) the handlers called meanwhile."""
    answers: dict[AnswerKey, Answer] = {}
    _faults.answer_recorders.append(answers)
    try:
        yield answers
    finally:
        _faults.answer_recorders.remove(answers)


@contextmanager
def answering(canned: CannedAnswers) -> Iterator[CannedAnswers]:
    """Every handler call is answered from ``canned``; nothing reaches moto."""
    _faults.canned = canned
    try:
        yield canned
    finally:
        _faults.canned = None


@contextmanager
def _in_place(faults: list[Any], *added: Any) -> Iterator[list[Any]]:
    """Add these to one of the fault lists for the duration of the block."""
    install()
    faults.extend(added)
    try:
        yield list(added)
    finally:
        for fault in added:
            faults.remove(fault)


def losing_answers(*lost: LostAnswer) -> AbstractContextManager[list[LostAnswer]]:
    return _in_place(_faults.lost_answers, *lost)


def observe_calls(
    observer: Callable[[botocore.client.BaseClient, str, dict[str, Any], Any], None],
) -> None:
    """Run ``observer`` after every successful call a handler makes (once per process per observer)."""
    install()
    if observer not in _faults.observers:
        _faults.observers.append(observer)


def crash_at(*points: CrashPoint) -> AbstractContextManager[list[CrashPoint]]:
    """Die at each of these points once (the next invocation that reaches it)."""
    return _in_place(_faults.crash_points, *points)


def refusing(*refusals: Refusal) -> AbstractContextManager[list[Refusal]]:
    """Refuse each of these calls once, after the SDK's retries (see ``Refusal``)."""
    return _in_place(_faults.refusals, *refusals)


def stalling(*stalls: Stall) -> AbstractContextManager[list[Stall]]:
    """Slow each of these calls down once (see ``Stall``)."""
    return _in_place(_faults.stalls, *stalls)


@contextmanager
def recording_calls() -> Iterator[list[tuple[str, str]]]:
    """Every (service, operation) the handlers call, in order."""
    calls: list[tuple[str, str]] = []
    with _in_place(_faults.recorders, calls):
        yield calls


def overlapping_sleeps(move_clock: Callable[[float], None]) -> Callable[[float], None]:
    """A ``time.sleep`` that moves the clock instead of waiting, as AWS's wall clock runs: the
    threads of one invocation (a batch's records) back off side by side, so ten threads sleeping
    3 s each move it 3 s, not 30 (the function's timeout then cuts off what AWS would, no more and
    no less). Outside an invocation a sleep moves the clock by itself."""
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        invocation = running_invocation.get()
        if invocation is None:
            move_clock(seconds)
            return
        with lock:
            thread = threading.get_ident()
            mine = invocation.slept.get(thread, 0.0) + max(0.0, seconds)
            invocation.slept[thread] = mine
            ahead = mine - invocation.clock_moved
            if ahead > 0:
                invocation.clock_moved = mine
                move_clock(ahead)

    return sleep


@contextmanager
def throttled(throttling: Throttling, move_clock: Callable[[float], None]) -> Iterator[Throttling]:
    """Throttle the handlers' calls; every back-off sleep moves the clock by as long instead."""
    install()
    _faults.throttling = throttling
    try:
        with mock.patch("time.sleep", overlapping_sleeps(move_clock)):
            yield throttling
    finally:
        _faults.throttling = None
