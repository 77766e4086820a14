"""Segment rows checked as the functions read them (nudge.profiles.Segment, whose rules are
nudge.segmentation's), and which sample customers each would take."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from marketing.rows import Problem, duplicates, row_label, unknown_fields, validation_problems
from nudge.profiles import DEFAULT_SEGMENT_ID, Customer, Segment
from nudge.segmentation import SegmentRules, assign_segment, ordered

KEY = "segment_id"
FIELDS = frozenset(Segment.model_fields)
FACTS = frozenset(SegmentRules.model_fields)


@dataclass(frozen=True)
class CheckedSegments:
    segments: dict[str, Segment]
    """The valid rows by id, in file order."""
    rows: dict[str, dict[str, Any]]
    """The same rows as written in the file, to be written as they are."""
    problems: list[Problem]


def check_segments(rows: Sequence[Any]) -> CheckedSegments:
    """Each row validated on its own, every problem named (segment and field); and ids unique."""
    segments: dict[str, Segment] = {}
    written: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for index, row in enumerate(rows):
        label = row_label("segment", KEY, index, row)
        if not isinstance(row, dict):
            problems.append(Problem(label, "row", "must be an object"))
            continue
        found = unknown_fields(label, row, FIELDS)
        try:
            segment = Segment.model_validate(row)
        except ValidationError as error:
            found += [with_rule_facts(problem) for problem in validation_problems(label, error)]
        else:
            if not segment.segment_id:
                found.append(Problem(label, KEY, "must not be empty (it is the table's key)"))
            if not found and segment.segment_id not in segments:
                segments[segment.segment_id] = segment
                written[segment.segment_id] = row
        problems += found
    problems += duplicates(
        "segment", [str(row.get(KEY)) for row in rows if isinstance(row, dict) and KEY in row]
    )
    return CheckedSegments(segments, written, problems)


def with_rule_facts(problem: Problem) -> Problem:
    """An unknown fact in a rule lists the facts a rule can use."""
    parts = problem.field.split(".")
    if len(parts) == 2 and parts[0] == "rules" and problem.message == "Extra inputs are not permitted":
        return Problem(
            problem.row, problem.field, f"not a fact a rule can use; one of {', '.join(sorted(FACTS))}"
        )
    return problem


@dataclass(frozen=True)
class Membership:
    segment_id: str
    priority: int | None
    """None for ``default`` when the rows have none (the built-in "Everyone", with no offer)."""
    customers: list[Customer]


def sample_membership(
    segments: Sequence[Segment], customers: Sequence[Customer], as_of: datetime
) -> list[Membership]:
    """Which segment each customer's facts fall in as of ``as_of``, by nudge.segmentation's own rule
    (priority order, first match, ``default`` for the rest); every segment listed, in that order."""
    taken: dict[str, list[Customer]] = {segment.segment_id: [] for segment in segments}
    taken.setdefault(DEFAULT_SEGMENT_ID, [])
    for customer in customers:
        taken[assign_segment(customer.facts(as_of), segments)].append(customer)
    listed = [Membership(s.segment_id, s.priority, taken[s.segment_id]) for s in ordered(segments)]
    if DEFAULT_SEGMENT_ID not in {segment.segment_id for segment in segments}:
        listed.append(Membership(DEFAULT_SEGMENT_ID, None, taken[DEFAULT_SEGMENT_ID]))
    return listed


def membership_lines(listed: Sequence[Membership]) -> list[str]:
    """A table: priority, segment, how many and which sample customers; a customer whose stored
    segment differs is marked with it (re-segmentation would move them)."""
    width = max(len("segment"), *(len(entry.segment_id) for entry in listed))
    lines = [f"  {'priority':>8}  {'segment':<{width}}  customers"]
    for entry in listed:
        priority = "-" if entry.priority is None else str(entry.priority)
        names = ", ".join(_customer(customer, entry.segment_id) for customer in entry.customers) or "-"
        note = " (no row: the built-in Everyone, no offer)" if entry.priority is None else ""
        lines.append(
            f"  {priority:>8}  {entry.segment_id:<{width}}  {len(entry.customers):>2}  {names}{note}"
        )
    return lines


def _customer(customer: Customer, segment_id: str) -> str:
    stored = customer.segment_id
    return (
        customer.customer_id if stored == segment_id else f"{customer.customer_id} (stored: {stored or '-'})"
    )
