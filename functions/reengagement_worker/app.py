"""Re-engagement worker: SQS work item -> scan one segment, re-segment, publish Customer Lapsed events."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from nudge.observability import logger, metrics, tracer
from nudge.reengagement.worker import process_work_batch


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_work_batch(event, context)
