"""A worker: scans one parallel-scan shard page by page, re-segments every customer it visits and
publishes ``Customer Lapsed`` events for the ones due a win-back. The send marks a page needs (the
win-back cooldown's, and a segment rule's on emails) are read from the customers' send states.

Memory is bounded by one page. Progress is checkpointed after every page; with too little time left
for another page the worker hands its shard to a fresh invocation (a continuation message), and a
worker that dies is resumed from its last checkpoint when SQS redelivers its message. The worker that
finishes a run's last shard emits ``ReengagementRunFinished``: the run-deadline alarm waits for it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from nudge.adapters import eventbridge, sqs
from nudge.dal.customers import FactsPage, scan_facts
from nudge.dal.send_state import get_send_marks
from nudge.observability import log_safe_id, logger, metrics
from nudge.profiles import CustomerFacts
from nudge.reengagement.checkpoints import ClaimRefused, claim, count_finished_shard, release, save_progress
from nudge.reengagement.models import Tally, WorkItem, WorkItemRecord
from nudge.reengagement.publishing import publish
from nudge.reengagement.selection import due_winback, lapsed_and_emailable, winback_detail
from nudge.reengagement.settings import RunSettings
from nudge.resegmentation import load_definitions, reevaluate
from nudge.segmentation import SegmentDefinition, reads_email_marks
from nudge.send_state import FACT_MARKS, with_send_state
from nudge.timeutil import utc_now
from nudge.triggers import CUSTOMER_LAPSED

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

# Segment writes are independent single-item updates: overlap their round trips.
SEGMENT_WRITE_THREADS = 8
# A lease outlives the invocation a little, so only a dead worker's shard is ever taken over.
LEASE_MARGIN = timedelta(minutes=1)

_METRIC_NAMES = {
    "scanned": "CustomersScanned",
    "resegmented": "CustomersResegmented",
    "selected": "WinbacksSelected",
    "published": "WinbacksPublished",
    "failed": "WinbacksFailed",
}


def process_work_batch(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = RunSettings.from_environment()
    # The processor only calls the model's model_validate; its type names Powertools' own SQS model,
    # and ours (nudge.envelopes) has the same fields without importing Powertools' hundred others.
    processor = BatchProcessor(event_type=EventType.SQS, model=WorkItemRecord)  # type: ignore[arg-type]

    def handle_record(record: WorkItemRecord) -> None:
        run_shard(record.body, record.messageId, settings, context)

    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )


def run_shard(item: WorkItem, owner: str, settings: RunSettings, context: LambdaContext) -> Tally | None:
    """Work through the shard from its checkpoint; returns its totals so far, or None if the
    shard was done or held by another live message (a duplicate, dropped)."""
    lease = timedelta(milliseconds=context.get_remaining_time_in_millis()) + LEASE_MARGIN
    checkpoint = claim(settings.runs_table, item, owner, utc_now(), lease)
    where = {"run_id": item.run_id, "shard": item.shard, "total_shards": item.total_shards}
    if isinstance(checkpoint, ClaimRefused):
        if checkpoint.shard_done:
            # Its worker may have failed after the shard's last checkpoint and before counting it
            # among the run's finished shards: counting again is harmless, and completes the run.
            _count_finished_shard(item, settings)
        logger.info("shard already done or being worked on; duplicate work item dropped", extra=where)
        return None
    pages, tally, start_key = checkpoint.pages, checkpoint.tally, checkpoint.last_evaluated_key
    if pages:
        logger.info("resuming shard from its checkpoint", extra={**where, "pages_done": pages})
    definitions = load_definitions(settings.segments_table)
    with ThreadPoolExecutor(max_workers=SEGMENT_WRITE_THREADS) as pool:
        while True:
            page = scan_facts(
                settings.customers_table,
                shard=item.shard,
                total_shards=item.total_shards,
                start_key=start_key,
                page_size=settings.page_size,
            )
            page_tally = _process_page(page, item, settings, definitions, pool)
            pages, tally, start_key = pages + 1, tally + page_tally, page.last_evaluated_key
            save_progress(
                settings.runs_table,
                item,
                owner,
                pages=pages,
                tally=tally,
                last_evaluated_key=start_key,
                now=utc_now(),
            )
            _report_page(where, pages, page_tally, tally)
            if start_key is None:
                logger.info("shard finished", extra={**where, "pages": pages, **tally.as_dict()})
                _count_finished_shard(item, settings)
                return tally
            if context.get_remaining_time_in_millis() < settings.time_reserve_ms:
                _hand_over(item, owner, settings)
                return tally


def _process_page(
    page: FactsPage,
    item: WorkItem,
    settings: RunSettings,
    definitions: Sequence[SegmentDefinition] | None,
    pool: ThreadPoolExecutor,
) -> Tally:
    # Each write runs in a copy of this thread's context: what the invocation set in context variables
    # (Powertools', a test harness's) holds on the pool's threads too, as in nudge.sqs_batches.
    profiles = _with_send_marks(page.profiles, item, settings, definitions)
    contexts = [contextvars.copy_context() for _ in profiles]
    updated = list(
        pool.map(
            lambda context, profile: context.run(
                reevaluate, settings.customers_table, profile, definitions, item.as_of
            ),
            contexts,
            profiles,
        )
    )
    due = [p for p in updated if due_winback(p, item.as_of, settings.lapsed_after, settings.cooldown)]
    result = publish([_lapsed_event(p, item, settings) for p in due], eventbridge.put_events)
    if page.unreadable:
        logger.error(
            "customer rows that do not validate were skipped",
            extra={"customer_ids": [log_safe_id(c) for c in page.unreadable]},
        )
    if result.failed:
        logger.error(
            "win-back events not published after retries; the next run selects these customers again",
            extra={"count": len(result.failed), "error_codes": result.error_codes},
        )
    return Tally(
        scanned=len(page.profiles) + len(page.unreadable),
        resegmented=sum(1 for before, after in zip(profiles, updated, strict=True) if before is not after),
        selected=len(due),
        published=result.published,
        failed=len(result.failed) + len(page.unreadable),
    )


def _with_send_marks(
    profiles: list[CustomerFacts],
    item: WorkItem,
    settings: RunSettings,
    definitions: Sequence[SegmentDefinition] | None,
) -> list[CustomerFacts]:
    """The page's profiles with their send marks where the run reads them: the lapsed customers'
    (the win-back cooldown reads ``last_winback_at``), and everyone's when a segment rule reads when
    the customer was emailed. One BatchGetItem per 100 such customers, of those three marks only."""
    if definitions is not None and reads_email_marks(definitions):
        wanted = profiles
    else:
        wanted = [p for p in profiles if lapsed_and_emailable(p, item.as_of, settings.lapsed_after)]
    if not wanted:
        return profiles
    states = get_send_marks(settings.deliveries_table, [p.customer_id for p in wanted], FACT_MARKS)
    return [with_send_state(p, states[p.customer_id]) if p.customer_id in states else p for p in profiles]


def _lapsed_event(
    profile: CustomerFacts, item: WorkItem, settings: RunSettings
) -> PutEventsRequestEntryTypeDef:
    detail = winback_detail(profile, item.as_of, item.run_id)
    return {
        "Source": settings.event_source,
        "DetailType": CUSTOMER_LAPSED.detail_type,
        "Detail": detail.model_dump_json(exclude_none=True),
        "EventBusName": settings.event_bus,
        "Time": item.as_of,
    }


def _report_page(where: dict[str, Any], pages: int, page: Tally, total: Tally) -> None:
    for name, value in page.as_dict().items():
        metrics.add_metric(name=_METRIC_NAMES[name], unit=MetricUnit.Count, value=value)
    logger.info(
        "page done", extra={**where, "page": pages, **page.as_dict(), "shard_totals": total.as_dict()}
    )


def _count_finished_shard(item: WorkItem, settings: RunSettings) -> None:
    """Emit ``ReengagementRunFinished`` once per run, valued in seconds since the run's scheduled
    time: the alarm compares it with the deadline, and a run that never finishes emits nothing."""
    if not count_finished_shard(settings.runs_table, item):
        return
    seconds = (utc_now() - item.as_of).total_seconds()
    metrics.add_metric(name="ReengagementRunFinished", unit=MetricUnit.Seconds, value=seconds)
    logger.info(
        "re-engagement run finished",
        extra={"run_id": item.run_id, "total_shards": item.total_shards, "seconds_since_scheduled": seconds},
    )


def _hand_over(item: WorkItem, owner: str, settings: RunSettings) -> None:
    release(settings.runs_table, item, owner)
    continuation = item.model_copy(update={"continuation": item.continuation + 1})
    sqs.send_message(settings.work_queue_url, continuation.model_dump_json())
    logger.info("shard handed over to a fresh invocation", extra={"run_id": item.run_id, "shard": item.shard})
