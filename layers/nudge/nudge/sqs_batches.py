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
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.base import FailureResponse
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError, ExceptionInfo
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from nudge.adapters import sqs
from nudge.event_times import validation_context
from nudge.observability import logger, metrics
from nudge.timeutil import utc_now
from nudge.waiting import ComesBackLaterError

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


class SqsBatchProcessor(BatchProcessor):
    """A BatchProcessor that dead-letters what can never succeed, backs off the rest, and whose
    failure log names the problem but never the data (a pydantic message quotes the input)."""

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
        super().__init__(event_type=EventType.SQS, model=model)
        self._raw = {str(record.get("messageId")): record for record in raw_records}
        self._queue_url = queue_url
        self._dead_letter_queue_url = dead_letter_queue_url
        self._context = context
        self._backoff_cap = backoff_cap

    def _to_batch_type(self, record: dict[str, Any], event_type: EventType, model: Any = None) -> Any:
        """The record as ``model`` reads it, validated with this batch's context (the clock event
        times are bounded by); one too deeply nested to read fails validation, naming the body."""
        if model is None:
            return super()._to_batch_type(record=record, event_type=event_type)
        try:
            return model.model_validate(record, context=self._context)
        except RecursionError:
            raise _too_deeply_nested(model) from None

    def process(self) -> list[tuple[Any, ...]]:
        """Every record, each customer's in order on one thread, up to ``MAX_CONCURRENT_RECORDS``
        customers at once; the results in the batch's order."""
        lanes: dict[str, list[int]] = {}
        for index, record in enumerate(self.records):
            lanes.setdefault(_serial_key(record, index), []).append(index)
        results: list[tuple[Any, ...]] = [()] * len(self.records)

        def run(lane: list[int]) -> None:
            for index in lane:
                results[index] = self._process_record(self.records[index])

        if len(lanes) == 1 or MAX_CONCURRENT_RECORDS <= 1:
            for lane in lanes.values():
                run(lane)
            return results
        # Each lane runs in a copy of this thread's context: what the invocation set in context
        # variables (Powertools', a test harness's deadline) holds on every thread of it.
        contexts = [contextvars.copy_context() for _ in lanes]
        with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENT_RECORDS, len(lanes))) as pool:
            # list() re-raises what a lane raised: _process_record catches every record's Exception,
            # so that is a BaseException (the invocation is ending) or a bug in the processor.
            list(pool.map(lambda context, lane: context.run(run, lane), contexts, lanes.values()))
        return results

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        error = exception[1]
        message_id = str(getattr(record, "message_id", None) or getattr(record, "messageId", None))
        raw = self._raw.get(message_id, {})
        if isinstance(error, ValidationError) and self._dead_letter(raw, message_id, error):
            # Removed from the queue as if handled: the dead-letter queue holds it for an operator.
            return self.success_handler(record, None)
        if isinstance(error, ComesBackLaterError):
            logger.info(
                "event waits; it comes back later",
                extra={"message_id": message_id, "waiting_for": type(error).__name__},
            )
            metrics.add_metric(name="EventWaiting", unit=MetricUnit.Count, value=1)
            self._back_off(raw, message_id, not_started=False, after=error.retry_after_seconds)
            return super().failure_handler(record, exception)
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
        return super().failure_handler(record, exception)

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
    metrics.add_dimension(name=dimension[0], value=dimension[1])
    metrics.add_metric(name="EventsReceived", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    processor = SqsBatchProcessor(
        model=model,
        raw_records=event.get("Records", []),
        queue_url=queue_url,
        dead_letter_queue_url=dead_letter_queue_url,
        context=validation_context(utc_now(), max_clock_skew),
        backoff_cap=backoff_cap,
    )

    def within_budget(record: Any) -> None:
        if context.get_remaining_time_in_millis() < START_BUDGET_SECONDS * 1000:
            raise NotStartedError("too little time left in the invocation")
        handle_record(record)

    try:
        return process_partial_response(
            event=event, record_handler=within_budget, processor=processor, context=context
        )
    except BatchProcessingError:
        # Powertools' message quotes each record's exception, inputs included, and Lambda logs an
        # unhandled error verbatim: raise one that carries no data. Each cause was logged above.
        raise AllRecordsFailedError(
            f"all {len(processor.fail_messages)} records of the batch failed"
        ) from None


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
