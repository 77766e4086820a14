"""Parameters of an exhaustive check (every language, segment, store name): the first case runs in the
inner loop (``make test-fast``), the others are marked ``slow`` and run in ``make test``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest


def first_fast(values: Iterable[Any], *, several_names: bool = False) -> list[Any]:
    """``values`` for ``pytest.mark.parametrize``; with ``several_names``, each value is a tuple of
    one value per name."""
    marked = []
    for index, value in enumerate(values):
        if index == 0:
            marked.append(value)
        else:
            arguments = value if several_names else (value,)
            marked.append(pytest.param(*arguments, marks=pytest.mark.slow))
    return marked
