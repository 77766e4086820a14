"""A line of `make bench`'s table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    measure: str
    value: str
    side_by_side: str
    target: str
    met: bool | None = None
