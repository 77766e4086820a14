"""DynamoDB's item size, as it bills it: what one write or read of an item costs in request units.

https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
An item's size is the sum of its attribute names' and values' sizes: a string its UTF-8 length, a
number about one byte per two significant digits plus one, a boolean or null one byte, a list or map
three bytes plus one per element plus the elements, a set its elements. A write costs one write
request unit per KB (rounded up) of the larger of the item before and after it; a strongly
consistent read one read unit per 4 KB, an eventually consistent read half of that.
"""

from __future__ import annotations

import math
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


def item_bytes(item: dict[str, Any]) -> int:
    """The size of an item in DynamoDB's JSON form (``{"name": {"S": "..."}}``)."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _value_bytes(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        return _number_bytes(str(data))
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(element).encode()) for element in data)
    if kind == "NS":
        return sum(_number_bytes(str(element)) for element in data)
    if kind == "L":
        return 3 + sum(1 + _value_bytes(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_bytes(element) for name, element in data.items())
    raise ValueError(f"unknown attribute type {kind}")


def _number_bytes(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0") or "0"
    return math.ceil(len(digits.rstrip("0") or "0") / 2) + 1


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2
