"""Loads the sample segments and customers into the local stack's tables, through the layer's DAL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from local_stack.emulator import clients
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.rows import import_customers, import_rows, put_segment
from local_stack.emulator.run import put_events
from local_stack.emulator.scenario import SampleEvent, load_sample_rows
from local_stack.emulator.stack import ACCOUNT_ID, LocalStack
from local_stack.emulator.synthetic import synthetic_customers
from nudge.dal.customers import put_customer, stored_record
from nudge.dal.items import to_item
from nudge.dal.send_state import STATE_KEY
from nudge.profiles import Customer, Segment
from nudge.timeutil import to_stored


def verify_sender_identity(stack: LocalStack) -> None:
    """In AWS the identity is verified once by DNS (docs/operations.md); moto needs it declared."""
    identity = stack.parameters["SenderIdentity"]
    clients.sesv2(stack.region).create_email_identity(EmailIdentity=identity)


def seed_sample_data(stack: LocalStack) -> tuple[int, int]:
    segments = [Segment.model_validate(row) for row in load_sample_rows("segments")]
    customers = [Customer.model_validate(row) for row in load_sample_rows("customers")]
    for segment in segments:
        put_segment(stack.names["SegmentsTable"], segment)
    for customer in customers:
        put_customer(stack.names["CustomersTable"], customer)
    return len(segments), len(customers)


# What a store's Customer Updated says about a customer; the rest of a sample row is the order and
# email history a store migrating to Nudge imports once.
CONTACT_FIELDS = ("email", "first_name", "last_name", "locale", "timezone", "country", "marketing_consent")
SAMPLE_IMPORT_TIME = "2026-01-15T09:00:00Z"
"""When the sample store's customer list was first sent to Nudge (before any history in it)."""


def customer_updated_events(rows: list[dict[str, Any]]) -> list[SampleEvent]:
    """One Customer Updated per sample customer: the event a store's backend sends for it."""
    events = []
    for number, row in enumerate(rows, start=1):
        detail: dict[str, Any] = {"customer_id": row["customer_id"], "updated_at": SAMPLE_IMPORT_TIME}
        detail |= {name: row[name] for name in CONTACT_FIELDS if row.get(name) is not None}
        if "marketing_consent" in detail:
            detail["consent_source"] = "import"
        event = {
            "version": "0",
            "id": f"00000000-0000-0000-0000-00000000a{number:03d}",
            "detail-type": "Customer Updated",
            "source": "com.example.shop",
            "account": ACCOUNT_ID,
            "time": SAMPLE_IMPORT_TIME,
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        }
        events.append(SampleEvent(f"customer {row['customer_id']}", event, {"profile": "created"}))
    return events


def import_history(stack: LocalStack, rows: list[dict[str, Any]]) -> None:
    """The order and email history of existing customers (counts, dates, segment, unsubscribes,
    suppressions), written onto the profiles their Customer Updated events created."""
    table = stack.names["CustomersTable"]
    client = clients.dynamodb(stack.region)
    for row in rows:
        record = stored_record(Customer.model_validate(row))
        history = {
            name: value
            for name, value in record.items()
            if name not in ("customer_id", *CONTACT_FIELDS) and value not in (None, [], {})
        }
        if not history:
            continue
        client.update_item(
            TableName=table,
            Key=to_item({"customer_id": row["customer_id"]}),
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(history))),
            ConditionExpression="attribute_exists(customer_id)",
            ExpressionAttributeNames={f"#a{i}": name for i, name in enumerate(history)},
            ExpressionAttributeValues=to_item({f":v{i}": value for i, value in enumerate(history.values())}),
        )


def create_sample_customers(stack: LocalStack, mappings: EventSourceMappings) -> int:
    """The sample customers as a store gets them into Nudge: a Customer Updated event each, through
    the bus, its queue and the customer function; then their past history imported."""
    rows = load_sample_rows("customers")
    put_events(stack, customer_updated_events(rows))
    mappings.drain(only=["CustomerUpdatedFunction"])
    import_history(stack, rows)
    return len(rows)


def seed_segments(stack: LocalStack) -> int:
    segments = [Segment.model_validate(row) for row in load_sample_rows("segments")]
    for segment in segments:
        put_segment(stack.names["SegmentsTable"], segment)
    return len(segments)


def seed_customers(
    stack: LocalStack, count: int, as_of: datetime, seed: int = 7, *, steady_state: bool = False
) -> int:
    """``count`` synthetic profiles (see local_stack.emulator.synthetic), imported in batches. With
    ``steady_state`` the win-backs of months of daily runs are marked where those runs' sends wrote
    them, on the customers' send states (the profiles carry none); an import's stay on its profiles."""
    customers = synthetic_customers(count, as_of, seed, steady_state=steady_state)
    if not steady_state:
        return import_customers(stack.names["CustomersTable"], customers)
    states: list[dict[str, Any]] = []

    def without_marks() -> Iterator[Customer]:
        for customer in customers:
            if customer.last_winback_at is not None:
                winback = to_stored(customer.last_winback_at)
                states.append(
                    {
                        "customer_id": customer.customer_id,
                        "delivery_key": STATE_KEY,
                        "last_winback_at": winback,
                        "last_emailed_at": winback,
                    }
                )
                customer = customer.model_copy(update={"last_winback_at": None})
            yield customer

    imported = import_customers(stack.names["CustomersTable"], without_marks())
    import_rows(stack.names["DeliveriesTable"], states)
    return imported


def put_shopper(stack: LocalStack, customer_id: str, email: str | None = None) -> str:
    """A consenting VIP shopper with no history (benchmarks and tests that need many customers)."""
    put_customer(
        stack.names["CustomersTable"],
        Customer(
            customer_id=customer_id,
            email=email or f"{customer_id}@example.com",
            first_name="Sam",
            last_name="Shopper",
            locale="en-GB",
            timezone="Europe/London",
            marketing_consent=True,
            segment_id="vip",
            total_spent=Decimal(0),
        ),
    )
    return customer_id
