"""The scheduled run's read of many send states: keys DynamoDB leaves unprocessed (throttling) are
asked for again with back-off, and a page whose keys stay unprocessed fails rather than running on
without the marks (a win-back inside its cooldown would go out)."""

from __future__ import annotations

from typing import Any

import pytest

from nudge.dal import send_state
from nudge.dal.batch_items import UnprocessedError
from nudge.dal.send_state import get_send_marks
from nudge.send_state import FACT_MARKS


class _Throttled:
    """Answers each BatchGetItem with the first key only, leaving the rest unprocessed, and records
    how many keys each call asked for."""

    def __init__(self, *, always_unprocessed: bool = False) -> None:
        self.asked: list[int] = []
        self.always_unprocessed = always_unprocessed

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        request = RequestItems["deliveries"]
        keys = request["Keys"]
        self.asked.append(len(keys))
        if self.always_unprocessed:
            return {"Responses": {"deliveries": []}, "UnprocessedKeys": RequestItems}
        first, rest = keys[0], keys[1:]
        item = {"customer_id": first["customer_id"], "last_winback_at": {"S": "2026-11-01T00:00:00+00:00"}}
        unprocessed = {"deliveries": {**request, "Keys": rest}} if rest else {}
        return {"Responses": {"deliveries": [item]}, "UnprocessedKeys": unprocessed}


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    sleeps: list[float] = []
    monkeypatch.setattr("nudge.dal.batch_items.time.sleep", sleeps.append)
    return sleeps


def test_unprocessed_keys_are_asked_for_again_with_back_off(
    monkeypatch: pytest.MonkeyPatch, slept: list[float]
) -> None:
    client = _Throttled()
    monkeypatch.setattr("nudge.dal.batch_items.clients.dynamodb", lambda: client)
    found = get_send_marks("deliveries", ["c1", "c2", "c3"], FACT_MARKS)
    assert set(found) == {"c1", "c2", "c3"}
    assert all(state.last_winback_at is not None for state in found.values())
    assert client.asked == [3, 2, 1]
    assert slept and slept == sorted(slept)


def test_keys_left_unprocessed_every_time_fail_the_page(
    monkeypatch: pytest.MonkeyPatch, slept: list[float]
) -> None:
    client = _Throttled(always_unprocessed=True)
    monkeypatch.setattr("nudge.dal.batch_items.clients.dynamodb", lambda: client)
    with pytest.raises(UnprocessedError):
        get_send_marks("deliveries", ["c1", "c2"], FACT_MARKS)
    assert len(client.asked) == send_state.MAX_BATCH_ATTEMPTS


def test_more_than_a_hundred_customers_take_one_call_per_hundred(
    monkeypatch: pytest.MonkeyPatch, slept: list[float]
) -> None:
    calls: list[int] = []

    class _Answers:
        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            calls.append(len(RequestItems["deliveries"]["Keys"]))
            return {"Responses": {"deliveries": []}}

    monkeypatch.setattr("nudge.dal.batch_items.clients.dynamodb", _Answers)
    assert get_send_marks("deliveries", [f"c{n}" for n in range(250)], FACT_MARKS) == {}
    assert calls == [100, 100, 50]
    assert slept == []
