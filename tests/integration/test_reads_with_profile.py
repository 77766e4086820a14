"""A warm function whose cached rows have expired (a quiet store: batches more than a minute apart)
reads its segment, the cart's recommendation rows and the products it showed for the same cart in
the same BatchGetItem as the profile, instead of a call each; what it reads is as fresh as its own
reads would be."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
import time_machine

from local_stack.emulator import clients as stack_clients
from local_stack.emulator.failures import recording_requests
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.rows import put_segment, put_segment_row
from local_stack.emulator.run import dead_lettered_details, put_events
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.seed import put_shopper
from local_stack.emulator.stack import LocalStack
from nudge.dal import send_reads
from nudge.dal.segments import SEGMENT_CACHE_SECONDS, get_segment
from nudge.dal.send_reads import RowsToRefresh, read_profile
from nudge.profiles import Customer
from tests.conftest import sent_emails

CART = "CartAbandonedFunction"


def _warm_function(stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]) -> None:
    """The sample catalog, and a first cart email: the function has read its segment, the cart's
    recommendation rows and their products."""
    put_events(stack, [s for s in samples.values() if s.is_product and not s.is_invalid])
    mappings.drain()
    put_events(stack, [_cart(stack, samples, 1)])
    mappings.drain(only=[CART])


def _cart(stack: LocalStack, samples: dict[str, SampleEvent], number: int) -> SampleEvent:
    customer_id = put_shopper(stack, f"cus_quiet_{number}")
    cart = samples["cart_abandoned/vip_ada.json"]
    return cart.varied(customer_id, customer_id=customer_id, cart_id=f"cart_{customer_id}")


def _tables_read_together(
    requests: list[tuple[str, str, dict[str, Any]]], stack: LocalStack
) -> list[set[str]]:
    logical = {name: logical_id for logical_id, name in stack.names.items()}
    return [
        {logical[table] for table in params["RequestItems"]}
        for service, operation, params in requests
        if (service, operation) == ("dynamodb", "BatchGetItem")
    ]


def test_a_quiet_function_reads_its_expired_segment_and_rows_with_the_profile(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    _warm_function(stack, mappings, samples)
    # Given marketing changes the VIP coupon, and the next cart comes more than a minute later
    table = stack.names["SegmentsTable"]
    put_segment(table, get_segment(table, "vip").model_copy(update={"coupon_code": "VIP20"}))
    clock.shift(SEGMENT_CACHE_SECONDS + 1)
    cart = _cart(stack, samples, 2)
    with recording_requests() as requests:
        put_events(stack, [cart])
        mappings.drain(only=[CART])
    calls = Counter(
        f"{service}.{operation}:{params.get('TableName', '')}" for service, operation, params in requests
    )
    # Then the profile, the segment, the cart's model rows and the products shown for the same cart
    # a minute ago come in one call, and nothing is read besides
    together = _tables_read_together(requests, stack)
    assert together == [
        {"CustomersTable", "DeliveriesTable", "SegmentsTable", "RecommendationsTable", "ProductsTable"}
    ]
    assert not [call for call in calls if call.startswith("dynamodb.GetItem")]
    # ...and the email reads what the table holds now, with its recommendations
    email = sent_emails(moto)[-1]
    text = str(email.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert "<cus_quiet_2@example.com>" in email["To"]
    assert "VIP20" not in text  # the first step of the series carries no offer...
    assert "utm_content=recommendation" in str(email.get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert get_segment(table, "vip").coupon_code == "VIP20"  # ...but the cache holds the new row


def test_a_segment_row_that_no_longer_validates_is_still_refused_after_the_minute(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    _warm_function(stack, mappings, samples)
    sent = len(sent_emails(moto))
    # Given the VIP row is broken while the function is warm, and the minute passes
    put_segment_row(
        stack.names["SegmentsTable"], {"segment_id": "vip", "name": "VIP", "discount_percent": 150}
    )
    clock.shift(SEGMENT_CACHE_SECONDS + 1)
    put_events(stack, [_cart(stack, samples, 2)])
    mappings.drain(only=[CART])
    # Then no email on the stale offer: the record is dead-lettered naming the bad data
    assert len(sent_emails(moto)) == sent
    assert dead_lettered_details(stack).get("CartAbandonedDLQ")


class _Unprocessed:
    """A DynamoDB client that leaves the profile and the send state unprocessed in every
    BatchGetItem, as a throttled table may, and answers GetItem."""

    def __init__(self, profile: dict[str, Any], send_state: dict[str, Any]) -> None:
        self.items = {"customers": profile, "deliveries": send_state}
        self.calls: list[str] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("BatchGetItem")
        return {"Responses": {}, "UnprocessedKeys": RequestItems}

    def get_item(self, TableName: str, **_: Any) -> dict[str, Any]:
        self.calls.append(f"GetItem {TableName}")
        return {"Item": self.items[TableName]}


def test_a_profile_and_send_state_left_unprocessed_are_read_on_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    profile = {
        "customer_id": {"S": "c1"},
        "email": {"S": "c1@example.com"},
        "marketing_consent": {"BOOL": True},
    }
    send_state = {"last_emailed_at": {"S": "2026-11-20T10:00:00+00:00"}}
    client = _Unprocessed(profile, send_state)
    monkeypatch.setattr("nudge.dal.send_reads.clients.dynamodb", lambda: client)
    monkeypatch.setattr("nudge.dal.customers.clients.dynamodb", lambda: client)
    monkeypatch.setattr("nudge.dal.send_state.clients.dynamodb", lambda: client)
    monkeypatch.setattr(send_reads, "expired_segment_ids", lambda _table: ["vip"])

    customer = read_profile("customers", "deliveries", "c1", RowsToRefresh("segments"))

    assert isinstance(customer, Customer) and customer.customer_id == "c1"
    assert customer.last_emailed_at is not None  # the send state's mark, read on its own
    assert client.calls == ["BatchGetItem", "GetItem customers", "GetItem deliveries"]


def test_a_product_out_of_stock_leaves_a_quiet_functions_emails_after_the_minute(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
) -> None:
    _warm_function(stack, mappings, samples)
    shown = _recommended(moto)
    assert shown
    # Given the first product shown goes out of stock, and the next cart comes a minute later
    stack_clients.dynamodb(stack.region).update_item(
        TableName=stack.names["ProductsTable"],
        Key={"sku": {"S": shown[0]}},
        UpdateExpression="SET in_stock = :no",
        ExpressionAttributeValues={":no": {"BOOL": False}},
    )
    clock.shift(SEGMENT_CACHE_SECONDS + 1)
    put_events(stack, [_cart(stack, samples, 2)])
    mappings.drain(only=[CART])
    # Then the product read with the profile is the one in the table now
    assert shown[0] not in _recommended(moto)


def _recommended(moto: MotoEndpoint) -> list[str]:
    html = str(sent_emails(moto)[-1].get_body(("html",)).get_content())  # type: ignore[union-attr]
    return list(dict.fromkeys(re.findall(r'/p/(SKU-[A-Z0-9-]+)\?[^"]*utm_content=recommendation', html)))
