"""Attribution: Order Placed (its own rule -> SQS -> this function) -> the email that earned the order,
recorded once on its delivery record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nudge.attribution.apply import process_attribution_batch
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
    return process_attribution_batch(event, context)
