"""Engagement: SES delivery, open and click events (configuration set -> EventBridge -> rule -> SQS ->
this function) -> the delivery record they belong to and the recipient's profile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nudge.engagement.apply import process_engagement_batch
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
    return process_engagement_batch(event, context)
