"""Recommendations at send time: at most two reads an email, nothing excluded recommended, no block
without a catalog, and an email that goes out even when the recommender cannot answer."""

from __future__ import annotations

import re
from collections import Counter

from local_stack.emulator.failures import Refusal, recording_calls, refusing
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.run import put_events
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.stack import LocalStack
from tests.conftest import sent_emails

RECOMMENDED = re.compile(r'href="https://shop\.example/p/([^"?]+)\?[^"]*utm_content=recommendation')
OUT_OF_STOCK = "SKU-SCARF-08"


def put_catalog(stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]) -> None:
    put_events(stack, [s for s in samples.values() if s.is_product and not s.is_invalid])
    mappings.drain()


def bought_together(samples: dict[str, SampleEvent], order_id: str, *skus: str) -> SampleEvent:
    """An order of a shopper without a profile: no email, but the catalog learns its pairs."""
    items = [{"sku": sku, "name": sku, "quantity": 1, "unit_price": "10.00"} for sku in skus]
    return samples["order_placed/repeat_order_maria.json"].varied(
        order_id, customer_id="cus_guest", order_id=order_id, items=items, total="20.00"
    )


def recommended_skus(moto: MotoEndpoint) -> list[str]:
    (email,) = sent_emails(moto)
    html = email.get_body(("html",))
    assert html is not None
    return list(dict.fromkeys(RECOMMENDED.findall(str(html.get_content()))))


def test_a_cart_email_recommends_three_in_stock_products_not_in_the_cart_with_two_reads(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    put_catalog(stack, mappings, samples)
    # Shoppers bought the scarf with the (out-of-stock) silk scarf twice, and with the knit hat once
    put_events(
        stack,
        [
            bought_together(samples, "ord_t1", "SKU-CASHMERE-01", OUT_OF_STOCK),
            bought_together(samples, "ord_t2", "SKU-CASHMERE-01", OUT_OF_STOCK),
            bought_together(samples, "ord_t3", "SKU-CASHMERE-01", "SKU-HAT-12"),
        ],
    )
    mappings.drain()
    cart = samples["cart_abandoned/vip_ada.json"]
    with recording_calls() as calls:
        put_events(stack, [cart])
        mappings.drain()
    reads = Counter(op for service, op in calls if service == "dynamodb" and op.startswith("BatchGet"))
    assert reads == {"BatchGetItem": 1 + 2}  # the profile with its send state; the model and catalog rows
    skus = recommended_skus(moto)
    in_cart = {item["sku"] for item in cart.event["detail"]["items"]}
    assert len(skus) == 3
    assert not set(skus) & in_cart and OUT_OF_STOCK not in skus
    # The in-stock co-purchase comes first, then best-sellers
    assert skus[0] == "SKU-HAT-12"


def test_without_a_catalog_there_is_no_recommendations_block(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
    mappings.drain()
    (email,) = sent_emails(moto)
    html = email.get_body(("html",))
    assert html is not None
    assert "recommendations-heading" not in str(html.get_content())
    assert recommended_skus(moto) == []


def test_the_email_goes_without_recommendations_when_the_model_cannot_be_read(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    put_catalog(stack, mappings, samples)
    # (the first BatchGetItem reads the profile with its send state, the second the model's rows)
    with refusing(Refusal(service="dynamodb", operation="BatchGetItem", nth=2)):
        put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
        report = mappings.drain()
    assert report.failed_records == 0
    assert recommended_skus(moto) == []
