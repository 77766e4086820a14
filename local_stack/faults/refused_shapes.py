"""Shapes that must be refused at once: records that can never succeed, in batches with valid events,
straight to every queue-fed function.

A detail nested too deeply to read (``deeply_nested``), a time from the far future in every time
field (``TIME_FIELDS``), an id that can never be stored or sent in every id field (``ID_FIELDS``,
``REFUSED_IDS``). Each must be dead-lettered on its first receive (never reported for a retry), no
invocation may raise, and every valid record of the same batch must still be handled (its email
sent, or decided by a rule).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from local_stack.emulator.failures import recording_requests
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.scenario import EVENTS_DIR, load_customer_events, load_sample_events
from local_stack.emulator.sqs_records import sqs_event
from local_stack.emulator.stack import LocalStack
from local_stack.faults.shapes import DEEP_NESTING_LEVELS, FUNCTION, deeply_nested, delivery_of
from nudge.outcome import Decision
from nudge.timeutil import utc_now


@dataclass(frozen=True)
class TimeField:
    """A time an event names, where a function reads it: ``path`` within the event's ``detail``."""

    function: str
    detail_type: str
    path: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.function}: {self.detail_type} detail.{'.'.join(self.path)}"


TIME_FIELDS = (
    TimeField("CartAbandonedFunction", "Cart Abandoned", ("abandoned_at",)),
    TimeField("OrderPlacedFunction", "Order Placed", ("placed_at",)),
    TimeField("CustomerLapsedFunction", "Customer Lapsed", ("last_order_at",)),
    TimeField("CatalogFunction", "Product Updated", ("updated_at",)),
    TimeField("CatalogFunction", "Order Placed", ("placed_at",)),
    TimeField("AttributionFunction", "Order Placed", ("placed_at",)),
    TimeField("CustomerUpdatedFunction", "Customer Updated", ("updated_at",)),
    TimeField("CustomerDeletedFunction", "Customer Deleted", ("requested_at",)),
    TimeField("EngagementFunction", "Email Delivered", ("delivery", "timestamp")),
    TimeField("EngagementFunction", "Email Opened", ("open", "timestamp")),
    TimeField("EngagementFunction", "Email Clicked", ("click", "timestamp")),
    TimeField("EngagementFunction", "Email Opened", ("mail", "timestamp")),
    TimeField("SesFeedbackFunction", "Email Bounced", ("bounce", "timestamp")),
    TimeField("SesFeedbackFunction", "Email Complaint Received", ("complaint", "timestamp")),
    TimeField("SesFeedbackFunction", "Email Complaint Received", ("mail", "timestamp")),
)
"""Every time field of every event a queue-fed function reads."""

REFUSED_FUNCTIONS = tuple(dict.fromkeys(time_field.function for time_field in TIME_FIELDS))


@dataclass(frozen=True)
class IdField(TimeField):
    """An id an event names, where a function reads it (``path`` within the event's ``detail``)."""


ID_FIELDS = (
    IdField("CartAbandonedFunction", "Cart Abandoned", ("cart_id",)),
    IdField("CartAbandonedFunction", "Cart Abandoned", ("customer_id",)),
    IdField("CartAbandonedFunction", "Cart Abandoned", ("items", "0", "sku")),
    IdField("OrderPlacedFunction", "Order Placed", ("order_id",)),
    IdField("CustomerLapsedFunction", "Customer Lapsed", ("customer_id",)),
    IdField("CatalogFunction", "Product Updated", ("sku",)),
    IdField("AttributionFunction", "Order Placed", ("order_id",)),
    IdField("CustomerUpdatedFunction", "Customer Updated", ("customer_id",)),
    IdField("CustomerDeletedFunction", "Customer Deleted", ("customer_id",)),
)
"""Ids of store events that reach a key or a message tag."""

REFUSED_IDS = (
    "😀" * 256,  # 256 characters, 1,024 bytes: DynamoDB's whole key limit
    "ü" * 200,  # 400 bytes
    "cart_91#2",  # would be taken for step 2 of cart_91's series
    "a\x00b",
)
"""Ids that can never be stored or sent: too many bytes, a key separator, a control character."""


@dataclass
class RefusedTally:
    batches: int = 0
    refused: int = 0
    """Records that can never succeed (too deeply nested, a time from the far future, an id that
    cannot be stored)."""
    dead_lettered_at_once: int = 0
    """Of those, dead-lettered on their first receive and not reported for a retry."""
    retried: int = 0
    """Of those, reported for a retry, or not dead-lettered: each one a bug."""
    valid: int = 0
    """Valid records in the same batches."""
    stopped: int = 0
    """Of those, failed, dead-lettered or left undecided: each one a bug."""
    emails_sent: int = 0
    unhandled_errors: int = 0
    shapes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


def refused_shapes_run(
    stack: LocalStack, mappings: EventSourceMappings, *, batches: int, seed: int = 7
) -> RefusedTally:
    """``batches`` batches, one invocation each, of valid events and ones that can never succeed:
    first a far-future time in every time field, then deep nesting for every function, then a random
    mix (``seed``)."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible mix, not security)
    valid = _valid_events()
    skew = timedelta(seconds=int(stack.parameters["MaxClockSkewSeconds"]))
    tally = RefusedTally()
    plan: list[tuple[str, list[TimeField | None]]] = [(f.function, [f]) for f in TIME_FIELDS]
    plan += [(f.function, [f]) for f in ID_FIELDS]
    plan += [(function, [None]) for function in REFUSED_FUNCTIONS]
    while len(plan) < batches:
        function = rng.choice(REFUSED_FUNCTIONS)
        fields = [f for f in (*TIME_FIELDS, *ID_FIELDS) if f.function == function]
        plan.append((function, [rng.choice([*fields, None]) for _ in range(rng.randint(1, 3))]))
    for number, (function, shapes) in enumerate(plan[:batches]):
        good = [_fresh(rng.choice(valid[function]), f"r{number}-{i}") for i in range(rng.randint(2, 7))]
        bad = [_refused_body(rng, valid[function], shape, skew, tally) for shape in shapes]
        bodies = [*((json.dumps(event), event) for event in good), *((body, None) for body in bad)]
        rng.shuffle(bodies)
        ids = [f"refused-{number}-{i}" for i in range(len(bodies))]
        with recording_requests() as requests:
            try:
                response = (
                    mappings.function(function).invoke(
                        sqs_event(*(body for body, _ in bodies), message_ids=ids)
                    )
                    or {}
                )
            except Exception as error:
                tally.unhandled_errors += 1
                tally.problems.append(f"{function}: {type(error).__name__} from a batch")
                response = {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}
        tally.batches += 1
        _tally_batch(stack, function, bodies, ids, response, requests, tally)
    return tally


def _refused_body(
    rng: random.Random,
    valid: list[dict[str, Any]],
    shape: TimeField | None,
    skew: timedelta,
    tally: RefusedTally,
) -> str:
    """A record that can never succeed: ``shape``'s time from the far future or its id unstorable,
    or (None) one of the function's valid events nested too deeply to read."""
    if shape is None:
        levels = rng.choice([DEEP_NESTING_LEVELS, DEEP_NESTING_LEVELS, 500, 250])
        tally.shapes[f"nested {levels} levels deep"] += 1
        return deeply_nested(rng.choice(valid), levels)
    event = json.loads(json.dumps(next(e for e in valid if e["detail-type"] == shape.detail_type)))
    if isinstance(shape, IdField):
        section: Any = event["detail"]
        for part in shape.path[:-1]:
            section = section[int(part)] if isinstance(section, list) else section[part]
        section[shape.path[-1]] = rng.choice(REFUSED_IDS)
        tally.shapes[shape.name] += 1
        return json.dumps(event)
    just_past = utc_now() + skew + timedelta(minutes=rng.choice([1, 60, 24 * 60]))
    moment = rng.choice(
        [just_past, datetime(2050, 6, 1, tzinfo=UTC), datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)]
    )
    section = event["detail"]
    for part in shape.path[:-1]:
        section = section[part]
    section[shape.path[-1]] = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    tally.shapes[shape.name] += 1
    return json.dumps(event)


def _tally_batch(
    stack: LocalStack,
    function: str,
    bodies: list[tuple[str, dict[str, Any] | None]],
    ids: list[str],
    response: dict[str, Any],
    requests: list[tuple[str, str, dict[str, Any]]],
    tally: RefusedTally,
) -> None:
    dead_letter_queue = stack.functions[function].environment.get("DEAD_LETTER_QUEUE_URL")
    dead = [
        p["MessageBody"]
        for s, o, p in requests
        if (s, o) == ("sqs", "SendMessage") and p["QueueUrl"] == dead_letter_queue
    ]
    failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
    tally.emails_sent += sum(1 for s, o, _ in requests if (s, o) == ("sesv2", "SendEmail"))
    for message_id, (body, event) in zip(ids, bodies, strict=True):
        if event is None:
            tally.refused += 1
            if message_id in failed or body not in dead:
                tally.retried += 1
                tally.problems.append(
                    f"{function}: a record that can never succeed was not dead-lettered at once"
                )
            else:
                tally.dead_lettered_at_once += 1
            continue
        tally.valid += 1
        undecided = function in FUNCTION.values() and not _decided(stack, event)
        if message_id in failed or body in dead or undecided:
            tally.stopped += 1
            tally.problems.append(
                f"{function}: a valid {event['detail-type']} was stopped in a batch with bad data"
            )


def _valid_events() -> dict[str, list[dict[str, Any]]]:
    """Valid sample events each function may get: the triggers' that are sent, every product, the
    store's valid profile events, SES's own samples."""
    samples = [s for s in [*load_sample_events(), *load_customer_events()] if not s.is_invalid]
    sent = [s.event for s in samples if s.expectation.get("decision") == "sent"]
    orders = [e for e in sent if e["detail-type"] == "Order Placed"]
    ses = [json.loads(path.read_text()) for path in sorted((EVENTS_DIR / "ses").glob("*.json"))]
    ses = [event for event in ses if "detail" in event]
    return {
        "CartAbandonedFunction": [e for e in sent if e["detail-type"] == "Cart Abandoned"],
        "OrderPlacedFunction": orders,
        "CustomerLapsedFunction": [e for e in sent if e["detail-type"] == "Customer Lapsed"],
        "CatalogFunction": [*(s.event for s in samples if s.is_product), *orders],
        "AttributionFunction": orders,
        "CustomerUpdatedFunction": [s.event for s in samples if s.detail_type == "Customer Updated"],
        "CustomerDeletedFunction": [s.event for s in samples if s.detail_type == "Customer Deleted"],
        "EngagementFunction": [e for e in ses if e["detail"]["eventType"] in ("Delivery", "Open", "Click")],
        "SesFeedbackFunction": [e for e in ses if e["detail"]["eventType"] in ("Bounce", "Complaint")],
    }


def _fresh(event: dict[str, Any], suffix: str) -> dict[str, Any]:
    """The same event as a new one, where its identity is its own (a cart, an order, a lapse run)."""
    copy: dict[str, Any] = json.loads(json.dumps(event))
    detail = copy["detail"]
    for key in ("cart_id", "order_id"):
        if key in detail and copy["detail-type"] in ("Cart Abandoned", "Order Placed"):
            detail[key] = f"{detail[key]}-{suffix}"
    if copy["detail-type"] == "Customer Lapsed":
        detail["run_id"] = suffix
    return copy


def _decided(stack: LocalStack, event: dict[str, Any]) -> bool:
    record = delivery_of(stack.names["DeliveriesTable"], event)
    return record is not None and record.outcome.decision is not Decision.SENDING
