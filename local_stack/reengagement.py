"""The scheduled re-engagement run on the local stack, with a progress bar.

    python -m local_stack.reengagement                      # the sample customers, as of the sample run
    python -m local_stack.reengagement --customers 20000    # synthetic customers
    make reengagement CUSTOMERS=20000

moto stores schedules but never fires them, so the planner is invoked exactly as EventBridge
Scheduler would invoke it (LocalScheduler); the work queue, the workers, the bus, the Customer
Lapsed rule, queue and handler are the real ones. The bar counts customers scanned, read from the
run's checkpoint rows: the same rows that show a run's progress in AWS.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tqdm import tqdm

from local_stack import clients
from local_stack.capture import stdout_to
from local_stack.lambda_runtime import EventSourceMappings, LocalScheduler
from local_stack.scenario import EVENTS_DIR
from local_stack.stack import LocalStack
from nudge.reengagement.checkpoints import DONE, Checkpoint, run_checkpoints
from nudge.reengagement.models import RunRequest, Tally

PLANNER = "ReengagementPlannerFunction"
WORKER = "ReengagementWorkerFunction"
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
        mappings.drain(only=(WORKER,), max_rounds=10_000)
    finally:
        done.set()
        if progress:
            watcher.join()
    seconds = time.perf_counter() - started
    if send_emails:
        mappings.drain(max_rounds=100_000)
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


def main(argv: list[str] | None = None) -> int:
    from local_stack.moto_endpoint import running_moto
    from local_stack.seed import seed_customers, seed_sample_data, verify_sender_identity
    from local_stack.stack import REPO_ROOT, build_stack

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=0, help="synthetic customers (default: the samples)")
    parser.add_argument("--shards", type=int, default=None, help="parallel-scan shards (template default)")
    parser.add_argument("--no-send", action="store_true", help="publish the win-backs but do not send them")
    args = parser.parse_args(argv)
    scheduled_time = sample_scheduled_time()
    overrides = {"ReengagementParallelism": str(args.shards)} if args.shards else {}
    with running_moto():
        stack = build_stack(parameter_overrides=overrides)
        verify_sender_identity(stack)
        seed_sample_data(stack)
        if args.customers:
            seed_customers(stack, args.customers, scheduled_time)
        print(
            f"customers: {'the samples' if not args.customers else f'the samples + {args.customers}'}; "
            f"handler logs in out/logs/reengagement.jsonl",
            file=sys.stderr,
        )
        with stdout_to(REPO_ROOT / "out" / "logs" / "reengagement.jsonl"):
            mappings = EventSourceMappings(stack)
            report = run_schedule(
                stack, mappings, scheduled_time, send_emails=not args.no_send, progress=True
            )
    print(describe(report))
    return 0 if report.finished else 1


if __name__ == "__main__":
    sys.exit(main())
