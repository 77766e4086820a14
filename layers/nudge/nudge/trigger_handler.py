"""A trigger function's SQS batch: each record through the pipeline, failures reported to SQS.

What is dead-lettered, how failed records back off and when a record is not started is the batch
processor's (``nudge.sqs_batches``). Nothing is lost and nothing is sent twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nudge.pipeline import process_delivery
from nudge.settings import Settings
from nudge.sqs_batches import PartialItemFailureResponse, process_queue_batch
from nudge.triggers import Trigger


def process_trigger_batch(
    event: dict[str, Any], context: LambdaContext, trigger: Trigger[Any]
) -> PartialItemFailureResponse:
    settings = Settings.from_environment()

    def handle_record(record: Any) -> None:
        process_delivery(trigger, record.body, settings, context)

    return process_queue_batch(
        event,
        context,
        dimension=("trigger", trigger.name),
        model=trigger.record_model,
        queue_url=settings.queue_url,
        dead_letter_queue_url=settings.dead_letter_queue_url,
        max_clock_skew=settings.max_clock_skew,
        handle_record=handle_record,
    )
