"""Fault runs: the whole pipeline under AWS's failure semantics, counted as a customer would.

Used by ``make faults`` (full sizes) and by the tests (the same cases, smaller). Each run puts store
events on the bus of a local stack, lets the real handlers process them with faults injected
(``local_stack.emulator.failures``), waits out visibility timeouts on the clock, and counts per business
identity: emails SES accepted, orders counted on the profile, decisions on record, dead letters.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from local_stack.emulator import clients
from local_stack.emulator.failures import (
    CrashPoint,
    Refusal,
    Throttling,
    crash_at,
    recording_calls,
    refusing,
    throttled,
)
from local_stack.emulator.fresh import fresh_stack
from local_stack.emulator.lambda_runtime import Clock, EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.outbox import parse_email
from local_stack.emulator.rows import import_customers
from local_stack.emulator.run import put_events, recorded_outcome
from local_stack.emulator.scenario import SampleEvent, load_sample_events
from local_stack.emulator.ses_send_events import dropping
from local_stack.emulator.stack import LocalStack
from local_stack.faults.forged_ses import forged_ses_run
from local_stack.faults.fuzz import fuzz_run
from local_stack.faults.refused_shapes import refused_shapes_run
from local_stack.faults.shapes import IDENTITY_FIELD, clone_customer
from nudge.dal.customers import get_customer
from nudge.outcome import Decision
from nudge.profiles import Customer
from nudge.timeutil import to_stored, utc_now

# One sendable sample per trigger: each crash point gets a fresh copy of its customer and event.
CRASH_SAMPLES = (
    "cart_abandoned/vip_ada.json",
    "order_placed/repeat_order_maria.json",
    "customer_lapsed/at_risk_sam.json",
)
_REFUSAL_CODE = {"sesv2": "TooManyRequestsException"}
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "SendEmail", "TransactWriteItems"})


@dataclass
class FaultRow:
    """One line of the table: what happened to ``events`` events under one kind of fault."""

    case: str
    events: int = 0
    sent_once: int = 0
    duplicates: int = 0
    double_counts: int = 0
    in_dlq: int = 0
    crashes: int = 0
    unconfirmed: int = 0
    """Decided ``send_unconfirmed``: the invocation died between claiming and recording the send."""
    retryable: int = 0
    """Still on the trigger's queue when the faulty period ended: neither lost nor dead-lettered."""
    not_sent: int = 0
    changed: int = 0
    """Forged SES events after which a profile or delivery record they name had changed."""
    duplicates_expected: bool = False
    """A row that measures the residual risk (lost Send events): its duplicates are reported, not
    a failure."""
    broken_promises: int = 0
    """What a row's case promises besides once-only, and did not keep (a record that can never
    succeed retried, a valid record stopped by its batch's bad data, an unhandled error)."""
    notes: list[str] = field(default_factory=list)

    @property
    def safe(self) -> bool:
        return (
            (self.duplicates == 0 or self.duplicates_expected)
            and self.double_counts == 0
            and self.changed == 0
            and self.broken_promises == 0
        )


def header() -> str:
    return (
        f"{'case':<60} {'events':>6} {'sent once':>9} {'dupes':>5} {'double':>6} "
        f"{'DLQ':>4} {'crashes':>7} {'unconf.':>7} {'retryable':>9} {'not sent':>8} {'changed':>7}"
    )


def line(row: FaultRow) -> str:
    return (
        f"{row.case:<60} {row.events:>6} {row.sent_once:>9} {row.duplicates:>5} {row.double_counts:>6} "
        f"{row.in_dlq:>4} {row.crashes:>7} {row.unconfirmed:>7} {row.retryable:>9} {row.not_sent:>8} "
        f"{row.changed:>7}"
    )


def emails_by_recipient(moto: MotoEndpoint) -> Counter[str]:
    return Counter(
        str(parse_email(raw)["To"].addresses[0].addr_spec) for raw in moto.sent_raw_emails().values()
    )


def dead_letter_count(stack: LocalStack) -> int:
    sqs = clients.sqs(stack.region)
    return sum(
        int(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        for url in stack.dead_letter_queues().values()
    )


def queued_count(stack: LocalStack) -> int:
    """Messages still on the trigger queues, visible or waiting out a back-off."""
    sqs = clients.sqs(stack.region)
    total = 0
    for logical_id in ("CartAbandonedQueue", "OrderPlacedQueue", "CustomerLapsedQueue"):
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.queue_url(logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        total += int(attributes["ApproximateNumberOfMessages"])
        total += int(attributes["ApproximateNumberOfMessagesNotVisible"])
    return total


# ---------------------------------------------------------------------------------------- crashes


@dataclass(frozen=True)
class _Copy:
    """A fresh customer and event, cloned from a sample, so each fault starts from the same state."""

    sample: SampleEvent
    customer: Customer


def _clone(stack: LocalStack, sample: SampleEvent, suffix: str) -> _Copy:
    customer = clone_customer(stack, str(sample.event["detail"]["customer_id"]), suffix)
    detail: dict[str, Any] = {"customer_id": customer.customer_id}
    identity = IDENTITY_FIELD[sample.detail_type]
    if identity:
        detail[identity] = f"{sample.event['detail'][identity]}_{suffix}"
    return _Copy(sample.varied(f"{sample.name}#{suffix}", **detail), customer)


# Attribution waits two minutes on its queue (DelaySeconds). Draining it here would move the clock
# between the clean run and each crash run, expire time-based caches (the signing key's) and change
# the sequence of calls the matrix crashes after. Its own crash points: tests/integration/test_attribution.py.
_NOT_IN_THE_MATRIX = frozenset({"AttributionFunction"})


def _run_one(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, copy: _Copy
) -> tuple[int, int, Decision | None, int]:
    """Emails to the copy's customer, orders counted, the decision, and dead letters added."""
    dead_before = dead_letter_count(stack)
    put_events(stack, [copy.sample])
    mappings.drain(only=[f for f in stack.functions if f not in _NOT_IN_THE_MATRIX])
    emails = emails_by_recipient(moto)[copy.customer.email]
    after = get_customer(stack.names["CustomersTable"], copy.customer.customer_id)
    counted = (after.order_count - copy.customer.order_count) if after else 0
    outcome = recorded_outcome(stack, copy.sample)
    return emails, counted, outcome.decision if outcome else None, dead_letter_count(stack) - dead_before


def crash_point_matrix(moto: MotoEndpoint, clock: Clock, *, sampled: bool = False) -> list[FaultRow]:
    """For each trigger: die right after each AWS call the handler makes, and separately have each
    of its writes refused (throttled past the SDK's retries); then let SQS redeliver. ``sampled``:
    only after the writes and SES (a crash after a read leaves nothing behind to recover from)."""
    stack = fresh_stack(moto)
    mappings = EventSourceMappings(stack, clock)
    samples = {sample.name: sample for sample in load_sample_events()}
    rows = []
    for name in CRASH_SAMPLES:
        sample = samples[name]
        is_order = sample.detail_type == "Order Placed"
        # Two clean runs: the second shows the warm sequence of calls (caches filled), as a retry sees it.
        _run_one(stack, mappings, moto, _clone(stack, sample, "warm"))
        with recording_calls() as calls:
            _run_one(stack, mappings, moto, _clone(stack, sample, "clean"))
        calls = [call for call in calls if call[0] != "sqs"]
        crash_row = FaultRow(f"{sample.trigger.name}: crash after each call")
        refusal_row = FaultRow(f"{sample.trigger.name}: each write refused")
        for index, (service, operation) in enumerate(calls):
            if sampled and operation not in _WRITES:
                continue
            nth = calls[: index + 1].count((service, operation))
            where = f"{service}.{operation}#{nth}"
            crash = CrashPoint(service=service, operation=operation, nth=nth)
            with crash_at(crash):
                result = _run_one(stack, mappings, moto, _clone(stack, sample, f"crash{index}"))
            _count(crash_row, result, is_order, fired=crash.fired, where=f"after {where}")
            if operation in _WRITES:
                code = _REFUSAL_CODE.get(service, "ProvisionedThroughputExceededException")
                refusal = Refusal(service=service, operation=operation, code=code, nth=nth)
                with refusing(refusal):
                    result = _run_one(stack, mappings, moto, _clone(stack, sample, f"refused{index}"))
                _count(refusal_row, result, is_order, fired=refusal.fired, where=where)
        rows += [crash_row, refusal_row]
    return rows


def _count(
    row: FaultRow, result: tuple[int, int, Decision | None, int], is_order: bool, *, fired: bool, where: str
) -> None:
    emails, counted, decision, dead = result
    row.events += 1
    row.crashes += int(fired)
    row.sent_once += int(emails == 1)
    row.duplicates += int(emails > 1)
    row.not_sent += int(emails == 0)
    row.double_counts += int(is_order and counted > 1)
    row.unconfirmed += int(decision is Decision.SEND_UNCONFIRMED)
    row.in_dlq += dead
    if is_order and counted != 1:
        row.notes.append(f"{where}: order counted {counted} times")
    if decision is None or not decision.is_final:
        row.notes.append(f"{where}: no final decision ({decision})")
    if emails == 0:
        row.notes.append(f"{where}: not sent ({decision})")


# ------------------------------------------------------------------------------------- throttling

TRIGGER_QUEUE_EVENTS = ("Cart Abandoned", "Order Placed", "Customer Lapsed")


def _throttle_population(count: int, now: datetime) -> tuple[list[Customer], list[SampleEvent]]:
    """``count`` customers, each the subject of one sendable event, the three triggers in turn."""
    samples = {s.detail_type: s for s in load_sample_events() if not s.is_invalid}
    last_order = now - timedelta(days=120)
    customers, events = [], []
    for number in range(count):
        customer_id = f"cus_load_{number:05d}"
        customers.append(
            Customer(
                customer_id=customer_id,
                email=f"load{number}@example.com",
                first_name="Load",
                timezone="UTC",
                marketing_consent=True,
                segment_id="at_risk",
                order_count=2,
                total_spent=Decimal("80.00"),
                last_order_at=last_order,
            )
        )
        kind = TRIGGER_QUEUE_EVENTS[number % 3]
        base = samples[kind]
        detail: dict[str, Any] = {"customer_id": customer_id}
        if kind == "Cart Abandoned":
            detail |= {"cart_id": f"cart_load_{number}", "abandoned_at": to_stored(now - timedelta(hours=1))}
        elif kind == "Order Placed":
            detail |= {"order_id": f"ord_load_{number}", "placed_at": to_stored(now - timedelta(minutes=5))}
        else:
            detail |= {"last_order_at": to_stored(last_order), "days_since_last_order": 120}
        event = base.varied(f"load/{number}", **detail)
        event.event["time"] = to_stored(now)
        events.append(event)
    return customers, events


def throttling_run(
    moto: MotoEndpoint,
    clock: Clock,
    *,
    rate: float,
    events: int,
    window: timedelta,
    send_events_lost: float = 0.0,
) -> FaultRow:
    """``rate`` of the handlers' DynamoDB and SES calls throttled for ``window``; then the throttling
    stops and the queues drain. Counts what the window left retryable, and the end state. With
    ``send_events_lost``, that share of SES's Send events never arrives (the one way a resent email
    becomes a duplicate: a claim SES accepted but could not report)."""
    # Quiet hours off: the throttled hour must not turn into a night for someone.
    stack = fresh_stack(moto, QuietHoursStart="00:00", QuietHoursEnd="00:00")
    customers, samples = _throttle_population(events, utc_now())
    import_customers(stack.names["CustomersTable"], customers)
    mappings = EventSourceMappings(stack, clock)
    put_events(stack, samples)
    lost = f", {send_events_lost:.0%} of Send events lost" if send_events_lost else ""
    row = FaultRow(
        f"{rate:.0%} of DynamoDB and SES calls throttled{lost}",
        events=events,
        duplicates_expected=bool(send_events_lost),
    )
    throttling = Throttling(rate=rate)
    with dropping(send_events_lost) as send_events:
        with throttled(throttling, lambda seconds: clock.shift(seconds)):
            report = mappings.drain(max_rounds=1_000_000, max_wait_seconds=window.total_seconds())
        row.retryable = queued_count(stack)
        row.crashes = report.died
        mappings.drain(max_rounds=1_000_000)  # the dependency recovered: what was left goes through
    if send_events_lost:
        row.notes.append(
            f"Send events lost: {send_events.dropped} of {send_events.dropped + send_events.published}"
        )
    sent = emails_by_recipient(moto)
    table = stack.names["CustomersTable"]
    for customer, sample in zip(customers, samples, strict=True):
        emails = sent[customer.email]
        row.sent_once += int(emails == 1)
        row.duplicates += int(emails > 1)
        row.not_sent += int(emails == 0)
        outcome = recorded_outcome(stack, sample)
        row.unconfirmed += int(outcome is not None and outcome.decision is Decision.SEND_UNCONFIRMED)
        if sample.detail_type == "Order Placed":
            after = get_customer(table, customer.customer_id)
            counted = (after.order_count - customer.order_count) if after else 0
            row.double_counts += int(counted > 1)
            if counted != 1:
                row.notes.append(f"{customer.customer_id}: order counted {counted} times")
    row.in_dlq = dead_letter_count(stack)
    row.notes.append(
        f"refused: {json.dumps(throttling.refused)}; {report.invocations} invocations, "
        f"{report.died} cut off at their timeout, clock moved {report.waited_seconds / 60:.0f} min"
    )
    return row


def fuzz_row(moto: MotoEndpoint, clock: Clock, *, examples: int) -> FaultRow:
    """Generated events (local_stack/faults/fuzz.py), valid and hostile, each delivered once or twice."""
    stack = fresh_stack(moto)
    tally = fuzz_run(stack, EventSourceMappings(stack, clock), moto, examples=examples)
    return FaultRow(
        "fuzz: generated events, some delivered twice",
        events=tally.events,
        sent_once=tally.sent,
        duplicates=tally.duplicates,
        double_counts=tally.double_counts,
        in_dlq=tally.dead_lettered,
        crashes=tally.unhandled_errors,
        not_sent=tally.skipped_or_deferred,
        notes=[
            *tally.problems,
            f"{tally.deliveries} deliveries; not sent = skipped by a rule or deferred; DLQ = invalid",
            f"{tally.experiment_rows} generated Experiments rows, ignored {tally.invalid_experiments} "
            f"times; {tally.probes} probes after each change: {tally.probes_sent} sent, "
            f"{tally.probes_held_out} held out, {tally.stopped_by_bad_data} stopped by bad data",
        ],
    )


def refused_row(moto: MotoEndpoint, clock: Clock, *, batches: int) -> FaultRow:
    """Records that can never succeed (990-deep JSON, far-future times in every time field) in
    batches with valid events, to every queue-fed function (local_stack/faults/refused_shapes.py)."""
    stack = fresh_stack(moto)
    tally = refused_shapes_run(stack, EventSourceMappings(stack, clock), batches=batches)
    return FaultRow(
        "refused: deep JSON, far-future times, beside valid events",
        events=tally.refused + tally.valid,
        sent_once=tally.emails_sent,
        in_dlq=tally.dead_lettered_at_once,
        crashes=tally.unhandled_errors,
        retryable=tally.retried,
        not_sent=tally.stopped,
        broken_promises=tally.unhandled_errors + tally.retried + tally.stopped,
        notes=[
            *tally.problems,
            f"{tally.batches} batches: {tally.refused} records that can never succeed, "
            f"{tally.dead_lettered_at_once} dead-lettered on their first receive, {tally.retried} retried; "
            f"{tally.valid} valid records beside them, {tally.stopped} stopped; "
            f"{len(tally.shapes)} shapes",
        ],
    )


def forged_row(moto: MotoEndpoint, clock: Clock, *, batches: int) -> FaultRow:
    """SES events not about an email we sent through our configuration set (another set's, a delivery
    that never was, another customer's real one) in batches with valid ones, straight to the
    engagement and feedback functions (local_stack/faults/forged_ses.py)."""
    stack = fresh_stack(moto)
    tally = forged_ses_run(stack, EventSourceMappings(stack, clock), batches=batches)
    return FaultRow(
        "forged: SES events not of our emails, beside valid events",
        events=tally.forged,
        in_dlq=tally.dead_lettered,
        crashes=tally.unhandled_errors,
        retryable=tally.retried,
        not_sent=tally.stopped,
        changed=tally.changed,
        broken_promises=tally.unhandled_errors + tally.retried + tally.dead_lettered + tally.stopped,
        notes=[
            *tally.problems,
            f"{tally.batches} batches: {tally.forged} forged SES events ({len(tally.kinds)} kinds), "
            f"{tally.changed} changed a profile or delivery record, {tally.retried} retried, "
            f"{tally.dead_lettered} dead-lettered; ignored as another configuration set's "
            f"{tally.ignored_as_foreign}, as of no email we sent {tally.ignored_as_not_ours}; "
            f"{tally.valid} valid events beside them, "
            f"{tally.stopped} not applied",
        ],
    )


def run_all(
    moto: MotoEndpoint,
    clock: Clock,
    *,
    throttled_events: int,
    fuzz_examples: int,
    refused_batches: int = 200,
    forged_batches: int = 100,
    sampled: bool = False,
    say: Callable[[str], None] = print,
) -> list[FaultRow]:
    say(header())
    rows: list[FaultRow] = []
    for row in crash_point_matrix(moto, clock, sampled=sampled):
        say(line(row))
        rows.append(row)
    for rate, lost in ((0.3, 0.0), (0.6, 0.0), (0.6, 0.01)):
        row = throttling_run(
            moto, clock, rate=rate, events=throttled_events, window=timedelta(hours=1), send_events_lost=lost
        )
        say(line(row))
        rows.append(row)
    row = refused_row(moto, clock, batches=refused_batches)
    say(line(row))
    rows.append(row)
    row = forged_row(moto, clock, batches=forged_batches)
    say(line(row))
    rows.append(row)
    row = fuzz_row(moto, clock, examples=fuzz_examples)
    say(line(row))
    rows.append(row)
    return rows
