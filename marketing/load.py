"""A file of rows against a table: what would be added, changed and removed, then (asked to) written.

A row is *changed* when the functions would read it differently: the file's row and the table's are
compared as the model reads them (``Segment``, ``Experiment``), so a row the table holds in another
spelling of the same thing (a rule's shorthand, a field left at its default) is unchanged and not
written again. A table row that does not validate is always changed. Rows only in the table are kept
unless pruning; the rows to write are the file's, exactly as written there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from marketing.rows import validation_problems

Say = Callable[[str], None]


@dataclass(frozen=True)
class Table:
    """One kind of row in one table, and the layer's DAL functions that read and write it."""

    kind: str
    """``segment`` or ``experiment``."""
    key: str
    name: str
    """The table's physical name."""
    read: Callable[[], list[dict[str, Any]]]
    put: Callable[[dict[str, Any]], None]
    delete: Callable[[str], None]
    model: Callable[[Mapping[str, Any]], BaseModel]
    """How the functions read a row."""


@dataclass(frozen=True)
class Change:
    row_id: str
    details: tuple[str, ...] = ()


@dataclass
class Diff:
    added: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    """In the table, not in the file: deleted when pruning."""
    kept: list[Change] = field(default_factory=list)
    """In the table, not in the file, not pruning: left as they are."""
    unchanged: list[str] = field(default_factory=list)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The table's rows as read, by id."""

    @property
    def writes(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)


def diff(table: Table, file_rows: Mapping[str, dict[str, Any]], *, prune: bool) -> Diff:
    """The file's rows (valid, by id, in file order) against the table's."""
    stored = {str(row[table.key]): row for row in table.read()}
    result = Diff(stored=stored)
    for row_id, row in file_rows.items():
        if row_id not in stored:
            result.added.append(Change(row_id))
            continue
        details = _changes(table, stored[row_id], row)
        if details:
            result.changed.append(Change(row_id, details))
        else:
            result.unchanged.append(row_id)
    for row_id in sorted(set(stored) - set(file_rows)):
        (result.removed if prune else result.kept).append(Change(row_id))
    return result


def _changes(table: Table, stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> tuple[str, ...]:
    """What the functions would read differently, field by field (``name: old -> new``)."""
    new = table.model(wanted).model_dump()
    try:
        old = table.model(stored).model_dump()
    except ValidationError as error:
        problems = "; ".join(f"{p.field}: {p.message}" for p in validation_problems("", error))
        return (f"the table's row does not validate ({problems})",)
    return tuple(
        f"{name}: {_shown(old.get(name))} -> {_shown(new.get(name))}"
        for name in new
        if old.get(name) != new.get(name)
    )


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=_plain)


def _plain(value: Any) -> Any:
    """What JSON cannot hold as it is: numbers as written, sets (a rule's ``in``) sorted."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def diff_lines(table: Table, result: Diff, *, prune: bool) -> list[str]:
    lines = [f"  + {change.row_id}" for change in result.added]
    for change in result.changed:
        lines.append(f"  ~ {change.row_id}: " + "; ".join(change.details))
    lines += [f"  - {change.row_id}: in the table, not in the file: deleted" for change in result.removed]
    lines += [
        f"  = {change.row_id}: in the table, not in the file: kept (PRUNE=1 deletes it)"
        for change in result.kept
    ]
    if result.unchanged:
        lines.append(f"  {len(result.unchanged)} unchanged: {', '.join(result.unchanged)}")
    if not result.writes:
        lines.append(f"  no changes: the {table.kind}s in the table are the file's")
    return lines


def apply(table: Table, file_rows: Mapping[str, dict[str, Any]], result: Diff) -> str:
    """Write the added and changed rows as the file has them, then delete the removed ones."""
    for change in [*result.added, *result.changed]:
        table.put(file_rows[change.row_id])
    for change in result.removed:
        table.delete(change.row_id)
    return f"written: {len(result.added)} added, {len(result.changed)} changed, {len(result.removed)} deleted"
