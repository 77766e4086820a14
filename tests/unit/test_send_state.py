"""The customer as the send rules read them: the profile's own marks (written before the send state
existed, or imported) merged with the send state's, so an upgrade neither forgets a cap slot nor
restarts the sunset clock, and a damaged send state never stops a customer's emails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nudge.profiles import Customer, CustomerFacts
from nudge.segmentation import SegmentDefinition, SegmentRules, reads_email_marks
from nudge.send_state import NO_SEND_STATE, read_state, with_send_state
from nudge.timeutil import to_stored

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _at(days_ago: float) -> str:
    return to_stored(NOW - timedelta(days=days_ago))


def _customer(**stored: Any) -> Customer:
    return Customer.model_validate({"customer_id": "c1", "email": "c1@example.com", **stored})


def test_the_later_mark_and_the_earlier_first_email_count() -> None:
    profile = _customer(last_emailed_at=_at(3), first_emailed_at=_at(300), last_winback_at=_at(10))
    state = read_state({"last_emailed_at": _at(1), "first_emailed_at": _at(1), "last_winback_at": _at(40)})
    merged = with_send_state(profile, state)
    assert merged.last_emailed_at == NOW - timedelta(days=1)
    assert merged.first_emailed_at == NOW - timedelta(days=300)  # the sunset clock keeps running
    assert merged.last_winback_at == NOW - timedelta(days=10)


def test_the_newer_cart_counts_wherever_it_is_noted() -> None:
    profile = _customer(latest_cart_id="cart_old", latest_cart_at=_at(5))
    newer = with_send_state(profile, read_state({"latest_cart_id": "cart_new", "latest_cart_at": _at(1)}))
    older = with_send_state(profile, read_state({"latest_cart_id": "cart_older", "latest_cart_at": _at(9)}))
    assert newer.latest_cart_id == "cart_new"
    assert older.latest_cart_id == "cart_old"


def test_a_slot_held_on_the_profile_still_counts_beside_the_send_states_own() -> None:
    profile = _customer(cap_0_at=_at(0.1), cap_0_by="order_placed:o1", cap_1_at=_at(3), cap_1_by="old")
    state = read_state({"cap_1_at": _at(0.2), "cap_1_by": "cart_abandoned:r1"})
    merged = with_send_state(profile, state)
    assert {index: slot.taken_by for index, slot in merged.held_slots.items()} == {
        0: "order_placed:o1",
        1: "cart_abandoned:r1",
    }


def test_a_slot_given_back_since_the_last_read_is_free_when_the_send_state_is_read_again() -> None:
    profile = _customer()
    first = with_send_state(profile, read_state({"cap_0_at": _at(0.1), "cap_0_by": "cart_abandoned:r1"}))
    # The email that held slot 0 was refused by SES and gave it back; a racing email took slot 1
    again = with_send_state(first, read_state({"cap_1_at": _at(0), "cap_1_by": "customer_lapsed:w1"}))
    assert {index: slot.taken_by for index, slot in again.held_slots.items()} == {1: "customer_lapsed:w1"}


def test_a_damaged_attribute_reads_as_absent_and_the_rest_of_the_send_state_still_counts() -> None:
    profile = _customer(last_emailed_at=_at(2))
    state = read_state(
        {
            "last_emailed_at": "not a time",
            "first_emailed_at": _at(200),
            "cap_0_at": "yesterday",
            "cap_0_by": "cart_abandoned:a",
            "cap_1_at": _at(0.5),
            "cap_1_by": "order_placed:b",
        }
    )
    assert state.damaged == {
        "last_emailed_at": "not a time",
        "cap_0_at": "yesterday",
        "cap_0_by": "cart_abandoned:a",
    }
    assert [slot.taken_by for slot in state.send_slots.values()] == ["order_placed:b"]
    merged = with_send_state(profile, state)
    assert merged.last_emailed_at == NOW - timedelta(days=2)  # the profile's mark stands
    assert merged.first_emailed_at == NOW - timedelta(days=200)  # the send state's readable one counts
    assert merged.send_state_damaged == state.damaged  # what the send's write may replace


def test_a_send_state_without_damage_lists_none() -> None:
    assert read_state({"last_emailed_at": _at(1)}).damaged == {}
    assert read_state(None) == NO_SEND_STATE


def test_facts_without_contact_details_take_the_marks_too() -> None:
    facts = CustomerFacts.model_validate({"customer_id": "c1"})
    merged = with_send_state(facts, read_state({"last_winback_at": _at(4), "last_emailed_at": _at(4)}))
    assert merged.facts(NOW).days_since_last_email == 4
    assert merged.last_winback_at == NOW - timedelta(days=4)


def test_only_rules_on_emails_make_a_run_read_the_send_marks() -> None:
    def segment(**rules: Any) -> SegmentDefinition:
        return SegmentDefinition(segment_id="s", rules=SegmentRules.model_validate(rules))

    assert not reads_email_marks([segment(order_count={"gte": 2}), segment()])
    assert reads_email_marks([segment(days_since_last_email={"gte": 30})])
    assert reads_email_marks([segment(), segment(days_since_first_email={"lte": 90})])
