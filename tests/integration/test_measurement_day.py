"""The measurement loop end to end: a running experiment, carts, SES's delivery, open and click
events, orders; the report's numbers equal the hand count of what the simulated day did."""

from __future__ import annotations

import time_machine

from local_stack.cli.measurement_day import EXPERIMENT, simulate
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.stack import LocalStack


def test_the_report_of_a_simulated_day_equals_its_hand_count(
    stack: LocalStack, mappings: EventSourceMappings, clock: time_machine.Traveller
) -> None:
    day = simulate(stack, mappings, clock.move_to, customers=60)
    assert day.differences() == []
    experiment = day.report.experiments[EXPERIMENT["experiment_id"]]
    # Every arm took part, the holdout is the control and was sent nothing
    assert set(experiment.arms) == {"a", "b", "holdout"}
    assert experiment.control == "holdout"
    assert experiment.arms["holdout"].sent == 0 and experiment.arms["holdout"].recipients > 0
    # The trigger's row counts the variants' sends, and its conversions are theirs
    cart = day.report.triggers["cart_abandoned"]
    assert cart.sent == experiment.arms["a"].sent + experiment.arms["b"].sent
    assert cart.converted == experiment.arms["a"].converted + experiment.arms["b"].converted
