"""The SQS batch processor every queue-fed function uses: parse each record, hand it to the
function's record handler, report failures as SQS's partial batch response.

- A record that can never succeed (the event fails validation, or the stored data it needs does)
  is put on the function's dead-letter queue at once, with the error's type and fields (never the
  data) as message attributes, and removed from the queue: it is not retried as if it might. Event
  times are validated against the clock (``nudge.event_times``): none may be further ahead of it than
  the function's ``MAX_CLOCK_SKEW_SECONDS``. A body nested too deeply to read is refused as
  ``body: too_deeply_nested``.
- A record that may succeed later (a throttled call, SES refusing, a twin still in flight) is
  reported in ``batchItemFailures`` and comes back after a back-off that grows with its receive
  count (30 s, 1, 2, 4, 8 min, then every 15 min), so a struggling dependency gets hours, not
  minutes, before the queue's receive limit dead-letters anything.
- Its failure log names the problem but never the data (a pydantic message quotes the input).
- The records run concurrently, up to ``MAX_CONCURRENT_RECORDS`` at a time on threads: a record
  spends most of its time waiting for DynamoDB and SES, so ten records take about as long as one
  (boto3 clients are thread-safe; nudge.adapters.clients creates them under a lock). Records of one
  customer run one after another, in the batch's order, so two events of one customer never race
  each other within an invocation. A record whose customer cannot be read runs on its own: whatever
  a record is, it fails alone, never its batch.
"""

from __future__ import annotations

import contextvars
import json
import math
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from nudge.adapters import sqs
from nudge.event_times import validation_context
from nudge.observability import logger, metrics
from nudge.timeutil import utc_now
from nudge.waiting import ComesBackLaterError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 900
NOT_STARTED_DELAY_SECONDS = 5
# With less than this left of the invocation, a record is not started: it comes back in seconds
# instead of being cut off by the timeout half-way.
START_BUDGET_SECONDS = 10
MAX_VISIBILITY_SECONDS = 12 * 3600
# The event source mappings' BatchSize: a whole batch at once.
MAX_CONCURRENT_RECORDS = 10


class NotStartedError(RuntimeError):
    """Too little of the invocation was left to start this record; it comes back in seconds (raise it
    from a record handler)."""


BACKOFF_JITTER = 1.2
"""A backoff is spread over 0.8 to this times its length, so failed records do not return at once."""


def backoff_seconds(receive_count: int, cap: int = BACKOFF_MAX_SECONDS) -> int:
    """How long a failed record stays invisible after its ``receive_count``-th receive: doubling from
    30 s, at most ``cap``."""
    return int(min(cap, BACKOFF_BASE_SECONDS * 2 ** max(0, receive_count - 1)))


class PartialItemFailure(TypedDict):
    itemIdentifier: str


class PartialItemFailureResponse(TypedDict):
    """What a queue-fed function returns: the records SQS delivers again (``ReportBatchItemFailures``)."""

    batchItemFailures: list[PartialItemFailure]


class SqsBatchProcessor:
    """Runs a batch's records: dead-letters what can never succeed, backs off the rest, and logs a
    failure naming the problem but never the data (a pydantic message quotes the input).

    Ours, not Powertools' ``BatchProcessor``: importing that package imports the event data classes
    of every event source Lambda has (Kinesis, DynamoDB streams, Kafka and the rest), about a tenth
    of a cold start's import for the few lines of it a queue-fed function used."""

    def __init__(
        self,
        *,
        model: Any,
        raw_records: list[dict[str, Any]],
        queue_url: str | None = None,
        dead_letter_queue_url: str | None = None,
        context: dict[str, Any] | None = None,
        backoff_cap: int = BACKOFF_MAX_SECONDS,
    ) -> None:
        self.model = model
        self.records = raw_records
        self._queue_url = queue_url
        self._dead_letter_queue_url = dead_letter_queue_url
        self._context = context
        self._backoff_cap = backoff_cap

    def parse(self, record: dict[str, Any]) -> Any:
        """The record as ``model`` reads it, validated with this batch's context (the clock event
        times are bounded by); one too deeply nested to read fails validation, naming the body."""
        try:
            return self.model.model_validate(record, context=self._context)
        except RecursionError:
            raise _too_deeply_nested(self.model) from None

    def process(self, handle_record: Callable[[Any], None]) -> PartialItemFailureResponse:
        """Every record, each customer's in order on one thread, up to ``MAX_CONCURRENT_RECORDS``
        customers at once; the records to deliver again, in the batch's order. Raises
        ``AllRecordsFailedError`` if every record failed."""
        lanes: dict[str, list[int]] = {}
        for index, record in enumerate(self.records):
            lanes.setdefault(_serial_key(record, index), []).append(index)
        again: list[str | None] = [None] * len(self.records)

        def run(lane: list[int]) -> None:
            for index in lane:
                again[index] = self._process_record(self.records[index], handle_record)

        if len(lanes) == 1 or MAX_CONCURRENT_RECORDS <= 1:
            for lane in lanes.values():
                run(lane)
        else:
            # Each lane runs in a copy of this thread's context: what the invocation set in context
            # variables (Powertools', a test harness's deadline) holds on every thread of it.
            contexts = [contextvars.copy_context() for _ in lanes]
            with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENT_RECORDS, len(lanes))) as pool:
                # list() re-raises what a lane raised: _process_record catches every record's
                # Exception, so that is a BaseException (the invocation is ending) or a bug here.
                list(pool.map(lambda context, lane: context.run(run, lane), contexts, lanes.values()))
        failed = [message_id for message_id in again if message_id is not None]
        # A dead-lettered record is done with, not failed: only a batch all of whose records come
        # back fails as a whole.
        if failed and len(failed) == len(self.records):
            raise AllRecordsFailedError(f"all {len(failed)} records of the batch failed")
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    def _process_record(self, record: dict[str, Any], handle_record: Callable[[Any], None]) -> str | None:
        """The record's message id if SQS must deliver it again, else None."""
        try:
            handle_record(self.parse(record))
        except Exception as error:
            return self._failed(record, error)
        return None

    def _failed(self, record: Any, error: Exception) -> str | None:
        raw: dict[str, Any] = record if isinstance(record, dict) else {}
        message_id = str(raw.get("messageId"))
        if isinstance(error, ValidationError) and self._dead_letter(raw, message_id, error):
            # Removed from the queue as if handled: the dead-letter queue holds it for an operator.
            return None
        if isinstance(error, ComesBackLaterError):
            logger.info(
                "event waits; it comes back later",
                extra={"message_id": message_id, "waiting_for": type(error).__name__},
            )
            metrics.add_metric(name="EventWaiting", unit=MetricUnit.Count, value=1)
            self._back_off(raw, message_id, not_started=False, after=error.retry_after_seconds)
            return message_id
        logger.error(
            "event processing failed; it will be retried",
            extra={
                "message_id": message_id,
                "error_type": type(error).__name__,
                "error_title": getattr(error, "title", None),
                "error_code": _aws_error_code(error),
            },
        )
        metrics.add_metric(name="EmailFailed", unit=MetricUnit.Count, value=1)
        self._back_off(raw, message_id, not_started=isinstance(error, NotStartedError))
        return message_id

    def _dead_letter(self, raw: dict[str, Any], message_id: str, error: ValidationError) -> bool:
        """Put the record's body, unchanged (a redrive replays it), on the dead-letter queue."""
        queue_url = self._dead_letter_queue_url
        if not queue_url or "body" not in raw:
            return False
        problems = [
            {"field": ".".join(str(part) for part in problem["loc"]), "error": _error_type(problem)}
            for problem in error.errors(include_input=False, include_url=False)
        ]
        invalid_event = error.title == getattr(self.model, "__name__", None)
        try:
            sqs.send_message(
                queue_url,
                str(raw["body"]),
                {"nudge_error": error.title, "nudge_problems": json.dumps(problems)[:4096]},
            )
        except Exception:
            logger.exception(
                "could not dead-letter a record; it will be retried", extra={"message_id": message_id}
            )
            return False
        logger.error(
            "invalid event rejected"
            if invalid_event
            else "stored data does not validate; event dead-lettered",
            extra={"message_id": message_id, "model": error.title, "problems": problems},
        )
        metrics.add_metric(
            name="InvalidEvent" if invalid_event else "InvalidStoredData", unit=MetricUnit.Count, value=1
        )
        return True

    def _back_off(
        self, raw: dict[str, Any], message_id: str, *, not_started: bool, after: float | None = None
    ) -> None:
        queue_url = self._queue_url
        if not queue_url or "receiptHandle" not in raw:
            return
        receives = int(raw.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        if after is not None:
            # A moment the record itself named (a grace period ending): not earlier, so no jitter
            # below it; SQS caps a message's visibility at 12 hours.
            visibility = min(MAX_VISIBILITY_SECONDS, math.ceil(after * random.uniform(1.0, 1.1)))  # noqa: S311
        else:
            delay = NOT_STARTED_DELAY_SECONDS if not_started else backoff_seconds(receives, self._backoff_cap)
            visibility = int(delay * random.uniform(0.8, BACKOFF_JITTER))  # noqa: S311 (jitter)
        try:
            sqs.change_visibility(queue_url, str(raw["receiptHandle"]), visibility)
        except Exception:
            # The queue's own visibility timeout applies instead: a shorter wait, never a lost record.
            logger.warning("could not back off a failed record", extra={"message_id": message_id})


class AllRecordsFailedError(RuntimeError):
    """Every record of the batch failed; SQS delivers them all again."""


def process_queue_batch(
    event: dict[str, Any],
    context: LambdaContext,
    *,
    dimension: tuple[str, str],
    model: Any,
    queue_url: str | None,
    dead_letter_queue_url: str | None,
    max_clock_skew: timedelta,
    handle_record: Callable[[Any], None],
    backoff_cap: int = BACKOFF_MAX_SECONDS,
) -> PartialItemFailureResponse:
    """A queue-fed function's batch: counted as ``EventsReceived`` under ``dimension`` (``("trigger",
    "cart_abandoned")``), each record parsed with ``model`` (no event time more than ``max_clock_skew``
    ahead of the clock) and handed to ``handle_record`` (none started with too little time left),
    failures dead-lettered or backed off on ``queue_url`` (for at most ``backoff_cap`` seconds)."""
    records = event.get("Records", [])
    if not isinstance(records, list):
        raise ValueError("not an SQS event: Records is not a list")
    metrics.add_dimension(name=dimension[0], value=dimension[1])
    metrics.add_metric(name="EventsReceived", unit=MetricUnit.Count, value=len(records))
    processor = SqsBatchProcessor(
        model=model,
        raw_records=records,
        queue_url=queue_url,
        dead_letter_queue_url=dead_letter_queue_url,
        context=validation_context(utc_now(), max_clock_skew),
        backoff_cap=backoff_cap,
    )

    def within_budget(record: Any) -> None:
        if context.get_remaining_time_in_millis() < START_BUDGET_SECONDS * 1000:
            raise NotStartedError("too little time left in the invocation")
        handle_record(record)

    return processor.process(within_budget)


def _serial_key(record: dict[str, Any], index: int) -> str:
    """Records with the same key run one after another: the customer an EventBridge event names
    (``detail.customer_id``); a record without one, or one that cannot be read at all (not JSON, too
    deeply nested for ``json``), runs on its own, and fails there alone if it must."""
    try:
        customer_id = json.loads(record.get("body") or "{}").get("detail", {}).get("customer_id")
    except Exception:  # whatever the body is, the batch goes on (a RecursionError too)
        customer_id = None
    return f"customer:{customer_id}" if isinstance(customer_id, str) else f"record:{index}"


def _too_deeply_nested(model: Any) -> ValidationError:
    """The validation error of a record whose body is nested too deeply to read: it never will be."""
    return ValidationError.from_exception_data(
        title=getattr(model, "__name__", "record"),
        line_errors=[
            {
                "type": PydanticCustomError("too_deeply_nested", "nested too deeply to read"),
                "loc": ("body",),
                "input": None,
            }
        ],
    )


def _error_type(problem: Any) -> str:
    """A validation problem's type; JSON too deeply nested for the parser's recursion limit is
    ``too_deeply_nested``, not a mere ``json_invalid``."""
    if problem["type"] == "json_invalid" and "recursion limit" in str(problem.get("ctx", {}).get("error")):
        return "too_deeply_nested"
    return str(problem["type"])


def _aws_error_code(error: BaseException | None) -> str | None:
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None
