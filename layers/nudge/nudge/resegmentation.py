"""Re-evaluating a customer's segment and storing it only when it changed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from nudge.dal.customers import set_segment
from nudge.dal.segments import InvalidSegmentDefinitionError, list_definitions
from nudge.observability import logger, metrics
from nudge.profiles import CustomerFacts
from nudge.segmentation import SegmentDefinition, assign_segment
from nudge.timeutil import utc_now

ProfileT = TypeVar("ProfileT", bound=CustomerFacts)


def load_definitions(segments_table: str) -> Sequence[SegmentDefinition] | None:
    """The current definitions, or None when any is invalid: then segments stay as they are rather
    than customers being moved by a half-read rule set. The error names the rows, and is counted."""
    try:
        return list_definitions(segments_table)
    except InvalidSegmentDefinitionError as error:
        logger.error(
            "segmentation paused: the Segments table has invalid definitions", extra={"error": str(error)}
        )
        metrics.add_metric(name="InvalidSegmentDefinitions", unit=MetricUnit.Count, value=1)
        return None


def reevaluate(
    customers_table: str, profile: ProfileT, definitions: Sequence[SegmentDefinition] | None, as_of: datetime
) -> ProfileT:
    """The profile with its segment as the rules say at ``as_of``; the row is written only on a change."""
    if definitions is None:
        return profile
    segment_id = assign_segment(profile.facts(as_of), definitions)
    if segment_id == profile.segment_id:
        return profile
    updated_at = utc_now()
    if not set_segment(customers_table, profile, segment_id, updated_at):
        # Fresher facts arrived meanwhile (an order); whoever wrote them evaluated the segment.
        return profile
    return profile.model_copy(update={"segment_id": segment_id, "segment_updated_at": updated_at})
