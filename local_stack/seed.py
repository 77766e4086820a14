"""Loads the sample segments and customers into the local stack's tables, through the layer's DAL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from local_stack import clients
from local_stack.scenario import load_sample_rows
from local_stack.stack import LocalStack
from local_stack.synthetic import synthetic_customers
from nudge.dal.customers import import_customers, put_customer
from nudge.dal.segments import put_segment
from nudge.profiles import Customer, Segment


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


def seed_customers(
    stack: LocalStack, count: int, as_of: datetime, seed: int = 7, *, steady_state: bool = False
) -> int:
    """``count`` synthetic profiles (see local_stack.synthetic), imported in batches."""
    customers = synthetic_customers(count, as_of, seed, steady_state=steady_state)
    return import_customers(stack.names["CustomersTable"], customers)


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
