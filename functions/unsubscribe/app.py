"""Unsubscribe: Lambda Function URL -> one-click (RFC 8058) POST, or a confirmation page on GET."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nudge.observability import logger, metrics, tracer
from nudge.unsubscribe.http import app


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
