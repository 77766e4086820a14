"""Jinja's sandbox, and the metered sandbox every template a marketer edits renders in.

Jinja's sandbox keeps a template away from Python's internals, but not from the machine: a valid
subject of under 100 characters can loop ten billion times, build a 300 MB string or recurse until
the stack runs out. ``MeteredSandbox`` renders within a ``Budget`` that bounds, whatever the
template:

- its output (``output`` characters): rendering stops as soon as the output passes it;
- every value it makes (``value``: characters of a string, elements of a list or dict counted down
  to the leaves, 64-bit words of an integer): ``*``, ``**``, ``+``, ``~``, ``%``, ``join``,
  ``format``, ``center``, ``indent``, ``replace``, ``batch``, ``slice`` and the rest are checked
  before they allocate, or, where the result cannot be much larger than what they read, right after;
- ``range`` (``range`` items) and format widths and precisions (``value``);
- its work (``steps``): every loop iteration, call, filter and operator is one step, plus the size of
  what it reads and makes and of what it writes, so loops that print nothing are bounded too;
- nesting (``depth`` calls: a macro calling itself, a recursive loop);
- its CPU time (``seconds`` of this thread), the last resort for what the counters miss.

Past any bound the render raises ``BudgetExceeded`` (a Jinja ``SecurityError``) naming it. The
counters are deterministic: a template is refused, or not, the same way on any machine; only the
time bound depends on the CPU, and it is there for what the counters do not foresee. Constant
folding is off, so nothing a template asks for is computed while it compiles.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import wraps
from typing import Any, NoReturn, cast

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, remembering its answers: whether an attribute is safe depends only
    on the object's type and the attribute's name (jinja2.sandbox: a leading underscore, the internals
    of functions, frames, code and generators, the mutating methods of known mutable types), and
    asking again for each of the ~180 attribute reads of an email was a quarter of its render."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._safe_attributes: dict[tuple[type, str], bool] = {}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        key = (type(obj), attr)
        safe = self._safe_attributes.get(key)
        if safe is None:
            safe = self._safe_attributes[key] = bool(super().is_safe_attribute(obj, attr, value))
        return safe


@dataclass(frozen=True)
class Budget:
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
_CLOCK_EVERY = 64
# What an operation costs beyond the sizes it reads and makes, in loop iterations (measured: a loop
# iteration 0.1 µs, an operator 2 µs, a filter 3 µs, a call 5 µs, a macro's call 15 µs).
_OPERATOR_STEPS = 2
_FILTER_STEPS = 5
_CALL_STEPS = 20


class Meter:
    """One render's counters against its budget."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.used = Used()
        self._depth = 0
        self._until_clock = _CLOCK_EVERY
        self._deadline = time.thread_time() + budget.seconds

    def refuse(self, limit: str) -> NoReturn:
        raise BudgetExceeded(limit, self.budget, replace(self.used))

    def charge(self, steps: int = 1) -> None:
        self.used.steps += steps
        if self.used.steps > self.budget.steps:
            self.refuse("steps")
        self._until_clock -= 1
        if self._until_clock <= 0:
            self._until_clock = _CLOCK_EVERY
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
        if _whole(estimate) and cast(int, estimate) > self.budget.value:
            self.refuse(limit)

    def enter(self) -> None:
        self._depth += 1
        self.used.depth = max(self.used.depth, self._depth)
        if self._depth > self.budget.depth:
            self.refuse("depth")

    def leave(self) -> None:
        self._depth -= 1


_active: ContextVar[Meter | None] = ContextVar("nudge_sandbox_meter", default=None)


def _meter() -> Meter:
    meter = _active.get()
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


_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?[a-zA-Z%]")
_DIGITS = re.compile(r"\d+")


def _check_printf(meter: Meter, text: Any) -> None:
    """A ``%`` format string's widths and precisions: none past the value bound, no ``*``."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("latin-1")
    if not isinstance(text, str) or "%" not in text:
        return
    for width, precision in _PRINTF.findall(text):
        for number in (width, precision):
            if number == "*" or (number and int(number) > meter.budget.value):
                meter.refuse("format")


def _check_braces(meter: Meter, text: str) -> None:
    """A ``str.format`` string's widths and precisions: none past the value bound, none nested."""
    for _, _, spec, _ in string.Formatter().parse(text):
        if spec and ("{" in spec or any(int(n) > meter.budget.value for n in _DIGITS.findall(spec))):
            meter.refuse("format")


def _text_size(items: list[Any], bound: int) -> int:
    """About the characters of ``items`` as text (a number's digits are not counted: a join of
    numbers is checked, more loosely, after it is made)."""
    return sum(len(item) if isinstance(item, str) else size(item, bound) + 1 for item in items)


def _check_str_method(meter: Meter, owner: str | bytes | bytearray, name: str, args: list[Any]) -> None:
    """The methods of ``str`` and ``bytes`` that make more than they read."""
    first = args[0] if args else None
    if name in ("center", "ljust", "rjust", "zfill") and isinstance(first, int):
        meter.allow(first)
    elif name == "expandtabs":
        tabsize = first if isinstance(first, int) else 8
        tabs = owner.count(b"\t") if isinstance(owner, (bytes, bytearray)) else owner.count("\t")
        meter.allow(len(owner) + tabs * tabsize)
    elif name == "join" and args:
        items = args[0] = list(cast(Iterable[Any], first))
        meter.read(items)
        meter.allow(_text_size(items, meter.budget.value) + len(owner) * max(len(items) - 1, 0))
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        count = args[2] if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0 else None
        places = len(owner) + 1 if not old else owner.count(old)
        places = min(places, count) if count is not None else places
        meter.allow(len(owner) + places * max(len(new) - len(old), 0))
    elif name == "translate" and first is not None:
        values = first.values() if isinstance(first, Mapping) else [first]
        widest = max((size(value, meter.budget.value) for value in values), default=1)
        meter.allow(len(owner) * max(widest, 1))
    elif name in ("format", "format_map") and isinstance(owner, str):
        _check_braces(meter, owner)


# The filters that can make more than they read, and their parameters after the context, eval
# context or environment some are passed first (jinja2.filters).
_GROWING_FILTERS: dict[str, tuple[str, ...]] = {
    "center": ("value", "width"),
    "indent": ("s", "width", "first", "blank"),
    "batch": ("value", "linecount", "fill_with"),
    "slice": ("value", "slices", "fill_with"),
    "format": ("value",),
    "replace": ("s", "old", "new", "count"),
    "wordwrap": ("s", "width", "break_long_words", "wrapstring", "break_on_hyphens"),
    "join": ("value", "d", "attribute"),
    "sum": ("iterable", "attribute", "start"),
}


def _check_filter(
    meter: Meter, name: str, head: tuple[Any, ...], rest: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A filter that can make more than it reads, checked before it runs. ``head`` is what Jinja
    passes first (a context), ``rest`` the template's arguments; returns the arguments to run it
    with (the iterable of ``join`` or ``sum``, once read, as a list)."""
    names = _GROWING_FILTERS.get(name)
    if names is None or (len(rest) > len(names) and name != "format"):
        return (*head, *rest), kwargs  # not a growing filter, or a call the filter itself refuses
    given = {**dict(zip(names, rest, strict=False)), **kwargs}
    if name == "center":
        meter.allow(given.get("width", 80))
    elif name == "indent":
        text, width = str(given.get("s", "")), given.get("width", 4)
        width = len(width) if isinstance(width, str) else width
        if _whole(width):
            meter.allow(len(text) + (text.count("\n") + 1) * width)
    elif name in ("batch", "slice"):
        meter.allow(given.get("linecount" if name == "batch" else "slices"))
    elif name == "format":
        _check_printf(meter, rest[0] if rest else None)
        return (*head, *rest), kwargs
    elif name == "replace":
        text = str(given.get("s", ""))
        old, new = str(given.get("old", "")), str(given.get("new", ""))
        _check_str_method(meter, text, "replace", [old, new, given.get("count")])
    elif name == "wordwrap":
        text, width = str(given.get("s", "")), given.get("width", 79)
        wrap = given.get("wrapstring") or "\n"
        if _whole(width):
            meter.allow(len(text) + (len(text) // max(width, 1) + 1) * len(str(wrap)))
    elif name == "join" and "value" in given:
        items = given["value"] = list(given["value"])
        meter.read(items)
        if given.get("attribute") is None:
            separator = len(str(given.get("d", ""))) * max(len(items) - 1, 0)
            meter.allow(_text_size(items, meter.budget.value) + separator)
    elif name == "sum" and "iterable" in given:
        items = given["iterable"] = list(given["iterable"])
        meter.read(items)
        start = given.get("start", 0)
        if not isinstance(start, (int, float)):
            # Adding sequences copies the total so far each time: charge that work.
            total = sum(size(value, meter.budget.value) for value in (start, *items))
            meter.allow(total)
            meter.charge(len(items) * total)
    return head, given


def _metered_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` charged for what it reads and makes, and checked first if it can grow its input."""
    passes_first = getattr(func, "jinja_pass_arg", None) is not None  # pass_context and the like

    @wraps(func)
    def metered(*args: Any, **kwargs: Any) -> Any:
        meter = _meter()
        head, rest = (args[:1], args[1:]) if passes_first else ((), args)
        meter.read(*rest, *kwargs.values(), steps=_FILTER_STEPS)
        args, kwargs = _check_filter(meter, name, head, rest, kwargs)
        return meter.made(func(*args, **kwargs))

    return metered


class _MeteredFilters(dict[str, Callable[..., Any]]):
    """The environment's filters, each metered as it is added (the defaults and ``money``, ``date``)."""

    def __init__(self, filters: Mapping[str, Callable[..., Any]]) -> None:
        super().__init__()
        self.update(filters)

    def __setitem__(self, name: str, func: Callable[..., Any]) -> None:
        super().__setitem__(name, _metered_filter(name, func))

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, func in dict(*args, **kwargs).items():
            self[name] = func


def _guard(name: str, *args: nodes.Expr, lineno: int) -> nodes.Call:
    return nodes.Call(
        nodes.EnvironmentAttribute(name, lineno=lineno), list(args), [], None, None, lineno=lineno
    )


class _Metering(NodeTransformer):
    """Rewrites a parsed template so that what the sandbox cannot see goes through the meter: each
    loop's iterable (charged per item, with the item's share of the loop body's own text), each
    ``{{ ... }}`` and each ``~`` (checked against the value bound)."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        text = sum(len(data.data) for child in node.body for data in child.find_all(nodes.TemplateData))
        node.iter = _guard(
            "metered_items", cast(nodes.Expr, node.iter), nodes.Const(text), lineno=node.lineno
        )
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [
            child
            if isinstance(child, nodes.TemplateData)
            else _guard("metered_value", child, lineno=child.lineno)
            for child in node.nodes
        ]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _guard("metered_value", node, lineno=node.lineno)


class _MeteredCodeGenerator(CodeGenerator):
    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        _Metering().visit(node)
        super().visit_Template(node, frame)


class MeteredSandbox(Sandbox):
    """The sandbox for templates a marketer edits: rendered only through ``render``, within a
    ``Budget``. ``range`` is bounded, ``lipsum`` is gone, and every operator, call, filter, loop and
    output is metered (see the module's docstring)."""

    code_generator_class = _MeteredCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Constant folding would compute ``{{ 'x' * 10 ** 9 }}`` while compiling, outside any budget.
        super().__init__(*args, optimized=False, **kwargs)
        self.filters = _MeteredFilters(self.filters)
        self.globals["range"] = _bounded_range
        del self.globals["lipsum"]

    def metered_items(self, items: Iterable[Any], text: int) -> Iterator[Any]:
        meter = _meter()
        for item in items:
            meter.charge(1 + text)
            yield item

    def metered_value(self, value: Any) -> Any:
        return value  # checked by ``call``, which calls it

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        meter = _meter()
        if obj == self.metered_value:
            return meter.made(*args)
        meter.read(*args, *kwargs.values(), steps=_CALL_STEPS)
        function = getattr(obj, "__wrapped__", obj)  # the sandbox's wrapper of str.format
        owner = getattr(function, "__self__", None)
        arguments = list(args)
        if isinstance(owner, (str, bytes, bytearray)):
            _check_str_method(meter, owner, getattr(function, "__name__", ""), arguments)
        for argument in (*arguments, *kwargs.values()):
            if isinstance(argument, str):
                _check_printf(meter, argument)  # gettext formats its message with % and the variables
        if isinstance(obj, LoopContext) and arguments:
            arguments[0] = self.metered_items(arguments[0], 0)  # a recursive loop's next level
        meter.enter()
        try:
            result = super().call(context, obj, *arguments, **kwargs)
        finally:
            meter.leave()
        return meter.made(result)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        meter = _meter()
        meter.read(left, right, steps=_OPERATOR_STEPS)
        _check_binop(meter, operator, left, right)
        return meter.made(super().call_binop(context, operator, left, right))


_SEQUENCES = (str, bytes, bytearray, list, tuple)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_binop(meter: Meter, operator: str, left: Any, right: Any) -> None:
    """Refuse, before it is computed, a result past the value bound (integers: 64 bits per unit)."""
    bits = 64 * meter.budget.value
    if operator == "*":
        if isinstance(left, _SEQUENCES) and _whole(right):
            meter.allow(size(left, meter.budget.value) * right)
        elif isinstance(right, _SEQUENCES) and _whole(left):
            meter.allow(size(right, meter.budget.value) * left)
        elif _whole(left) and _whole(right) and left.bit_length() + right.bit_length() > bits:
            meter.refuse("value")
    elif operator == "**":
        if _whole(left) and _whole(right) and right > 0 and abs(left) > 1:
            meter.allow(left.bit_length() * right // 64)
    elif operator == "+":
        if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
            meter.allow(size(left, meter.budget.value) + size(right, meter.budget.value))
    elif operator == "%":
        _check_printf(meter, left)


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    meter = _meter()
    if len(numbers) > meter.budget.range:
        meter.refuse("range")
    return numbers


def render(template: Any, context: Mapping[str, Any], budget: Budget) -> str:
    """``template`` (compiled by a ``MeteredSandbox``) rendered with ``context`` within ``budget``;
    raises ``BudgetExceeded`` past any of its bounds, and whatever else rendering raises."""
    if not isinstance(template.environment, MeteredSandbox):
        raise TypeError("only a template of a MeteredSandbox renders within a budget")
    token = _active.set(Meter(budget))
    try:
        meter = _meter()
        parts: list[str] = []
        chunks = cast(Iterator[str], template.generate(context))
        try:
            for chunk in chunks:
                meter.write(len(chunk))
                parts.append(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return "".join(parts)
    finally:
        _active.reset(token)
