"""The planner: one scheduled invocation splits the Customers table into parallel-scan segments and
enqueues one work item per segment. Replanning the same day re-enqueues only what has not started."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from nudge import aws
from nudge.dal.runs import PENDING, plan_segment
from nudge.observability import logger, metrics
from nudge.reengagement.models import RunRequest, WorkItem
from nudge.reengagement.settings import RunSettings
from nudge.timeutil import utc_now

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

SQS_MAX_BATCH = 10
SEND_ATTEMPTS = 3


class EnqueueError(RuntimeError):
    """Some work items could not be enqueued; a retry of the planner enqueues them."""


def plan_run(request: RunRequest, settings: RunSettings) -> dict[str, Any]:
    run_id = request.run_id(settings.timezone)
    now = utc_now()
    retention = settings.checkpoint_retention
    # The first plan of the day fixes the run's as-of time and segment count; a retry, or a rerun with
    # different parameters, reuses them so the segments still partition the table exactly.
    first = plan_segment(
        settings.runs_table,
        WorkItem(
            run_id=run_id, as_of=request.scheduled_time, segment=0, total_segments=settings.total_segments
        ),
        now,
        retention,
    )
    checkpoints = [first] + [
        plan_segment(
            settings.runs_table,
            WorkItem(run_id=run_id, as_of=first.as_of, segment=segment, total_segments=first.total_segments),
            now,
            retention,
        )
        for segment in range(1, first.total_segments)
    ]
    pending = [
        WorkItem(run_id=run_id, as_of=c.as_of, segment=c.segment, total_segments=c.total_segments)
        for c in checkpoints
        if c.status == PENDING
    ]
    _enqueue(settings.work_queue_url, pending)
    summary = {
        "run_id": run_id,
        "as_of": first.as_of.isoformat(),
        "total_segments": first.total_segments,
        "enqueued": len(pending),
        "already_started": len(checkpoints) - len(pending),
    }
    metrics.add_metric(name="RunSegmentsEnqueued", unit=MetricUnit.Count, value=len(pending))
    logger.info("re-engagement run planned", extra=summary)
    return summary


def _enqueue(queue_url: str, items: list[WorkItem]) -> None:
    for start in range(0, len(items), SQS_MAX_BATCH):
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(item.segment), "MessageBody": item.model_dump_json()}
            for item in items[start : start + SQS_MAX_BATCH]
        ]
        for _ in range(SEND_ATTEMPTS):
            failed = {
                f["Id"]
                for f in aws.sqs().send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
            }
            entries = [entry for entry in entries if entry["Id"] in failed]
            if not entries:
                break
        if entries:
            raise EnqueueError(f"{len(entries)} work items were not enqueued")
