"""A file of table rows as a marketer writes it, and what is wrong with a row.

A file is a JSON array of objects, one a row, exactly as the table holds them. Numbers are read as
DynamoDB stores them (``Decimal``), never as floats, so ``0.1`` is written as ``0.1``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError


class RowsFileError(ValueError):
    """The file cannot be read as a JSON array of rows; the message names the file."""


def read_rows(path: Path, kind: str) -> list[Any]:
    """The file's elements (each should be a ``kind`` row; the validation says when one is not)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RowsFileError(f"FILE={path}: cannot be read ({error.strerror})") from error
    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise RowsFileError(f"FILE={path}: not JSON: {error.msg} at {where}") from error
    except ValueError as error:  # NaN or Infinity
        raise RowsFileError(f"FILE={path}: {error}") from error
    if not isinstance(value, list):
        raise RowsFileError(f"FILE={path}: must be a JSON array of {kind} rows, one object each")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number DynamoDB can store")


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field of one row, in words that name both."""

    row: str
    """``segment vip``, or ``row 3`` for a row without a usable id."""
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.row}: {self.field}: {self.message}"


def row_label(kind: str, key: str, index: int, row: object) -> str:
    """A row by its id when it has a printable one, else by its place in the file (1-based)."""
    value = row.get(key) if isinstance(row, Mapping) else None
    if isinstance(value, str) and value.strip() and value.isprintable() and len(value) <= 64:
        return f"{kind} {value}"
    return f"{kind} in row {index + 1}"


def unknown_fields(
    label: str, row: Mapping[str, Any], known: Collection[str], prefix: str = ""
) -> list[Problem]:
    """Fields the model would ignore: a misspelt ``coupon_cod`` would silently drop the coupon."""
    return [
        Problem(
            label,
            f"{prefix}{name}",
            f"not a field (the functions would ignore it); one of {', '.join(sorted(known))}",
        )
        for name in sorted(set(row) - set(known), key=str)
    ]


def validation_problems(label: str, error: ValidationError) -> list[Problem]:
    """pydantic's errors as problems, each naming its field's path (``rules.total_spent``)."""
    return [
        Problem(label, ".".join(str(part) for part in problem["loc"]) or "row", problem["msg"])
        for problem in error.errors(include_url=False, include_context=False, include_input=False)
    ]


def duplicates(label_of_id: str, ids: list[str]) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for value in ids:
        if value in seen:
            problems.append(
                Problem(f"{label_of_id} {value}", label_of_id + "_id", "appears twice in the file")
            )
        seen.add(value)
    return problems
