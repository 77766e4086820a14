"""The scheduled re-engagement run on the local stack, with a progress bar: ``run_schedule`` invokes
the planner and lets the workers and the Customer Lapsed function do the rest; ``winback_decisions``
accounts for every customer it published. ``make reengagement`` runs it (local_stack/cli/reengagement.py).

moto stores schedules but never fires them, so the planner is invoked exactly as EventBridge
Scheduler would invoke it (LocalScheduler); the work queue, the workers, the bus, the Customer
Lapsed rule, queue and handler are the real ones. The bar counts customers scanned, read from the
run's checkpoint rows: the same rows that show a run's progress in AWS.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tqdm import tqdm

from local_stack.emulator import clients
from local_stack.emulator.lambda_runtime import EventSourceMappings, LocalScheduler
from local_stack.emulator.rows import run_checkpoints
from local_stack.emulator.scenario import EVENTS_DIR
from local_stack.emulator.stack import LocalStack
from nudge.outcome import Decision
from nudge.reengagement.checkpoints import DONE, Checkpoint
from nudge.reengagement.models import RunRequest, Tally
from nudge.triggers import CUSTOMER_LAPSED

PLANNER = "ReengagementPlannerFunction"
WORKER = "ReengagementWorkerFunction"
SENDER = "CustomerLapsedFunction"
SAMPLE_RUN = EVENTS_DIR / "scheduled" / "reengagement_run.json"


@dataclass(frozen=True)
class RunReport:
    run_id: str
    planned: dict[str, Any]
    checkpoints: list[Checkpoint]
    seconds: float

    @property
    def tally(self) -> Tally:
        return sum((c.tally for c in self.checkpoints), Tally())

    @property
    def finished(self) -> bool:
        return bool(self.checkpoints) and all(c.status == DONE for c in self.checkpoints)

    @property
    def pages(self) -> int:
        return sum(c.pages for c in self.checkpoints)


def sample_scheduled_time() -> datetime:
    """The scheduled time of the sample run in events/scheduled/ (what the sample data is as of)."""
    return RunRequest.model_validate(json.loads(SAMPLE_RUN.read_text())).scheduled_time


def run_schedule(
    stack: LocalStack,
    mappings: EventSourceMappings,
    scheduled_time: datetime,
    *,
    send_emails: bool = True,
    progress: bool = False,
) -> RunReport:
    """Fire the schedule once and run every work item (and, if ``send_emails``, every win-back)."""
    started = time.perf_counter()
    planned = LocalScheduler(mappings).fire(PLANNER, scheduled_time)
    if planned is None:
        raise RuntimeError("the planner failed; its event is in ReengagementPlannerDLQ")
    run_id = str(planned["run_id"])
    runs_table = stack.names["ReengagementRunsTable"]
    done = threading.Event()
    watcher = threading.Thread(
        target=_show_progress, args=(stack, runs_table, run_id, done), daemon=True, name="run-progress"
    )
    if progress:
        watcher.start()
    try:
        # Each work item runs as one worker invocation, and the win-backs it published are sent before
        # the next one starts, as Lambda's own poller would send them alongside: a queue left to grow
        # to thousands of messages makes every moto SQS call slower (it scans the queue each time).
        while mappings.poll_once(only=(WORKER,)):
            if send_emails:
                mappings.drain(only=(SENDER,), max_rounds=100_000, max_wait_seconds=0)
        # Work items that failed come back after the work queue's visibility timeout (on the clock).
        mappings.drain(only=(WORKER,), max_rounds=10_000)
    finally:
        done.set()
        if progress:
            watcher.join()
    if send_emails:
        mappings.drain(max_rounds=100_000)
    seconds = time.perf_counter() - started
    return RunReport(run_id, planned, run_checkpoints(runs_table, run_id), seconds)


def _show_progress(stack: LocalStack, runs_table: str, run_id: str, done: threading.Event) -> None:
    dynamodb = clients.dynamodb(stack.region)
    total = dynamodb.describe_table(TableName=stack.names["CustomersTable"])["Table"].get("ItemCount")
    with tqdm(total=total, unit=" customers", desc=f"run {run_id}", file=sys.stderr, leave=True) as bar:
        while True:
            finished = done.wait(0.25)
            checkpoints = run_checkpoints(runs_table, run_id)
            tally = sum((c.tally for c in checkpoints), Tally())
            bar.update(tally.scanned - bar.n)
            bar.set_postfix(
                shards=f"{sum(c.status == DONE for c in checkpoints)}/{len(checkpoints)}",
                selected=tally.selected,
                published=tally.published,
                refresh=False,
            )
            if finished:
                return


def describe(report: RunReport) -> str:
    tally = report.tally
    return (
        f"run {report.run_id}: {len(report.checkpoints)} shards "
        f"({'all done' if report.finished else 'NOT all done'}), {report.pages} pages; "
        f"scanned {tally.scanned}, re-segmented {tally.resegmented}, selected {tally.selected}, "
        f"published {tally.published}, failed {tally.failed} in {report.seconds:.1f} s"
    )


@dataclass(frozen=True)
class Winbacks:
    """What became of one run's win-backs, from the delivery log: every published event has a record."""

    decisions: Counter[str]
    """Final decision of each record: ``sent``, ``skipped: <reason>``, ``deferred`` (not yet back)..."""
    after_quiet_hours: int
    """Of them, the ones deferred by quiet hours and decided again in the customer's morning."""

    @property
    def recorded(self) -> int:
        return sum(self.decisions.values())

    @property
    def undecided(self) -> int:
        """Records with no final decision: still deferred, or a send in flight."""
        final = {decision for decision in self.decisions if Decision(decision.split(":")[0]).is_final}
        return sum(n for decision, n in self.decisions.items() if decision not in final)


def winback_decisions(stack: LocalStack, run_id: str, after_quiet_hours: int = 0) -> Winbacks:
    """Every Customer Lapsed delivery record of the run (their keys end in the run's id), in one Scan."""
    decisions: Counter[str] = Counter()
    pages = (
        clients.dynamodb(stack.region)
        .get_paginator("scan")
        .paginate(
            TableName=stack.names["DeliveriesTable"],
            FilterExpression="begins_with(delivery_key, :trigger)",
            ExpressionAttributeValues={":trigger": {"S": f"{CUSTOMER_LAPSED.name}#"}},
            ProjectionExpression="delivery_key, decision, reason",
            ConsistentRead=True,
        )
    )
    for page in pages:
        for item in page["Items"]:
            if not item["delivery_key"]["S"].endswith(f"#{run_id}"):
                continue
            decision, reason = item["decision"]["S"], item.get("reason", {}).get("S")
            decisions[f"{decision}: {reason}" if reason else decision] += 1
    return Winbacks(decisions, after_quiet_hours)


def describe_winbacks(report: RunReport, winbacks: Winbacks) -> list[str]:
    """Every selected customer accounted for: sent, skipped and why, or still waiting."""
    published = report.tally.published
    accounted = winbacks.recorded == published and not winbacks.undecided
    lines = [
        f"win-backs: {report.tally.selected} customers due, {published} published, {winbacks.recorded} "
        f"decided by the Customer Lapsed function "
        + ("(every one accounted for)" if accounted else "(NOT every one accounted for)")
    ]
    lines += [f"  {decision:<28} {count:>7}" for decision, count in winbacks.decisions.most_common()]
    if winbacks.after_quiet_hours:
        lines.append(
            f"  of them {winbacks.after_quiet_hours} were deferred by quiet hours and decided again at 08:00 "
            "on their customer's clock (the clock was moved there)"
        )
    return lines
