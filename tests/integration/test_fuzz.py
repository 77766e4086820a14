"""Generated events, valid and hostile, through the real handlers, with generated Experiments rows
in the table (see local_stack/faults/fuzz.py, hostile_experiments.py); records that must be refused
at once (refused_shapes.py) and forged SES events (forged_ses.py) beside valid ones."""

from __future__ import annotations

from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.stack import LocalStack
from local_stack.faults.forged_ses import FORGERIES, forged_ses_run
from local_stack.faults.fuzz import fuzz_run
from local_stack.faults.refused_shapes import ID_FIELDS, REFUSED_FUNCTIONS, TIME_FIELDS, refused_shapes_run
from local_stack.faults.shapes import DEEP_NESTING_LEVELS

# `make faults` runs 5,000.
EXAMPLES = 300
# Batches of valid events with ones that can never succeed; `make faults` runs 200 (1,000 with FULL).
REFUSED_BATCHES = 40
# Batches of forged SES events with valid ones; `make faults` runs 100 (1,000 with FULL).
FORGED_BATCHES = 40


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


def test_records_that_can_never_succeed_are_dead_lettered_at_once_and_their_batches_go_on(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    tally = refused_shapes_run(stack, mappings, batches=REFUSED_BATCHES)
    assert tally.problems == []
    # No invocation raised, no record that can never succeed was retried, no valid record stopped
    assert (tally.unhandled_errors, tally.retried, tally.stopped) == (0, 0, 0)
    assert tally.dead_lettered_at_once == tally.refused > 0
    # Every time field of every function was sent from the far future, every function deep JSON, and
    assert {time_field.name for time_field in TIME_FIELDS} <= set(tally.shapes)
    # every id field an id too long in bytes, or holding a key separator or a control character
    assert {id_field.name for id_field in ID_FIELDS} <= set(tally.shapes)
    assert tally.shapes[f"nested {DEEP_NESTING_LEVELS} levels deep"] >= len(REFUSED_FUNCTIONS)
    # And the valid events beside them were handled, emails sent
    assert tally.valid > tally.batches and tally.emails_sent > 0


def test_forged_ses_events_change_no_profile_and_are_not_retried_beside_valid_ones(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    tally = forged_ses_run(stack, mappings, batches=FORGED_BATCHES)
    assert tally.problems == []
    # No forged event changed a profile or a delivery record, raised, or was retried or dead-lettered
    assert (tally.changed, tally.unhandled_errors, tally.retried, tally.dead_lettered) == (0, 0, 0, 0)
    assert tally.forged >= FORGED_BATCHES
    # Every kind of forgery was sent, and each was ignored for what it is
    assert {forgery.name for forgery in FORGERIES} <= {kind.split(": ", 1)[1] for kind in tally.kinds}
    assert tally.ignored_as_foreign > 0 and tally.ignored_as_not_ours > 0
    assert tally.ignored_as_foreign + tally.ignored_as_not_ours == tally.forged
    # And every valid event beside them was applied: bounces suppressed, opens and clicks counted
    assert tally.valid > 0 and tally.stopped == 0
