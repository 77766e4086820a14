"""A trigger function's SQS batch: each record through the pipeline, failures reported to SQS.

With less than ``START_BUDGET_SECONDS`` of the invocation left, records are not started: they come
back soon, instead of being cut off by the timeout half-way. What is dead-lettered and how failed
records back off is the batch processor's (``nudge.record_batch``). Nothing is lost and nothing is
sent twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from nudge.observability import metrics
from nudge.pipeline import process_delivery
from nudge.record_batch import NotStartedError, SqsBatchProcessor
from nudge.settings import Settings
from nudge.triggers import Trigger

START_BUDGET_SECONDS = 10


class AllRecordsFailedError(RuntimeError):
    """Every record of the batch failed; SQS delivers them all again."""


def process_trigger_batch(
    event: dict[str, Any], context: LambdaContext, trigger: Trigger[Any]
) -> PartialItemFailureResponse:
    settings = Settings.from_environment()
    metrics.add_dimension(name="trigger", value=trigger.name)
    metrics.add_metric(name="EventsReceived", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    processor = SqsBatchProcessor(
        model=trigger.record_model,
        raw_records=event.get("Records", []),
        queue_url=settings.queue_url,
        dead_letter_queue_url=settings.dead_letter_queue_url,
    )

    def handle_record(record: Any) -> None:
        if context.get_remaining_time_in_millis() < START_BUDGET_SECONDS * 1000:
            raise NotStartedError("too little time left in the invocation")
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
