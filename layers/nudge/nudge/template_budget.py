"""What a metered render may use and what it has used: the ``Budget``, the ``Meter`` that charges a
render against it (``BudgetExceeded`` past any bound), and the size of a value as the meter counts it.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, NoReturn, cast

from jinja2.exceptions import SecurityError


class Budget(NamedTuple):
    """What one render may use (see the module's docstring)."""

    output: int
    """Characters of output."""
    value: int
    """Size of any one value the template makes; also the widest format width or precision."""
    range: int
    """Items of one ``range()``."""
    steps: int
    """Loop iterations, calls, filters and operators, plus the sizes they read, make and write."""
    depth: int
    """Calls within calls: macros, ``caller()``, recursive loops."""
    seconds: float
    """CPU time of the rendering thread."""


@dataclass
class Used:
    """What a render used: steps and output so far, and the deepest nesting reached."""

    steps: int = 0
    output: int = 0
    depth: int = 0


class BudgetExceeded(SecurityError):
    """The template went past ``limit`` (a field of ``Budget``, or ``format`` for a format width or
    precision over ``Budget.value``, or ``time``). Names no data of the template or its context."""

    def __init__(self, limit: str, budget: Budget, used: Used) -> None:
        super().__init__(f"the template went past its {limit} budget")
        self.limit = limit
        self.budget = budget
        self.used = used


# How many charges pass between two looks at the CPU clock (one look costs about 0.5 µs).
CLOCK_EVERY = 64
# What an operation costs beyond the sizes it reads and makes, in loop iterations (measured: a loop
# iteration 0.1 µs, an operator 2 µs, a filter 3 µs, a call 5 µs, a macro's call 15 µs).
OPERATOR_STEPS = 2
FILTER_STEPS = 5
CALL_STEPS = 20


class Meter:
    """One render's counters against its budget."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.used = Used()
        self._depth = 0
        self._until_clock = CLOCK_EVERY
        self._deadline = time.thread_time() + budget.seconds

    def refuse(self, limit: str) -> NoReturn:
        raise BudgetExceeded(limit, self.budget, replace(self.used))

    def charge(self, steps: int = 1) -> None:
        self.used.steps += steps
        if self.used.steps > self.budget.steps:
            self.refuse("steps")
        self._until_clock -= 1
        if self._until_clock <= 0:
            self._until_clock = CLOCK_EVERY
            if time.thread_time() > self._deadline:
                self.refuse("time")

    def write(self, characters: int) -> None:
        self.used.output += characters
        if self.used.output > self.budget.output:
            self.refuse("output")
        self.charge(1 + characters)

    def read(self, *values: Any, steps: int = 1) -> None:
        """Charge ``steps`` for an operation reading ``values``, and their sizes (counted no further
        than the value bound)."""
        self.charge(steps + sum(size(value, self.budget.value) for value in values))

    def made(self, value: Any) -> Any:
        """``value``, once it is within the value bound (charged for its size)."""
        weight = size(value, self.budget.value)
        self.charge(weight)
        if weight > self.budget.value:
            self.refuse("value")
        return value

    def allow(self, estimate: object, limit: str = "value") -> None:
        """Refuse, before it is made, what would be larger than the value bound (an estimate that is
        no number is left to the operation itself to refuse)."""
        if whole(estimate) and cast(int, estimate) > self.budget.value:
            self.refuse(limit)

    def enter(self) -> None:
        self._depth += 1
        self.used.depth = max(self.used.depth, self._depth)
        if self._depth > self.budget.depth:
            self.refuse("depth")

    def leave(self) -> None:
        self._depth -= 1


active: ContextVar[Meter | None] = ContextVar("nudge_sandbox_meter", default=None)
"""The meter of the render running in this context (``nudge.sandbox.render`` sets it)."""


def current_meter() -> Meter:
    meter = active.get()
    if meter is None:
        raise SecurityError("a metered template renders only through nudge.sandbox.render")
    return meter


def size(value: Any, bound: int) -> int:
    """Characters of strings, elements of containers down to their leaves (a list repeated inside a
    list counts each time), 64-bit words of integers; counted no further than just past ``bound``."""
    total = 0
    todo = [value]
    while todo and total <= bound:
        item = todo.pop()
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item)
        elif isinstance(item, int):
            total += item.bit_length() // 64
        elif isinstance(item, range):
            total += len(item)
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item)
            if total <= bound:
                todo.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            if total <= bound:
                todo.extend(item.keys())
                todo.extend(item.values())
    return total


def whole(value: Any) -> bool:
    """An integer that is not a boolean."""
    return isinstance(value, int) and not isinstance(value, bool)
