"""The planner: one scheduled invocation splits the Customers table into parallel-scan shards and
enqueues one work item per shard. Replanning the same day re-enqueues only what has not started."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from nudge.adapters import sqs
from nudge.observability import logger, metrics
from nudge.reengagement.checkpoints import PENDING, plan_shard
from nudge.reengagement.models import RunRequest, WorkItem
from nudge.reengagement.settings import RunSettings
from nudge.timeutil import utc_now

SQS_MAX_BATCH = 10
SEND_ATTEMPTS = 3


class EnqueueError(RuntimeError):
    """Some work items could not be enqueued; a retry of the planner enqueues them."""


def plan_run(request: RunRequest, settings: RunSettings) -> dict[str, Any]:
    run_id = request.run_id(settings.timezone)
    now = utc_now()
    retention = settings.checkpoint_retention
    # The first plan of the day fixes the run's as-of time and shard count; a retry, or a rerun with
    # different parameters, reuses them so the shards still partition the table exactly.
    first = plan_shard(
        settings.runs_table,
        WorkItem(run_id=run_id, as_of=request.scheduled_time, shard=0, total_shards=settings.parallelism),
        now,
        retention,
    )
    checkpoints = [first] + [
        plan_shard(
            settings.runs_table,
            WorkItem(run_id=run_id, as_of=first.as_of, shard=shard, total_shards=first.total_shards),
            now,
            retention,
        )
        for shard in range(1, first.total_shards)
    ]
    pending = [
        WorkItem(run_id=run_id, as_of=c.as_of, shard=c.shard, total_shards=c.total_shards)
        for c in checkpoints
        if c.status == PENDING
    ]
    _enqueue(settings.work_queue_url, pending)
    summary = {
        "run_id": run_id,
        "as_of": first.as_of.isoformat(),
        "total_shards": first.total_shards,
        "enqueued": len(pending),
        "already_started": len(checkpoints) - len(pending),
    }
    metrics.add_metric(name="RunShardsEnqueued", unit=MetricUnit.Count, value=len(pending))
    logger.info("re-engagement run planned", extra=summary)
    return summary


def _enqueue(queue_url: str, items: list[WorkItem]) -> None:
    for start in range(0, len(items), SQS_MAX_BATCH):
        bodies = {str(item.shard): item.model_dump_json() for item in items[start : start + SQS_MAX_BATCH]}
        for _ in range(SEND_ATTEMPTS):
            failed = sqs.send_message_batch(queue_url, bodies)
            bodies = {entry_id: body for entry_id, body in bodies.items() if entry_id in failed}
            if not bodies:
                break
        if bodies:
            raise EnqueueError(f"{len(bodies)} work items were not enqueued")
