"""Order Placed: EventBridge rule -> SQS -> this function -> one personalized email per event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nudge.function_import import imported
from nudge.observability import logger, metrics, tracer
from nudge.trigger_handler import process_trigger_batch
from nudge.triggers import ORDER_PLACED

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from nudge.sqs_batches import PartialItemFailureResponse


@imported
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_trigger_batch(event, context, ORDER_PLACED)
