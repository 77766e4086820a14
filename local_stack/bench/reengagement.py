"""`make bench-reengagement`: the scheduled run over 100,000 customers, against a naive baseline.

moto runs in its own process, so the CPU time and memory measured here are the handlers' own. CPU is
``time.thread_time()`` taken inside the threads that do the work (the invoking thread and the
worker's segment-write threads), so the thread that empties the Customer Lapsed queue meanwhile is
not counted; memory is both the traced Python heap (tracemalloc) and the process's peak resident
set (VmHWM, reset before each run so each has its own). Wall
rates are bounded by moto answering every call from one Python process (each Scan page re-reads the
whole table there); read them as ratios. The figures that carry over to AWS are our CPU per customer
and the calls per customer, from which docs/performance.md projects 1,000,000 customers.

The table is a steady-state one (local_stack.emulator.synthetic, steady_state): what a daily run meets after
months of runs, with segments right as of yesterday and lapsed customers in their win-back cooldown.
Runs, all over the same table:
1. fan-out: the daily run, planner and workers, over every customer;
2. one worker's shard under tracemalloc: its peak memory;
3. naive baseline: one sequential scan of whole profiles that re-segments and *sends* (renders the
   email and calls SES) inline for every customer due a win-back, cut off after NAIVE_CUSTOMERS.

The Customer Lapsed queue is emptied as the run fills it (moto's SQS slows down with queue length);
its count confirms every published event was routed by the rule.
"""

from __future__ import annotations

import argparse
import json
import resource
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine

import nudge.reengagement.worker as worker_module
from local_stack.emulator import clients
from local_stack.emulator.capture import stdout_to
from local_stack.emulator.lambda_runtime import EventSourceMappings, LocalScheduler
from local_stack.emulator.moto_endpoint import running_moto
from local_stack.emulator.reengagement import PLANNER, WORKER, run_schedule, sample_scheduled_time
from local_stack.emulator.scenario import SAMPLE_DAY_CLOCK
from local_stack.emulator.seed import seed_customers, seed_sample_data, verify_sender_identity
from local_stack.emulator.stack import REPO_ROOT, LocalStack, build_stack
from nudge.dal.items import from_item
from nudge.dal.segments import list_definitions
from nudge.dal.send_state import get_send_state
from nudge.outcome import Decision
from nudge.pipeline import process_event
from nudge.profiles import Customer
from nudge.reengagement.selection import due_winback, lapsed_and_emailable, winback_detail
from nudge.resegmentation import reevaluate
from nudge.send_state import with_send_state
from nudge.settings import Settings
from nudge.triggers import CUSTOMER_LAPSED

CUSTOMERS = 100_000
NAIVE_CUSTOMERS = 2_000
OUT = REPO_ROOT / "out" / "bench"


@dataclass
class Measured:
    label: str
    customers_scanned: int
    selected: int
    published_or_sent: int
    resegmented: int
    wall_seconds: float
    cpu_seconds: float
    peak_memory_mib: float | None = None
    """Peak traced Python heap (tracemalloc)."""
    peak_rss_mib: float | None = None
    """Peak resident set of the whole process over the run (VmHWM)."""

    @property
    def scanned_per_second(self) -> float:
        return self.customers_scanned / self.wall_seconds

    @property
    def published_per_second(self) -> float:
        return self.published_or_sent / self.wall_seconds

    @property
    def cpu_ms_per_customer(self) -> float:
        return 1000 * self.cpu_seconds / self.customers_scanned

    def row(self) -> str:
        memory = f"{self.peak_memory_mib:7.1f}" if self.peak_memory_mib is not None else "      -"
        rss = f"{self.peak_rss_mib:7.1f}" if self.peak_rss_mib is not None else "      -"
        return (
            f"{self.label:<34} {self.customers_scanned:>8} {self.scanned_per_second:>9.0f} "
            f"{self.published_or_sent:>8} {self.published_per_second:>9.1f} {self.resegmented:>8} "
            f"{self.cpu_ms_per_customer:>9.3f} {memory} {rss}"
        )


HEADER = (
    f"{'':<34} {'scanned':>8} {'scan/s':>9} {'emitted':>8} {'emit/s':>9} {'reseg.':>8} "
    f"{'cpu ms/c':>9} {'heap MiB':>7} {'RSS MiB':>7}"
)


class ThreadCpu:
    """CPU time of the calling thread plus that of every task it hands a ThreadPoolExecutor meanwhile,
    each read with ``time.thread_time()`` inside the thread that ran it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool_seconds = 0.0

    def timed(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self._pool_seconds += time.thread_time() - started

        return run

    @contextmanager
    def measuring(self) -> Iterator[Callable[[], tuple[float, float]]]:
        """Yields (wall, cpu) once the block is done."""
        meter = self

        class _TimedPool(ThreadPoolExecutor):
            def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
                return super().submit(meter.timed(fn), *args, **kwargs)

        wall, own = time.perf_counter(), time.thread_time()
        result: list[float] = []
        # The worker overlaps its segment writes in a pool (nudge.reengagement.worker): count those
        # threads' CPU too, from inside them.
        original = getattr(worker_module, "ThreadPoolExecutor")  # noqa: B009 - the module's own import
        setattr(worker_module, "ThreadPoolExecutor", _TimedPool)  # noqa: B010
        try:
            yield lambda: (result[0], result[1])
        finally:
            setattr(worker_module, "ThreadPoolExecutor", original)  # noqa: B010
            result.extend([time.perf_counter() - wall, time.thread_time() - own + self._pool_seconds])


@contextmanager
def clock() -> Iterator[Callable[[], tuple[float, float]]]:
    with ThreadCpu().measuring() as elapsed:
        yield elapsed


def peak_rss_mib() -> float:
    """This process's peak resident set since the last reset_peak_rss (VmHWM), else since it started."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def reset_peak_rss() -> bool:
    """Start a new peak (Linux: writing 5 to clear_refs resets VmHWM); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@contextmanager
def draining(stack: LocalStack, logical_id: str) -> Iterator[Callable[[], int]]:
    """Receive and delete from a queue in the background; yields a count of what it took."""
    sqs = clients.sqs(stack.region)
    url = stack.queue_url(logical_id)
    taken = 0
    stop = threading.Event()

    def drain() -> None:
        nonlocal taken
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if messages:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                    ],
                )
                taken += len(messages)
            elif stop.is_set():
                return
            else:
                time.sleep(0.05)

    worker = threading.Thread(target=drain, daemon=True)
    worker.start()
    try:
        yield lambda: taken
    finally:
        stop.set()
        worker.join()


def fan_out(stack: LocalStack, mappings: EventSourceMappings, label: str, as_of: datetime) -> Measured:
    reset_peak_rss()
    with clock() as elapsed:
        report = run_schedule(stack, mappings, as_of, send_emails=False)
    wall, cpu = elapsed()
    rss = peak_rss_mib()
    # The win-backs stay in the Customer Lapsed queue: sending is SES-bound and measured by `make bench`.
    tally = report.tally
    return Measured(
        label, tally.scanned, tally.selected, tally.published, tally.resegmented, wall, cpu, peak_rss_mib=rss
    )


def one_worker_memory(
    stack: LocalStack, mappings: EventSourceMappings, as_of: datetime, customers: int
) -> tuple[float, int]:
    """Peak Python memory of one worker invocation working through one whole shard."""
    LocalScheduler(mappings).fire(PLANNER, as_of)
    tracemalloc.start()
    try:
        mappings.poll_once(only=(WORKER,))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    total_shards = int(stack.parameters["ReengagementParallelism"])
    return peak / 2**20, customers // total_shards


def naive_baseline(stack: LocalStack, as_of: datetime, limit: int, trace_memory: bool = False) -> Measured:
    """What a first version might do: scan everything in one loop and send each win-back inline."""
    function = stack.functions["CustomerLapsedFunction"]
    settings = Settings.from_environment(dict(function.environment))
    customers_table = stack.names["CustomersTable"]
    client = clients.dynamodb(stack.region)
    if trace_memory:
        tracemalloc.start()
    reset_peak_rss()
    scanned = selected = sent = resegmented = 0
    with clock() as elapsed:
        definitions = list_definitions(stack.names["SegmentsTable"])
        for page in client.get_paginator("scan").paginate(TableName=customers_table):
            for item in page["Items"]:
                customer = Customer.model_validate(from_item(item))
                if lapsed_and_emailable(customer, as_of, timedelta(days=90)):
                    # the win-back cooldown's mark, one read per lapsed customer
                    state = get_send_state(stack.names["DeliveriesTable"], customer.customer_id)
                    customer = with_send_state(customer, state)
                updated = reevaluate(customers_table, customer, definitions, as_of)
                resegmented += updated is not customer
                scanned += 1
                if due_winback(updated, as_of, timedelta(days=90), timedelta(days=30)):
                    selected += 1
                    lapse = winback_detail(updated, as_of, f"naive-{as_of:%Y-%m-%d}")
                    outcome = process_event(CUSTOMER_LAPSED, lapse, settings, None)
                    sent += outcome.decision is Decision.SENT
                if scanned >= limit:
                    break
            if scanned >= limit:
                break
    wall, cpu = elapsed()
    peak = None
    if trace_memory:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return Measured(
        "naive: sequential scan, send inline",
        scanned,
        selected,
        sent,
        resegmented,
        wall,
        cpu,
        peak,
        peak_rss_mib(),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    parser.add_argument("--naive-customers", type=int, default=NAIVE_CUSTOMERS)
    args = parser.parse_args(argv)
    as_of = sample_scheduled_time()
    started = time.perf_counter()
    rss_resets = reset_peak_rss()
    results: dict[str, Any] = {"customers": args.customers}
    # On the sample day's clock, as `make demo` and `make reengagement`: the naive baseline sends inline,
    # and on the real clock quiet hours would defer a different share of its emails at each hour.
    with (
        time_machine.travel(SAMPLE_DAY_CLOCK, tick=True),
        running_moto(own_process=True),
        stdout_to(OUT / "reengagement-lambda.jsonl"),
    ):
        stack = build_stack()
        verify_sender_identity(stack)
        seed_sample_data(stack)
        with clock() as elapsed:
            seed_customers(stack, args.customers, as_of, steady_state=True)
        results["import_seconds"] = round(elapsed()[0], 1)
        mappings = EventSourceMappings(stack)
        shards = stack.parameters["ReengagementParallelism"]
        with draining(stack, "CustomerLapsedQueue") as routed:
            fan = fan_out(stack, mappings, f"fan-out, {shards} parallel workers", as_of)
        results["events_routed_to_customer_lapsed_queue"] = routed()
        memory, segment_size = one_worker_memory(stack, mappings, as_of + timedelta(days=1), args.customers)
        fan.peak_memory_mib = memory
        naive = naive_baseline(stack, as_of, args.naive_customers)
        naive.peak_memory_mib = naive_baseline(stack, as_of, 500, trace_memory=True).peak_memory_mib
        runs = [fan, naive]
    results["runs"] = [
        {
            **asdict(r),
            "scanned_per_second": r.scanned_per_second,
            "published_per_second": r.published_per_second,
            "cpu_ms_per_customer": r.cpu_ms_per_customer,
        }
        for r in runs
    ]
    results["worker_segment_customers"] = segment_size
    results["seconds"] = round(time.perf_counter() - started)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "reengagement.json").write_text(json.dumps(results, indent=2))
    imported = f"{args.customers:,} synthetic customers imported in {results['import_seconds']} s"
    print(f"{imported} (moto in its own process)")
    print(HEADER)
    for run in runs:
        print(run.row())
    print(
        f"heap: peak traced Python memory of one worker invocation over a whole shard (~{segment_size:,} "
        f"customers); naive: over 500 customers. RSS: the process's peak resident set over the run "
        f"(VmHWM{'' if rss_resets else ', not resettable here: since the process started'}). cpu ms/c: "
        f"time.thread_time() of the threads doing the work, per customer scanned (not moto's, not the "
        f"thread emptying the queue). emitted: events published (fan-out) or emails sent (naive)."
    )
    routed = results["events_routed_to_customer_lapsed_queue"]
    print(f"events the rule routed to the Customer Lapsed queue: {routed}")
    print(f"figures in {OUT.relative_to(REPO_ROOT)}/reengagement.json; bench took {results['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
