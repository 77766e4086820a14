"""`make faults`: the crash-point matrix, 30 % and 60 % throttling (and 60 % with 1 % of SES's Send
events lost), records that can never succeed beside valid ones, forged SES events beside valid ones,
and a fuzz run, as one table. By default the crash points after writes and SES, 100 throttled
events, 100 batches with refused records, 100 with forged SES events, 500 fuzzed; ``--full``
(``make faults FULL=1``) every crash point, 1,000, 1,000, 1,000 and 5,000.

Runs on the sample day's clock; every wait (visibility timeouts, SDK back-off) moves that clock
instead of sleeping, so simulated hours take seconds.
"""

from __future__ import annotations

import argparse
import sys
import time

import time_machine

from local_stack.emulator.capture import stdout_to
from local_stack.emulator.moto_endpoint import running_moto
from local_stack.emulator.scenario import SAMPLE_DAY_CLOCK
from local_stack.emulator.stack import REPO_ROOT
from local_stack.faults.runs import run_all


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--full", action="store_true", help="every crash point, 1,000 throttled events, 5,000 fuzzed"
    )
    parser.add_argument("--events", type=int, help="events per throttling run (100; --full 1,000)")
    parser.add_argument("--fuzz", type=int, help="generated events in the fuzz run (500; --full 5,000)")
    parser.add_argument(
        "--refused", type=int, help="batches with records that can never succeed (100; --full 1,000)"
    )
    parser.add_argument("--forged", type=int, help="batches with forged SES events (100; --full 1,000)")
    args = parser.parse_args()
    events = args.events or (1000 if args.full else 100)
    fuzz = args.fuzz or (5000 if args.full else 500)
    refused = args.refused or (1000 if args.full else 100)
    forged = args.forged or (1000 if args.full else 100)
    started = time.perf_counter()
    lines: list[str] = []

    def say(line: str) -> None:
        # Each row as soon as it is measured (on stderr: stdout is the handlers' log meanwhile), so a
        # long run shows its progress; the whole table is printed again at the end.
        lines.append(line)
        print(line, file=sys.stderr, flush=True)

    with (
        time_machine.travel(SAMPLE_DAY_CLOCK, tick=True) as clock,
        running_moto() as moto,
        stdout_to(REPO_ROOT / "out" / "logs" / "faults.jsonl"),
    ):
        rows = run_all(
            moto,
            clock,
            throttled_events=events,
            fuzz_examples=fuzz,
            refused_batches=refused,
            forged_batches=forged,
            sampled=not args.full,
            say=say,
        )
    print("\n".join(lines))
    for row in rows:
        for note in row.notes:
            print(f"  {row.case}: {note}")
    # A fuzz row's "crashes" are unhandled errors: there must be none either. The refused and forged
    # rows' promises (nothing retried, nothing valid stopped, no forged event changing a profile) are
    # in their `safe`.
    safe = all(row.safe for row in rows) and rows[-1].crashes == 0
    print(
        f"faults finished in {time.perf_counter() - started:.0f} s: "
        + (
            "no duplicate email, no order counted twice, nothing refused retried or stopping its batch,"
            " no forged SES event changing a profile"
            if safe
            else "DUPLICATES, DOUBLE COUNTS, FORGED CHANGES OR BROKEN PROMISES"
        )
    )
    return 0 if safe else 1


if __name__ == "__main__":
    sys.exit(main())
