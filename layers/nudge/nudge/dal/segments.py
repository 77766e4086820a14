"""Segment offers, read per send so marketing changes apply without a deploy."""

from __future__ import annotations

from nudge import aws
from nudge.dal.items import from_item, to_item
from nudge.profiles import DEFAULT_SEGMENT_ID, FALLBACK_SEGMENT, Segment


def get_segment(table: str, segment_id: str | None) -> Segment:
    """The customer's segment; the ``default`` row when it has none or an unknown one."""
    for candidate in dict.fromkeys((segment_id, DEFAULT_SEGMENT_ID)):
        if not candidate:
            continue
        item = aws.dynamodb().get_item(TableName=table, Key=to_item({"segment_id": candidate})).get("Item")
        if item:
            return Segment.model_validate(from_item(item))
    return FALLBACK_SEGMENT


def put_segment(table: str, segment: Segment) -> None:
    aws.dynamodb().put_item(TableName=table, Item=to_item(segment.model_dump(mode="python")))
