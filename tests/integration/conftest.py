"""Every integration test runs on the sample day's clock (see SAMPLE_DAY_CLOCK)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import time_machine

from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.scenario import SAMPLE_DAY_CLOCK
from local_stack.emulator.stack import LocalStack


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    """The process clock, every thread's (moto's too), at the sample day and ticking; a test moves it
    with ``clock.shift(...)`` or ``clock.move_to(...)``."""
    with time_machine.travel(SAMPLE_DAY_CLOCK, tick=True) as coordinates:
        yield coordinates


@pytest.fixture
def mappings(stack: LocalStack, clock: time_machine.Traveller) -> EventSourceMappings:
    """Lambda's poller for the stack; failed records come back after their visibility timeout, on
    this test's clock."""
    return EventSourceMappings(stack, clock)
