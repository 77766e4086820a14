"""Unsubscribe: Lambda Function URL -> one-click (RFC 8058) POST, or a confirmation page on GET."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nudge.function_import import imported
from nudge.observability import logger, metrics, tracer
from nudge.unsubscribe.http import app

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@imported
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
