"""EventBridge: putting events on a bus."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nudge.adapters import clients

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef, PutEventsResponseTypeDef


def put_events(*, Entries: Sequence[PutEventsRequestEntryTypeDef]) -> PutEventsResponseTypeDef:
    """One PutEvents call (at most ten entries; named as the API names it); the response says which
    entries failed."""
    return clients.events().put_events(Entries=Entries)
