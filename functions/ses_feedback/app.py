"""SES feedback: configuration set -> EventBridge (aws.ses) -> rule -> SQS -> this function.
A permanent bounce or a complaint suppresses the customer; a transient bounce does not."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nudge.feedback import process_feedback_batch
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
    return process_feedback_batch(event, context)
