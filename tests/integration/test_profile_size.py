"""A profile is paid for by its size on every write (one write unit per KB): the histories it keeps
are stored compactly, and profiles written before that still read and trim alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from local_stack.bench.item_size import item_bytes
from local_stack.emulator import clients
from local_stack.emulator.stack import LocalStack
from nudge.dal.customer_history import (
    ENGAGEMENT_TRIM_SLACK,
    MAX_RECENT_ENGAGEMENTS,
    record_engagement,
    record_order,
)
from nudge.dal.customers import get_customer, put_customer
from nudge.profiles import Customer

START = datetime(2026, 9, 1, 12, tzinfo=UTC)


def _regular(stack: LocalStack) -> str:
    put_customer(
        stack.names["CustomersTable"],
        Customer(
            customer_id="cus_regular_0001",
            email="alexandra.smith-jones@example.com",
            first_name="Alexandra",
            last_name="Smith-Jones",
            locale="en-GB",
            timezone="Europe/London",
            marketing_consent=True,
            segment_id="frequent_buyer",
        ),
    )
    return "cus_regular_0001"


def test_a_regular_customers_profile_stays_under_a_kilobyte(stack: LocalStack) -> None:
    table = stack.names["CustomersTable"]
    customer_id = _regular(stack)
    # Eight orders of two SKUs, fifteen opens and five clicks: a regular the store emails weekly
    for n in range(8):
        placed = START + timedelta(days=10 * n)
        record_order(
            table, customer_id, f"ord_2026_{n:06d}", Decimal("64.50"), placed, (f"SKU-A-{n}", f"SKU-B-{n}")
        )
    for n in range(15):
        record_engagement(table, customer_id, "opened", START + timedelta(days=7 * n, milliseconds=n))
    for n in range(5):
        record_engagement(table, customer_id, "clicked", START + timedelta(days=8 + n))
    item = clients.dynamodb(stack.region).get_item(TableName=table, Key={"customer_id": {"S": customer_id}})[
        "Item"
    ]
    assert item_bytes(item) < 1024
    stored = get_customer(table, customer_id)
    assert stored is not None
    assert stored.recent_order_dates[-1] == START + timedelta(days=70)
    assert len(stored.recent_open_dates) == 15 and stored.last_clicked_at == START + timedelta(days=12)


def test_a_history_written_in_the_old_form_reads_and_trims_by_time(stack: LocalStack) -> None:
    table = stack.names["CustomersTable"]
    customer_id = _regular(stack)
    # Given a profile written before the compact form: ISO texts in the opens' string set
    old = [START + timedelta(hours=n, milliseconds=n) for n in range(MAX_RECENT_ENGAGEMENTS)]
    iso = {moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z" for moment in old}
    clients.dynamodb(stack.region).update_item(
        TableName=table,
        Key={"customer_id": {"S": customer_id}},
        UpdateExpression="SET recent_open_dates = :old",
        ExpressionAttributeValues={":old": {"SS": sorted(iso)}},
    )
    # When enough newer opens arrive to pass the trim threshold
    newer = [START + timedelta(days=10, hours=n) for n in range(ENGAGEMENT_TRIM_SLACK + 1)]
    for moment in newer:
        assert record_engagement(table, customer_id, "opened", moment)
    stored = get_customer(table, customer_id)
    assert stored is not None
    # Then the newest 50 by time remain, whichever form each was stored in
    kept = sorted(stored.recent_open_dates)
    assert len(kept) == MAX_RECENT_ENGAGEMENTS
    assert kept[-len(newer) :] == newer
    assert kept[0] == old[len(newer)]
