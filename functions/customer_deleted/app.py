"""Customer Deleted: EventBridge rule -> SQS -> this function -> everything stored about the customer
erased; an unsubscribed or suppressed address kept only as a keyed hash."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nudge.customers.ingest import process_customer_deleted_batch
from nudge.function_import import imported
from nudge.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from nudge.sqs_batches import PartialItemFailureResponse


@imported
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_customer_deleted_batch(event, context)
