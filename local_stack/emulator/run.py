"""Puts sample events on the bus, lets rules and the local Lambda poller do the rest, and reports
what happened to each event: the delivery record for valid ones, the dead-letter queue for invalid."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from local_stack.emulator import clients
from local_stack.emulator.lambda_runtime import DrainReport, EventSourceMappings
from local_stack.emulator.rows import get_outcome, get_product
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.stack import LocalStack
from nudge.catalog.events import ProductUpdatedEvent
from nudge.catalog.ingest import catalog_product
from nudge.catalog_rows import Product
from nudge.customers.events import CustomerUpdatedEvent
from nudge.dal.customers import get_profile_item
from nudge.dal.send_reads import RowsToRefresh, read_profile
from nudge.events import TriggerDetail
from nudge.outcome import Outcome
from nudge.profiles import Customer
from nudge.timeutil import to_stored


@dataclass(frozen=True)
class EventResult:
    sample: SampleEvent
    outcome: Outcome | None
    dead_letter_queue: str | None
    product: Product | None = None
    """For a Product Updated sample: the catalog row of its SKU after the run."""
    profile: dict[str, Any] | None = None
    """For a Customer Updated or Customer Deleted sample: the stored profile after the run."""

    @property
    def as_expected(self) -> bool:
        expected = self.sample.expectation
        if self.sample.is_invalid:
            return self.outcome is None and self.dead_letter_queue is not None
        if self.sample.is_product:
            return self._catalog_as_expected()
        if self.sample.is_customer_event:
            return self._profile_as_expected()
        if self.outcome is None:
            return False
        return (
            self.outcome.decision.value == expected["decision"]
            and (self.outcome.reason.value if self.outcome.reason else None) == expected.get("reason")
            and ("segment" not in expected or self.outcome.segment_id == expected["segment"])
            and self._deferred_until() == expected.get("deferred_until")
        )

    def _catalog_as_expected(self) -> bool:
        """``written``: the row is exactly this event's product; ``not_newer``: a newer row stayed."""
        event = ProductUpdatedEvent.model_validate(self.sample.event)
        if self.product is None:
            return False
        if self.sample.expectation.get("catalog") == "written":
            return self.product == catalog_product(event.detail)
        return self.product.updated_at > event.detail.updated_at

    def _profile_as_expected(self) -> bool:
        """``erased``: no profile is left; ``created``/``updated``: the profile holds every field the
        event names (``null``: absent); ``not_newer``: a newer change kept some field."""
        expected = self.sample.expectation.get("profile")
        if expected == "erased":
            return self.profile is None
        if self.profile is None:
            return False
        detail = CustomerUpdatedEvent.model_validate(self.sample.event).detail
        named = {name: getattr(detail, name) for name in detail.model_fields_set if name != "updated_at"}
        holds = all(self.profile.get(name) == value for name, value in named.items())
        # Anything else the expectation names is a stored attribute it must have (a suppression).
        stored = self.sample.expectation.items()
        holds = holds and all(self.profile.get(k) == v for k, v in stored if k != "profile")
        return holds if expected in ("created", "updated") else not holds

    def _deferred_until(self) -> str | None:
        until = self.outcome.deferred_until if self.outcome else None
        return to_stored(until) if until else None


def put_events(stack: LocalStack, samples: Sequence[SampleEvent]) -> None:
    client = clients.events(stack.region)
    bus = stack.names["StoreEventBus"]
    entries: list[Any] = [sample.put_events_entry(bus) for sample in samples]
    for start in range(0, len(entries), 10):
        response = client.put_events(Entries=entries[start : start + 10])
        if response["FailedEntryCount"]:
            raise RuntimeError(f"PutEvents rejected entries: {response['Entries']}")


def publish_as_ses(stack: LocalStack, event: dict[str, Any]) -> None:
    """What the configuration set's event destination does: the event onto the default bus."""
    publish_all_as_ses(stack, [event])


def publish_all_as_ses(stack: LocalStack, events: Iterable[dict[str, Any]]) -> None:
    """The same for many SES events, ten per PutEvents call."""
    entries: list[Any] = [
        {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
            "Resources": event["resources"],
            "Time": event["time"],
        }
        for event in events
    ]
    client = clients.events(stack.region)
    for start in range(0, len(entries), 10):
        response = client.put_events(Entries=entries[start : start + 10])
        if response["FailedEntryCount"]:
            raise RuntimeError(f"PutEvents rejected SES events: {response['Entries']}")


def dead_lettered_details(stack: LocalStack) -> dict[str, list[dict[str, Any]]]:
    """The event details sitting in each dead-letter queue, by the queue's logical id."""
    sqs = clients.sqs(stack.region)
    found: dict[str, list[dict[str, Any]]] = {}
    for logical_id, url in stack.dead_letter_queues().items():
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        )
        found[logical_id] = [json.loads(message["Body"]).get("detail") for message in messages]
    return found


def dead_letter_messages(stack: LocalStack, logical_id: str) -> list[dict[str, Any]]:
    """Up to ten messages of this dead-letter queue with their attributes, left visible."""
    messages = (
        clients.sqs(stack.region)
        .receive_message(
            QueueUrl=stack.queue_url(logical_id),
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
        )
        .get("Messages", [])
    )
    return [dict(message) for message in messages]


def dead_letter_problems(stack: LocalStack, logical_id: str) -> list[list[dict[str, str]]]:
    """Why each message in this dead-letter queue was put there, as the batch processor says it
    (``nudge_problems``: fields and error types, never values); bodies are not read."""
    problems: list[list[dict[str, str]]] = []
    for message in dead_letter_messages(stack, logical_id):
        attribute = message.get("MessageAttributes", {}).get("nudge_problems")
        problems.append(json.loads(attribute.get("StringValue", "[]")) if attribute else [])
    return problems


def run_samples(
    stack: LocalStack,
    mappings: EventSourceMappings,
    samples: Sequence[SampleEvent],
    repeat: Sequence[SampleEvent] = (),
) -> tuple[list[EventResult], DrainReport]:
    """Deliver ``samples`` (and ``repeat`` a second time, as EventBridge's at-least-once delivery may)."""
    put_events(stack, [*samples, *repeat])
    report = mappings.drain()
    dead = dead_lettered_details(stack)
    results = []
    for sample in samples:
        if sample.is_invalid:
            queue = next((q for q, details in dead.items() if sample.event["detail"] in details), None)
            results.append(EventResult(sample, None, queue))
            continue
        if sample.is_product:
            results.append(EventResult(sample, None, None, stored_product(stack, sample)))
            continue
        if sample.is_customer_event:
            results.append(EventResult(sample, None, None, profile=stored_profile(stack, sample)))
            continue
        results.append(EventResult(sample, recorded_outcome(stack, sample), None))
    return results, report


def run_in_order(
    stack: LocalStack, mappings: EventSourceMappings, samples: Sequence[SampleEvent]
) -> list[EventResult]:
    """Each sample put on the bus and handled before the next: events of different queues (an
    erasure, then a sign-up) happen in the given order, as a store that waits for each would see."""
    return [result for sample in samples for result in run_samples(stack, mappings, [sample])[0]]


def stored_product(stack: LocalStack, sample: SampleEvent) -> Product | None:
    """The catalog row of a Product Updated sample's SKU."""
    return get_product(stack.names["ProductsTable"], str(sample.event["detail"]["sku"]))


def stored_profile(stack: LocalStack, sample: SampleEvent) -> dict[str, Any] | None:
    """The profile a Customer Updated or Customer Deleted sample names, as stored."""
    return get_profile_item(stack.names["CustomersTable"], str(sample.event["detail"]["customer_id"]))


def customer_as_sent(stack: LocalStack, customer_id: str) -> Customer | None:
    """The customer as the send rules read them: the profile with its send state (the cap's slots,
    the send marks and the newest cart, which sends write beside the profile, never on it)."""
    customers, deliveries = stack.names["CustomersTable"], stack.names["DeliveriesTable"]
    # No rows ride along: the functions run in this process, and a refresh here would fill their caches.
    return read_profile(customers, deliveries, customer_id, RowsToRefresh(segments_table=""))


def recorded_outcome(stack: LocalStack, sample: SampleEvent) -> Outcome | None:
    """The latest decision recorded for this event, by its trigger's business identity."""
    trigger = sample.trigger
    detail: TriggerDetail = trigger.parse(sample.event)
    return get_outcome(
        stack.names["DeliveriesTable"], detail.customer_id, trigger.name, trigger.business_id(detail)
    )
