"""Segments and experiments are read once a minute per warm function, not once an email: a marketer's
change reaches the emails within SEGMENT_CACHE_SECONDS / EXPERIMENT_CACHE_SECONDS, and meanwhile the
send path makes two calls fewer."""

from __future__ import annotations

import time_machine

from local_stack.faults import recording_calls
from local_stack.fresh import fresh_stack
from local_stack.lambda_runtime import EventSourceMappings
from local_stack.moto_endpoint import MotoEndpoint
from local_stack.run import put_events
from local_stack.scenario import SampleEvent
from nudge.dal.segments import SEGMENT_CACHE_SECONDS, get_segment, put_segment
from tests.conftest import sent_emails


def test_a_changed_offer_reaches_the_emails_within_a_minute_and_is_read_once_meanwhile(
    moto: MotoEndpoint, samples: dict[str, SampleEvent], clock: time_machine.Traveller
) -> None:
    stack = fresh_stack(moto, FrequencyCapEmails="0")
    mappings = EventSourceMappings(stack, clock)
    lapse = samples["customer_lapsed/at_risk_sam.json"]

    def winback(run_id: str) -> str:
        put_events(stack, [lapse.varied(run_id, run_id=run_id)])
        mappings.drain()
        return str(sent_emails(moto)[-1].get_body(("plain",)).get_content())  # type: ignore[union-attr]

    with recording_calls() as cold:
        assert "COMEBACK20" in winback("2026-11-23")
    # Given marketing changes the at-risk coupon
    table = stack.names["SegmentsTable"]
    at_risk = get_segment(table, "at_risk")
    put_segment(table, at_risk.model_copy(update={"coupon_code": "COMEBACK25"}))
    # Then an email within the minute still reads the cached row, without a Segments read
    with recording_calls() as warm:
        assert "COMEBACK20" in winback("2026-11-24")
    # The Segments GetItem and the Experiments Scan of the first email are not made again
    assert warm.count(("dynamodb", "GetItem")) == cold.count(("dynamodb", "GetItem")) - 1
    assert ("dynamodb", "Scan") in cold and ("dynamodb", "Scan") not in warm
    # ...and once the minute has passed, the new coupon
    clock.shift(SEGMENT_CACHE_SECONDS + 1)
    assert "COMEBACK25" in winback("2026-11-25")
