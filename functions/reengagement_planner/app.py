"""Re-engagement planner: EventBridge Scheduler -> this function -> one work item per scan segment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import parse

from nudge.function_import import imported
from nudge.observability import logger, metrics, tracer
from nudge.reengagement.models import RunRequest
from nudge.reengagement.planner import plan_run
from nudge.reengagement.settings import RunSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@imported
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return plan_run(parse(event=event, model=RunRequest), RunSettings.from_environment())
