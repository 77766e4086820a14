"""Generated events, valid and hostile, through the real handlers, with generated Experiments rows
in the table (see local_stack/fuzz.py)."""

from __future__ import annotations

from local_stack.fuzz import fuzz_run
from local_stack.lambda_runtime import EventSourceMappings
from local_stack.moto_endpoint import MotoEndpoint
from local_stack.stack import LocalStack

# `make faults` runs 5,000.
EXAMPLES = 300


def test_no_generated_event_crashes_a_handler_sends_twice_or_counts_twice(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint
) -> None:
    tally = fuzz_run(stack, mappings, moto, examples=EXAMPLES)
    assert tally.events == EXAMPLES
    assert (tally.unhandled_errors, tally.duplicates, tally.double_counts) == (0, 0, 0)
    assert tally.problems == []
    # Hostile Experiments rows came and went during the run and were ignored; every probe sent
    # after each change went out (or was held out by a valid experiment): no email stopped
    assert tally.experiment_rows > 0 and tally.invalid_experiments > 0
    assert tally.probes == 3 * (EXAMPLES // 15) and tally.probes_sent > 0
    assert tally.probes_sent + tally.probes_held_out == tally.probes
    assert tally.stopped_by_bad_data == 0
    # The run exercised every path: sends, skips, and invalid events dead-lettered at once
    assert tally.sent > 0 and tally.skipped_or_deferred > 0 and tally.dead_lettered > 0
    assert tally.sent + tally.skipped_or_deferred + tally.dead_lettered == tally.events
