"""A/B experiments on the stack: rows of the Experiments table split a trigger's emails by a stable
hash, the holdout is sent nothing, and a bad row never stops an email."""

from __future__ import annotations

import io
import json
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from local_stack.emulator.failures import CrashPoint, crash_at
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.rows import import_customers, put_experiment
from local_stack.emulator.run import put_events
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.stack import REPO_ROOT, LocalStack
from nudge import sandbox
from nudge.dal.deliveries import get_record
from nudge.experiments.assignment import assign
from nudge.experiments.running import arm_for, running_experiment
from nudge.profiles import Customer
from nudge.template_budget import Used
from nudge.triggers import CART_ABANDONED, TRIGGER_NAMES
from tests.conftest import sent_emails

CUSTOMERS = 80
TEMPLATES = str(REPO_ROOT / "templates")


def experiment(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "experiment_id": "cart-subject-nov",
        "trigger": "cart_abandoned",
        "status": "running",
        "holdout_percent": 10,
        "variants": [
            {"variant_id": "a", "weight": 50, "subject": "{{ customer.first_name }}, your cart misses you"},
            {
                "variant_id": "b",
                "weight": 50,
                "subject": "Still thinking it over, {{ customer.first_name }}?",
            },
        ],
    }
    return {**row, **changes}


@pytest.fixture
def shoppers(stack: LocalStack, samples: dict[str, SampleEvent]) -> list[SampleEvent]:
    """``CUSTOMERS`` consenting customers in London (no quiet hours at the sample time), each with a cart."""
    import_customers(
        stack.names["CustomersTable"],
        (
            Customer(
                customer_id=f"cus_exp_{number:03d}",
                email=f"shopper{number}@example.com",
                first_name="Robin",
                marketing_consent=True,
                locale="en-GB",
                timezone="Europe/London",
            )
            for number in range(CUSTOMERS)
        ),
    )
    cart = samples["cart_abandoned/vip_ada.json"]
    return [
        cart.varied(f"cart {number}", customer_id=f"cus_exp_{number:03d}", cart_id=f"cart_exp_{number:03d}")
        for number in range(CUSTOMERS)
    ]


def records(stack: LocalStack, count: int = CUSTOMERS) -> list[dict[str, Any]]:
    found = []
    for number in range(count):
        record = get_record(
            stack.names["DeliveriesTable"],
            f"cus_exp_{number:03d}",
            "cart_abandoned",
            f"cart_exp_{number:03d}",
        )
        assert record is not None
        found.append(record)
    return found


def test_a_running_experiment_splits_sends_by_variant_and_the_holdout_gets_nothing(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, shoppers: list[SampleEvent]
) -> None:
    put_experiment(stack.names["ExperimentsTable"], experiment())
    put_events(stack, shoppers)
    mappings.drain()
    decided = records(stack)
    arms = Counter(record["variant_id"] for record in decided)
    assert set(arms) == {"a", "b", "holdout"} and all(
        r["experiment_id"] == "cart-subject-nov" for r in decided
    )
    held_out = [r for r in decided if r["variant_id"] == "holdout"]
    assert all((r["decision"], r["reason"]) == ("skipped", "holdout") for r in held_out)
    # Exactly the variants' customers got an email, with their variant's subject and utm_term
    emails = sent_emails(moto)
    assert len(emails) == arms["a"] + arms["b"]
    subject_of = {"a": "Robin, your cart misses you", "b": "Still thinking it over, Robin?"}
    by_address = {str(email["To"]).split("<")[-1].rstrip(">"): email for email in emails}
    for record in decided:
        if record["variant_id"] == "holdout":
            continue
        email = by_address[f"shopper{int(record['customer_id'][-3:])}@example.com"]
        assert email["Subject"] == subject_of[record["variant_id"]] == record["subject"]
        html = email.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert f"utm_term=cart-subject-nov.{record['variant_id']}" in html


def test_a_customer_stays_in_their_arm_on_a_redelivery_and_on_the_next_step(
    stack: LocalStack,
    mappings: EventSourceMappings,
    shoppers: list[SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    put_experiment(stack.names["ExperimentsTable"], experiment())
    put_events(stack, shoppers[:20])
    mappings.drain()
    first = {r["customer_id"]: r["variant_id"] for r in records(stack, 20)}
    # The same carts' second reminders a day later (past the frequency cap), each delivered twice
    clock.shift(25 * 3600)
    second_steps = [
        shopper.varied(shopper.name, step=2, customer_id=shopper.event["detail"]["customer_id"])
        for shopper in shoppers[:20]
    ]
    put_events(stack, [*second_steps, *second_steps])
    mappings.drain()
    for number in range(20):
        customer_id = f"cus_exp_{number:03d}"
        step2 = get_record(
            stack.names["DeliveriesTable"], customer_id, "cart_abandoned", f"cart_exp_{number:03d}#2"
        )
        assert step2 is not None and step2.get("variant_id") == first[customer_id]


@pytest.mark.parametrize(
    ("bad_row", "field"),
    [
        (
            experiment(variants=[{"variant_id": "a", "weight": 60}, {"variant_id": "b", "weight": 50}]),
            "variants",
        ),
        (experiment(trigger="cart_abandonned"), "trigger"),
        (
            experiment(variants=[{"variant_id": "a", "weight": 100, "subject": "{{ coupon.code }} inside"}]),
            "variants.0.subject",
        ),
        (
            experiment(variants=[{"variant_id": "a", "weight": 100, "subject": "{% if %}"}]),
            "variants.0.subject",
        ),
        (experiment(holdout_percent="ten"), "holdout_percent"),
        (
            experiment(
                variants=[
                    {
                        "variant_id": "a",
                        "weight": 100,
                        "subject": "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}"
                        "{% endfor %}",
                    }
                ]
            ),
            "variants.0.subject",
        ),
        # A 500 KB subject would not fit the delivery record's claim (400 KB an item)
        (
            experiment(variants=[{"variant_id": "a", "weight": 100, "subject": "{{ 'x' * 500000 }}"}]),
            "variants.0.subject",
        ),
    ],
    ids=[
        "weights",
        "trigger",
        "undefined-variable",
        "does-not-compile",
        "holdout",
        "subject-nested-huge-ranges",
        "subject-past-the-claims-size",
    ],
)
def test_an_invalid_experiment_is_ignored_with_a_metric_and_the_emails_go_out_as_before(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    shoppers: list[SampleEvent],
    service_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    bad_row: dict[str, Any],
    field: str,
) -> None:
    put_experiment(stack.names["ExperimentsTable"], bad_row)
    put_events(stack, shoppers[:5])
    mappings.drain()
    assert len(sent_emails(moto)) == 5
    assert all("variant_id" not in record for record in records(stack, 5))
    logs = service_logs.getvalue()
    assert '"experiment_id":"cart-subject-nov"' in logs and f'"field":"{field}"' in logs
    metrics = capsys.readouterr().out
    assert f'"experiment":"cart-subject-nov","field":"{field}"' in metrics
    assert '"InvalidExperiment":[1.0]' in metrics


@pytest.mark.parametrize(
    ("hostile", "field", "label"),
    [
        # A list where the trigger's name belongs (the console's JSON editor makes it one click away)
        (
            {**experiment(experiment_id="cart-typo"), "trigger": ["cart_abandoned"]},
            "trigger",
            "cart-typo",
        ),
        # An id as long as a key may be, variants as a map of garbage, a 300 KB holdout
        (
            {
                **experiment(experiment_id="é" * 1000, holdout_percent="9" * 300_000),
                "variants": {"a": {"weight": [Decimal(1), {"deep": [None, True]}]}},
            },
            "experiment_id",
            None,
        ),
        # Ten thousand variants
        (
            experiment(
                experiment_id="cart-many",
                variants=[{"variant_id": f"v{n}", "weight": 0} for n in range(10_000)],
            ),
            "variants",
            "cart-many",
        ),
    ],
    ids=["trigger-list", "huge-values", "ten-thousand-variants"],
)
def test_a_hostile_row_beside_a_valid_one_is_ignored_and_the_valid_experiment_still_runs(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    shoppers: list[SampleEvent],
    service_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    hostile: dict[str, Any],
    field: str,
    label: str | None,
) -> None:
    put_experiment(stack.names["ExperimentsTable"], experiment())
    put_experiment(stack.names["ExperimentsTable"], hostile)
    put_events(stack, shoppers[:10])
    report = mappings.drain()
    # Every record decided at once, in the valid experiment; every customer outside its holdout emailed
    assert (report.failed_records, report.died) == (0, 0)
    decided = records(stack, 10)
    assert all(record["experiment_id"] == "cart-subject-nov" for record in decided)
    emailed = [record for record in decided if record["variant_id"] != "holdout"]
    assert emailed and len(sent_emails(moto)) == len(emailed)
    subject_of = {"a": "Robin, your cart misses you", "b": "Still thinking it over, Robin?"}
    assert all(record["subject"] == subject_of[record["variant_id"]] for record in emailed)
    # The hostile row is named by its field, under a short label, and none of its data is logged
    metrics = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if "InvalidExperiment" in line
    ]
    assert metrics and {(metric["field"], len(metric["experiment"]) <= 64) for metric in metrics} == {
        (field, True)
    }
    if label is not None:
        assert {metric["experiment"] for metric in metrics} == {label}
    logs = service_logs.getvalue()
    assert f'"field":"{field}"' in logs and "é" * 100 not in logs and "9" * 100 not in logs


def test_two_running_experiments_on_one_trigger_are_an_error_naming_both(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    shoppers: list[SampleEvent],
    service_logs: io.StringIO,
) -> None:
    put_experiment(stack.names["ExperimentsTable"], experiment())
    put_experiment(stack.names["ExperimentsTable"], experiment(experiment_id="cart-offer-dec"))
    put_experiment(stack.names["ExperimentsTable"], experiment(experiment_id="old", status="stopped"))
    put_events(stack, shoppers[:3])
    mappings.drain()
    assert len(sent_emails(moto)) == 3
    assert '"experiments":["cart-offer-dec","cart-subject-nov"]' in service_logs.getvalue()


def test_a_draft_or_stopped_experiment_changes_nothing(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, shoppers: list[SampleEvent]
) -> None:
    put_experiment(stack.names["ExperimentsTable"], experiment(status="draft"))
    put_experiment(stack.names["ExperimentsTable"], experiment(experiment_id="old", status="stopped"))
    put_events(stack, shoppers[:3])
    mappings.drain()
    assert len(sent_emails(moto)) == 3
    assert all("variant_id" not in record for record in records(stack, 3))


def test_two_thousand_customers_read_through_the_table_split_within_four_points_of_the_weights(
    stack: LocalStack, samples: dict[str, SampleEvent]
) -> None:
    # The row as a marketer stores it, read and validated as the send path reads it, and each
    # customer's arm decided as the send path decides it (the send itself: the tests above)
    put_experiment(stack.names["ExperimentsTable"], experiment(holdout_percent=10))
    found = running_experiment(stack.names["ExperimentsTable"], "cart_abandoned", TRIGGER_NAMES)
    assert found is not None
    cart = CART_ABANDONED.parse(samples["cart_abandoned/vip_ada.json"].event)
    context = {"customer": Customer(customer_id="c", email="c@example.com", first_name="Robin"), "cart": cart}
    arms = Counter(
        arm.variant_id
        for number in range(2000)
        if (
            arm := arm_for(
                found, f"cus_{number:05d}", templates_dir=TEMPLATES, language="en", context=context
            )
        )
    )
    assert sum(arms.values()) == 2000
    for arm_id, weight in {"holdout": 10, "a": 45, "b": 45}.items():
        assert abs(arms[arm_id] / 20 - weight) <= 4, arms


@pytest.mark.parametrize("operation", ["UpdateItem", "PutItem"])
def test_a_crash_after_the_holdouts_cap_slot_or_its_record_sends_nothing_and_records_it_once(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    shoppers: list[SampleEvent],
    operation: str,
) -> None:
    put_experiment(stack.names["ExperimentsTable"], experiment(holdout_percent=99))
    found = running_experiment(stack.names["ExperimentsTable"], "cart_abandoned", TRIGGER_NAMES)
    assert found is not None
    held = next(s for s in shoppers if assign(found, s.event["detail"]["customer_id"]).is_holdout)
    # Given the function dies right after its one profile write (the cap slot, with the cart noted)
    # or right after the holdout record's PutItem, and SQS redelivers after the visibility timeout
    with crash_at(CrashPoint(service="dynamodb", operation=operation)):
        put_events(stack, [held])
        report = mappings.drain()
    assert report.died == 1
    customer_id = held.event["detail"]["customer_id"]
    record = get_record(
        stack.names["DeliveriesTable"], customer_id, "cart_abandoned", f"cart_exp_{customer_id[-3:]}"
    )
    assert record is not None and (record["decision"], record["reason"], record["variant_id"]) == (
        "skipped",
        "holdout",
        "holdout",
    )
    assert sent_emails(moto) == []


def test_a_variant_subject_that_passed_its_check_is_sent_even_if_a_second_render_would_not_pass(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    shoppers: list[SampleEvent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a subject whose render passes its budget once and then not (on a loaded machine a
    # subject near the CPU-time bound can pass one render and miss the next)
    put_experiment(stack.names["ExperimentsTable"], experiment(holdout_percent=0))
    real_render = sandbox.render
    renders: list[str] = []

    def budget_passes_once(template: Any, context: Any, budget: Any) -> str:
        renders.append(template.name or "")
        if len(renders) > 2:  # after each variant's subject once
            raise sandbox.BudgetExceeded("time", budget, Used())
        return real_render(template, context, budget)

    monkeypatch.setattr(sandbox, "render", budget_passes_once)
    # When one customer's cart comes in
    put_events(stack, shoppers[:1])
    mappings.drain()
    # Then the email goes out once, with the variant subject that was checked, and nothing is retried
    (record,) = records(stack, count=1)
    (email,) = sent_emails(moto)
    assert record["decision"] == "sent" and email["Subject"] == record["subject"]
    assert email["Subject"] in ("Robin, your cart misses you", "Still thinking it over, Robin?")
    assert len(renders) == 2
