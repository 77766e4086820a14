"""The store's customers as events on the local stack: Customer Updated creates and changes profiles
(newest wins per field group, in any order), keeps every consent statement, and Customer Deleted
erases everything that holds the customer's personal data, exactly once whatever fails."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from local_stack.emulator import clients
from local_stack.emulator.failures import CrashPoint, Refusal, crash_at, refusing
from local_stack.emulator.fresh import empty_data
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.run import dead_letter_messages, put_events, recorded_outcome, run_in_order
from local_stack.emulator.scenario import SampleEvent, load_customer_events, load_follow_ups, load_sample_rows
from local_stack.emulator.seed import create_sample_customers, seed_sample_data
from local_stack.emulator.stack import LocalStack
from nudge.dal.customers import get_customer, get_profile_item
from nudge.dal.items import from_item, to_item
from nudge.timeutil import to_stored, utc_now
from tests.conftest import sent_emails

PROFILE_FUNCTIONS = ["CustomerUpdatedFunction", "CustomerDeletedFunction"]
CUSTOMER_SAMPLES = {sample.name: sample for sample in load_customer_events()}


def sample(name: str) -> SampleEvent:
    return CUSTOMER_SAMPLES[f"customers/{name}"]


def customer_updated(customer_id: str, updated_at: str, **fields: Any) -> SampleEvent:
    event = json.loads(json.dumps(sample("1_signup_lin.json").event))
    event["detail"] = {"customer_id": customer_id, "updated_at": updated_at, **fields}
    return SampleEvent(name=f"{customer_id}@{updated_at}", event=event, expectation={})


def customer_deleted(customer_id: str, requested_at: str) -> SampleEvent:
    event = json.loads(json.dumps(sample("4_deleted_olga.json").event))
    event["detail"] = {"customer_id": customer_id, "requested_at": requested_at}
    return SampleEvent(name=f"delete {customer_id}", event=event, expectation={})


def handle(stack: LocalStack, mappings: EventSourceMappings, *events: SampleEvent) -> None:
    """Each event on the bus and handled before the next (so the arrival order is the given one)."""
    for event in events:
        put_events(stack, [event])
        mappings.drain(only=PROFILE_FUNCTIONS)


def profile(stack: LocalStack, customer_id: str) -> dict[str, Any] | None:
    return get_profile_item(stack.names["CustomersTable"], customer_id)


def dead_letters(stack: LocalStack, logical_id: str) -> list[dict[str, Any]]:
    messages = dead_letter_messages(stack, logical_id)
    return [
        {
            "detail": json.loads(m["Body"])["detail"],
            "problems": json.loads(m["MessageAttributes"]["nudge_problems"]["StringValue"]),
        }
        for m in messages
    ]


def table_rows(stack: LocalStack, logical_id: str) -> list[dict[str, Any]]:
    items = clients.dynamodb(stack.region).scan(TableName=stack.names[logical_id])["Items"]
    return [from_item(item) for item in items]


# ---------------------------------------------------------------- Customer Updated


def test_every_customer_sample_does_what_its_expectation_says(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    results = run_in_order(stack, mappings, list(CUSTOMER_SAMPLES.values()))
    assert [r.sample.name for r in results if not r.as_expected] == []
    assert {r.dead_letter_queue for r in results if r.sample.is_invalid} == {
        "CustomerUpdatedDLQ",
        "CustomerDeletedDLQ",
    }


def test_a_new_customer_is_created_from_the_event_and_gets_emails(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    # Given a store that has never written the Customers table: a sign-up at checkout
    handle(stack, mappings, sample("1_signup_lin.json"))
    customer = get_customer(stack.names["CustomersTable"], "cus_signup_lin")
    assert customer is not None
    assert (customer.email, customer.first_name, customer.locale, customer.country) == (
        "lin.wei@example.com",
        "Lin",
        "en-GB",
        "GB",
    )
    assert customer.marketing_consent is True
    # When Lin abandons a cart, the email goes out
    cart = samples["cart_abandoned/vip_ada.json"].varied("lin's cart", customer_id="cus_signup_lin")
    put_events(stack, [cart])
    mappings.drain()
    outcome = recorded_outcome(stack, cart)
    assert outcome is not None and outcome.decision == "sent"


def test_a_customer_created_without_a_first_name_is_still_emailed(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent], moto: MotoEndpoint
) -> None:
    handle(
        stack,
        mappings,
        customer_updated(
            "cus_only_address", "2026-11-23T09:00:00Z", email="a@example.com", marketing_consent=True
        ),
    )
    cart = samples["cart_abandoned/vip_ada.json"].varied("cart", customer_id="cus_only_address")
    put_events(stack, [cart])
    mappings.drain()
    outcome = recorded_outcome(stack, cart)
    assert outcome is not None and outcome.decision == "sent"
    assert outcome.subject and "None" not in outcome.subject and not outcome.subject.startswith(","), (
        outcome.subject
    )
    # Greeted without a name, and addressed to the bare address
    (email,) = [e for e in sent_emails(moto) if e["To"].addresses[0].addr_spec == "a@example.com"]
    assert email["Subject"] == "You left something in your cart"
    assert str(email["To"]) == "a@example.com"
    assert all("None" not in part.get_content() for part in email.iter_parts())


@pytest.mark.parametrize("newer_first", [True, False], ids=["newer first", "older first"])
def test_the_newest_updated_at_wins_per_field_group_whatever_the_arrival_order(
    stack: LocalStack, mappings: EventSourceMappings, newer_first: bool
) -> None:
    create = customer_updated("cus_order", "2026-11-20T09:00:00Z", email="old@example.com", first_name="Old")
    older = customer_updated(
        "cus_order", "2026-11-21T09:00:00Z", first_name="Older", last_name="Name", timezone="Europe/Paris"
    )
    newer = customer_updated("cus_order", "2026-11-22T09:00:00Z", first_name="Newer", email="new@example.com")
    handle(stack, mappings, create, *((newer, older) if newer_first else (older, newer)))
    stored = profile(stack, "cus_order")
    assert stored is not None
    # The name group is the newer event's, whole: the older last_name does not mix in when it is late
    expected_last_name = None if newer_first else "Name"
    assert (stored["first_name"], stored.get("last_name")) == ("Newer", expected_last_name)
    # Groups only the older event names are its own (nothing newer touched them)
    assert stored["timezone"] == "Europe/Paris"
    assert stored["email"] == "new@example.com"


def test_the_same_event_twice_and_a_late_older_event_change_nothing(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    create = customer_updated("cus_twice", "2026-11-20T09:00:00Z", email="t@example.com", locale="de-DE")
    handle(stack, mappings, create)
    before = profile(stack, "cus_twice")
    late = customer_updated("cus_twice", "2026-11-19T09:00:00Z", locale="fr-FR", email="x@example.com")
    handle(stack, mappings, create, late)
    assert profile(stack, "cus_twice") == before


def test_changes_within_one_second_keep_their_order(stack: LocalStack, mappings: EventSourceMappings) -> None:
    handle(
        stack,
        mappings,
        customer_updated(
            "cus_fast", "2026-11-20T09:00:00.100Z", email="f@example.com", marketing_consent=True
        ),
        customer_updated("cus_fast", "2026-11-20T09:00:00.900Z", marketing_consent=False),
    )
    stored = profile(stack, "cus_fast")
    assert stored is not None and stored["marketing_consent"] is False


def test_a_partial_update_changes_only_the_fields_present_and_null_clears(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    before = profile(stack, "cus_new_priya")
    assert before is not None and before["last_name"] == "Sharma"
    handle(stack, mappings, sample("3_name_cleared_priya.json"))
    after = profile(stack, "cus_new_priya")
    assert after is not None
    assert "last_name" not in after
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == {"last_name", "timezone_updated_at", "name_updated_at"}


@pytest.mark.parametrize(
    "name", [n.removeprefix("customers/") for n, s in CUSTOMER_SAMPLES.items() if s.is_invalid]
)
def test_an_invalid_event_is_dead_lettered_naming_the_field_and_changes_nothing(
    stack: LocalStack, mappings: EventSourceMappings, name: str
) -> None:
    invalid = sample(name)
    customers_before = table_rows(stack, "CustomersTable")
    handle(stack, mappings, invalid)
    queue = "CustomerUpdatedDLQ" if invalid.detail_type == "Customer Updated" else "CustomerDeletedDLQ"
    (dead,) = dead_letters(stack, queue)
    expected = invalid.expectation["rejected"]
    assert dead["detail"] == invalid.event["detail"]
    assert {(p["field"], p["error"]) for p in dead["problems"]} == {
        ("body." + expected["field"], expected["error"])
    }
    assert table_rows(stack, "CustomersTable") == customers_before
    assert table_rows(stack, "ConsentHistoryTable") == []


def test_an_update_dated_decades_ahead_is_dead_lettered_and_does_not_freeze_the_profile(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    # Given a customer, and an update of her name that says it was made in 2099
    handle(stack, mappings, customer_updated("cus_ahead", "2026-11-20T09:00:00Z", email="a@example.com"))
    handle(stack, mappings, customer_updated("cus_ahead", "2099-06-01T00:00:00Z", first_name="Future"))
    # Then it is refused naming the field, and a real update of the name still applies
    (dead,) = dead_letters(stack, "CustomerUpdatedDLQ")
    assert dead["problems"] == [{"field": "body.detail.updated_at", "error": "timestamp_in_future"}]
    handle(stack, mappings, customer_updated("cus_ahead", "2026-11-23T09:00:00Z", first_name="Present"))
    stored = profile(stack, "cus_ahead")
    assert stored is not None and stored["first_name"] == "Present"


def test_an_erasure_requested_decades_ahead_is_dead_lettered_naming_the_field(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    handle(stack, mappings, customer_deleted("cus_vip_ada", "2099-06-01T00:00:00Z"))
    (dead,) = dead_letters(stack, "CustomerDeletedDLQ")
    assert dead["problems"] == [{"field": "body.detail.requested_at", "error": "timestamp_in_future"}]
    assert profile(stack, "cus_vip_ada") is not None


def test_the_failure_log_never_holds_the_address(
    stack: LocalStack, mappings: EventSourceMappings, service_logs: Any
) -> None:
    handle(stack, mappings, sample("invalid_email.json"), sample("1_signup_lin.json"))
    logged = service_logs.getvalue()
    assert "lin.wei" not in logged and "Lin" not in logged.replace("Line", "")


# ---------------------------------------------------------------- consent


def test_every_consent_statement_is_kept_with_its_time_value_and_source(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    handle(
        stack,
        mappings,
        sample("1_signup_lin.json"),
        customer_updated(
            "cus_signup_lin",
            "2026-11-23T12:00:00Z",
            marketing_consent=False,
            consent_source="preference_center",
        ),
        # a statement from before, arriving late: kept in the history, not applied
        customer_updated(
            "cus_signup_lin", "2026-11-01T08:00:00Z", marketing_consent=True, consent_source="import"
        ),
        customer_updated(
            "cus_signup_lin",
            "2026-11-23T12:00:00Z",
            marketing_consent=False,
            consent_source="preference_center",
        ),
    )
    history = sorted(
        (r["changed_at"], r["marketing_consent"], r["consent_source"])
        for r in table_rows(stack, "ConsentHistoryTable")
    )
    assert history == [
        ("2026-11-01T08:00:00.000000Z", True, "import"),
        ("2026-11-23T09:58:12.250000Z", True, "checkout"),
        ("2026-11-23T12:00:00.000000Z", False, "preference_center"),
    ]
    stored = profile(stack, "cus_signup_lin")
    assert stored is not None and (stored["marketing_consent"], stored["consent_source"]) == (
        False,
        "preference_center",
    )


# Each write a Customer Updated makes, in order: a sign-up with consent (the statement, the new
# profile), then a withdrawal with a new address for a suppressed customer (the old address on the
# suppression list, the statement, the profile's change).
CUSTOMER_UPDATED_WRITES = [
    ("signup", "PutItem", 1),
    ("signup", "PutItem", 2),
    ("change", "PutItem", 1),
    ("change", "PutItem", 2),
    ("change", "UpdateItem", 1),
]


def _olga_moves_and_withdraws() -> SampleEvent:
    return customer_updated(
        "cus_suppressed_olga",
        "2026-11-23T10:00:00Z",
        email="olga.new@example.com",
        marketing_consent=False,
        consent_source="preference_center",
    )


def _stored_state(stack: LocalStack) -> tuple[Any, ...]:
    consent = sorted(
        (r["customer_id"], r["changed_at"], r["marketing_consent"], r["consent_source"])
        for r in table_rows(stack, "ConsentHistoryTable")
    )
    listed = sorted((r["key_hash"], r.get("reason")) for r in table_rows(stack, "SuppressionListTable"))
    profiles = {
        customer_id: {k: v for k, v in (profile(stack, customer_id) or {}).items() if k != "created_at"}
        for customer_id in ("cus_signup_lin", "cus_suppressed_olga")
    }
    return consent, listed, profiles


def _start_over(stack: LocalStack) -> None:
    """The sample data and nothing else, as at the start of the test."""
    empty_data(stack)
    seed_sample_data(stack)


@pytest.mark.parametrize(("step", "operation", "nth"), CUSTOMER_UPDATED_WRITES)
def test_a_crash_after_any_write_of_a_customer_updated_ends_as_if_it_had_not_happened(
    stack: LocalStack, mappings: EventSourceMappings, step: str, operation: str, nth: int
) -> None:
    # Given what the events leave behind when nothing fails
    handle(stack, mappings, sample("1_signup_lin.json"), _olga_moves_and_withdraws())
    clean = _stored_state(stack)
    _start_over(stack)
    # When the function dies right after that write, and SQS delivers the event again
    if step == "change":
        handle(stack, mappings, sample("1_signup_lin.json"))
    with crash_at(CrashPoint(service="dynamodb", operation=operation, nth=nth)):
        put_events(stack, [sample("1_signup_lin.json") if step == "signup" else _olga_moves_and_withdraws()])
        report = mappings.drain(only=PROFILE_FUNCTIONS)
    assert report.died == 1
    if step == "signup":
        handle(stack, mappings, _olga_moves_and_withdraws())
    # Then every table holds what it holds without the crash: one statement each, no duplicate
    assert _stored_state(stack) == clean


@pytest.mark.parametrize("operation", ["PutItem", "UpdateItem"])
def test_a_throttled_write_of_a_customer_updated_is_retried_and_applied_once(
    stack: LocalStack, mappings: EventSourceMappings, operation: str
) -> None:
    handle(stack, mappings, sample("1_signup_lin.json"), _olga_moves_and_withdraws())
    clean = _stored_state(stack)
    _start_over(stack)
    handle(stack, mappings, sample("1_signup_lin.json"))
    with refusing(Refusal(service="dynamodb", operation=operation)):
        handle(stack, mappings, _olga_moves_and_withdraws())
    assert _stored_state(stack) == clean


def test_a_withdrawn_consent_stops_a_deferred_email_at_send_time(
    stack: LocalStack,
    mappings: EventSourceMappings,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    from local_stack.emulator.one_time_schedules import deliver_deferred

    # Given Mei's cart email waits for her morning in Sydney
    mei = samples["cart_abandoned/night_in_sydney_mei.json"]
    put_events(stack, [mei])
    mappings.drain()
    deferred = recorded_outcome(stack, mei)
    assert deferred is not None and deferred.decision == "deferred"
    # When she withdraws her consent before the morning
    handle(
        stack, mappings, customer_updated("cus_night_owl_mei", to_stored(utc_now()), marketing_consent=False)
    )
    deliver_deferred(stack, mappings, clock.move_to)
    # Then the morning delivery is skipped, and so is every later reminder of the series
    morning = recorded_outcome(stack, mei)
    assert morning is not None and (morning.decision, morning.reason) == ("skipped", "no_consent")


def test_a_withdrawn_consent_stops_the_next_step_of_a_cart_series(
    stack: LocalStack,
    mappings: EventSourceMappings,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    from local_stack.emulator.one_time_schedules import deliver_deferred
    from nudge.triggers import CART_ABANDONED

    jonas = samples["cart_abandoned/new_customer_jonas.json"]
    put_events(stack, [jonas])
    mappings.drain()
    first = recorded_outcome(stack, jonas)
    assert first is not None and first.decision == "sent"
    (withdrawal,) = [f for f in load_follow_ups() if f.name.endswith("3_consent_withdrawn_jonas.json")]
    handle(stack, mappings, withdrawal)
    deliver_deferred(stack, mappings, clock.move_to)
    cart = CART_ABANDONED.parse(jonas.event)
    for step in (2, 3):
        step_event = jonas.varied(f"step {step}", step=step)
        outcome = recorded_outcome(stack, step_event)
        assert outcome is not None and (outcome.decision, outcome.reason) == ("skipped", "no_consent"), step
    assert cart.customer_id == "cus_new_jonas"


def test_new_consent_after_an_unsubscribe_lifts_it_and_an_older_one_does_not(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    yuki = profile(stack, "cus_unsubscribed_yuki")
    assert yuki is not None and yuki.get("unsubscribed_at")
    before_unsubscribe = "2020-01-01T00:00:00Z"
    handle(
        stack, mappings, customer_updated("cus_unsubscribed_yuki", before_unsubscribe, marketing_consent=True)
    )
    assert profile(stack, "cus_unsubscribed_yuki")["unsubscribed_at"]  # type: ignore[index]
    handle(
        stack,
        mappings,
        customer_updated("cus_unsubscribed_yuki", to_stored(utc_now()), marketing_consent=True),
    )
    assert "unsubscribed_at" not in profile(stack, "cus_unsubscribed_yuki")  # type: ignore[operator]


# ---------------------------------------------------------------- suppression follows the address


def test_a_suppressed_address_moved_to_another_customer_stays_suppressed(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    olga = profile(stack, "cus_suppressed_olga")
    assert olga is not None and olga.get("suppressed_reason")
    address = olga["email"]
    now = to_stored(utc_now())
    # Olga's account moves to a new address; the old one goes to her partner's new account
    handle(
        stack,
        mappings,
        customer_updated("cus_suppressed_olga", now, email="olga.new@example.com"),
        customer_updated("cus_partner", now, email=address.upper(), marketing_consent=False),
    )
    moved = profile(stack, "cus_suppressed_olga")
    partner = profile(stack, "cus_partner")
    assert moved is not None and "suppressed_reason" not in moved
    assert partner is not None and partner["suppressed_reason"] == olga["suppressed_reason"]
    # until the partner brings consent given after the suppression
    handle(
        stack,
        mappings,
        customer_updated("cus_partner", to_stored(utc_now() + timedelta(seconds=1)), marketing_consent=True),
    )
    assert "suppressed_reason" not in profile(stack, "cus_partner")  # type: ignore[operator]


def test_a_changed_email_is_used_by_the_next_send(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent], moto: Any
) -> None:
    handle(stack, mappings, sample("2_email_changed_ada.json"))
    put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
    mappings.drain()
    recipients = [raw for raw in moto.sent_raw_emails().values() if "lovelace" in raw]
    assert recipients and all("ada@lovelace.example" in raw for raw in recipients)


# ---------------------------------------------------------------- Customer Deleted


def personal_strings(stack: LocalStack, customer_id: str) -> list[str]:
    stored = profile(stack, customer_id)
    assert stored is not None
    return [
        stored["email"],
        stored["first_name"],
        *([stored["last_name"]] if stored.get("last_name") else []),
    ]


def everything_stored(stack: LocalStack) -> str:
    """Every row of every table, as text."""
    tables = [logical for logical, kind in stack.types.items() if kind == "AWS::DynamoDB::Table"]
    return json.dumps({t: table_rows(stack, t) for t in tables}, default=str)


def test_erasure_leaves_no_row_with_the_address_or_name_and_later_events_find_an_unknown_customer(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    # Given Ada with emails, a consent history, engagement and a cart note
    ada = samples["cart_abandoned/vip_ada.json"]
    handle(
        stack,
        mappings,
        customer_updated(
            "cus_vip_ada", "2026-11-23T09:00:00Z", marketing_consent=True, consent_source="import"
        ),
    )
    put_events(stack, [ada])
    mappings.drain()
    secrets = personal_strings(stack, "cus_vip_ada")
    assert all(s in everything_stored(stack) for s in secrets)
    # When the store asks for her erasure
    handle(stack, mappings, customer_deleted("cus_vip_ada", to_stored(utc_now())))
    # Then nothing stored holds her address or name, nor her id outside hashes
    stored = everything_stored(stack)
    assert [s for s in secrets if s in stored] == []
    assert "cus_vip_ada" not in stored
    # And her next cart is an unknown customer's
    later = ada.varied("later cart", cart_id="cart_after_erasure")
    put_events(stack, [later])
    mappings.drain()
    outcome = recorded_outcome(stack, later)
    assert outcome is not None and outcome.reason == "unknown_customer"


def test_a_late_update_older_than_the_erasure_does_not_bring_the_customer_back(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    handle(stack, mappings, customer_deleted("cus_vip_ada", "2026-11-23T12:00:00Z"))
    late = customer_updated("cus_vip_ada", "2026-11-23T11:00:00Z", email="ada@example.com", first_name="Ada")
    handle(stack, mappings, late)
    assert profile(stack, "cus_vip_ada") is None
    # a sign-up after the erasure is a new customer
    handle(stack, mappings, customer_updated("cus_vip_ada", "2026-11-23T13:00:00Z", email="ada@example.com"))
    assert profile(stack, "cus_vip_ada") is not None


def test_an_erased_suppressed_address_stays_suppressed_until_new_consent(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    olga = profile(stack, "cus_suppressed_olga")
    assert olga is not None
    address, reason = olga["email"], olga["suppressed_reason"]
    handle(stack, mappings, sample("4_deleted_olga.json"))
    assert address not in everything_stored(stack)
    handle(stack, mappings, customer_updated("cus_olga_again", to_stored(utc_now()), email=address))
    again = profile(stack, "cus_olga_again")
    assert again is not None and again["suppressed_reason"] == reason
    handle(
        stack,
        mappings,
        customer_updated(
            "cus_olga_again", to_stored(utc_now() + timedelta(seconds=1)), marketing_consent=True
        ),
    )
    assert "suppressed_reason" not in profile(stack, "cus_olga_again")  # type: ignore[operator]


ERASURE_CALLS = [
    ("dynamodb", "PutItem", 1),  # the erasure remembered
    ("dynamodb", "UpdateItem", 1),  # the profile marked
    ("dynamodb", "PutItem", 2),  # the address kept hashed
    ("dynamodb", "BatchWriteItem", 1),  # delivery records deleted
    ("dynamodb", "BatchWriteItem", 2),  # consent statements deleted
    ("dynamodb", "DeleteItem", 1),  # the profile deleted
    ("dynamodb", "UpdateItem", 2),  # the erasure noted as done
]


@pytest.mark.parametrize(("service", "operation", "nth"), ERASURE_CALLS)
def test_erasure_finishes_exactly_once_after_a_crash_after_any_write(
    stack: LocalStack,
    mappings: EventSourceMappings,
    samples: dict[str, SampleEvent],
    service: str,
    operation: str,
    nth: int,
    service_logs: Any,
) -> None:
    # Given Olga (suppressed), with a consent statement and a delivery record
    handle(
        stack,
        mappings,
        customer_updated(
            "cus_suppressed_olga", "2026-11-23T09:00:00Z", marketing_consent=True, consent_source="import"
        ),
    )
    put_events(stack, [samples["customer_lapsed/suppressed_olga.json"]])
    mappings.drain()
    secrets = personal_strings(stack, "cus_suppressed_olga")
    # When the erasure's function dies right after that write, and SQS delivers it again
    with crash_at(CrashPoint(service=service, operation=operation, nth=nth)):
        put_events(stack, [sample("4_deleted_olga.json")])
        report = mappings.drain(only=PROFILE_FUNCTIONS)
    assert report.died == 1
    # Then the retry finished it: nothing holds her, her address is kept only as a keyed hash, and
    # the erasure was completed once
    stored = everything_stored(stack)
    assert [s for s in secrets if s in stored] == []
    assert '"address#' in stored
    (erasure,) = [r for r in table_rows(stack, "SuppressionListTable") if r["key_hash"].startswith("erased#")]
    assert erasure["erased_at"]
    # And a duplicate of the request finds it done
    handle(stack, mappings, sample("4_deleted_olga.json"))
    logged = [
        json.loads(line) for line in service_logs.getvalue().splitlines() if '"customer erased"' in line
    ]
    assert [line["completed_now"] for line in logged][-1] is False


def test_a_throttled_delete_is_retried_and_finishes(stack: LocalStack, mappings: EventSourceMappings) -> None:
    secrets = personal_strings(stack, "cus_suppressed_olga")
    with refusing(Refusal(service="dynamodb", operation="DeleteItem")):
        handle(stack, mappings, sample("4_deleted_olga.json"))
    stored = everything_stored(stack)
    assert [s for s in secrets if s in stored] == []


def test_the_demo_creates_the_sample_customers_through_events_exactly_as_seeded(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    # Given the profiles the tests seed straight into the table
    table = stack.names["CustomersTable"]
    ids = [row["customer_id"] for row in load_sample_rows("customers")]
    seeded = {customer_id: get_customer(table, customer_id) for customer_id in ids}
    for customer_id in ids:
        clients.dynamodb(stack.region).delete_item(TableName=table, Key=to_item({"customer_id": customer_id}))
    # When they come in as the demo brings them: Customer Updated events, then their history
    assert create_sample_customers(stack, mappings) == len(ids)
    # Then every profile reads the same to the send path
    assert {customer_id: get_customer(table, customer_id) for customer_id in ids} == seeded


def test_an_order_that_overtakes_its_customer_updated_still_gets_its_thank_you(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent], service_logs: Any
) -> None:
    # Given a store that sends a new customer's Customer Updated and Order Placed at the same checkout
    now = utc_now()
    order = samples["order_placed/first_order_priya.json"].varied("first order", customer_id="cus_new_kim")
    order = order.sent_at(now)
    signup = customer_updated(
        "cus_new_kim", to_stored(now), email="kim@example.com", first_name="Kim", marketing_consent=True
    )
    # When the order is handled first (the profile is not there yet)
    put_events(stack, [order])
    mappings.drain(only=["OrderPlacedFunction"], max_wait_seconds=0)
    assert recorded_outcome(stack, order) is None
    # and the Customer Updated right after
    handle(stack, mappings, signup)
    mappings.drain()
    # Then the order came back and its email was sent; the wait was no failure
    outcome = recorded_outcome(stack, order)
    assert outcome is not None and outcome.decision == "sent"
    logs = service_logs.getvalue()
    assert "event processing failed" not in logs and "event waits; it comes back later" in logs, logs


def test_an_event_for_a_customer_who_never_comes_is_skipped_once_the_wait_is_over(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    cart = (
        samples["cart_abandoned/vip_ada.json"].varied("cart", customer_id="cus_never_sent").sent_at(utc_now())
    )
    put_events(stack, [cart])
    report = mappings.drain()
    outcome = recorded_outcome(stack, cart)
    assert outcome is not None and outcome.reason == "unknown_customer"
    assert 600 <= report.waited_seconds < 3600
