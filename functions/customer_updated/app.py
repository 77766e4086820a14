"""Customer Updated: EventBridge rule -> SQS -> this function -> the customer's profile (created, or
the fields the event names changed) and the consent history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nudge.customers.ingest import process_customer_updated_batch
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
    return process_customer_updated_batch(event, context)
