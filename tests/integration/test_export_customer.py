"""The subject-access export on the local stack: what it holds for a customer Nudge emailed, what is
left of an erased one, and the command line's JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.run import put_events, recorded_outcome
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.stack import LocalStack
from nudge import ttl_cache
from nudge.customers.hashing import address_hash, hash_key
from nudge.dal import suppression_list
from nudge.dal.customers import get_profile_item
from nudge.outcome import delivery_key
from privacy.__main__ import main
from privacy.export import HASH_KEY_LOGICAL_ID, ExportTables, export_customer
from tests.integration.test_customers import customer_updated, handle, sample


def tables(stack: LocalStack) -> ExportTables:
    return ExportTables(
        customers=stack.names["CustomersTable"],
        deliveries=stack.names["DeliveriesTable"],
        consent_history=stack.names["ConsentHistoryTable"],
        suppression_list=stack.names["SuppressionListTable"],
    )


def key(stack: LocalStack) -> bytes:
    return hash_key(stack.secret_arns[HASH_KEY_LOGICAL_ID])


def test_the_export_holds_the_profile_the_delivery_records_and_the_consent_statements(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    # Given Ada, who stated her consent and was sent her cart reminder
    handle(
        stack,
        mappings,
        customer_updated(
            "cus_vip_ada", "2026-11-23T09:00:00Z", marketing_consent=True, consent_source="import"
        ),
    )
    cart = samples["cart_abandoned/vip_ada.json"]
    put_events(stack, [cart])
    mappings.drain()
    sent = recorded_outcome(stack, cart)
    assert sent is not None and sent.decision == "sent"

    exported = export_customer(tables(stack), "cus_vip_ada", key(stack))

    stored = get_profile_item(stack.names["CustomersTable"], "cus_vip_ada")
    assert stored is not None
    profile = exported["profile"]
    assert profile["email"] == stored["email"] and profile["first_name"] == "Ada"
    assert profile["total_spent"] == str(stored["total_spent"])  # a Decimal, as stored, not a float
    assert list(profile) == sorted(profile)
    deliveries = {row["delivery_key"]: row for row in exported["deliveries"]}
    reminder = deliveries[delivery_key(sent.trigger, sent.business_id)]
    assert (reminder["decision"], reminder["subject"]) == ("sent", sent.subject)
    assert [
        (row["changed_at"], row["marketing_consent"], row["consent_source"])
        for row in exported["consent_history"]
    ] == [("2026-11-23T09:00:00.000000Z", True, "import")]
    # Ada was never suppressed nor erased: nothing on the list, and the notes say what was looked up
    assert exported["suppression_list"] == []
    assert any("address# row of the profile's current address" in note for note in exported["notes"])
    # Plain JSON, the same after a round trip
    assert json.loads(json.dumps(exported)) == exported


def test_an_erased_customer_s_export_shows_only_the_erasure_marker(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    # Given Olga (her address suppressed after a bounce), with a consent statement and a delivery record
    handle(
        stack,
        mappings,
        customer_updated(
            "cus_suppressed_olga", "2026-11-23T09:00:00Z", marketing_consent=True, consent_source="import"
        ),
    )
    put_events(stack, [samples["customer_lapsed/suppressed_olga.json"]])
    mappings.drain()
    before = export_customer(tables(stack), "cus_suppressed_olga", key(stack))
    assert before["profile"] is not None and before["deliveries"] and before["consent_history"]
    address = before["profile"]["email"]
    # Her suppression is on her profile, not yet on the list
    assert before["suppression_list"] == []

    # When the store asks for her erasure
    handle(stack, mappings, sample("4_deleted_olga.json"))
    after = export_customer(tables(stack), "cus_suppressed_olga", key(stack))

    # Then nothing about her is left but the marker of her erased id
    assert (after["profile"], after["deliveries"], after["consent_history"]) == (None, [], [])
    (marker,) = after["suppression_list"]
    assert marker["key_hash"].startswith("erased#")
    assert marker["requested_at"].startswith("2026-11-23T12:00:00") and marker["erased_at"]
    # Her address stays on the list as a keyed hash (so it is not emailed again), but the export cannot
    # find it: the address left with her profile, and the hash cannot be reversed. The notes say so.
    kept = suppression_list.rows(
        stack.names["SuppressionListTable"], [suppression_list.address_key(address_hash(key(stack), address))]
    )
    assert [row["reason"] for row in kept] == ["permanent_bounce"]
    assert not any(row["key_hash"].startswith("address#") for row in after["suppression_list"])
    assert any("an address# row" in note and "cannot be found" in note for note in after["notes"])
    assert address not in json.dumps(after)


def test_without_the_hash_key_the_suppression_list_is_not_looked_up_and_the_notes_say_so(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    handle(stack, mappings, sample("4_deleted_olga.json"))

    exported = export_customer(tables(stack), "cus_suppressed_olga", None)

    assert exported["suppression_list"] == []
    assert any("not looked up" in note and HASH_KEY_LOGICAL_ID in note for note in exported["notes"])


@pytest.fixture
def moto_of_its_own(moto: MotoEndpoint) -> Iterator[None]:
    """The command's local mode starts a moto server of its own, which resets moto's backends (one per
    process, shared by every server): the session's stack is gone after it, so the next test builds anew."""
    yield
    moto.stack = None
    ttl_cache.forget_all()


@pytest.mark.usefixtures("moto_of_its_own")
def test_the_command_prints_the_local_stack_s_export_as_json_and_nothing_else(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["export-customer", "--id", "cus_vip_ada"]) == 0

    printed: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert list(printed) == [
        "customer_id",
        "exported_at",
        "profile",
        "deliveries",
        "consent_history",
        "suppression_list",
        "notes",
    ]
    assert printed["customer_id"] == "cus_vip_ada"
    assert printed["profile"]["first_name"] == "Ada"
    # The sample day's cart reminder
    assert any(row["delivery_key"].startswith("cart_abandoned#") for row in printed["deliveries"])
    assert printed["exported_at"].startswith("2026-11-23T")
