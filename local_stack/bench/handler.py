"""The send path's cost per email, measured on the real handler with AWS's answers canned.

1. **Recording.** On the local stack (moto), three scenarios run through the Cart Abandoned function
   as SQS delivers them: a **sent** email (a new shopper's cart, with the function already warm: its
   segment, experiment and recommendation rows read a minute before), a **skipped** one (a customer
   without consent) and a **duplicate** (the sent cart delivered again). For each, the handler's
   calls are recorded with their parameters and AWS's (moto's) raw HTTP answers.
2. **Calls and request units.** From the sent scenario's calls and the items' stored sizes
   (local_stack/bench/item_size.py, DynamoDB's billing rules): write and read request units by operation.
3. **Handler CPU.** The same handler then runs batches of ten such records with every call answered
   from the recording inside botocore's send (no socket, no moto): what is left is the handler's own
   CPU, botocore's serialising and parsing included, per record (``time.process_time`` over whole
   batches, records one after another).
4. **Lambda time per email.** The same batches with each answer delayed as AWS answers (SES 50 ms,
   DynamoDB 5 ms, Scheduler 10 ms a call), records one after another vs at once (nudge.sqs_batches):
   wall time of the batch over its ten records, which is what Lambda bills.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import time_machine

from local_stack.bench.cost_model import CostLine, per_thousand_emails
from local_stack.bench.item_size import item_bytes, read_units, write_units
from local_stack.emulator import clients
from local_stack.emulator.capture import stdout_to
from local_stack.emulator.failures import (
    Answer,
    AnswerKey,
    CannedAnswers,
    answering,
    recording_answers,
    recording_requests,
)
from local_stack.emulator.lambda_runtime import EventSourceMappings, LocalFunction
from local_stack.emulator.moto_endpoint import running_moto
from local_stack.emulator.run import put_events
from local_stack.emulator.scenario import SAMPLE_DAY_CLOCK, SampleEvent, load_sample_events
from local_stack.emulator.seed import put_shopper, seed_sample_data, verify_sender_identity
from local_stack.emulator.sqs_records import sqs_event
from local_stack.emulator.stack import REPO_ROOT, LocalStack, build_stack
from nudge import sqs_batches
from nudge.dal.send_state import STATE_KEY

FUNCTION = "CartAbandonedFunction"
BATCH = 10
CPU_BATCHES = 30
LATENCY_BATCHES = 5
AWS_LATENCY = {"sesv2": 0.050, "dynamodb": 0.005, "scheduler": 0.010}
"""Seconds per call, as a Lambda function in the same region sees them (SES's median send)."""


@dataclass(frozen=True)
class Scenario:
    name: str
    calls: list[tuple[str, str, dict[str, Any]]]
    answers: dict[AnswerKey, Answer]
    event: dict[str, Any]


@dataclass(frozen=True)
class Units:
    operation: str
    table: str
    calls: int
    write_units: float
    read_units: float


@dataclass(frozen=True)
class ItemSizes:
    """The stored sizes of a customer's profile and of each of their Deliveries items, by key."""

    profile: int
    deliveries: dict[str, int]

    @property
    def largest_delivery(self) -> int:
        return max(self.deliveries.values(), default=0)

    @property
    def send_state(self) -> int:
        return self.deliveries.get(STATE_KEY, 0)


@dataclass(frozen=True)
class HandlerFigures:
    calls_per_sent: Counter[str]
    units: list[Units]
    profile_bytes: int
    delivery_bytes: int
    cpu_ms: dict[str, float]
    log_bytes_per_sent: float
    lambda_ms_sequential: float
    lambda_ms_concurrent: float

    @property
    def write_units(self) -> float:
        return sum(unit.write_units for unit in self.units)

    @property
    def read_units(self) -> float:
        return sum(unit.read_units for unit in self.units)

    def cost(self) -> list[CostLine]:
        return per_thousand_emails(
            write_units=self.write_units,
            read_units=self.read_units,
            lambda_ms=self.lambda_ms_concurrent,
            log_bytes=self.log_bytes_per_sent,
            schedules=self.calls_per_sent["scheduler.CreateSchedule"],
        )


def _shopper(stack: LocalStack, number: int) -> str:
    return put_shopper(stack, f"cus_bench_{number:05d}", f"shopper{number}@example.com")


def sample_events() -> dict[str, SampleEvent]:
    return {sample.name: sample for sample in load_sample_events()}


def teach_recommender(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    """The sample catalog, and orders that make the cart's scarf's co-purchases and best-sellers."""
    put_events(stack, [s for s in samples.values() if s.is_product and not s.is_invalid])
    order = samples["order_placed/repeat_order_maria.json"]
    together = [
        ("SKU-CASHMERE-01", "SKU-HAT-12"),
        ("SKU-CASHMERE-01", "SKU-BERET-04"),
        ("SKU-GLOVES-02", "SKU-MUG-11"),
    ]
    put_events(
        stack,
        [
            order.varied(
                f"ord_bench_{n}",
                customer_id="cus_guest",
                order_id=f"ord_bench_{n}",
                items=[{"sku": sku, "name": sku, "quantity": 1, "unit_price": "10.00"} for sku in pair],
                total="20.00",
            )
            for n, pair in enumerate(together)
        ],
    )
    mappings.drain()


def _record(stack: LocalStack, mappings: EventSourceMappings, name: str, sample: SampleEvent) -> Scenario:
    with recording_requests() as calls, recording_answers() as answers:
        put_events(stack, [sample])
        mappings.drain(only=[FUNCTION])
    return Scenario(name, calls, answers, sample.event)


def cart_for(samples: dict[str, SampleEvent], customer_id: str) -> SampleEvent:
    cart = samples["cart_abandoned/vip_ada.json"]
    return cart.varied(customer_id, customer_id=customer_id, cart_id=f"cart_{customer_id}")


def request_units(
    stack: LocalStack, customer_id: str, requests: list[tuple[str, str, dict[str, Any]]]
) -> tuple[list[Units], ItemSizes]:
    """Request units of the DynamoDB calls in ``requests``, each from the stored size of the item it
    touches: the customer's profile, or the Deliveries item of its key (a delivery record, the send
    state); other rows (products, model rows) are well under 4 KB, one unit. Returns the units and
    those items' sizes."""
    dynamodb = clients.dynamodb(stack.region)
    profile = dynamodb.get_item(
        TableName=stack.names["CustomersTable"], Key={"customer_id": {"S": customer_id}}
    )["Item"]
    deliveries = dynamodb.query(
        TableName=stack.names["DeliveriesTable"],
        KeyConditionExpression="customer_id = :c",
        ExpressionAttributeValues={":c": {"S": customer_id}},
    )["Items"]
    profile_bytes = item_bytes(profile)
    delivery_sizes = {str(item["delivery_key"]["S"]): item_bytes(item) for item in deliveries}
    tables = {name: logical for logical, name in stack.names.items()}

    def size_of(table: str, key: dict[str, Any]) -> int:
        if table == "CustomersTable":
            return profile_bytes
        if table == "DeliveriesTable" and "delivery_key" in key:
            return delivery_sizes.get(str(key["delivery_key"]["S"]), 1)
        return 1

    found: dict[tuple[str, str], list[float]] = {}
    for service, operation, params in requests:
        if service != "dynamodb":
            continue
        # A BatchGetItem is billed per item, as a GetItem of each key (the profile's consistently).
        batch = operation == "BatchGetItem"
        for name, request in params["RequestItems"].items() if batch else [(params["TableName"], params)]:
            table = tables.get(name, name)
            entry = found.setdefault((operation, table), [0, 0.0, 0.0])
            entry[0] += 1
            if operation in ("PutItem", "UpdateItem", "DeleteItem"):
                entry[1] += write_units(size_of(table, params.get("Key") or params.get("Item") or {}))
            else:
                consistent = bool(request.get("ConsistentRead"))
                keys = request["Keys"] if batch else [request.get("Key") or {}]
                entry[2] += sum(read_units(size_of(table, key), consistent=consistent) for key in keys)
    units = [Units(op, table, int(c), w, r) for (op, table), (c, w, r) in found.items()]
    return units, ItemSizes(profile_bytes, delivery_sizes)


@contextmanager
def records_at_once(limit: int) -> Iterator[None]:
    saved = sqs_batches.MAX_CONCURRENT_RECORDS
    sqs_batches.MAX_CONCURRENT_RECORDS = limit
    try:
        yield
    finally:
        sqs_batches.MAX_CONCURRENT_RECORDS = saved


def _batch(function: LocalFunction, scenario: Scenario, round_number: int) -> Callable[[], None]:
    """An invocation of ``BATCH`` records like the scenario's, for distinct customers."""
    events = []
    for n in range(BATCH):
        event: dict[str, Any] = {**scenario.event, "detail": dict(scenario.event["detail"])}
        if scenario.name != "duplicate":
            event["detail"]["customer_id"] = f"{event['detail']['customer_id']}_{round_number}_{n}"
        events.append(event)
    payload = sqs_event(*events)

    def invoke() -> None:
        response = function.invoke(payload)
        if response.get("batchItemFailures"):
            raise RuntimeError(f"{scenario.name}: the canned answers did not satisfy the handler: {response}")

    return invoke


def _cpu_ms(function: LocalFunction, scenario: Scenario) -> tuple[float, float]:
    """Median CPU ms per record, and the bytes of logs and metrics per record (what CloudWatch Logs
    ingests: the handlers write them to stdout, which stdout_to sends to a file)."""
    with answering(CannedAnswers(scenario.answers)), records_at_once(1):
        _batch(function, scenario, 0)()  # warm: compiled templates, cached rows
        samples = []
        sys.stdout.flush()
        logged_before = os.fstat(1).st_size
        for round_number in range(CPU_BATCHES):
            invoke = _batch(function, scenario, round_number)
            started = time.process_time()
            invoke()
            samples.append((time.process_time() - started) / BATCH)
        sys.stdout.flush()
        log_bytes = (os.fstat(1).st_size - logged_before) / (CPU_BATCHES * BATCH)
    return statistics.median(samples) * 1000, log_bytes


def _lambda_ms(function: LocalFunction, scenario: Scenario) -> tuple[float, float]:
    """Wall ms per record of a batch at AWS's latencies: one record at a time, then all at once,
    alternating batch by batch."""
    figures: dict[int, list[float]] = {1: [], BATCH: []}
    with answering(CannedAnswers(scenario.answers, AWS_LATENCY)):
        for round_number in range(LATENCY_BATCHES):
            for limit in figures:
                invoke = _batch(function, scenario, round_number)
                with records_at_once(limit):
                    started = time.perf_counter()
                    invoke()
                    figures[limit].append((time.perf_counter() - started) / BATCH)
    return statistics.median(figures[1]) * 1000, statistics.median(figures[BATCH]) * 1000


def bench_handler() -> HandlerFigures:
    with time_machine.travel(SAMPLE_DAY_CLOCK, tick=True) as clock, running_moto():
        stack = build_stack()
        verify_sender_identity(stack)
        seed_sample_data(stack)
        samples = sample_events()
        with stdout_to(REPO_ROOT / "out" / "logs" / "bench-handler.jsonl"):
            mappings = EventSourceMappings(stack, clock)
            teach_recommender(stack, mappings, samples)
            # A warm function: the first email reads segments, experiments, recommendation rows.
            _record(stack, mappings, "warm-up", cart_for(samples, _shopper(stack, 0)))
            sent_cart = cart_for(samples, _shopper(stack, 1))
            sent = _record(stack, mappings, "sent", sent_cart)
            skipped = _record(stack, mappings, "skipped", samples["cart_abandoned/no_consent_tom.json"])
            duplicate = _record(stack, mappings, "duplicate", sent_cart)
            units, sizes = request_units(stack, sent.event["detail"]["customer_id"], sent.calls)
            function = mappings.function(FUNCTION)
            measured = {scenario.name: _cpu_ms(function, scenario) for scenario in (sent, skipped, duplicate)}
            sequential, concurrent = _lambda_ms(function, sent)
    return HandlerFigures(
        calls_per_sent=Counter(f"{service}.{operation}" for service, operation, _ in sent.calls),
        units=units,
        profile_bytes=sizes.profile,
        delivery_bytes=sizes.largest_delivery,
        cpu_ms={name: cpu for name, (cpu, _) in measured.items()},
        log_bytes_per_sent=measured["sent"][1],
        lambda_ms_sequential=sequential,
        lambda_ms_concurrent=concurrent,
    )


def main() -> None:
    figures = bench_handler()
    print("AWS calls of a sent Cart Abandoned email (warm function):", dict(figures.calls_per_sent))
    for unit in figures.units:
        print(f"  {unit.operation:<14} {unit.table:<22} {unit.calls} call(s) {unit.write_units} WRU", end="")
        print(f" {unit.read_units} RRU")
    print(f"profile {figures.profile_bytes} B, delivery record {figures.delivery_bytes} B")
    print("handler CPU per record, canned answers:", {k: round(v, 2) for k, v in figures.cpu_ms.items()})
    print(
        f"Lambda ms per email at SES 50 ms: one at a time {figures.lambda_ms_sequential:.1f}, "
        f"at once {figures.lambda_ms_concurrent:.1f}"
    )
    for line in figures.cost():
        print(f"  {line.item:<22} ${line.dollars_per_thousand:.5f} per 1,000  ({line.assumes})")
    print(f"  total ${sum(line.dollars_per_thousand for line in figures.cost()):.4f} per 1,000 besides SES")


if __name__ == "__main__":
    main()
