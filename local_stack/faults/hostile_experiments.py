"""Hostile Experiments rows: what a marketer can leave in the table by hand, and what a DynamoDB item
can hold; used by the fuzz run (fuzz.py).

Every ``REWRITE_EVERY`` generated events, the fuzz run replaces the Experiments table's rows with
generated ones (``experiment_sets``): wrong types in every attribute, keys left out or added, 300 KB
values, 10,000 variants, and subjects that loop, multiply or recurse without end
(``experiment_rows``). Every value is storable (Decimals, no floats; sets of one type, never empty),
the key a non-empty string. After each rewrite one sendable probe event per trigger
(``PROBE_SAMPLES``), for a fresh copy of a sample customer, must be sent (or held out by a valid
experiment): no email is stopped by bad data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Protocol

from hypothesis import strategies as st

from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.rows import put_experiment
from local_stack.emulator.scenario import SampleEvent, load_sample_events
from local_stack.emulator.sqs_records import sqs_event
from local_stack.emulator.stack import LocalStack
from local_stack.faults.shapes import FUNCTION, IDENTITY_FIELD, clone_customer, delivery_of
from nudge.adapters import clients as handler_clients
from nudge.dal.experiments import running_rows
from nudge.observability import logger
from nudge.outcome import Decision, SkipReason
from nudge.ttl_cache import forget_all


class ProbeTally(Protocol):
    """What the probes and the ignored rows are counted in (the fuzz run's ``FuzzTally``)."""

    invalid_experiments: int
    probes: int
    probes_sent: int
    probes_held_out: int
    stopped_by_bad_data: int
    problems: list[str]


REWRITE_EVERY = 15
"""The Experiments table's rows are replaced before every this many generated events."""
PROBE_SAMPLES = (
    "cart_abandoned/vip_ada.json",
    "order_placed/repeat_order_maria.json",
    "customer_lapsed/at_risk_sam.json",
)
"""One sendable sample per trigger: after each rewrite, a fresh copy of each is probed."""

TRIGGER_NAMES = ("cart_abandoned", "order_placed", "customer_lapsed")
"""The triggers a generated row is for (a row with a broken ``trigger`` names anything else)."""

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
    trigger = draw(st.sampled_from(TRIGGER_NAMES))
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
def counting_invalid_experiments(tally: ProbeTally) -> Iterator[None]:
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


def probe_samples() -> list[SampleEvent]:
    """The ``PROBE_SAMPLES``, loaded."""
    by_name = {sample.name: sample for sample in load_sample_events()}
    return [by_name[name] for name in PROBE_SAMPLES]


def probe(
    stack: LocalStack, mappings: EventSourceMappings, sample: SampleEvent, suffix: str, tally: ProbeTally
) -> None:
    """A sendable event for a fresh copy of the sample's customer, straight to its function: it is
    sent, or held out by a valid experiment, whatever the Experiments table holds."""
    customer_id = clone_customer(stack, str(sample.event["detail"]["customer_id"]), suffix).customer_id
    detail: dict[str, Any] = {"customer_id": customer_id}
    identity = IDENTITY_FIELD[sample.detail_type]
    if identity:
        detail[identity] = f"{sample.event['detail'][identity]}_{suffix}"
    event = sample.varied(f"{sample.name}#{suffix}", **detail).event
    tally.probes += 1
    function = mappings.function(FUNCTION[event["detail-type"]])
    try:
        response = function.invoke(sqs_event(event, message_ids=[f"{suffix}-{event['detail-type']}"])) or {}
        failed = bool(response.get("batchItemFailures"))
    except Exception:
        failed = True
    record = delivery_of(stack.names["DeliveriesTable"], event)
    outcome = record.outcome if record is not None else None
    if not failed and outcome is not None and outcome.decision is Decision.SENT:
        tally.probes_sent += 1
    elif not failed and outcome is not None and outcome.reason is SkipReason.HOLDOUT:
        tally.probes_held_out += 1
    else:
        tally.stopped_by_bad_data += 1
        decided = outcome.decision if outcome is not None else "nothing"
        tally.problems.append(f"probe {event['detail-type']}: not sent ({decided})")
