"""Parameters of an exhaustive check (every language, segment, store name): the first case runs in the
inner loop (``make test-fast``), the others are marked ``slow`` and run in ``make test``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest


def first_fast(values: Iterable[Any]) -> list[Any]:
    return [
        value if index == 0 else pytest.param(value, marks=pytest.mark.slow)
        for index, value in enumerate(values)
    ]
