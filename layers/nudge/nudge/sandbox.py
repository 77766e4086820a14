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

from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import wraps
from typing import Any, cast

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from nudge.template_budget import (
    CALL_STEPS,
    FILTER_STEPS,
    OPERATOR_STEPS,
    Budget,
    BudgetExceeded,
    Meter,
    active,
    current_meter,
)
from nudge.template_growth import bounded_range, check_binop, check_filter, check_printf, check_str_method

__all__ = ["Budget", "BudgetExceeded", "MeteredSandbox", "Sandbox", "render"]


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


def _metered_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` charged for what it reads and makes, and checked first if it can grow its input."""
    passes_first = getattr(func, "jinja_pass_arg", None) is not None  # pass_context and the like

    @wraps(func)
    def metered(*args: Any, **kwargs: Any) -> Any:
        meter = current_meter()
        head, rest = (args[:1], args[1:]) if passes_first else ((), args)
        meter.read(*rest, *kwargs.values(), steps=FILTER_STEPS)
        args, kwargs = check_filter(meter, name, head, rest, kwargs)
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
        self.globals["range"] = bounded_range
        del self.globals["lipsum"]

    def metered_items(self, items: Iterable[Any], text: int) -> Iterator[Any]:
        meter = current_meter()
        for item in items:
            meter.charge(1 + text)
            yield item

    def metered_value(self, value: Any) -> Any:
        return value  # checked by ``call``, which calls it

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        meter = current_meter()
        if obj == self.metered_value:
            return meter.made(*args)
        meter.read(*args, *kwargs.values(), steps=CALL_STEPS)
        function = getattr(obj, "__wrapped__", obj)  # the sandbox's wrapper of str.format
        owner = getattr(function, "__self__", None)
        arguments = list(args)
        if isinstance(owner, (str, bytes, bytearray)):
            check_str_method(meter, owner, getattr(function, "__name__", ""), arguments)
        for argument in (*arguments, *kwargs.values()):
            if isinstance(argument, str):
                check_printf(meter, argument)  # gettext formats its message with % and the variables
        if isinstance(obj, LoopContext) and arguments:
            arguments[0] = self.metered_items(arguments[0], 0)  # a recursive loop's next level
        meter.enter()
        try:
            result = super().call(context, obj, *arguments, **kwargs)
        finally:
            meter.leave()
        return meter.made(result)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        meter = current_meter()
        meter.read(left, right, steps=OPERATOR_STEPS)
        check_binop(meter, operator, left, right)
        return meter.made(super().call_binop(context, operator, left, right))


def render(template: Any, context: Mapping[str, Any], budget: Budget) -> str:
    """``template`` (compiled by a ``MeteredSandbox``) rendered with ``context`` within ``budget``;
    raises ``BudgetExceeded`` past any of its bounds, and whatever else rendering raises."""
    if not isinstance(template.environment, MeteredSandbox):
        raise TypeError("only a template of a MeteredSandbox renders within a budget")
    token = active.set(Meter(budget))
    try:
        meter = current_meter()
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
        active.reset(token)
