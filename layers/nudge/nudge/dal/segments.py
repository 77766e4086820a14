"""Segment rows: offers read per send and definitions read per evaluation (each at most once a minute
per warm function), so marketing changes apply within a minute, without a deploy."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from nudge.adapters import clients
from nudge.dal.items import from_item, to_item
from nudge.profiles import DEFAULT_SEGMENT_ID, FALLBACK_SEGMENT, Segment
from nudge.segmentation import SegmentDefinition
from nudge.ttl_cache import Expiring


class InvalidSegmentDefinitionError(ValueError):
    """A row of the Segments table does not validate; the message names the rows and fields only."""


# An offer change reaches every warm function within a minute; a send reads the row once a minute,
# not once an email. The definitions (every row's rules, one Scan) follow the same minute.
SEGMENT_CACHE_SECONDS = 60
_segments: Expiring[Segment] = Expiring(SEGMENT_CACHE_SECONDS)
# A table's definitions, or what is wrong with them (the error's message).
_definitions: Expiring[tuple[SegmentDefinition, ...] | str] = Expiring(SEGMENT_CACHE_SECONDS)


def get_segment(table: str, segment_id: str | None) -> Segment:
    """The customer's segment; the ``default`` row when it has none or an unknown one (cached for
    ``SEGMENT_CACHE_SECONDS``)."""
    return _segments.get((table, segment_id), lambda: _read_segment(table, segment_id))


MAX_SEGMENTS_READ_WITH_PROFILE = 20


def expired_segment_ids(table: str) -> list[str]:
    """The ids of segment rows this container has read and whose minute has passed: read again
    with the next profile (``nudge.dal.send_reads``), they cost no call of their own."""
    known = [key for key in _segments.known() if isinstance(key, tuple) and key[0] == table and key[1]]
    expired = _segments.expired(known)
    return [str(segment_id) for _, segment_id in expired][-MAX_SEGMENTS_READ_WITH_PROFILE:]


def remember_segments(table: str, rows: list[dict[str, Any]]) -> None:
    """Segment rows read with a profile, cached as ``get_segment`` caches its own reads. A row that
    does not validate is left out: ``get_segment`` reads it again and fails as it always has."""
    segments = {}
    for row in rows:
        try:
            segment = Segment.model_validate(row)
        except ValidationError:
            continue
        segments[(table, segment.segment_id)] = segment
    _segments.put_many(segments)


def _read_segment(table: str, segment_id: str | None) -> Segment:
    for candidate in dict.fromkeys((segment_id, DEFAULT_SEGMENT_ID)):
        if not candidate:
            continue
        item = (
            clients.dynamodb().get_item(TableName=table, Key=to_item({"segment_id": candidate})).get("Item")
        )
        if item:
            return Segment.model_validate(from_item(item))
    return FALLBACK_SEGMENT


def list_definitions(table: str) -> list[SegmentDefinition]:
    """Every segment's membership rules; all must validate, or none are used. Read (one Scan) at most
    once per ``SEGMENT_CACHE_SECONDS`` per warm function, as the offers are, so a change to the
    rules reaches every function within that minute.

    An invalid table is remembered for the same minute as a valid one: every evaluation meanwhile
    raises InvalidSegmentDefinitionError (re-segmentation stays paused, each time logged and
    counted) without scanning again, and a fix, like any change, applies within the minute.
    """
    read = _definitions.get(table, lambda: _read_definitions(table))
    if isinstance(read, str):
        raise InvalidSegmentDefinitionError(read)
    return list(read)


def _read_definitions(table: str) -> tuple[SegmentDefinition, ...] | str:
    """The rules of every row, or the problems of the rows that do not validate (names and fields
    only) when any does not."""
    definitions: list[SegmentDefinition] = []
    problems: list[str] = []
    paginator = clients.dynamodb().get_paginator("scan")
    pages = paginator.paginate(
        TableName=table,
        Select="SPECIFIC_ATTRIBUTES",
        ProjectionExpression="segment_id, priority, #rules",
        ExpressionAttributeNames={"#rules": "rules"},
    )
    for page in pages:
        for item in page.get("Items", []):
            row = from_item(item)
            try:
                definitions.append(SegmentDefinition.model_validate(row))
            except ValidationError as error:
                fields = ", ".join(
                    f"{'.'.join(str(part) for part in problem['loc'])} ({problem['type']})"
                    for problem in error.errors(include_input=False, include_url=False)
                )
                problems.append(f"{row.get('segment_id', '?')}: {fields}")
    if problems:
        return "invalid segment definitions: " + "; ".join(sorted(problems))
    return tuple(definitions)
