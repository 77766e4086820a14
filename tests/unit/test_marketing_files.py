"""make segments-validate and experiments-validate: a file checked with the models the functions use,
every problem naming its row and field, and nothing valid while anything is not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_stack.emulator.scenario import SAMPLE_DAY_CLOCK, load_sample_rows
from marketing.__main__ import main
from marketing.experiments import check_experiments
from marketing.rows import RowsFileError, read_rows
from marketing.samples import sample_customers
from marketing.segments import check_segments, sample_membership
from nudge.profiles import Segment
from nudge.segmentation import assign_segment

SAMPLE_SEGMENTS = load_sample_rows("segments")
SAMPLE_EXPERIMENTS = load_sample_rows("experiments")


def written(tmp_path: Path, rows: Any, name: str = "rows.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(rows))
    return path


def with_segment(segment_id: str, **changes: Any) -> list[dict[str, Any]]:
    rows = json.loads(json.dumps(SAMPLE_SEGMENTS))
    for row in rows:
        if row["segment_id"] == segment_id:
            row.update(changes)
    return [{k: v for k, v in row.items() if v is not None} for row in rows]


def with_variant(number: int, **changes: Any) -> list[dict[str, Any]]:
    rows = json.loads(json.dumps(SAMPLE_EXPERIMENTS))
    rows[0]["variants"][number].update(changes)
    return list(rows)


# ------------------------------------------------------------------------------------------- segments


def test_the_sample_segments_are_valid_and_each_takes_the_customers_segmentation_gives_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["segments-validate"]) == 0

    printed = capsys.readouterr().out
    assert "sample_data/segments.json: 8 segments, valid" in printed
    segments = [Segment.model_validate(row) for row in SAMPLE_SEGMENTS]
    customers = sample_customers()
    table = {
        entry.segment_id: entry.customers
        for entry in sample_membership(segments, customers, SAMPLE_DAY_CLOCK)
    }
    # The very assignment nudge.segmentation makes, every customer in exactly one row
    for customer in customers:
        (segment_id,) = [s for s, members in table.items() if customer in members]
        assert segment_id == assign_segment(customer.facts(SAMPLE_DAY_CLOCK), segments)
    assert [c.customer_id for c in table["vip"]] == ["cus_vip_ada", "cus_unsubscribed_yuki"]
    vip_line = next(line for line in printed.splitlines() if line.split()[1:2] == ["vip"])
    assert vip_line.split()[:3] == ["10", "vip", "2"] and "cus_vip_ada" in vip_line
    # A customer whose stored segment is no longer the one the rules give is marked with it
    assert "cus_drifting_vip_kenji (stored: vip)" in printed


def test_without_a_default_row_the_rest_fall_to_the_built_in_everyone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = [row for row in SAMPLE_SEGMENTS if row["segment_id"] in {"vip", "lapsed"}]

    assert main(["segments-validate", "--file", str(written(tmp_path, rows))]) == 0

    default = next(line for line in capsys.readouterr().out.splitlines() if " default " in line)
    assert "no row: the built-in Everyone, no offer" in default


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        (
            with_segment("vip", rules={"total_spend": {"gte": 1000}}),
            "segment vip: rules.total_spend: not a fact a rule can use; one of clicks_in_last_days, ",
        ),
        (
            with_segment("at_risk", rules={"order_count": {"gte": 5, "lt": 2}}),
            "segment at_risk: rules.order_count: Value error, the lower bound is above the upper bound",
        ),
        (
            with_segment("frequent_buyer", rules={"orders_in_last_days": {"gte": 3}}),
            "segment frequent_buyer: rules.orders_in_last_days.days: Field required",
        ),
        (
            with_segment("vip", coupon_cod="VIP15"),
            "segment vip: coupon_cod: not a field (the functions would ignore it); one of coupon_code, ",
        ),
        (
            with_segment("vip", offer_wording="gold"),
            "segment vip: offer_wording: Input should be 'vip_perks', 'welcome_back'",
        ),
        (
            with_segment("lapsed", discount_percent=150),
            "segment lapsed: discount_percent: Input should be less than or equal to 100",
        ),
        ([*SAMPLE_SEGMENTS, SAMPLE_SEGMENTS[0]], "segment vip: segment_id: appears twice in the file"),
        ([*SAMPLE_SEGMENTS, ["vip"]], "segment in row 9: row: must be an object"),
        ([{"segment_id": "", "name": "Nobody"}], "segment in row 1: segment_id: must not be empty"),
        ([{"segment_id": "new"}], "segment new: name: Field required"),
    ],
    ids=[
        "unknown fact",
        "impossible range",
        "window without days",
        "misspelt field",
        "unknown wording",
        "percent past 100",
        "duplicate",
        "not an object",
        "empty id",
        "no name",
    ],
)
def test_an_invalid_segment_is_refused_naming_the_segment_and_the_field(
    rows: list[Any], problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = written(tmp_path, rows, "segments.json")

    assert main(["segments-validate", "--file", str(path)]) == 1

    printed = capsys.readouterr().out
    assert "nothing is written" in printed
    assert any(line.strip().startswith(problem) for line in printed.splitlines()), printed
    assert "valid." not in printed  # and no membership table


def test_every_problem_of_a_file_is_named_at_once() -> None:
    rows = with_segment("vip", rules={"total_spend": {"gte": 1}}, coupon_cod="X")
    problems = [f"{p.row}: {p.field}" for p in check_segments(rows).problems]
    assert problems == ["segment vip: coupon_cod", "segment vip: rules.total_spend"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[{]", "not JSON: Expecting property name enclosed in double quotes at line 1 column 3"),
        ('{"segment_id": "vip"}', "must be a JSON array of segment rows"),
        ('[{"discount_percent": NaN}]', "NaN is not a number DynamoDB can store"),
    ],
)
def test_a_file_that_is_no_array_of_rows_is_refused_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "segments.json"
    path.write_text(text)
    with pytest.raises(RowsFileError, match=rf"FILE={path}: .*{message[:30]}"):
        read_rows(path, "segment")


def test_numbers_are_read_as_dynamodb_stores_them(tmp_path: Path) -> None:
    path = tmp_path / "segments.json"
    path.write_text('[{"segment_id": "s", "name": "S", "rules": {"total_spent": {"gte": 0.1}}}]')
    (row,) = read_rows(path, "segment")
    assert str(row["rules"]["total_spent"]["gte"]) == "0.1"


def test_a_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["segments-validate", "--file", str(tmp_path / "nope.json")])
    assert exited.value.code == 1
    assert f"FILE={tmp_path / 'nope.json'}: cannot be read" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- experiments


def test_the_sample_experiments_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiments-validate"]) == 0
    printed = capsys.readouterr().out
    assert "sample_data/experiments.json: 1 experiment, valid" in printed
    assert (
        "cart-subject-dec: cart_abandoned, draft, holdout 25%, variants a 50%, b 50% (own subject)" in printed
    )


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        (
            with_variant(1, weight=40),
            "experiment cart-subject-dec: row: Value error, variants: the weights add up to 90",
        ),
        (with_variant(1, sbject="Hi"), "experiment cart-subject-dec: variants.1.sbject: not a field"),
        (
            [{**SAMPLE_EXPERIMENTS[0], "trigger": "cart_abandonned"}],
            "experiment cart-subject-dec: trigger: Value error, not a trigger: one of cart_abandoned,",
        ),
        (
            with_variant(0, variant_id="holdout"),
            "experiment cart-subject-dec: variants.0.variant_id: Value error",
        ),
        (
            with_variant(1, subject="{{ customer.firstname }}, your cart"),
            "experiment cart-subject-dec: variants.1.subject: variant b's subject does not render for "
            "customer cus_vip_ada, events/cart_abandoned/bought_since_ben.json, step 1 (UndefinedError: ",
        ),
        (
            with_variant(1, subject="{% for i in range(99999) %}{% endfor %}Your cart"),
            "experiment cart-subject-dec: variants.1.subject: variant b's subject does not render for ",
        ),
        (
            with_variant(1, subject="{{ cart.items[0].name"),
            "experiment cart-subject-dec: variants.1.subject: variant b's subject does not render for ",
        ),
        (
            [
                {**SAMPLE_EXPERIMENTS[0], "status": "running"},
                {**SAMPLE_EXPERIMENTS[0], "experiment_id": "cart-two", "status": "running"},
            ],
            "experiment cart-subject-dec: status: running on cart_abandoned beside cart-two",
        ),
        (
            [SAMPLE_EXPERIMENTS[0], SAMPLE_EXPERIMENTS[0]],
            "experiment cart-subject-dec: experiment_id: appears twice",
        ),
    ],
    ids=[
        "weights",
        "misspelt variant field",
        "unknown trigger",
        "reserved variant id",
        "undefined variable",
        "past the budget",
        "does not compile",
        "two running",
        "duplicate",
    ],
)
def test_an_invalid_experiment_is_refused_naming_it_the_field_and_the_variant(
    rows: list[Any], problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = written(tmp_path, rows, "experiments.json")

    assert main(["experiments-validate", "--file", str(path)]) == 1

    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert any(line.startswith(problem) for line in lines), lines


def test_a_subject_past_its_budget_is_named_by_the_bound(tmp_path: Path) -> None:
    rows = with_variant(1, subject="{% for i in range(99999) %}{% endfor %}Your cart")
    (problem,) = check_experiments(rows).problems
    assert "BudgetExceeded" in problem.message and "range" in problem.message
    assert "the functions would ignore this experiment" in problem.message


def test_a_subject_is_rendered_for_a_customer_without_a_first_name_and_an_odd_reading_is_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = with_variant(1, subject="{{ customer.first_name }}, we kept your cart")
    path = written(tmp_path, rows, "experiments.json")

    assert main(["experiments-validate", "--file", str(path)]) == 0

    printed = capsys.readouterr().out
    assert (
        "warning: experiment cart-subject-dec: variants.1.subject: variant b reads 'None, we kept your cart' "
        "for a customer without a first name, events/cart_abandoned/bought_since_ben.json, step 1"
    ) in printed
