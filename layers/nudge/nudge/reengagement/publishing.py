"""Publishing events to EventBridge: 10 entries per PutEvents call, retrying only the failed entries.

PutEvents succeeds as a call even when some entries fail (throttling, internal errors); each failed
entry carries an ErrorCode. Resending the whole batch would duplicate the ones that went through.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

PUT_EVENTS_MAX_ENTRIES = 10
PutEvents = Callable[..., Any]


@dataclass
class PublishResult:
    published: int = 0
    failed: list[PutEventsRequestEntryTypeDef] = field(default_factory=list)
    error_codes: dict[str, int] = field(default_factory=dict)
    calls: int = 0


def publish(
    entries: Sequence[PutEventsRequestEntryTypeDef],
    put_events: PutEvents,
    *,
    max_attempts: int = 4,
    base_delay_seconds: float = 0.1,
    sleep: Callable[[float], None] = time.sleep,
) -> PublishResult:
    """Put every entry, at most ``max_attempts`` times each; the ones that never went through are
    returned in ``failed`` with their last error codes counted."""
    result = PublishResult()
    for start in range(0, len(entries), PUT_EVENTS_MAX_ENTRIES):
        pending = list(entries[start : start + PUT_EVENTS_MAX_ENTRIES])
        for attempt in range(max_attempts):
            if attempt:
                # Full jitter, so workers throttled together do not retry together.
                sleep(random.uniform(0, base_delay_seconds * 2**attempt))  # noqa: S311
            response = put_events(Entries=pending)
            result.calls += 1
            retry: list[PutEventsRequestEntryTypeDef] = []
            last_codes: dict[str, int] = {}
            for entry, outcome in zip(pending, response["Entries"], strict=True):
                code = outcome.get("ErrorCode")
                if code:
                    retry.append(entry)
                    last_codes[code] = last_codes.get(code, 0) + 1
            result.published += len(pending) - len(retry)
            pending = retry
            if not pending:
                break
        if pending:
            result.failed.extend(pending)
            for code, count in last_codes.items():
                result.error_codes[code] = result.error_codes.get(code, 0) + count
    return result
