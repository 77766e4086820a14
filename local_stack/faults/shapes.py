"""Hostile shapes of an event that no generator makes by chance: the fuzz runs send them, and unit
tests build them without loading the fuzzers (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

DEEP_NESTING_LEVELS = 990
"""Deeper than Python's ``json`` reads within its default recursion limit of 1,000 frames, once a
handler's own frames are on the stack; EventBridge and SQS carry it."""


def deeply_nested(event: dict[str, Any], levels: int = DEEP_NESTING_LEVELS) -> str:
    """``event`` as JSON text with ``levels`` of nested lists in an extra detail field
    (``detail.nested``), written without ``json.dumps``, which cannot write it either."""
    text = json.dumps({**event, "detail": {**event["detail"], "nested": None}})
    return text.replace('"nested": null', '"nested": ' + "[" * levels + "]" * levels, 1)
