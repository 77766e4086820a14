"""The catalog function on the local stack: newest product wins, orders fill in only unknown SKUs,
an order is counted once whatever fails, and the materialised lists the send path reads."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine

from local_stack.emulator import clients
from local_stack.emulator.failures import CrashPoint, Refusal, crash_at, recording_calls, refusing
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.rows import get_product
from local_stack.emulator.run import dead_letter_problems, put_events, run_samples
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.stack import LocalStack
from nudge.catalog_rows import BESTSELLERS_KEY, Bestsellers, TopPartners, top_key
from nudge.dal.items import from_item, to_item
from nudge.timeutil import to_stored, utc_now

CATALOG = ["CatalogFunction"]


def model_row(stack: LocalStack, key: str) -> dict[str, Any] | None:
    item = (
        clients.dynamodb(stack.region)
        .get_item(TableName=stack.names["RecommendationsTable"], Key=to_item({"model_key": key}))
        .get("Item")
    )
    return from_item(item) if item else None


def top(stack: LocalStack, sku: str) -> list[tuple[str, int]]:
    row = model_row(stack, top_key(sku))
    assert row is not None, f"no top#{sku} row"
    return [(p.sku, p.count) for p in TopPartners.model_validate(row).partners]


def bestsellers(stack: LocalStack) -> Bestsellers:
    row = model_row(stack, BESTSELLERS_KEY)
    assert row is not None
    return Bestsellers.model_validate(row)


def product_samples(samples: dict[str, SampleEvent]) -> list[SampleEvent]:
    return [s for s in samples.values() if s.is_product and not s.is_invalid]


@pytest.fixture
def maria(samples: dict[str, SampleEvent]) -> SampleEvent:
    """An order of SKU-LAMP-09 and SKU-BULB-01."""
    return samples["order_placed/repeat_order_maria.json"]


def test_every_product_sample_does_what_it_expects_and_invalid_ones_are_dead_lettered(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    invalid = [s for s in samples.values() if s.is_invalid and s.detail_type == "Product Updated"]
    results, _ = run_samples(stack, mappings, [*product_samples(samples), *invalid])
    assert [r.sample.name for r in results if not r.as_expected] == []
    assert {r.dead_letter_queue for r in results if r.sample.is_invalid} == {"CatalogDLQ"}


def test_the_newest_product_update_wins_whatever_the_arrival_order(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    newer = samples["product_updated/table_lamp.json"]
    older = samples["product_updated/table_lamp_older_price.json"]
    table = stack.names["ProductsTable"]
    # Given the newer event is handled first, then the older one arrives late, and the newer twice
    for event in (newer, older, newer):
        put_events(stack, [event])
        mappings.drain(only=CATALOG)
    stored = get_product(table, "SKU-LAMP-09")
    assert stored is not None and (str(stored.price), stored.origin) == ("1199.00", "catalog")
    # When an even newer update says the lamp is sold out, it replaces the row
    sold_out = newer.varied("sold out", in_stock=False, updated_at=to_stored(utc_now()))
    put_events(stack, [sold_out])
    mappings.drain(only=CATALOG)
    stored = get_product(table, "SKU-LAMP-09")
    assert stored is not None and stored.in_stock is False


def test_a_product_update_dated_decades_ahead_is_dead_lettered_and_does_not_freeze_the_product(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    lamp = samples["product_updated/table_lamp.json"]
    # Given an update of the lamp that says it was made in 2099
    put_events(stack, [lamp.varied("2099", price="1.00", updated_at="2099-06-01T00:00:00Z")])
    report = mappings.drain(only=CATALOG)
    # Then it is dead-lettered at once naming the field...
    assert report.failed_records == 0
    (problems,) = dead_letter_problems(stack, "CatalogDLQ")
    assert [(p["field"].rsplit(".", 1)[-1], p["error"]) for p in problems] == [
        ("updated_at", "timestamp_in_future")
    ]
    # ...and a real update still replaces the row
    put_events(stack, [lamp.varied("now", in_stock=False, updated_at=to_stored(utc_now()))])
    mappings.drain(only=CATALOG)
    stored = get_product(stack.names["ProductsTable"], "SKU-LAMP-09")
    assert stored is not None and stored.in_stock is False and str(stored.price) != "1.00"


def test_an_order_placed_decades_ahead_is_not_learned(
    stack: LocalStack, mappings: EventSourceMappings, maria: SampleEvent
) -> None:
    put_events(stack, [maria.varied("2099", placed_at="2099-06-01T00:00:00Z")])
    mappings.drain(only=CATALOG)
    (problems,) = dead_letter_problems(stack, "CatalogDLQ")
    assert [(p["field"].rsplit(".", 1)[-1], p["error"]) for p in problems] == [
        ("placed_at", "timestamp_in_future")
    ]
    assert model_row(stack, BESTSELLERS_KEY) is None


def test_an_order_fills_in_unknown_skus_and_never_overwrites_the_catalog(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent], maria: SampleEvent
) -> None:
    table = stack.names["ProductsTable"]
    # Given the catalog knows the lamp (an update older than the order, at another price)
    lamp = samples["product_updated/table_lamp.json"].varied("lamp", price="999.00")
    put_events(stack, [lamp])
    mappings.drain(only=CATALOG)
    # When Maria's order of the lamp and a bulb the catalog does not know is handled
    put_events(stack, [maria])
    mappings.drain(only=CATALOG)
    # Then the lamp's row is the catalog's, and the bulb is learned from the line item
    stored_lamp = get_product(table, "SKU-LAMP-09")
    assert stored_lamp is not None and (str(stored_lamp.price), stored_lamp.origin) == ("999.00", "catalog")
    bulb = get_product(table, "SKU-BULB-01")
    assert bulb is not None
    assert (bulb.origin, str(bulb.price), bulb.currency, bulb.in_stock) == ("order", "7.10", "EUR", True)
    assert to_stored(bulb.updated_at) == to_stored(datetime.fromisoformat(maria.event["detail"]["placed_at"]))
    # And a catalog event replaces a row learned from an order even if its updated_at is older
    catalog_bulb = samples["product_updated/led_bulb.json"]
    put_events(stack, [catalog_bulb])
    mappings.drain(only=CATALOG)
    bulb = get_product(table, "SKU-BULB-01")
    assert bulb is not None and bulb.origin == "catalog"


def test_a_retried_or_duplicated_order_counts_its_pairs_once(
    stack: LocalStack, mappings: EventSourceMappings, maria: SampleEvent
) -> None:
    # Given the same order delivered twice at once, then re-sent by the store with a new envelope
    put_events(stack, [maria, maria])
    mappings.drain(only=CATALOG)
    put_events(stack, [maria.sent_at(utc_now())])
    mappings.drain(only=CATALOG)
    # Then each pair and each sale counts once
    assert top(stack, "SKU-LAMP-09") == [("SKU-BULB-01", 1)]
    assert top(stack, "SKU-BULB-01") == [("SKU-LAMP-09", 1)]
    sales = model_row(stack, "sales#2026-11-23")
    assert sales is not None and (sales["s:SKU-LAMP-09"], sales["s:SKU-BULB-01"]) == (1, 1)
    # And a second order of the same pair counts again
    put_events(stack, [maria.varied("another order", order_id="ord_maria_second")])
    mappings.drain(only=CATALOG)
    assert top(stack, "SKU-LAMP-09") == [("SKU-BULB-01", 2)]


def test_a_crash_right_after_the_count_is_retried_without_counting_again(
    stack: LocalStack, mappings: EventSourceMappings, maria: SampleEvent
) -> None:
    # Given the function dies right after the transaction committed, before the top lists
    with crash_at(CrashPoint(service="dynamodb", operation="TransactWriteItems")):
        put_events(stack, [maria])
        report = mappings.drain(only=CATALOG)
    # Then SQS delivered the order again after its visibility timeout; the guard held, the
    # retry wrote the top lists from counts that hold the order once
    assert report.died == 1 and report.waited_seconds > 0
    assert top(stack, "SKU-LAMP-09") == [("SKU-BULB-01", 1)]
    assert top(stack, "SKU-BULB-01") == [("SKU-LAMP-09", 1)]
    assert bestsellers(stack).skus[:2] == ("SKU-BULB-01", "SKU-LAMP-09")


@pytest.mark.parametrize("operation", ["BatchWriteItem", "PutItem", "BatchGetItem"])
def test_a_throttled_write_or_read_after_the_count_is_retried_and_counts_once(
    stack: LocalStack, mappings: EventSourceMappings, maria: SampleEvent, operation: str
) -> None:
    # Given one call after the count is refused (throttled past the SDK's retries): the top lists'
    # write, the best-sellers' write (the third PutItem, after the two SKUs' fills), or the read of
    # the counters (the second BatchGetItem, after the catalog check)
    nth = {"BatchWriteItem": 1, "PutItem": 3, "BatchGetItem": 2}[operation]
    put_events(stack, [maria])
    with refusing(Refusal(service="dynamodb", operation=operation, nth=nth)) as (refusal,):
        report = mappings.drain(only=CATALOG)
    # Then the record failed, came back, and the retry finished the job with the order counted once
    assert refusal.fired and report.failed_records == 1
    assert top(stack, "SKU-LAMP-09") == [("SKU-BULB-01", 1)]
    assert not any(
        clients.sqs(stack.region).receive_message(QueueUrl=stack.queue_url("CatalogDLQ")).get("Messages", [])
    )


def test_a_huge_order_costs_at_most_20_skus_of_counters_and_one_transaction(
    stack: LocalStack, mappings: EventSourceMappings, maria: SampleEvent
) -> None:
    # Given an order of 100 lines: 50 distinct SKUs, each twice
    line = maria.event["detail"]["items"][0]
    items = [
        {
            **line,
            "sku": f"SKU-BIG-{n % 50:02d}",
            "product_url": f"https://shop.example/p/SKU-BIG-{n % 50:02d}",
        }
        for n in range(100)
    ]
    big = maria.varied("a huge order", order_id="ord_huge", items=items)
    with recording_calls() as calls:
        put_events(stack, [big])
        mappings.drain(only=CATALOG)
    dynamodb = [operation for service, operation in calls if service == "dynamodb"]
    # Then only its first 20 SKUs count: 19 partners each, none for the 21st
    assert top(stack, "SKU-BIG-00") == [(f"SKU-BIG-{n:02d}", 1) for n in range(1, 20)]
    assert model_row(stack, "pairs#SKU-BIG-19") is not None
    assert model_row(stack, "pairs#SKU-BIG-20") is None
    pairs_row = model_row(stack, "pairs#SKU-BIG-00")
    assert pairs_row is not None and len([name for name in pairs_row if name.startswith("p:")]) == 19
    # And the calls are bounded: one catalog check, 20 fills (all new), one transaction, one read of
    # the counters, one write of the 20 top lists, and the best-sellers (missing: one read of the
    # window's buckets, one of the sold products' rows, the EUR list and the row; 20 SKUs priced
    # in EUR have sold, so no padding scan)
    assert dynamodb.count("TransactWriteItems") == 1
    assert dynamodb.count("PutItem") == 20 + 1
    assert dynamodb.count("BatchWriteItem") == 2
    assert dynamodb.count("BatchGetItem") == 4
    assert dynamodb.count("Scan") == 0
    assert len(dynamodb) == 28


def test_best_sellers_are_padded_from_the_catalog_until_enough_have_sold(
    stack: LocalStack,
    mappings: EventSourceMappings,
    samples: dict[str, SampleEvent],
    maria: SampleEvent,
    clock: time_machine.Traveller,
) -> None:
    # Given a catalog of 12 products (one out of stock) and no order yet
    put_events(stack, [s for s in product_samples(samples) if "older" not in s.name])
    mappings.drain(only=CATALOG)
    in_stock = sorted(
        s.event["detail"]["sku"] for s in product_samples(samples) if s.event["detail"]["in_stock"]
    )
    # Then the best-sellers block is the in-stock catalog, never empty and never the sold-out scarf
    assert list(bestsellers(stack).skus) == sorted(set(in_stock))
    assert "SKU-SCARF-08" not in bestsellers(stack).skus
    # When an order is placed, what sold leads the list, and the rest is still padding
    put_events(stack, [maria])
    mappings.drain(only=CATALOG)
    after = bestsellers(stack).skus
    assert after[:2] == ("SKU-BULB-01", "SKU-LAMP-09")
    assert len(after) == len(set(in_stock))
    # And sales older than the window no longer count
    clock.shift(timedelta(days=31))
    put_events(
        stack, [samples["product_updated/knit_hat.json"].varied("later", updated_at=to_stored(utc_now()))]
    )
    mappings.drain(only=CATALOG)
    assert bestsellers(stack).skus == tuple(sorted(set(in_stock)))


def test_an_order_of_known_skus_with_fresh_best_sellers_costs_two_writes(
    stack: LocalStack, mappings: EventSourceMappings, maria: SampleEvent
) -> None:
    # Given 20 SKUs known to the catalog and sold (a full, fresh best-seller list)
    line = maria.event["detail"]["items"][0]
    items = [{**line, "sku": f"SKU-K-{n:02d}"} for n in range(20)]
    put_events(stack, [maria.varied("first", order_id="ord_k1", items=items)])
    mappings.drain(only=CATALOG)
    # When another order of five of them is handled
    with recording_calls() as calls:
        put_events(stack, [maria.varied("second", order_id="ord_k2", items=items[:5])])
        mappings.drain(only=CATALOG)
    # Then: the catalog check, the transaction, the counters' read, the top lists' write
    assert [op for service, op in calls if service == "dynamodb"] == [
        "BatchGetItem",
        "TransactWriteItems",
        "BatchGetItem",
        "BatchWriteItem",
    ]
    assert top(stack, "SKU-K-00")[:4] == [("SKU-K-01", 2), ("SKU-K-02", 2), ("SKU-K-03", 2), ("SKU-K-04", 2)]
