"""The SQS batch a trigger function receives: parse each record, process it, report failures.

A record that fails (bad input, a throttled send, a concurrent duplicate still in progress) is
reported in ``batchItemFailures``; SQS delivers it again and, after the queue's receive limit,
moves it to the dead-letter queue. Nothing is lost and nothing is sent twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.base import FailureResponse
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError, ExceptionInfo
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from nudge.observability import logger, metrics
from nudge.pipeline import process_delivery
from nudge.settings import Settings
from nudge.triggers import Trigger


class TriggerBatchProcessor(BatchProcessor):
    """A BatchProcessor whose failure log names the problem but never the data.

    A pydantic error message includes the offending input (an email address, a name), so only the
    field locations and error types are logged.
    """

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        error = exception[1]
        message_id = getattr(record, "message_id", None) or getattr(record, "messageId", None)
        if isinstance(error, ValidationError) and error.title == getattr(self.model, "__name__", None):
            problems = [
                {"field": ".".join(str(part) for part in problem["loc"]), "error": problem["type"]}
                for problem in error.errors(include_input=False, include_url=False)
            ]
            logger.error("invalid event rejected", extra={"message_id": message_id, "problems": problems})
            metrics.add_metric(name="InvalidEvent", unit=MetricUnit.Count, value=1)
        else:
            # Never the exception's message: a ValidationError of stored data (a Customer row) quotes it.
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
        return super().failure_handler(record, exception)


class AllRecordsFailedError(RuntimeError):
    """Every record of the batch failed; SQS delivers them all again."""


def _aws_error_code(error: BaseException | None) -> str | None:
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def process_trigger_batch(
    event: dict[str, Any], context: LambdaContext, trigger: Trigger[Any]
) -> PartialItemFailureResponse:
    settings = Settings.from_environment()
    metrics.add_dimension(name="trigger", value=trigger.name)
    metrics.add_metric(name="EventsReceived", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    processor = TriggerBatchProcessor(event_type=EventType.SQS, model=trigger.record_model)

    def handle_record(record: Any) -> None:
        process_delivery(trigger, record.body, settings, context)

    try:
        return process_partial_response(
            event=event, record_handler=handle_record, processor=processor, context=context
        )
    except BatchProcessingError:
        # Powertools' message quotes each record's exception, inputs included, and Lambda logs an
        # unhandled error verbatim: raise one that carries no data. Each cause was logged above.
        raise AllRecordsFailedError(
            f"all {len(processor.fail_messages)} records of the batch failed"
        ) from None
