"""The cost of a sent email in the situations a store lives in, as `make bench` reports it.

Three situations of the Cart Abandoned function, each for two customers:

- **busy**: a warm container whose caches hold the segment, experiments and the cart's
  recommendation rows (another shopper's email for the same products a moment before);
- **quiet**: a warm container whose batches come more than a minute apart, so every 60-second
  cache (segments, experiments, recommendations) has expired; a batch of one;
- **cold**: a new container (no client, no cached row or secret), a batch of ten;

for a **new shopper** (no history) and an **engaged regular** (52 weekly orders, 50 opens and 50
clicks, written by the functions' own writers, so the profile holds what a year of them leaves).

Each situation runs on the local stack (moto) with every call recorded: calls per sent email (the
next reminder's schedule counted apart), secret and recommendation reads per batch, and request
units from the stored items' sizes (local_stack/bench/item_size.py: a write is billed on the larger of
the item before and after it, which here is the item after). The same records then run with moto's
recorded answers given back: inside botocore (canned: the handler's own CPU, serialising and
parsing included) and over a real socket to a local keep-alive HTTP endpoint in another process
(local_stack/bench/canned_server.py: botocore's HTTP stack included, as on AWS). CPU is
``time.process_time`` per record over whole batches, records one after another, median of batches;
the ways of answering take turns (``CPU_TURNS``), so a drift in the machine's speed falls on each alike.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import time_machine

from local_stack.bench.canned_server import handler_apart, serving
from local_stack.bench.cost_model import (
    FUNCTION_MEMORY_MB,
    billed_ms_per_email,
    per_thousand_emails,
    vcpu_share,
)
from local_stack.bench.handler import (
    AWS_LATENCY,
    FUNCTION,
    cart_for,
    records_at_once,
    request_units,
    sample_events,
    teach_recommender,
)
from local_stack.bench.table import Line
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
from local_stack.emulator.scenario import SAMPLE_DAY_CLOCK, SampleEvent
from local_stack.emulator.seed import put_shopper, seed_sample_data, verify_sender_identity
from local_stack.emulator.sqs_records import sqs_event
from local_stack.emulator.stack import REPO_ROOT, LocalStack, build_stack
from nudge import ttl_cache
from nudge.adapters import clients as nudge_clients
from nudge.adapters.http_session import USE_BOTOCORE_HTTP
from nudge.dal.customer_history import record_engagement, record_order
from nudge.timeutil import utc_now

SITUATIONS = ("busy", "quiet", "cold")
SHOPPERS = ("new shopper", "engaged regular")
COLD_BATCH = 10
QUIET_GAP_SECONDS = 61
"""Past every 60-second cache; the secrets' 5-minute cache still holds (docs/performance.md)."""
REGULAR_ORDERS = 52
REGULAR_OPENS = REGULAR_CLICKS = 50
CPU_BATCHES = 15
"""Batches per figure (a quiet store's batch is one record: ten times as many)."""
CPU_RECORDS = 10
CPU_TURNS = 3
"""Times the ways of answering take turns: this VM's speed drifts by a fifth within minutes, and
taking turns spreads the drift over every way alike."""
REGULAR_SKUS = ("SKU-MUG-11", "SKU-HAT-12", "SKU-SOCK-05", "SKU-BULB-01")
MEMORY_SIZES = (512, 1024, 1769)
LOG_BYTES_PER_EMAIL = 600
"""Logs and metrics a sent email writes, when this module runs alone (`make bench` passes what its
handler run measured)."""
NOT_NUDGES = ("EventBridge", "EventBridge Scheduler")
"""The store's own event and the series' schedule: priced in the cost model, not in Nudge's share."""


@dataclass
class Recorded:
    """One situation for one kind of customer: the calls of its sent emails and what they cost."""

    situation: str
    shopper: str
    emails: int
    calls: Counter[str]
    requests: list[tuple[str, str, dict[str, Any]]]
    answers: dict[AnswerKey, Answer]
    events: list[dict[str, Any]]
    write_units: float = 0.0
    read_units: float = 0.0
    profile_bytes: int = 0
    send_state_bytes: int = 0
    recommendation_reads: int = 0
    """BatchGetItem calls that read recommendation model or catalog rows (the profile's own read with
    its send state is another BatchGetItem, and rows may ride along with it)."""
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def schedules(self) -> int:
        return self.calls["scheduler.CreateSchedule"]

    @property
    def calls_per_email(self) -> float:
        return (self.calls.total() - self.schedules) / self.emails

    @property
    def secret_reads(self) -> int:
        return self.calls["secretsmanager.GetSecretValue"]


def engaged_regular(stack: LocalStack, customer_id: str) -> str:
    """A VIP who ordered every week for a year and opened and clicked 50 emails each, written by the
    Order Placed and engagement functions' own writers."""
    put_shopper(stack, customer_id, f"{customer_id}@example.com")
    table = stack.names["CustomersTable"]
    now = utc_now()
    for week in range(REGULAR_ORDERS):
        skus = (REGULAR_SKUS[week % len(REGULAR_SKUS)], REGULAR_SKUS[(week + 1) % len(REGULAR_SKUS)])
        placed = now - timedelta(days=7 * week + 1)
        record_order(
            table, customer_id, f"ord_{customer_id}_{week:03d}", Decimal("42.00"), placed, skus, "GBP"
        )
    for day in range(REGULAR_OPENS):
        record_engagement(table, customer_id, "opened", now - timedelta(days=day, hours=3))
    for day in range(REGULAR_CLICKS):
        record_engagement(table, customer_id, "clicked", now - timedelta(days=day, hours=2))
    return customer_id


def _customer(stack: LocalStack, shopper: str, customer_id: str) -> str:
    if shopper == "engaged regular":
        return engaged_regular(stack, customer_id)
    return put_shopper(stack, customer_id, f"{customer_id}@example.com")


def _other_cart(samples: dict[str, SampleEvent], cart: SampleEvent) -> SampleEvent:
    """The cart with other products in it (the sample catalog's hat and mug)."""
    items = [
        {
            "sku": sku,
            "name": name,
            "quantity": 1,
            "unit_price": "20.00",
            "product_url": f"https://shop.example/p/{sku}",
        }
        for sku, name in (("SKU-HAT-12", "Wool hat"), ("SKU-MUG-11", "Stoneware mug"))
    ]
    return cart.varied(cart.name, items=items)


def _new_container() -> None:
    """What a new Lambda container starts without: clients, cached rows, cached secrets."""
    ttl_cache.forget_all()
    nudge_clients.forget()


def _record(
    stack: LocalStack, mappings: EventSourceMappings, situation: str, shopper: str, carts: list[SampleEvent]
) -> Recorded:
    with recording_requests() as requests, recording_answers() as answers:
        put_events(stack, carts)
        mappings.drain(only=[FUNCTION])
    calls = Counter(f"{service}.{operation}" for service, operation, _ in requests)
    emails = calls["sesv2.SendEmail"]
    if emails != len(carts):
        raise RuntimeError(f"{situation}, {shopper}: {emails} of {len(carts)} emails sent")
    recorded = Recorded(situation, shopper, emails, calls, requests, answers, [cart.event for cart in carts])
    _units(stack, recorded)
    return recorded


def _units(stack: LocalStack, recorded: Recorded) -> None:
    """Request units per sent email, from the stored sizes of the batch's first customer's items."""
    customer_id = recorded.events[0]["detail"]["customer_id"]
    units, sizes = request_units(stack, customer_id, recorded.requests)
    recorded.write_units = sum(unit.write_units for unit in units) / recorded.emails
    recorded.read_units = sum(unit.read_units for unit in units) / recorded.emails
    recorded.profile_bytes = sizes.profile
    recorded.send_state_bytes = sizes.send_state
    rows = {stack.names["RecommendationsTable"], stack.names["ProductsTable"]}
    recorded.recommendation_reads = sum(
        1
        for service, operation, params in recorded.requests
        if (service, operation) == ("dynamodb", "BatchGetItem") and rows & set(params["RequestItems"])
    )


def record_situations(stack: LocalStack, mappings: EventSourceMappings, clock: Any) -> list[Recorded]:
    """Every situation for every kind of customer, on the local stack: calls and units."""
    samples = sample_events()
    teach_recommender(stack, mappings, samples)
    found: list[Recorded] = []
    number = iter(range(10_000))
    for shopper in SHOPPERS:
        tag = "regular" if shopper == "engaged regular" else "new"

        def customers(count: int) -> list[SampleEvent]:
            return [
                cart_for(samples, _customer(stack, shopper, f"cus_{tag}_{next(number):04d}"))  # noqa: B023
                for _ in range(count)
            ]

        # Busy: another shopper's email for the same products warms every cache a moment before.
        found.append(_record(stack, mappings, "warm-up", shopper, customers(1)))
        found.append(_record(stack, mappings, "busy", shopper, customers(1)))
        # Quiet: the same warm container, more than a minute later.
        waiting = customers(1)
        clock.shift(QUIET_GAP_SECONDS)
        found.append(_record(stack, mappings, "quiet", shopper, waiting))
        # The same, for a cart of products the container has not recommended for lately.
        other = [_other_cart(samples, cart) for cart in customers(1)]
        clock.shift(QUIET_GAP_SECONDS)
        found.append(_record(stack, mappings, "quiet, another cart", shopper, other))
        # Cold: a new container, a full batch.
        batch = customers(COLD_BATCH)
        _new_container()
        found.append(_record(stack, mappings, "cold", shopper, batch))
    return found


def _batches(recorded: Recorded, round_number: int) -> dict[str, Any]:
    """A batch like the situation's (a quiet store's of one record, a busy one's of ``CPU_RECORDS``)
    for distinct customers."""
    events = []
    template = recorded.events[0]
    for n in range(_records(recorded)):
        event: dict[str, Any] = {**template, "detail": dict(template["detail"])}
        event["detail"]["customer_id"] = f"{template['detail']['customer_id']}_{round_number}_{n}"
        events.append(event)
    return sqs_event(*events)


def _cpu_samples(
    function: LocalFunction, recorded: Recorded, canned: CannedAnswers, rounds: int
) -> list[float]:
    """CPU seconds per record of ``rounds`` batches: busy with the caches the first batch fills, quiet
    with every cached row expired before each batch, as in its recording (the clock stays: hours of
    quiet batches would end in the customers' quiet hours)."""
    samples = []
    with answering(canned), records_at_once(1):
        function.invoke(_batches(recorded, 0))  # warm: compiled templates, clients, connections
        for round_number in range(1, rounds + 1):
            payload = _batches(recorded, round_number)
            if recorded.situation == "quiet":
                ttl_cache.expire_all()
            started = time.process_time()
            response = function.invoke(payload)
            samples.append((time.process_time() - started) / _records(recorded))
            if response.get("batchItemFailures"):
                raise RuntimeError(f"{recorded.situation}: the recorded answers did not satisfy the handler")
    return samples


def _records(recorded: Recorded) -> int:
    return 1 if recorded.situation == "quiet" else CPU_RECORDS


def measure_cpu(mappings: EventSourceMappings, found: list[Recorded]) -> None:
    """Each busy and quiet situation's CPU per record, canned and over a real socket (and a busy
    store's with botocore's own session), side by side: the ways take turns, ``CPU_TURNS`` times,
    and each figure is the median of its batches over all turns."""
    function = mappings.function(FUNCTION)
    for recorded in found:
        if recorded.situation not in ("busy", "quiet"):
            continue  # a cold container's CPU is the cold start's (cold_start.py)
        # The first batch of a run may read what its recording found cached (a busy run after a
        # quiet one finds its caches expired): every answer this customer's recordings got.
        answers: dict[AnswerKey, Answer] = {}
        for other in found:
            if other.shopper == recorded.shopper:
                answers.update(other.answers)
        answers.update(recorded.answers)
        rounds = CPU_BATCHES * (CPU_RECORDS // _records(recorded)) // CPU_TURNS
        samples: dict[str, list[float]] = {"canned": [], "socket": [], "urllib3": []}
        with serving(answers) as url, handler_apart():
            for _ in range(CPU_TURNS):
                samples["canned"] += _cpu_samples(function, recorded, CannedAnswers(answers), rounds)
                over_socket = CannedAnswers(answers, server=url)
                samples["socket"] += _cpu_samples(function, recorded, over_socket, rounds)
                if recorded.situation == "busy":
                    with botocore_http():
                        samples["urllib3"] += _cpu_samples(function, recorded, over_socket, rounds)
        recorded.cpu_ms.update({way: statistics.median(s) * 1000 for way, s in samples.items() if s})


@contextmanager
def botocore_http() -> Iterator[None]:
    """The clients made in the block send with botocore's own HTTP session (urllib3), as before
    ``nudge.adapters.http_session``: the side-by-side figure."""
    nudge_clients.forget()
    os.environ[USE_BOTOCORE_HTTP] = "true"
    try:
        yield
    finally:
        del os.environ[USE_BOTOCORE_HTTP]
        nudge_clients.forget()


def io_ms(recorded: Recorded) -> float:
    """One sent email's wait on AWS, at ``AWS_LATENCY`` a call (the schedule included)."""
    waits = sum(AWS_LATENCY.get(call.split(".")[0], 0.0) * count for call, count in recorded.calls.items())
    return waits * 1000 / recorded.emails


def records_per_batch(recorded: Recorded) -> int:
    return 1 if recorded.situation == "quiet" else COLD_BATCH


def lambda_ms(recorded: Recorded, cpu_ms: float, memory_mb: int = FUNCTION_MEMORY_MB) -> float:
    return billed_ms_per_email(cpu_ms, io_ms(recorded), records_per_batch(recorded), memory_mb)


@dataclass(frozen=True)
class Priced:
    recorded: Recorded
    cpu_ms: float
    """Real-socket CPU per email (a cold batch: its situation's quiet figure plus the cold start's
    import and first invocation, shared by the batch)."""
    lambda_ms: float
    dollars: float


def priced(
    situations: list[Recorded],
    init_cpu_ms: float,
    memory_mb: int = FUNCTION_MEMORY_MB,
    log_bytes: float = LOG_BYTES_PER_EMAIL,
) -> list[Priced]:
    """Each situation's Lambda time and cost besides SES per 1,000 emails at ``memory_mb``."""
    found = []
    for recorded in situations:
        if recorded.situation not in SITUATIONS:
            continue
        if recorded.situation == "cold":
            quiet = _find(situations, recorded.shopper, "quiet")
            cpu = quiet.cpu_ms["socket"] + init_cpu_ms / COLD_BATCH
        else:
            cpu = recorded.cpu_ms["socket"]
        billed = lambda_ms(recorded, cpu, memory_mb)
        cost = per_thousand_emails(
            write_units=recorded.write_units,
            read_units=recorded.read_units,
            lambda_ms=billed,
            log_bytes=log_bytes,
            schedules=recorded.schedules / recorded.emails,
            memory_mb=memory_mb,
            records=records_per_batch(recorded),
        )
        dollars = sum(line.dollars_per_thousand for line in cost if line.item not in NOT_NUDGES)
        found.append(Priced(recorded, cpu, billed, dollars))
    return found


def _find(situations: list[Recorded], shopper: str, situation: str) -> Recorded:
    (found,) = [r for r in situations if r.shopper == shopper and r.situation == situation]
    return found


def _pair(
    situations: list[Recorded], situation: str, figure: Callable[[Recorded], float], unit: str = ""
) -> str:
    new, regular = (figure(_find(situations, shopper, situation)) for shopper in SHOPPERS)
    return f"{new:.1f} / {regular:.1f}{unit}"


def scenario_lines(
    situations: list[Recorded], init_cpu_ms: float, log_bytes: float = LOG_BYTES_PER_EMAIL
) -> list[Line]:
    """The table's lines of the situations (each "new shopper / engaged regular")."""
    lines = []
    calls = {s: _pair(situations, s, lambda r: r.calls_per_email) for s in SITUATIONS}
    other = _pair(situations, "quiet, another cart", lambda r: r.calls_per_email)
    quiet_calls = max(_find(situations, shopper, "quiet").calls_per_email for shopper in SHOPPERS)
    lines.append(
        Line(
            "AWS calls per sent cart email, new shopper / engaged regular (schedule apart)",
            f"quiet store {calls['quiet']}",
            f"a quiet store's cart of other products {other}; "
            f"busy store {calls['busy']}; cold batch of {COLD_BATCH} {calls['cold']}",
            "<= 6 quiet",
            quiet_calls <= 6,
        )
    )
    cold = [_find(situations, shopper, "cold") for shopper in SHOPPERS]
    secrets = max(r.secret_reads for r in cold)
    recommendations = max(r.recommendation_reads for r in cold)
    lines.append(
        Line(
            f"a cold container's batch of {COLD_BATCH}: secret and recommendation reads",
            f"{secrets} GetSecretValue, {recommendations} BatchGetItem",
            "; ".join(f"{r.shopper}: {r.secret_reads}, {r.recommendation_reads}" for r in cold),
            "<= 1 secret read, <= 2 recommendation reads",
            secrets <= 1 and recommendations <= 2,
        )
    )
    new, regular = (_find(situations, shopper, "busy") for shopper in SHOPPERS)
    lines.append(
        Line(
            "DynamoDB write units per sent email (engaged regular)",
            f"{regular.write_units:g} WRU (send state {regular.send_state_bytes:,} B; the "
            f"{regular.profile_bytes:,} B profile is not written)",
            f"new shopper {new.write_units:g} WRU (send state {new.send_state_bytes:,} B, profile "
            f"{new.profile_bytes:,} B); read units "
            f"quiet {_pair(situations, 'quiet', lambda r: r.read_units)}",
            "<= 3 WRU",
            regular.write_units <= 3,
        )
    )
    socket_busy = max(r.cpu_ms["socket"] for r in situations if r.situation == "busy")
    lines.append(
        Line(
            "handler CPU per sent email, real socket (keep-alive HTTP endpoint, the clients' HTTP session)",
            f"busy {_pair(situations, 'busy', lambda r: r.cpu_ms['socket'], ' ms')}",
            "taking turns, the endpoint on its own CPU: "
            f"botocore's urllib3 session {_pair(situations, 'busy', lambda r: r.cpu_ms['urllib3'], ' ms')}; "
            f"canned inside botocore {_pair(situations, 'busy', lambda r: r.cpu_ms['canned'], ' ms')}; "
            f"quiet socket {_pair(situations, 'quiet', lambda r: r.cpu_ms['socket'], ' ms')}, "
            f"canned {_pair(situations, 'quiet', lambda r: r.cpu_ms['canned'], ' ms')}",
            "<= 6 ms real socket",
            socket_busy <= 6,
        )
    )
    at_memory = priced(situations, init_cpu_ms, log_bytes=log_bytes)
    latency = ", ".join(f"{service} {seconds * 1000:.0f} ms" for service, seconds in AWS_LATENCY.items())
    share = vcpu_share(FUNCTION_MEMORY_MB)

    def of(situation: str, figure: Callable[[Priced], float], unit: str) -> str:
        new, regular = (
            figure(
                next(p for p in at_memory if p.recorded.situation == situation and p.recorded.shopper == s)
            )
            for s in SHOPPERS
        )
        return f"{new:.1f} / {regular:.1f}{unit}" if unit != "$" else f"${new:.4f} / ${regular:.4f}"

    lines.append(
        Line(
            f"Lambda time per email at {FUNCTION_MEMORY_MB} MB ({share:.2f} vCPU), real-socket CPU",
            f"quiet {of('quiet', lambda p: p.lambda_ms, ' ms')}",
            f"busy {of('busy', lambda p: p.lambda_ms, ' ms')}; "
            f"cold {of('cold', lambda p: p.lambda_ms, ' ms')} (AWS {latency} a call)",
            "",
        )
    )
    lines.append(
        Line(
            "AWS cost besides SES per 1,000 sent cart emails (DynamoDB, Lambda, SQS, Logs)",
            f"quiet {of('quiet', lambda p: p.dollars, '$')}",
            f"busy {of('busy', lambda p: p.dollars, '$')}; cold {of('cold', lambda p: p.dollars, '$')}; "
            "SES itself $0.10",
            "",
        )
    )
    lines.append(memory_line(situations, init_cpu_ms, log_bytes))
    return lines


def memory_line(situations: list[Recorded], init_cpu_ms: float, log_bytes: float) -> Line:
    """The MemorySize that makes the quiet store's emails cheapest, and what a busy store pays by it."""
    costs = {
        memory: {
            p.recorded.situation + p.recorded.shopper: p.dollars
            for p in priced(situations, init_cpu_ms, memory, log_bytes)
        }
        for memory in MEMORY_SIZES
    }
    quiet = {memory: sum(v for k, v in by.items() if k.startswith("quiet")) for memory, by in costs.items()}
    busy = {memory: sum(v for k, v in by.items() if k.startswith("busy")) for memory, by in costs.items()}
    best = min(quiet, key=lambda memory: quiet[memory])
    return Line(
        "MemorySize, from these figures",
        f"{best} MB (template: {FUNCTION_MEMORY_MB} MB)",
        "cost per 1,000, quiet / busy (both customers): "
        + "; ".join(f"{m} MB ${quiet[m] / 2:.4f} / ${busy[m] / 2:.4f}" for m in MEMORY_SIZES),
        "",
    )


def bench_situations() -> list[Recorded]:
    """Every situation recorded on a local stack of its own, then its CPU measured."""
    with time_machine.travel(SAMPLE_DAY_CLOCK, tick=True) as clock, running_moto():
        stack = build_stack()
        verify_sender_identity(stack)
        seed_sample_data(stack)
        with stdout_to(REPO_ROOT / "out" / "logs" / "bench-scenarios.jsonl"):
            mappings = EventSourceMappings(stack, clock)
            situations = record_situations(stack, mappings, clock)
            measure_cpu(mappings, situations)
    return situations


def main() -> None:
    situations = bench_situations()
    for line in scenario_lines(situations, init_cpu_ms=0.0):
        print(f"{line.measure}: {line.value}  [{line.met}] {line.target}\n    {line.side_by_side}")


if __name__ == "__main__":
    main()
