"""The operations that can make more than they read (a ``%`` or ``str.format`` width, ``center``,
``join``, ``*`` of a sequence, ``range``...), checked before they run: what they would make is
refused past the value bound, so nothing large is ever allocated."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any, cast

from nudge.template_budget import Meter, current_meter, size, whole

_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?[a-zA-Z%]")
_DIGITS = re.compile(r"\d+")


def check_printf(meter: Meter, text: Any) -> None:
    """A ``%`` format string's widths and precisions: none past the value bound, no ``*``."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("latin-1")
    if not isinstance(text, str) or "%" not in text:
        return
    for width, precision in _PRINTF.findall(text):
        for number in (width, precision):
            if number == "*" or (number and int(number) > meter.budget.value):
                meter.refuse("format")


def check_braces(meter: Meter, text: str) -> None:
    """A ``str.format`` string's widths and precisions: none past the value bound, none nested."""
    for _, _, spec, _ in string.Formatter().parse(text):
        if spec and ("{" in spec or any(int(n) > meter.budget.value for n in _DIGITS.findall(spec))):
            meter.refuse("format")


def text_size(items: list[Any], bound: int) -> int:
    """About the characters of ``items`` as text (a number's digits are not counted: a join of
    numbers is checked, more loosely, after it is made)."""
    return sum(len(item) if isinstance(item, str) else size(item, bound) + 1 for item in items)


def check_str_method(meter: Meter, owner: str | bytes | bytearray, name: str, args: list[Any]) -> None:
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
        meter.allow(text_size(items, meter.budget.value) + len(owner) * max(len(items) - 1, 0))
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
        check_braces(meter, owner)


# The filters that can make more than they read, and their parameters after the context, eval
# context or environment some are passed first (jinja2.filters).
GROWING_FILTERS: dict[str, tuple[str, ...]] = {
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


def check_filter(
    meter: Meter, name: str, head: tuple[Any, ...], rest: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A filter that can make more than it reads, checked before it runs. ``head`` is what Jinja
    passes first (a context), ``rest`` the template's arguments; returns the arguments to run it
    with (the iterable of ``join`` or ``sum``, once read, as a list)."""
    names = GROWING_FILTERS.get(name)
    if names is None or (len(rest) > len(names) and name != "format"):
        return (*head, *rest), kwargs  # not a growing filter, or a call the filter itself refuses
    given = {**dict(zip(names, rest, strict=False)), **kwargs}
    if name == "center":
        meter.allow(given.get("width", 80))
    elif name == "indent":
        text, width = str(given.get("s", "")), given.get("width", 4)
        width = len(width) if isinstance(width, str) else width
        if whole(width):
            meter.allow(len(text) + (text.count("\n") + 1) * width)
    elif name in ("batch", "slice"):
        meter.allow(given.get("linecount" if name == "batch" else "slices"))
    elif name == "format":
        check_printf(meter, rest[0] if rest else None)
        return (*head, *rest), kwargs
    elif name == "replace":
        text = str(given.get("s", ""))
        old, new = str(given.get("old", "")), str(given.get("new", ""))
        check_str_method(meter, text, "replace", [old, new, given.get("count")])
    elif name == "wordwrap":
        text, width = str(given.get("s", "")), given.get("width", 79)
        wrap = given.get("wrapstring") or "\n"
        if whole(width):
            meter.allow(len(text) + (len(text) // max(width, 1) + 1) * len(str(wrap)))
    elif name == "join" and "value" in given:
        items = given["value"] = list(given["value"])
        meter.read(items)
        if given.get("attribute") is None:
            separator = len(str(given.get("d", ""))) * max(len(items) - 1, 0)
            meter.allow(text_size(items, meter.budget.value) + separator)
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


SEQUENCES = (str, bytes, bytearray, list, tuple)


def check_binop(meter: Meter, operator: str, left: Any, right: Any) -> None:
    """Refuse, before it is computed, a result past the value bound (integers: 64 bits per unit)."""
    bits = 64 * meter.budget.value
    if operator == "*":
        if isinstance(left, SEQUENCES) and whole(right):
            meter.allow(size(left, meter.budget.value) * right)
        elif isinstance(right, SEQUENCES) and whole(left):
            meter.allow(size(right, meter.budget.value) * left)
        elif whole(left) and whole(right) and left.bit_length() + right.bit_length() > bits:
            meter.refuse("value")
    elif operator == "**":
        if whole(left) and whole(right) and right > 0 and abs(left) > 1:
            meter.allow(left.bit_length() * right // 64)
    elif operator == "+":
        if isinstance(left, SEQUENCES) and isinstance(right, SEQUENCES):
            meter.allow(size(left, meter.budget.value) + size(right, meter.budget.value))
    elif operator == "%":
        check_printf(meter, left)


def bounded_range(*args: int) -> range:
    numbers = range(*args)
    meter = current_meter()
    if len(numbers) > meter.budget.range:
        meter.refuse("range")
    return numbers
