"""Generated store events, valid and hostile, through the real handlers (hypothesis).

Each example is one event for one of the three triggers, made of plausible and edge values (huge
and fractional money, timestamps from year 1 to 9999, control characters and long text, unknown
customers, ids that are email addresses), delivered once or twice. Whatever it is, the handler must
answer without an unhandled error, send at most one email for it, count an order at most once, leave
no send claimed, and put what can never succeed on the dead-letter queue rather than retry it.

While the events run, the Experiments table is rewritten every ``REWRITE_EVERY`` events with
generated rows a marketer might leave there: wrong types in every attribute, keys left out or added,
300 KB values, 10,000 variants, and subjects that loop, multiply or recurse without end
(``experiment_rows``). After each rewrite one sendable probe event per trigger, for a fresh copy of
a sample customer, must be sent (or held out by a valid experiment): no email is stopped by bad data.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_stack.emulator.failures import recording_requests
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.rows import put_experiment
from local_stack.emulator.run import put_events, recorded_outcome, sqs_event
from local_stack.emulator.scenario import EVENTS_DIR, SampleEvent, load_customer_events, load_sample_events
from local_stack.emulator.ses_events import engagement_event, feedback_event, mail_object
from local_stack.emulator.stack import LocalStack
from local_stack.faults.shapes import DEEP_NESTING_LEVELS, deeply_nested
from nudge.adapters import clients as handler_clients
from nudge.dal.customers import get_customer, put_customer
from nudge.dal.deliveries import get_delivery, get_record, record_decision
from nudge.dal.experiments import running_rows
from nudge.events import TriggerDetail
from nudge.message_tags import DELIVERY_TAG, DeliveryRef, delivery_tags
from nudge.observability import logger
from nudge.outcome import Decision, Outcome, SkipReason, delivery_key
from nudge.profiles import Customer
from nudge.timeutil import utc_now
from nudge.triggers import TRIGGERS
from nudge.ttl_cache import forget_all

KNOWN_CUSTOMERS = (
    "cus_vip_ada",
    "cus_new_jonas",
    "cus_frequent_maria",
    "cus_atrisk_sam",
    "cus_noconsent_tom",
)
_FUNCTION = {
    "Cart Abandoned": "CartAbandonedFunction",
    "Order Placed": "OrderPlacedFunction",
    "Customer Lapsed": "CustomerLapsedFunction",
}

text = st.text(st.characters(codec="utf-8"), max_size=80)
# Plausible values: what a correct store sends, with the variety of real data.
valid_ids = st.one_of(st.from_regex(r"[a-z0-9_]{1,24}", fullmatch=True), st.emails())
valid_money = st.decimals(min_value=0, max_value=10_000, places=2).map(str)
# hypothesis takes naive bounds and adds the zone itself.
valid_times = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001
    max_value=datetime(2026, 11, 23, 14),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda moment: moment.isoformat())
valid_names = st.one_of(
    st.just("Cashmere scarf"), st.text(st.characters(codec="utf-8"), min_size=1, max_size=60)
)
valid_urls = st.sampled_from(["https://shop.example/cart/c1", "https://shop.example/p/x?a=1#b"])
# Hostile values: what a buggy or malicious sender might put in the same field.
hostile: dict[str, st.SearchStrategy[Any]] = {
    "id": st.one_of(text, st.text(min_size=257, max_size=300), st.integers(), st.none()),
    "money": st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
        st.sampled_from(["1E+28", "-1", "0.00001", "9" * 40, "NaN", "Infinity", "1000000000.0001", "abc"]),
    ),
    "time": st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat()),
        st.datetimes().map(lambda moment: moment.isoformat()),  # no offset
        text,
    ),
    "quantity": st.one_of(st.integers(-5, 0), st.integers(10_001, 10**9), st.just("2"), st.floats()),
    "url": st.one_of(st.just("not a url"), text),
    "name": st.one_of(st.just(""), st.text(min_size=501, max_size=520), st.integers()),
    "currency": st.one_of(st.text(max_size=4), st.just("XYZ"), st.just("eur")),
    "days": st.one_of(st.integers(-10, -1), st.integers(36_601, 10**7), st.just("30")),
}


@st.composite
def line_items(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "sku": draw(valid_ids),
        "name": draw(valid_names),
        "quantity": draw(st.integers(1, 5)),
        "unit_price": draw(valid_money),
        "image_url": draw(st.one_of(st.none(), valid_urls)),
        "product_url": draw(st.one_of(st.none(), valid_urls)),
    }


_KIND = {
    "customer_id": "id",
    "cart_id": "id",
    "order_id": "id",
    "abandoned_at": "time",
    "placed_at": "time",
    "last_order_at": "time",
    "currency": "currency",
    "cart_url": "url",
    "total": "money",
    "days_since_last_order": "days",
}
_ITEM_KIND = {
    "quantity": "quantity",
    "unit_price": "money",
    "name": "name",
    "product_url": "url",
    "sku": "id",
}


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """One EventBridge event as a store might put it on the bus: valid half the time, otherwise with
    one or two fields broken, or left out, as a buggy sender would."""
    detail_type = draw(st.sampled_from(sorted(_FUNCTION)))
    customer = st.one_of(st.sampled_from(KNOWN_CUSTOMERS), valid_ids)
    detail: dict[str, Any] = {"customer_id": draw(customer)}
    currency = st.sampled_from(["EUR", "GBP", "USD", "JPY"])
    items = st.lists(line_items(), min_size=1, max_size=4)
    if detail_type == "Cart Abandoned":
        detail |= {
            "cart_id": draw(valid_ids),
            "abandoned_at": draw(valid_times),
            "currency": draw(currency),
            "cart_url": draw(valid_urls),
            "items": draw(items),
        }
    elif detail_type == "Order Placed":
        detail |= {
            "order_id": draw(valid_ids),
            "placed_at": draw(valid_times),
            "currency": draw(currency),
            "total": draw(valid_money),
            "items": draw(items),
        }
    else:
        detail |= {"last_order_at": draw(valid_times), "days_since_last_order": draw(st.integers(0, 3000))}
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        name = draw(st.sampled_from(sorted(detail)))
        if name == "items":
            item = draw(st.integers(0, len(detail["items"]) - 1))
            field_name = draw(st.sampled_from(sorted(_ITEM_KIND)))
            detail["items"][item][field_name] = draw(hostile[_ITEM_KIND[field_name]])
        elif draw(st.booleans()):
            del detail[name]
        else:
            detail[name] = draw(hostile[_KIND[name]])
    return {
        "version": "0",
        "id": "fuzz",
        "detail-type": detail_type,
        "source": "com.example.shop",
        "account": "123456789012",
        "time": "2026-11-23T14:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


@dataclass
class FuzzTally:
    events: int = 0
    deliveries: int = 0
    sent: int = 0
    skipped_or_deferred: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    double_counts: int = 0
    unhandled_errors: int = 0
    experiment_rows: int = 0
    """Generated Experiments rows put in the table during the run."""
    invalid_experiments: int = 0
    """Times a function ignored an Experiments row (its InvalidExperiment metric)."""
    probes: int = 0
    """Sendable events delivered right after a rewrite of the Experiments table."""
    probes_sent: int = 0
    probes_held_out: int = 0
    stopped_by_bad_data: int = 0
    """Probes neither sent nor held out, and valid events that failed, were dead-lettered or left
    a send claimed: must be none."""
    problems: list[str] = field(default_factory=list)


def fuzz_run(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    *,
    examples: int,
    seed: int = 7,
    experiments: bool = True,
) -> FuzzTally:
    """``examples`` generated events, each delivered once or twice, straight to its function; with
    ``experiments``, every ``REWRITE_EVERY`` events the Experiments table's rows are replaced with
    generated ones, and a probe per trigger follows."""
    tally = FuzzTally()
    probes = _probe_samples()
    customers_table = stack.names["CustomersTable"]
    deliveries_table = stack.names["DeliveriesTable"]
    counts = Counter[str]()

    def count(event_name: str, **_: Any) -> None:
        counts[event_name] += 1

    # What the handlers did, counted as the SDK answers: SES accepted a send, a record was dead-lettered.
    handler_clients.sesv2().meta.events.register("after-call.sesv2.SendEmail", count)
    handler_clients.sqs().meta.events.register("after-call.sqs.SendMessage", count)

    def one(event: dict[str, Any], times: int) -> None:
        tally.events += 1
        failed_before = tally.unhandled_errors + len(tally.problems)
        function = mappings.function(_FUNCTION[event["detail-type"]])
        customer_id = event["detail"].get("customer_id")
        customer_id = customer_id if isinstance(customer_id, str) else ""
        before = (
            _order_count(customers_table, customer_id) if event["detail-type"] == "Order Placed" else None
        )
        emails_before = counts["after-call.sesv2.SendEmail"]
        dead_before = counts["after-call.sqs.SendMessage"]
        for attempt in range(times):
            tally.deliveries += 1
            try:
                response = function.invoke(sqs_event(event, message_ids=[f"fuzz-{tally.deliveries}"])) or {}
            except Exception as error:
                tally.unhandled_errors += 1
                tally.problems.append(f"{event['detail-type']}: {type(error).__name__} on delivery {attempt}")
                continue
            if response.get("batchItemFailures"):
                tally.problems.append(f"{event['detail-type']}: a record failed without a fault injected")
        new_emails = counts["after-call.sesv2.SendEmail"] - emails_before
        tally.sent += int(new_emails == 1)
        tally.duplicates += int(new_emails > 1)
        dead = counts["after-call.sqs.SendMessage"] - dead_before
        tally.dead_lettered += int(dead > 0)
        if dead not in (0, times):
            tally.problems.append(f"{event['detail-type']}: dead-lettered {dead} of {times} deliveries")
        if before is not None:
            after = _order_count(customers_table, customer_id)
            tally.double_counts += int(after is not None and after - before > 1)
        record = _delivery_of(deliveries_table, event)
        if record is not None and record.outcome.decision is Decision.SENDING:
            tally.problems.append(f"{event['detail-type']}: a send left claimed")
        if new_emails == 0 and dead == 0:
            tally.skipped_or_deferred += 1
        if _parses(event) and (dead > 0 or tally.unhandled_errors + len(tally.problems) > failed_before):
            tally.stopped_by_bad_data += 1
            tally.problems.append(f"{event['detail-type']}: a valid event was not decided")

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    # Rows are drawn for every example, whether or not it rewrites the table: what an example draws
    # must not depend on the run's state, or hypothesis cannot replay it.
    @given(event=events(), times=st.sampled_from([1, 1, 2]), rows=experiment_sets())
    def check(event: dict[str, Any], times: int, rows: list[dict[str, Any]]) -> None:
        if experiments and tally.events % REWRITE_EVERY == 0:
            tally.experiment_rows += replace_experiments(stack, rows)
            for sample in probes:
                _probe(stack, mappings, sample, f"probe{tally.experiment_rows}", tally)
        one(event, times)

    try:
        with _counting_invalid_experiments(tally):
            _seeded(check, seed)()
    finally:
        handler_clients.sesv2().meta.events.unregister("after-call.sesv2.SendEmail", count)
        handler_clients.sqs().meta.events.unregister("after-call.sqs.SendMessage", count)
    return tally


def _seeded(test: Callable[[], None], seed: int) -> Callable[[], None]:
    from hypothesis import seed as with_seed

    seeded: Callable[[], None] = with_seed(seed)(test)
    return seeded


def _order_count(table: str, customer_id: str) -> int | None:
    if not customer_id or len(customer_id) > 256:
        return None
    try:
        customer = get_customer(table, customer_id)
    except Exception:
        return None
    return customer.order_count if customer else None


def _parses(event: dict[str, Any]) -> bool:
    trigger = next(t for t in TRIGGERS if t.detail_type == event["detail-type"])
    try:
        trigger.parse(event)
    except Exception:
        return False
    return True


def _delivery_of(table: str, event: dict[str, Any]) -> Any:
    trigger = next(t for t in TRIGGERS if t.detail_type == event["detail-type"])
    try:
        detail: TriggerDetail = trigger.parse(event)
        return get_delivery(table, detail.customer_id, trigger.name, trigger.business_id(detail))
    except Exception:
        return None


# ---------------------------------------------------------------- shapes that must be refused at once
# Records that can never succeed, in batches with valid events, straight to every queue-fed function:
# a detail nested too deeply to read, and a time from the far future in every time field. Each must
# be dead-lettered on its first receive (never reported for a retry), no invocation may raise, and
# every valid record of the same batch must still be handled (its email sent, or decided by a rule).


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
        undecided = function in _FUNCTION.values() and not _decided(stack, event)
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
    record = _delivery_of(stack.names["DeliveriesTable"], event)
    return record is not None and record.outcome.decision is not Decision.SENDING


# Hostile Experiments rows ---------------------------------------------------------------------
# What a marketer can leave in the table by hand, and what a DynamoDB item can hold: every value is
# storable (Decimals, no floats; sets of one type, never empty), the key a non-empty string.

REWRITE_EVERY = 15
"""The Experiments table's rows are replaced before every this many generated events."""
PROBE_SAMPLES = (
    "cart_abandoned/vip_ada.json",
    "order_placed/repeat_order_maria.json",
    "customer_lapsed/at_risk_sam.json",
)
_IDENTITY_FIELD = {"Cart Abandoned": "cart_id", "Order Placed": "order_id", "Customer Lapsed": None}

_TRIGGER_NAMES = ("cart_abandoned", "order_placed", "customer_lapsed")
_utf8 = st.characters(codec="utf-8")
_storable_scalars = st.one_of(
    st.booleans(),
    st.integers(-(10**6), 10**6).map(Decimal),
    st.decimals(min_value=-1000, max_value=1000, places=3),
    st.text(_utf8, max_size=30),
    st.binary(min_size=1, max_size=8),
    st.sampled_from(["", "running", "draft", "holdout", "a", "100", "cart_abandoned", "{{", "{% for %}"]),
)
storable = st.recursive(
    st.one_of(
        st.none(),
        _storable_scalars,
        st.sets(st.text(_utf8, min_size=1, max_size=8), min_size=1, max_size=3),
        st.sets(st.integers(0, 100).map(Decimal), min_size=1, max_size=3),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(_utf8, min_size=1, max_size=10), inner, max_size=4),
    ),
    max_leaves=10,
)
experiment_ids = st.one_of(
    st.from_regex(r"fuzz-[a-z0-9]{1,8}", fullmatch=True),
    st.sampled_from(["x" * 2000, "é" * 1000, "has space", "line\nbreak", "holdout", " "]),
    st.text(_utf8, min_size=1, max_size=40).filter(lambda text: len(text.encode()) <= 2048),
)
# Subjects that are valid Jinja and valid rows, and that would loop, grow or recurse without end.
hostile_subjects = st.sampled_from(
    [
        "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}",
        "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
        "{{ 'x' * 300000000 }}",
        "{{ 'x' * 500000 }}",
        "{{ 10 ** (10 ** 10) }}",
        "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        "{{ ('x' * 5000).join('y' * 5000) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ [1]|batch(999999999, 'x')|list }}",
        "{% set ns = namespace(s='x') %}{% for i in range(99) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{{ lipsum(999999) }}",
        "{{ coupon.code }}",
        "{% if %}",
        "{{ customer.first_name }}, your cart misses you",
    ]
)


# A 300 KB value and 10,000 variants (about 300 KB as an item); DynamoDB's limit is 400 KB an item.
_HUGE: tuple[Any, ...] = (
    "x" * 300_000,
    [{"variant_id": f"v{number}", "weight": Decimal(0)} for number in range(10_000)],
)


def _valid_row(experiment_id: str, trigger: str, subjects: tuple[Any, Any]) -> dict[str, Any]:
    return {
        "experiment_id": experiment_id,
        "trigger": trigger,
        "status": "running",
        "holdout_percent": Decimal(10),
        "variants": [
            {"variant_id": "a", "weight": Decimal(50), "subject": subjects[0]},
            {"variant_id": "b", "weight": Decimal(50), "subject": subjects[1]},
        ],
    }


@st.composite
def experiment_rows(draw: st.DrawFn) -> dict[str, Any]:
    """One Experiments row: valid but for a hostile subject, valid but for one attribute (replaced
    or left out), garbage through and through, or huge."""
    experiment_id = draw(experiment_ids)
    trigger = draw(st.sampled_from(_TRIGGER_NAMES))
    subjects = (draw(st.one_of(st.none(), hostile_subjects)), draw(st.one_of(st.none(), hostile_subjects)))
    row = _valid_row(experiment_id, trigger, subjects)
    shape = draw(st.sampled_from([*["subject"] * 3, *["attribute", "variant", "garbage"] * 2, "huge"]))
    if shape == "attribute":
        name = draw(st.sampled_from(["trigger", "status", "holdout_percent", "variants", "extra"]))
        if draw(st.booleans()) and name != "extra":
            del row[name]
        else:
            row[name] = draw(storable)
    elif shape == "variant":
        name = draw(st.sampled_from(["variant_id", "weight", "subject", "extra"]))
        row["variants"][0][name] = draw(storable)
    elif shape == "garbage":
        row = {
            **draw(st.dictionaries(st.text(_utf8, min_size=1, max_size=12), storable, max_size=6)),
            "experiment_id": experiment_id,
            "status": "running",
        }
    elif shape == "huge":
        row[draw(st.sampled_from(["trigger", "holdout_percent", "variants"]))] = draw(st.sampled_from(_HUGE))
    # A None at the top is no attribute (to_item leaves it out): the key stays.
    return row


def experiment_sets() -> st.SearchStrategy[list[dict[str, Any]]]:
    """What the table holds after a rewrite: one to three rows, each with its own id."""
    return st.lists(experiment_rows(), min_size=1, max_size=3, unique_by=lambda row: row["experiment_id"])


def replace_experiments(stack: LocalStack, rows: list[dict[str, Any]]) -> int:
    """The Experiments table holds exactly ``rows`` (as a marketer's console would save them), and
    every function reads them afresh, as new containers would."""
    table = stack.names["ExperimentsTable"]
    dynamodb = handler_clients.dynamodb()
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table, ProjectionExpression="experiment_id"
    ):
        for item in page.get("Items", []):
            dynamodb.delete_item(TableName=table, Key={"experiment_id": item["experiment_id"]})
    for row in rows:
        put_experiment(table, row)
    forget_all()
    # Read once here, as the first function to read it would: moto takes seconds to scan a 300 KB
    # item (DynamoDB, milliseconds), which would eat the probe's invocation time instead of testing it.
    running_rows(table)
    return len(rows)


@contextmanager
def _counting_invalid_experiments(tally: FuzzTally) -> Iterator[None]:
    """Counts the functions' "experiment ignored" log lines (each with its InvalidExperiment metric)."""

    class Counting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "experiment ignored: its row is invalid":
                tally.invalid_experiments += 1

    handler = Counting()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)  # type: ignore[attr-defined]


def _probe_samples() -> list[SampleEvent]:
    by_name = {sample.name: sample for sample in load_sample_events()}
    return [by_name[name] for name in PROBE_SAMPLES]


def _probe(
    stack: LocalStack, mappings: EventSourceMappings, sample: SampleEvent, suffix: str, tally: FuzzTally
) -> None:
    """A sendable event for a fresh copy of the sample's customer, straight to its function: it is
    sent, or held out by a valid experiment, whatever the Experiments table holds."""
    customers = stack.names["CustomersTable"]
    original = get_customer(customers, str(sample.event["detail"]["customer_id"]))
    assert original is not None, "the fuzz runs on the sample data"
    customer_id = f"{original.customer_id}_{suffix}"
    put_customer(
        customers,
        original.model_copy(update={"customer_id": customer_id, "email": f"{customer_id}@example.com"}),
    )
    detail: dict[str, Any] = {"customer_id": customer_id}
    identity = _IDENTITY_FIELD[sample.detail_type]
    if identity:
        detail[identity] = f"{sample.event['detail'][identity]}_{suffix}"
    event = sample.varied(f"{sample.name}#{suffix}", **detail).event
    tally.probes += 1
    function = mappings.function(_FUNCTION[event["detail-type"]])
    try:
        response = function.invoke(sqs_event(event, message_ids=[f"{suffix}-{event['detail-type']}"])) or {}
        failed = bool(response.get("batchItemFailures"))
    except Exception:
        failed = True
    record = _delivery_of(stack.names["DeliveriesTable"], event)
    outcome = record.outcome if record is not None else None
    if not failed and outcome is not None and outcome.decision is Decision.SENT:
        tally.probes_sent += 1
    elif not failed and outcome is not None and outcome.reason is SkipReason.HOLDOUT:
        tally.probes_held_out += 1
    else:
        tally.stopped_by_bad_data += 1
        decided = outcome.decision if outcome is not None else "nothing"
        tally.problems.append(f"probe {event['detail-type']}: not sent ({decided})")


# ---------------------------------------------------------------- forged SES events
# SES events that are not about an email we sent through our configuration set, as anyone allowed to
# send to the engagement or feedback queue could write them (or another stack's configuration set
# would publish them): bounces, complaints, opens, clicks, deliveries and sends naming another
# configuration set, or none; delivery tags naming a delivery that never was, or another customer's
# real one; the readable customer_id tag alone. They go straight to the functions, in batches with
# SES's events of emails on record. No forged event may change a profile or a delivery record, raise,
# be retried or be dead-lettered (it is well-formed: there is no field to name), and every valid
# event beside it must still be applied.

FORGED_FUNCTIONS = {
    "Send": "EngagementFunction",
    "Delivery": "EngagementFunction",
    "Open": "EngagementFunction",
    "Click": "EngagementFunction",
    "Bounce": "SesFeedbackFunction",
    "Complaint": "SesFeedbackFunction",
}
VICTIM_SAMPLES = (
    "cart_abandoned/vip_ada.json",
    "order_placed/repeat_order_maria.json",
    "customer_lapsed/at_risk_sam.json",
)
"""Forged events name real emails of fresh copies of these samples' customers, emailed for real."""
FOREIGN_CONFIGURATION_SETS = ("another-stack-transactional", "{ours}-2", "{OURS}", None)
"""Another stack's set, ours with a suffix, ours in capitals, and no configuration-set tag at all."""
_FEEDBACK = ("Bounce", "Complaint")


@dataclass(frozen=True)
class Forgery:
    """One way to forge an SES event about a victim's real email."""

    name: str
    event_types: tuple[str, ...]
    foreign: bool
    """Names another configuration set than ours, or none."""
    names: str
    """What its tags name: ``real``, the victim's real delivery with its SES message id;
    ``real_other_id``, that delivery with a message id SES never gave it; ``nothing``, a delivery
    that never was; ``customer``, the customer_id tag alone with the real message id;
    ``unknown_id``, the customer_id tag alone with a message id never sent."""


FORGERIES = (
    Forgery("another configuration set, a real delivery", tuple(FORGED_FUNCTIONS), True, "real"),
    Forgery("another configuration set, a delivery that never was", tuple(FORGED_FUNCTIONS), True, "nothing"),
    Forgery("another configuration set, customer_id tag only", tuple(FORGED_FUNCTIONS), True, "customer"),
    Forgery("our configuration set, a delivery that never was", tuple(FORGED_FUNCTIONS), False, "nothing"),
    Forgery(
        "our configuration set, customer_id tag, unknown message",
        tuple(FORGED_FUNCTIONS),
        False,
        "unknown_id",
    ),
    # Engagement trusts a delivery record that exists (an open is harmless, and may come before the
    # message id is recorded); a suppression is for good, so feedback also checks the message id.
    Forgery("our configuration set, a real delivery, another message id", _FEEDBACK, False, "real_other_id"),
)


@dataclass
class ForgedTally:
    batches: int = 0
    forged: int = 0
    changed: int = 0
    """Forged events after which the profile or delivery record they name had changed: each a bug."""
    retried: int = 0
    """Forged records reported for a retry: each a bug (retrying cannot make an event ours)."""
    dead_lettered: int = 0
    """Forged records dead-lettered: each a bug (they are well-formed; there is no field to name)."""
    valid: int = 0
    """SES's events of emails on record, in the same batches."""
    stopped: int = 0
    """Of those, failed, dead-lettered or not applied: each a bug."""
    unhandled_errors: int = 0
    ignored_as_foreign: int = 0
    """Events a function ignored as another configuration set's (its ForeignSesEvent metric)."""
    ignored_as_not_ours: int = 0
    """Events a function ignored as about no email we sent (EngagementWithoutDelivery,
    FeedbackWithoutDelivery)."""
    kinds: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Email:
    """An email on record: its customer, its delivery record's key, the ``mail`` object SES reports."""

    customer_id: str
    trigger: str
    business_id: str
    mail: dict[str, Any]


@dataclass(frozen=True)
class _Batch:
    forged: list[tuple[str, _Email]]
    """Each forged record's body, with the email it names."""
    valid: list[tuple[str, str, _Email]]
    """Each valid record's body, its event type and its email."""


def forged_ses_run(
    stack: LocalStack, mappings: EventSourceMappings, *, batches: int, seed: int = 7
) -> ForgedTally:
    """``batches`` batches, one invocation each, of one to three forged SES events (``FORGERIES``)
    and one to four valid ones, straight to the engagement or the feedback function."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible mix, not security)
    tally = ForgedTally()
    victims = _emailed_victims(stack, mappings)
    before = {victim.customer_id: _state(stack, victim) for victim in victims}
    with _counting_ignored_ses_events(tally):
        for number in range(batches):
            function = rng.choice(["EngagementFunction", "SesFeedbackFunction"])
            batch = _forged_batch(stack, rng, function, victims, number, tally)
            # A record is its body and either the victim a forged one names or a valid one's (type, email).
            records: list[tuple[str, _Email | None, tuple[str, _Email] | None]] = [
                *((body, victim, None) for body, victim in batch.forged),
                *((body, None, (event_type, owner)) for body, event_type, owner in batch.valid),
            ]
            rng.shuffle(records)
            ids = [f"forged-{number}-{index}" for index in range(len(records))]
            event = sqs_event(*(body for body, _, _ in records), message_ids=ids)
            with recording_requests() as requests:
                try:
                    response = mappings.function(function).invoke(event) or {}
                except Exception as error:
                    tally.unhandled_errors += 1
                    tally.problems.append(f"{function}: {type(error).__name__} from a batch")
                    response = {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}
            tally.batches += 1
            dead_letter_queue = stack.functions[function].environment.get("DEAD_LETTER_QUEUE_URL")
            dead = {
                p["MessageBody"]
                for s, o, p in requests
                if (s, o) == ("sqs", "SendMessage") and p["QueueUrl"] == dead_letter_queue
            }
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
            for message_id, (body, victim, valid) in zip(ids, records, strict=True):
                if victim is not None:
                    tally.forged += 1
                    tally.retried += int(message_id in failed)
                    tally.dead_lettered += int(body in dead)
                    if message_id in failed or body in dead:
                        tally.problems.append(f"{function}: a forged event was retried or dead-lettered")
                    now = _state(stack, victim)
                    if now != before[victim.customer_id]:
                        tally.changed += 1
                        tally.problems.append(f"{function}: a forged event changed {victim.customer_id}")
                        before[victim.customer_id] = now
                elif valid is not None:
                    event_type, owner = valid
                    tally.valid += 1
                    if message_id in failed or body in dead or not _applied(stack, owner, event_type):
                        tally.stopped += 1
                        tally.problems.append(
                            f"{function}: a valid {event_type} beside forged ones not applied"
                        )
    return tally


def _forged_batch(
    stack: LocalStack,
    rng: random.Random,
    function: str,
    victims: list[_Email],
    number: int,
    tally: ForgedTally,
) -> _Batch:
    types = [event_type for event_type, f in FORGED_FUNCTIONS.items() if f == function]
    at = utc_now() - timedelta(minutes=30) + timedelta(seconds=number)
    forged = []
    for _ in range(rng.randint(1, 3)):
        forgery = rng.choice([f for f in FORGERIES if set(f.event_types) & set(types)])
        event_type = rng.choice([t for t in forgery.event_types if t in types])
        victim = rng.choice(victims)
        event = _forge(stack, _ses_event(stack, victim, event_type, at), forgery, victim, rng)
        tally.kinds[f"{event_type}: {forgery.name}"] += 1
        forged.append((json.dumps(event), victim))
    valid = []
    for index in range(rng.randint(1, 4)):
        event_type = rng.choice([t for t in types if t != "Send"])
        owner = _email_on_record(stack, f"fz{number}x{index}")
        valid.append((json.dumps(_ses_event(stack, owner, event_type, at)), event_type, owner))
    return _Batch(forged, valid)


def _ses_event(stack: LocalStack, email: _Email, event_type: str, at: datetime) -> dict[str, Any]:
    """SES's own event of ``email``, as its configuration set publishes it."""
    if event_type in _FEEDBACK:
        return feedback_event(stack, json.loads(json.dumps(email.mail)), event_type, at)
    link = "https://shop.example/cart?utm_source=nudge&utm_content=cta"
    return engagement_event(stack, json.loads(json.dumps(email.mail)), event_type, at, link)


def _forge(
    stack: LocalStack, event: dict[str, Any], forgery: Forgery, victim: _Email, rng: random.Random
) -> dict[str, Any]:
    """``event`` (SES's own, of ``victim``'s real email) rewritten as ``forgery`` says."""
    ours = stack.names["MarketingConfigurationSet"]
    mail = event["detail"]["mail"]
    tags = {name: values for name, values in mail["tags"].items() if not name.startswith(DELIVERY_TAG)}
    if forgery.foreign:
        foreign = rng.choice(FOREIGN_CONFIGURATION_SETS)
        del tags["ses:configuration-set"]
        if foreign is not None:
            name = foreign.format(ours=ours, OURS=ours.upper())
            tags["ses:configuration-set"] = [name]
            event["resources"] = [event["resources"][0].rsplit("/", 1)[0] + "/" + name]
    named = {
        "real": victim.business_id,
        "real_other_id": victim.business_id,
        "nothing": f"never_{rng.randrange(10**6)}",
    }.get(forgery.names)
    if named is not None:
        ref = DeliveryRef(victim.customer_id, delivery_key(victim.trigger, named))
        tags |= {name: [value] for name, value in delivery_tags(ref).items()}
    if forgery.names in ("real_other_id", "nothing", "unknown_id"):
        mail["messageId"] = f"0100019a7c{rng.randrange(16**8):08x}-forged-000000"
    mail["tags"] = tags
    return event


def _emailed_victims(stack: LocalStack, mappings: EventSourceMappings) -> list[_Email]:
    """Two fresh copies of each victim sample's customer, each emailed for real: through its trigger,
    SES, and SES's Send event on the delivery record."""
    by_name = {sample.name: sample for sample in load_sample_events()}
    sent: list[tuple[Customer, SampleEvent]] = []
    for copy in ("victim1", "victim2"):
        for name in VICTIM_SAMPLES:
            sample = by_name[name]
            customer = _clone_customer(stack, str(sample.event["detail"]["customer_id"]), copy)
            detail: dict[str, Any] = {"customer_id": customer.customer_id}
            identity = _IDENTITY_FIELD[sample.detail_type]
            if identity:
                detail[identity] = f"{sample.event['detail'][identity]}_{copy}"
            sent.append((customer, sample.varied(f"{name}#{copy}", **detail)))
    put_events(stack, [event for _, event in sent])
    mappings.drain()
    victims = []
    for customer, event in sent:
        outcome = recorded_outcome(stack, event)
        assert outcome is not None and outcome.decision is Decision.SENT, f"{event.name}: {outcome}"
        mail = mail_object(stack, outcome, customer.email, utc_now() - timedelta(hours=1))
        victims.append(_Email(customer.customer_id, outcome.trigger, outcome.business_id, mail))
    return victims


def _email_on_record(stack: LocalStack, suffix: str) -> _Email:
    """A fresh customer (a copy of Ada) with the delivery record of a cart reminder sent to them."""
    customer = _clone_customer(stack, "cus_vip_ada", suffix)
    outcome = Outcome(
        trigger="cart_abandoned",
        customer_id=customer.customer_id,
        business_id=f"cart_{suffix}",
        decision=Decision.SENT,
        message_id=f"0100019a7c-{suffix}-000000",
        subject="Your cart is waiting",
    )
    assert record_decision(stack.names["DeliveriesTable"], outcome, utc_now(), timedelta(days=400)) is None
    mail = mail_object(stack, outcome, customer.email, utc_now() - timedelta(hours=1))
    return _Email(customer.customer_id, outcome.trigger, outcome.business_id, mail)


def _clone_customer(stack: LocalStack, customer_id: str, suffix: str) -> Customer:
    table = stack.names["CustomersTable"]
    original = get_customer(table, customer_id)
    assert original is not None, "the fuzz runs on the sample data"
    copy_id = f"{original.customer_id}_{suffix}"
    customer = original.model_copy(update={"customer_id": copy_id, "email": f"{copy_id}@example.com"})
    put_customer(table, customer)
    return customer


def _state(stack: LocalStack, email: _Email) -> tuple[Any, Any]:
    """The customer's whole profile and the email's whole delivery record, as stored."""
    customer = get_customer(stack.names["CustomersTable"], email.customer_id)
    record = get_record(stack.names["DeliveriesTable"], email.customer_id, email.trigger, email.business_id)
    return (customer.model_dump() if customer else None, record)


def _applied(stack: LocalStack, email: _Email, event_type: str) -> bool:
    """Whether a valid event did what it should: a bounce or complaint suppressed the customer; a
    delivery, open or click reached the delivery record, and an open or click the profile."""
    customer = get_customer(stack.names["CustomersTable"], email.customer_id)
    record = get_record(stack.names["DeliveriesTable"], email.customer_id, email.trigger, email.business_id)
    if customer is None or record is None:
        return False
    if event_type in _FEEDBACK:
        return customer.suppressed_reason == ("permanent_bounce" if event_type == "Bounce" else "complaint")
    if event_type == "Delivery":
        return "delivered_at" in record
    if event_type == "Open":
        return bool(record.get("opens")) and customer.last_opened_at is not None
    return bool(record.get("clicks")) and customer.last_clicked_at is not None


_IGNORED_AS_FOREIGN = frozenset({"SES event of another configuration set ignored"})
_IGNORED_AS_NOT_OURS = frozenset(
    {
        "bounce or complaint of no email we sent: nobody suppressed",
        "engagement event for no delivery record we know: nothing to update",
        "engagement for a delivery record that does not exist",
        "SES accepted an email whose delivery record does not exist",
    }
)


@contextmanager
def _counting_ignored_ses_events(tally: ForgedTally) -> Iterator[None]:
    """Counts the functions' log lines for the SES events they ignored, by why."""

    class Counting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            tally.ignored_as_foreign += int(message in _IGNORED_AS_FOREIGN)
            tally.ignored_as_not_ours += int(message in _IGNORED_AS_NOT_OURS)

    handler = Counting()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)  # type: ignore[attr-defined]
