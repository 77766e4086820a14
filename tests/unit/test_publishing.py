"""PutEvents in batches of 10, retrying only the entries EventBridge reports as failed."""

from __future__ import annotations

from typing import Any

from nudge.reengagement.publishing import publish


class FlakyEventBridge:
    """Stands in for the PutEvents API: fails the listed entries on their first ``failures`` tries."""

    def __init__(self, failing: dict[str, int]) -> None:
        self.failing = dict(failing)
        self.calls: list[list[str]] = []
        self.accepted: list[str] = []

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        assert len(Entries) <= 10, "PutEvents takes at most 10 entries"
        ids = [entry["Detail"] for entry in Entries]
        self.calls.append(ids)
        results: list[dict[str, Any]] = []
        for event_id in ids:
            if self.failing.get(event_id, 0) > 0:
                self.failing[event_id] -= 1
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"})
            else:
                self.accepted.append(event_id)
                results.append({"EventId": f"evt-{event_id}"})
        failed = sum("ErrorCode" in result for result in results)
        return {"FailedEntryCount": failed, "Entries": results}


def entries(count: int) -> list[Any]:
    return [
        {"Source": "nudge.reengagement", "DetailType": "Customer Lapsed", "Detail": str(number)}
        for number in range(count)
    ]


def test_entries_go_ten_per_call() -> None:
    bus = FlakyEventBridge({})
    result = publish(entries(23), bus.put_events, sleep=lambda _: None)
    assert [len(call) for call in bus.calls] == [10, 10, 3]
    assert result.published == 23 and not result.failed


def test_only_the_failed_entries_are_sent_again_and_none_twice() -> None:
    bus = FlakyEventBridge({"3": 1, "7": 2})
    result = publish(entries(10), bus.put_events, sleep=lambda _: None)
    assert bus.calls[1] == ["3", "7"]
    assert bus.calls[2] == ["7"]
    assert sorted(bus.accepted, key=int) == [str(n) for n in range(10)]  # each exactly once
    assert result.published == 10 and not result.failed


def test_entries_that_keep_failing_are_returned_not_retried_forever() -> None:
    bus = FlakyEventBridge({"1": 99})
    pauses: list[float] = []
    result = publish(entries(4), bus.put_events, max_attempts=4, sleep=pauses.append)
    assert result.published == 3
    assert [entry["Detail"] for entry in result.failed] == ["1"]
    assert result.error_codes == {"ThrottlingException": 1}
    assert len(bus.calls) == 4 and len(pauses) == 3  # a pause before each retry, none after the last
