"""`make reengagement`: one scheduled re-engagement run on the local stack, with a progress bar.

    python -m local_stack.cli.reengagement                      # the sample customers, as of the sample run
    python -m local_stack.cli.reengagement --customers 20000    # synthetic customers
    make reengagement CUSTOMERS=20000

The run itself (the planner invoked as EventBridge Scheduler would, the real workers and Customer
Lapsed function) is local_stack/emulator/reengagement.py.
"""

from __future__ import annotations

import argparse
import sys
import time

import time_machine

from local_stack.emulator.capture import stdout_to
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import running_moto
from local_stack.emulator.one_time_schedules import deliver_deferred
from local_stack.emulator.reengagement import (
    describe,
    describe_winbacks,
    run_schedule,
    sample_scheduled_time,
    winback_decisions,
)
from local_stack.emulator.scenario import SAMPLE_DAY_CLOCK
from local_stack.emulator.seed import seed_customers, seed_sample_data, verify_sender_identity
from local_stack.emulator.stack import REPO_ROOT, build_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=0, help="synthetic customers (default: the samples)")
    parser.add_argument("--shards", type=int, default=None, help="parallel-scan shards (template default)")
    parser.add_argument("--no-send", action="store_true", help="publish the win-backs but do not send them")
    args = parser.parse_args(argv)
    scheduled_time = sample_scheduled_time()
    overrides = {"ReengagementParallelism": str(args.shards)} if args.shards else {}
    started = time.perf_counter()
    # The sample day's clock, as `make demo` runs: quiet hours decide the same way on every run, and
    # the customers it is night for get their win-back when the clock reaches their morning. moto runs
    # in a process of its own, so its work does not compete with the handlers' for this one's GIL.
    with time_machine.travel(SAMPLE_DAY_CLOCK, tick=True) as clock, running_moto(own_process=True):
        stack = build_stack(parameter_overrides=overrides)
        verify_sender_identity(stack)
        seed_sample_data(stack)
        if args.customers:
            seed_customers(stack, args.customers, scheduled_time)
        seeded = time.perf_counter() - started
        print(
            f"customers: {'the samples' if not args.customers else f'the samples + {args.customers}'}, "
            f"imported in {seeded:.1f} s; clock set to the sample day, {SAMPLE_DAY_CLOCK:%Y-%m-%d %H:%M} "
            "UTC; handler logs in out/logs/reengagement.jsonl",
            file=sys.stderr,
        )
        with stdout_to(REPO_ROOT / "out" / "logs" / "reengagement.jsonl"):
            mappings = EventSourceMappings(stack, clock)
            report = run_schedule(
                stack, mappings, scheduled_time, send_emails=not args.no_send, progress=True
            )
            mornings = 0.0
            if not args.no_send:
                morning_started = time.perf_counter()
                deferred = deliver_deferred(stack, mappings, clock.move_to)
                mornings = time.perf_counter() - morning_started
                winbacks = winback_decisions(stack, report.run_id, len(deferred))
    print(describe(report))
    if args.no_send:
        print(f"--no-send: {report.tally.published} win-backs left in the Customer Lapsed queue, not sent")
        ok = report.finished
    else:
        print("\n".join(describe_winbacks(report, winbacks)))
        ok = report.finished and winbacks.recorded == report.tally.published and not winbacks.undecided
    print(
        f"finished in {time.perf_counter() - started:.0f} s: import {seeded:.0f} s, "
        f"run {report.seconds:.0f} s"
        + (f", quiet hours' mornings {mornings:.0f} s" if not args.no_send else "")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
