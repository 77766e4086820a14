"""Generated store events, valid and hostile, through the real handlers (hypothesis).

Each example is one event for one of the three triggers, made of plausible and edge values (huge
and fractional money, timestamps from year 1 to 9999, control characters and long text, unknown
customers, ids that are email addresses), delivered once or twice. Whatever it is, the handler must
answer without an unhandled error, send at most one email for it, count an order at most once, leave
no send claimed, and put what can never succeed on the dead-letter queue rather than retry it.

While the events run, the Experiments table is rewritten every ``REWRITE_EVERY`` events with hostile
rows, and a probe per trigger must still be sent (hostile_experiments.py). The other fuzz runs have
rooms of their own: refused_shapes.py (records that must be dead-lettered at once) and forged_ses.py
(SES events that are not ours).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.sqs_records import sqs_event
from local_stack.emulator.stack import LocalStack
from local_stack.faults.hostile_experiments import (
    REWRITE_EVERY,
    counting_invalid_experiments,
    experiment_sets,
    probe,
    probe_samples,
    replace_experiments,
)
from local_stack.faults.shapes import FUNCTION, delivery_of
from nudge.adapters import clients as handler_clients
from nudge.dal.customers import get_customer
from nudge.outcome import Decision
from nudge.triggers import TRIGGERS

KNOWN_CUSTOMERS = (
    "cus_vip_ada",
    "cus_new_jonas",
    "cus_frequent_maria",
    "cus_atrisk_sam",
    "cus_noconsent_tom",
)

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
    detail_type = draw(st.sampled_from(sorted(FUNCTION)))
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
    probes = probe_samples()
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
        function = mappings.function(FUNCTION[event["detail-type"]])
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
        record = delivery_of(deliveries_table, event)
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
                probe(stack, mappings, sample, f"probe{tally.experiment_rows}", tally)
        one(event, times)

    try:
        with counting_invalid_experiments(tally):
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
