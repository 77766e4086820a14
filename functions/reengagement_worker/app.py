"""Re-engagement worker: SQS work item -> scan one segment, re-segment, publish Customer Lapsed events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nudge.function_import import imported
from nudge.observability import logger, metrics, tracer
from nudge.reengagement.worker import process_work_batch

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext


@imported
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_work_batch(event, context)
