"""SES feedback: configuration set -> EventBridge (aws.ses) -> rule -> SQS -> this function.
A permanent bounce or a complaint suppresses the customer; a transient bounce does not."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from nudge.feedback import process_feedback_batch
from nudge.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_feedback_batch(event, context)
