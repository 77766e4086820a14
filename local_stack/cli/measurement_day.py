"""A day of measurement on the local stack: a running A/B experiment on the cart reminder, carts of
synthetic shoppers, then what they do with the emails (SES's delivery, open and click events, in SES's
exact shapes) and the orders they place; then the report (``reporting``) of the tables it left.

What each shopper does is drawn from a seeded random generator with a rate per arm, so the run is
the same every time, and the plan is kept: ``expected`` is the hand count the report must equal.

``make report`` runs it on its own (``python -m local_stack.cli.measurement_day``); ``make demo`` ends
with it.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import time_machine

from local_stack.emulator import clients
from local_stack.emulator.capture import stdout_to
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import running_moto
from local_stack.emulator.rows import import_customers, put_experiment
from local_stack.emulator.run import publish_all_as_ses, put_events
from local_stack.emulator.scenario import SampleEvent, load_sample_events
from local_stack.emulator.seed import seed_sample_data, verify_sender_identity
from local_stack.emulator.ses_events import engagement_event, mail_object
from local_stack.emulator.stack import REPO_ROOT, LocalStack, build_stack
from nudge.dal.deliveries import get_record
from nudge.outcome import Outcome
from nudge.profiles import Customer
from nudge.timeutil import to_stored
from reporting import Report, build_report, read_tables, render

DAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
"""The carts are abandoned at 09:00 in London; the day's events follow until the evening."""
EXPERIMENT: dict[str, Any] = {
    "experiment_id": "cart-subject-dec",
    "trigger": "cart_abandoned",
    "status": "running",
    "holdout_percent": 25,
    "variants": [
        {"variant_id": "a", "weight": 50},
        {"variant_id": "b", "weight": 50, "subject": "{{ customer.first_name }}, we kept your cart for you"},
    ],
}


@dataclass(frozen=True)
class Behaviour:
    """Per recipient (per holdout customer for ``orders``): the chance of each step."""

    opens: float
    clicks: float
    """Of those who open."""
    orders: float
    """Of those who click; for the holdout, of everyone."""
    browse_orders: float = 0.0
    """Of those who click and order: the order names no cart (attributed by the click)."""


BEHAVIOUR = {
    "a": Behaviour(opens=0.50, clicks=0.30, orders=0.45, browse_orders=0.2),
    "b": Behaviour(opens=0.60, clicks=0.40, orders=0.55, browse_orders=0.2),
    "holdout": Behaviour(opens=0.0, clicks=0.0, orders=0.03),
}
DELIVERED = 0.98
DEMO_CUSTOMERS = 100
"""Enough for every column of the report, few enough for the demo to stay quick."""
REPORT_CUSTOMERS = 450
"""``make report``: enough recipients per arm for the tests to call a difference."""


@dataclass
class Expected:
    """The hand count of what the day should show in the report, per arm."""

    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    converted: int = 0
    revenue: Decimal = Decimal(0)


@dataclass
class MeasurementDay:
    report: Report
    expected: dict[str, Expected] = field(default_factory=dict)

    def differences(self) -> list[str]:
        """Where the report and the hand count disagree (empty when they agree)."""
        experiment = self.report.experiments[EXPERIMENT["experiment_id"]]
        found = []
        for arm_id, expected in self.expected.items():
            arm = experiment.arms[arm_id]
            reported = {
                "sent": arm.sent if arm_id != "holdout" else arm.recipients,
                "delivered": arm.delivered,
                "opened": arm.opened,
                "clicked": arm.clicked,
                "converted": arm.converted,
                "revenue": arm.revenue,
            }
            for name, value in reported.items():
                if value != getattr(expected, name):
                    found.append(f"{arm_id} {name}: report {value}, hand count {getattr(expected, name)}")
        return found


def shoppers(count: int) -> list[Customer]:
    return [
        Customer(
            customer_id=f"cus_day_{number:04d}",
            email=f"shopper{number}@example.net",
            first_name=("Alex", "Sam", "Kim", "Noor", "Jo", "Ana", "Lee", "Mia")[number % 8],
            marketing_consent=True,
            locale="en-GB",
            timezone="Europe/London",
        )
        for number in range(count)
    ]


def carts(customers: Sequence[Customer]) -> list[SampleEvent]:
    template = next(s for s in load_sample_events() if s.name == "cart_abandoned/vip_ada.json")
    return [
        template.varied(
            customer.customer_id,
            customer_id=customer.customer_id,
            cart_id=f"cart_{customer.customer_id}",
            cart_url=f"https://shop.example/cart/cart_{customer.customer_id}",
            abandoned_at=to_stored(DAY - timedelta(minutes=30)),
        ).sent_at(DAY - timedelta(minutes=29))
        for customer in customers
    ]


def simulate(
    stack: LocalStack,
    mappings: EventSourceMappings,
    move_clock_to: Callable[[datetime], None],
    *,
    customers: int,
    seed: int = 13,
) -> MeasurementDay:
    """The experiment, the carts, the day's engagement and orders, and the report of it all."""
    put_experiment(stack.names["ExperimentsTable"], EXPERIMENT)
    people = shoppers(customers)
    import_customers(stack.names["CustomersTable"], people)
    move_clock_to(DAY)
    put_events(stack, carts(people))
    mappings.drain()
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not secrets
    ses_events: list[dict[str, Any]] = []
    orders: list[SampleEvent] = []
    expected: dict[str, Expected] = {arm: Expected() for arm in BEHAVIOUR}
    order_template = next(s for s in load_sample_events() if s.name == "order_placed/first_order_priya.json")
    for customer in people:
        record = get_record(
            stack.names["DeliveriesTable"],
            customer.customer_id,
            "cart_abandoned",
            f"cart_{customer.customer_id}",
        )
        if record is None or "variant_id" not in record:
            continue
        arm, plan = record["variant_id"], expected[record["variant_id"]]
        behaviour = BEHAVIOUR[arm]
        plan.sent += 1
        ordered_at: datetime | None = None
        browse = False
        if arm == "holdout":
            if rng.random() < behaviour.orders:
                ordered_at = DAY + timedelta(hours=rng.uniform(1, 9))
        else:
            outcome = Outcome.model_validate(record)
            sent_at = datetime.fromisoformat(record["decided_at"])
            mail = mail_object(stack, outcome, customer.email, sent_at)
            if rng.random() < DELIVERED:
                plan.delivered += 1
                ses_events.append(engagement_event(stack, mail, "Delivery", sent_at + timedelta(seconds=2)))
                if rng.random() < behaviour.opens:
                    plan.opened += 1
                    opened_at = sent_at + timedelta(minutes=rng.uniform(5, 240))
                    ses_events.append(engagement_event(stack, mail, "Open", opened_at))
                    if rng.random() < behaviour.clicks:
                        plan.clicked += 1
                        clicked_at = opened_at + timedelta(minutes=rng.uniform(0.2, 3))
                        link = (
                            f"https://shop.example/cart/cart_{customer.customer_id}?utm_source=nudge"
                            f"&utm_medium=email&utm_campaign=cart_abandoned-1&utm_content=cta"
                        )
                        ses_events.append(engagement_event(stack, mail, "Click", clicked_at, link))
                        if rng.random() < behaviour.orders:
                            ordered_at = clicked_at + timedelta(minutes=rng.uniform(2, 90))
                            browse = rng.random() < behaviour.browse_orders
        if ordered_at is None:
            continue
        total = Decimal(rng.randrange(2500, 30000)) / 100
        plan.converted += 1
        plan.revenue += total
        orders.append(
            order_template.varied(
                f"order of {customer.customer_id}",
                customer_id=customer.customer_id,
                order_id=f"ord_{customer.customer_id}",
                cart_id=None if browse else f"cart_{customer.customer_id}",
                placed_at=to_stored(ordered_at),
                currency="GBP",
                total=str(total),
                items=[
                    {**order_template.event["detail"]["items"][0], "unit_price": str(total), "quantity": 1}
                ],
            ).sent_at(ordered_at)
        )
    # The evening: every event of the day has happened; SES's and the store's arrive as they do.
    move_clock_to(DAY + timedelta(hours=11))
    publish_all_as_ses(stack, sorted(ses_events, key=lambda event: event["time"]))
    put_events(stack, orders)
    mappings.drain()
    deliveries, experiments = read_tables(
        clients.dynamodb(stack.region), stack.names["DeliveriesTable"], stack.names["ExperimentsTable"]
    )
    return MeasurementDay(build_report(deliveries, experiments, since=DAY - timedelta(hours=1)), expected)


def describe(day: MeasurementDay) -> list[str]:
    differences = day.differences()
    arms = ", ".join(f"{arm} {plan.sent}" for arm, plan in day.expected.items())
    lines = [
        f"\na day of measurement: experiment {EXPERIMENT['experiment_id']} on the cart reminder "
        f"({arms}); SES's delivery, open and click events and the orders, then the report:",
        "",
        *render(day.report).rstrip("\n").splitlines(),
    ]
    if differences:
        lines += ["X the report differs from the hand count of the simulated day:", *differences]
    else:
        lines.append("the report's numbers equal the hand count of the simulated day")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A simulated day with an experiment, and its report.")
    parser.add_argument("--customers", type=int, default=REPORT_CUSTOMERS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with time_machine.travel(DAY - timedelta(hours=1), tick=True) as clock, running_moto():
        stack = build_stack()
        verify_sender_identity(stack)
        seed_sample_data(stack)
        with stdout_to(REPO_ROOT / "out" / "logs" / "report.jsonl"):
            mappings = EventSourceMappings(stack, clock)
            day = simulate(stack, mappings, clock.move_to, customers=args.customers)
    print("\n".join(describe(day)))
    print(f"simulated and reported in {time.perf_counter() - started:.1f} s")
    return 1 if day.differences() else 0


if __name__ == "__main__":
    sys.exit(main())
