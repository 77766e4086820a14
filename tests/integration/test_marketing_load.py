"""make segments-load and experiments-load against the local stack's tables: the difference printed,
written only when asked, a second run changing nothing, rows only in the table deleted only when
pruning, and an invalid file writing nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_stack.emulator import clients
from local_stack.emulator.rows import put_experiment
from local_stack.emulator.scenario import load_sample_rows
from local_stack.emulator.stack import LocalStack
from marketing import stack as deployed
from marketing.__main__ import main
from nudge.dal.items import from_item

STACK = "nudge"


@pytest.fixture(autouse=True)
def stack_tables(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack named on the command line is the local stack (the lookup of a deployed stack's
    outputs is tests/unit/test_marketing_stack.py's)."""
    tables = {"segment": stack.names["SegmentsTable"], "experiment": stack.names["ExperimentsTable"]}

    def table_of(_cloudformation: Any, stack_name: str, kind: str) -> str:
        assert stack_name == STACK
        return tables[kind]

    monkeypatch.setattr(deployed, "table_of", table_of)


def rows(stack: LocalStack, logical_id: str) -> dict[str, dict[str, Any]]:
    key = "segment_id" if logical_id == "SegmentsTable" else "experiment_id"
    pages = clients.dynamodb(stack.region).get_paginator("scan").paginate(TableName=stack.names[logical_id])
    return {item[key]["S"]: from_item(item) for page in pages for item in page["Items"]}


def written(tmp_path: Path, content: list[dict[str, Any]], name: str) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(content, indent=2))
    return str(path)


def changed_segments() -> list[dict[str, Any]]:
    """The sample segments with VIP's discount raised, a new segment, and ``unengaged`` left out."""
    segments = [row for row in load_sample_rows("segments") if row["segment_id"] != "unengaged"]
    for row in segments:
        if row["segment_id"] == "vip":
            row.update(discount_percent=20, coupon_code="VIP20")
    segments.append(
        {
            "segment_id": "vip_germany",
            "name": "VIPs in Germany",
            "priority": 5,
            "rules": {"total_spent": {"gte": 1000}, "country": {"in": ["DE", "AT"]}},
            "discount_percent": 15,
            "offer_wording": "vip_perks",
        }
    )
    return segments


def load(*arguments: str) -> int:
    return main(["segments-load", "--stack", STACK, *arguments])


def test_a_dry_run_prints_the_difference_and_writes_nothing(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the Segments table as the sample data seeded it
    before = rows(stack, "SegmentsTable")
    path = written(tmp_path, changed_segments(), "segments.json")

    assert load("--file", path) == 0

    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"segments of table {stack.names['SegmentsTable']} (stack nudge) against {path}:"
    assert printed[1:] == [
        "  + vip_germany",
        '  ~ vip: discount_percent: 15 -> 20; coupon_code: "VIP15" -> "VIP20"',
        "  = unengaged: in the table, not in the file: kept (PRUNE=1 deletes it)",
        "  6 unchanged: lapsed, at_risk, frequent_buyer, new_customer, engaged_non_purchasers, default",
        f"nothing written (a dry run). To write these changes: make segments-load FILE={path} STACK=nudge "
        "APPLY=1",
    ]
    assert rows(stack, "SegmentsTable") == before


def test_apply_writes_the_file_s_rows_as_written_and_a_second_run_finds_nothing_to_change(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    segments = changed_segments()
    path = written(tmp_path, segments, "segments.json")
    unchanged_before = rows(stack, "SegmentsTable")["lapsed"]

    assert load("--file", path, "--apply") == 0

    assert capsys.readouterr().out.splitlines()[-1] == "written: 1 added, 1 changed, 0 deleted"
    stored = rows(stack, "SegmentsTable")
    by_id = {row["segment_id"]: row for row in segments}
    # The new row and the changed one exactly as the file has them (no defaults added)
    assert stored["vip_germany"] == by_id["vip_germany"]
    assert (stored["vip"]["discount_percent"], stored["vip"]["coupon_code"]) == (20, "VIP20")
    # Rows that read the same are not written again; a row only in the table is kept
    assert stored["lapsed"] == unchanged_before
    assert "unengaged" in stored

    # When the same file is loaded again
    assert load("--file", path, "--apply") == 0

    printed = capsys.readouterr().out.splitlines()
    assert "  no changes: the segments in the table are the file's" in printed
    assert not any(line.startswith(("  +", "  ~", "written")) for line in printed)
    assert rows(stack, "SegmentsTable") == stored


def test_prune_deletes_the_rows_that_are_not_in_the_file(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = written(tmp_path, changed_segments(), "segments.json")

    assert load("--file", path, "--prune") == 0
    assert "  - unengaged: in the table, not in the file: deleted" in capsys.readouterr().out
    assert "unengaged" in rows(stack, "SegmentsTable")  # a dry run still

    assert load("--file", path, "--prune", "--apply") == 0

    assert capsys.readouterr().out.splitlines()[-1] == "written: 1 added, 1 changed, 1 deleted"
    assert "unengaged" not in rows(stack, "SegmentsTable")


def test_an_invalid_file_writes_nothing_and_names_the_segment_and_field(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    segments = changed_segments()
    segments[0]["rules"] = {"total_spend": {"gte": 1000}}
    path = written(tmp_path, segments, "segments.json")
    before = rows(stack, "SegmentsTable")

    assert load("--file", path, "--apply", "--prune") == 1

    printed = capsys.readouterr().out
    assert "segment vip: rules.total_spend: not a fact a rule can use" in printed
    assert "nothing is written" in printed
    assert rows(stack, "SegmentsTable") == before


def test_a_table_row_that_does_not_validate_is_changed_by_the_file_and_a_kept_one_is_warned_about(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = stack.names["SegmentsTable"]
    dynamodb = clients.dynamodb(stack.region)
    for segment_id in ("vip", "retired"):
        dynamodb.put_item(
            TableName=table,
            Item={
                "segment_id": {"S": segment_id},
                "name": {"S": segment_id},
                "rules": {"M": {"total_spend": {"M": {"gte": {"N": "1"}}}}},
            },
        )
    path = written(tmp_path, load_sample_rows("segments"), "segments.json")

    assert load("--file", path) == 0

    printed = capsys.readouterr().out
    assert (
        "  ~ vip: the table's row does not validate (rules.total_spend: Extra inputs are not permitted)"
        in (printed)
    )
    assert (
        "warning: segment retired: rules.total_spend: not a fact a rule can use; one of clicks_in_last_days, "
    ) in printed
    assert (
        "re-segmentation pauses while any row is invalid (InvalidSegmentDefinitions); PRUNE=1 deletes it"
        in (printed)
    )


def test_experiments_are_loaded_the_same_way(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    experiments = load_sample_rows("experiments")
    path = written(tmp_path, experiments, "experiments.json")

    assert main(["experiments-load", "--stack", STACK, "--file", path, "--apply"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "  + cart-subject-dec",
        "written: 1 added, 0 changed, 0 deleted",
    ]
    assert rows(stack, "ExperimentsTable") == {"cart-subject-dec": experiments[0]}

    # Started in the file: one field changed
    experiments[0]["status"] = "running"
    path = written(tmp_path, experiments, "experiments.json")
    assert main(["experiments-load", "--stack", STACK, "--file", path, "--apply"]) == 0
    assert '  ~ cart-subject-dec: status: "draft" -> "running"' in capsys.readouterr().out

    assert main(["experiments-load", "--stack", STACK, "--file", path, "--apply"]) == 0
    assert "  no changes: the experiments in the table are the file's" in capsys.readouterr().out


def test_an_experiment_that_would_run_beside_one_the_table_keeps_is_refused(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an experiment running on the cart reminder, not in the file
    put_experiment(
        stack.names["ExperimentsTable"],
        {
            "experiment_id": "cart-subject-nov",
            "trigger": "cart_abandoned",
            "status": "running",
            "variants": [{"variant_id": "a", "weight": 100}],
        },
    )
    before = rows(stack, "ExperimentsTable")
    experiments = load_sample_rows("experiments")
    experiments[0]["status"] = "running"
    path = written(tmp_path, experiments, "experiments.json")

    assert main(["experiments-load", "--stack", STACK, "--file", path, "--apply"]) == 1

    printed = capsys.readouterr().out
    assert (
        "experiment cart-subject-dec: status: would run on cart_abandoned beside cart-subject-nov" in printed
    )
    assert rows(stack, "ExperimentsTable") == before

    # Pruning the other one makes it fine
    assert main(["experiments-load", "--stack", STACK, "--file", path, "--apply", "--prune"]) == 0
    assert set(rows(stack, "ExperimentsTable")) == {"cart-subject-dec"}
