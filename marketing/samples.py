"""The sample data an email is rendered with outside the pipeline: the sample customers
(sample_data/customers.json), the sample events of each trigger (events/<trigger>/), the sample
catalog's products (events/product_updated/), and a trigger function's settings as the local stack
resolves them from template.yaml."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from local_stack.emulator.cfn import load_template
from local_stack.emulator.scenario import SampleEvent, load_sample_events, load_sample_rows
from local_stack.emulator.stack import TEMPLATE_PATH, function_environment
from nudge.catalog.events import ProductUpdatedEvent
from nudge.catalog.ingest import catalog_product
from nudge.catalog_rows import Product
from nudge.events import TriggerDetail
from nudge.profiles import Customer
from nudge.settings import Settings
from nudge.triggers import Trigger

TEST_CUSTOMER_ID = "nudge#send-test"
"""The customer id a test email is rendered and its unsubscribe link signed for. No customer can
have it: a store's ids may not hold ``#`` (nudge.events), so its unsubscribe link changes no one."""


def trigger_function(trigger_name: str) -> str:
    """The logical id of the trigger's function in template.yaml (its code is functions/<trigger>/)."""
    resources: dict[str, Any] = load_template(TEMPLATE_PATH)["Resources"]
    (logical_id,) = (
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        and resource["Properties"].get("CodeUri") == f"functions/{trigger_name}/"
    )
    return logical_id


@cache
def local_environment(trigger_name: str) -> dict[str, str]:
    """The trigger function's environment on the local stack (the example shop, templates of this
    checkout), resolved from template.yaml without creating anything."""
    return function_environment(trigger_function(trigger_name))


def local_settings(trigger_name: str) -> Settings:
    return Settings.from_environment(local_environment(trigger_name))


def sample_customers() -> list[Customer]:
    return [Customer.model_validate(row) for row in load_sample_rows("customers")]


def is_reachable(customer: Customer) -> bool:
    """A customer the pipeline would email: consent, not unsubscribed, not suppressed."""
    return customer.marketing_consent and not customer.unsubscribed_at and not customer.suppressed_reason


@dataclass(frozen=True)
class SampleDetail:
    name: str
    """The event's file under events/."""
    detail: TriggerDetail
    sent: bool
    """Whether the sample day sends its email (events/expectations.json)."""


def sample_details(trigger: Trigger[Any]) -> list[SampleDetail]:
    """The trigger's valid sample events (events/<trigger>/), in file order."""
    samples: Sequence[SampleEvent] = load_sample_events()
    return [
        SampleDetail(sample.name, trigger.parse(sample.event), sample.expectation.get("decision") == "sent")
        for sample in samples
        if sample.name.startswith(f"{trigger.name}/") and not sample.is_invalid
    ]


def sample_products() -> list[Product]:
    """The sample catalog (events/product_updated/) as the Products table holds it: one row per
    SKU, the newest ``updated_at`` winning, in file order."""
    products: dict[str, Product] = {}
    for sample in load_sample_events():
        if sample.name.startswith("product_updated/") and not sample.is_invalid:
            product = catalog_product(ProductUpdatedEvent.model_validate(sample.event).detail)
            known = products.get(product.sku)
            if known is None or product.updated_at > known.updated_at:
                products[product.sku] = product
    return list(products.values())
