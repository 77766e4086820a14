"""Experiments rows of any shape, as the send path reads them (nudge.experiments.running).

A marketer edits the table by hand, in the console's JSON editor: a list where a string belongs, a
number as an id, a pasted paragraph, a key left out. Whatever a row holds, reading it never raises:
an invalid row is ignored with one ``InvalidExperiment`` metric (dimensions ``experiment`` and
``field``, both short) and one log line naming the field, never the data, and the valid experiment
beside it still runs.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from boto3.dynamodb.types import Binary
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nudge.experiments import running
from nudge.experiments.models import Experiment
from nudge.observability import logger

TRIGGERS = frozenset({"cart_abandoned", "order_placed", "customer_lapsed"})
ATTRIBUTES = ("experiment_id", "trigger", "status", "holdout_percent", "variants")
VARIANT_ATTRIBUTES = ("variant_id", "weight", "subject")
# A CloudWatch dimension value: printable ASCII, short; the labels the code gives bad ids.
SHORT_DIMENSION = re.compile(r"^[ -~]{1,64}$")
SECRET = "SECRET-DATA-7f3a"


def good_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "experiment_id": "cart-subject-nov",
        "trigger": "cart_abandoned",
        "status": "running",
        "holdout_percent": Decimal(10),
        "variants": [
            {"variant_id": "a", "weight": Decimal(50), "subject": "{{ customer.first_name }}, hi"},
            {"variant_id": "b", "weight": Decimal(50)},
        ],
    }
    return {**row, **changes}


# Every value a DynamoDB item can hold once read (strings, Decimals, booleans, NULL, binary, sets,
# lists and maps, nested), and the plain Python numbers a script might put in a test.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.decimals(),
    st.text(max_size=40),
    st.binary(max_size=20).map(Binary),
    st.sampled_from(["", " ", "running", "cart_abandoned", "a", "holdout", "100", "{{", "{% for %}"]),
)
garbage = st.recursive(
    st.one_of(
        scalars,
        st.sets(st.text(max_size=10), max_size=4),
        st.sets(st.decimals(allow_nan=False), max_size=4),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=10,
)
keys = st.one_of(st.sampled_from((*ATTRIBUTES, "variant_id", "weight", "subject")), st.text(max_size=12))
any_rows = st.dictionaries(keys, garbage, max_size=6)


@st.composite
def one_attribute_broken(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A well-formed row with one attribute (or one variant's attribute) replaced, or left out."""
    row = good_row()
    name = draw(st.sampled_from((*ATTRIBUTES, *(f"variants.0.{part}" for part in VARIANT_ATTRIBUTES))))
    missing = draw(st.booleans())
    if name.startswith("variants.0."):
        variant = dict(row["variants"][0])
        attribute = name.rsplit(".", 1)[-1]
        if missing:
            del variant[attribute]
        else:
            variant[attribute] = draw(garbage)
        row["variants"] = [variant, row["variants"][1]]
    elif missing:
        del row[name]
    else:
        row[name] = draw(garbage)
    return row, name


@dataclass
class Reported:
    metrics: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    raw: str = ""


@contextlib.contextmanager
def reported() -> Iterator[Reported]:
    """The InvalidExperiment metrics (EMF on stdout) and the log lines of what runs inside."""
    found = Reported()
    out, logged = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(logged)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        with contextlib.redirect_stdout(out):
            yield found
    finally:
        logger.removeHandler(handler)  # type: ignore[attr-defined]
    found.raw = out.getvalue() + logged.getvalue()
    for line in out.getvalue().splitlines():
        document = json.loads(line)
        if "InvalidExperiment" in document:
            found.metrics.append(document)
    found.logs = [json.loads(line) for line in logged.getvalue().splitlines()]


def experiment_of(rows: list[Any], trigger: str = "cart_abandoned") -> Experiment | None:
    with mock.patch.object(running, "running_rows", return_value=rows):
        return running.running_experiment("Experiments", trigger, TRIGGERS)


def assert_bounded(found: Reported) -> None:
    """Every report names a field of the row, under a short experiment label."""
    for metric in found.metrics:
        assert SHORT_DIMENSION.match(metric["experiment"]), metric["experiment"][:80]
        assert metric["field"].split(".")[0] in (*ATTRIBUTES, "row"), metric["field"][:80]
        assert len(metric["field"]) <= 100
    ignored = [log for log in found.logs if log["message"] == "experiment ignored: its row is invalid"]
    assert len(ignored) == len(found.metrics)
    for log in ignored:
        assert SHORT_DIMENSION.match(log["experiment_id"]) and len(log["problem"]) <= 200


def oracle(row: dict[str, Any]) -> Experiment | None:
    """What the row is, validated on its own (pydantic never raises anything else on any input)."""
    try:
        return Experiment.model_validate(row, context={"triggers": TRIGGERS})
    except ValueError:
        return None


@pytest.mark.slow
@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(any_rows, max_size=3))
@example(rows=[good_row(trigger=["cart_abandoned"])])
@example(rows=[good_row(trigger={"S": "cart_abandoned"}), good_row(experiment_id=[1, 2])])
def test_no_row_of_any_shape_raises_and_every_report_is_short(rows: list[dict[str, Any]]) -> None:
    for trigger in sorted(TRIGGERS):
        with reported() as found:
            experiment_of(rows, trigger)
        assert_bounded(found)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(broken=one_attribute_broken())
@example(broken=(good_row(trigger=["cart_abandoned"]), "trigger"))
@example(broken=(good_row(variants={"a": 100}), "variants"))
@example(broken=(good_row(experiment_id=Decimal(7)), "experiment_id"))
def test_a_row_with_one_bad_attribute_is_ignored_naming_it_and_the_valid_row_beside_it_runs(
    broken: tuple[dict[str, Any], str],
) -> None:
    row, name = broken
    valid = good_row(experiment_id="cart-other", trigger="order_placed")
    with reported() as found:
        cart = experiment_of([row, valid], "cart_abandoned")
    assert_bounded(found)
    with reported():
        order = experiment_of([row, valid], "order_placed")
    expected = oracle(row)
    if expected is None:
        # Invalid: ignored by the cart function, naming the broken attribute
        assert cart is None
        assert [m["field"].split(".")[0] for m in found.metrics] == [name.split(".")[0]]
        assert order is not None and order.experiment_id == "cart-other"
    elif expected.trigger == "cart_abandoned":
        assert cart == expected and found.metrics == []
    else:
        # Valid for another trigger: none of the cart function's business
        assert cart is None and found.metrics == []


@pytest.mark.parametrize("name", ATTRIBUTES)
def test_a_huge_value_in_any_attribute_is_ignored_with_a_short_report(name: str) -> None:
    # Given a 400 KB string (DynamoDB's whole item) where the attribute belongs
    with reported() as found:
        assert experiment_of([good_row(**{name: "x" * 400_000})]) is None
    assert [metric["field"].split(".")[0] for metric in found.metrics] == [name]
    assert_bounded(found)
    assert len(found.raw) < 5_000


def test_ten_thousand_variants_are_refused_as_too_many() -> None:
    variants = [{"variant_id": f"v{number}", "weight": Decimal(0)} for number in range(10_000)]
    with reported() as found:
        assert experiment_of([good_row(variants=variants)]) is None
    assert [metric["field"] for metric in found.metrics] == ["variants"]


@pytest.mark.parametrize(
    "experiment_id",
    [
        Decimal(42),
        True,
        ["cart-subject-nov"],
        {"id": "x"},
        {"a", "b"},
        Binary(b"\x00\xff"),
        None,
        "",
        "   ",
        "x" * 400_000,
        "naïve id",
        "line\nbreak",
        "has space",
        [[[["deep"]]]] * 50,
    ],
    # A set's repr depends on the process's hash seed; a test's id must not (a rerun by id finds it).
    ids=lambda value: (
        f"{type(value).__name__}-{repr(sorted(value) if isinstance(value, set) else value)[:24]}"
    ),
)
def test_an_id_that_is_not_a_short_printable_string_is_reported_under_a_short_label(
    experiment_id: Any,
) -> None:
    with reported() as found:
        assert experiment_of([good_row(experiment_id=experiment_id)]) is None
    assert [metric["field"] for metric in found.metrics] == ["experiment_id"]
    assert_bounded(found)
    label = found.metrics[0]["experiment"]
    if isinstance(experiment_id, str) and SHORT_DIMENSION.match(experiment_id) and experiment_id.strip():
        assert label == experiment_id
    else:
        assert re.fullmatch(r"sha256:[0-9a-f]{16}|-", label), label
        # The same bad id always gets the same label, so its metric keeps one series
        with reported() as again:
            experiment_of([good_row(experiment_id=experiment_id)])
        assert again.metrics[0]["experiment"] == label


@pytest.mark.parametrize("name", [*ATTRIBUTES, "variants.0.variant_id", "variants.0.subject"])
def test_the_reports_name_the_field_and_never_the_data_in_it(name: str) -> None:
    row = good_row()
    if name.startswith("variants.0."):
        first, second = row["variants"]
        row["variants"] = [{**first, name.rsplit(".", 1)[-1]: [SECRET * 200]}, second]
    else:
        row[name] = {"nested": [SECRET * 200, {SECRET: SECRET}]}
    with reported() as found:
        assert experiment_of([row]) is None
    assert len(found.metrics) == 1 and found.metrics[0]["field"].split(".")[0] == name.split(".")[0]
    assert SECRET not in found.raw
