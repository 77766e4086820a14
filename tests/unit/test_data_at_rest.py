"""Data at rest, from template.yaml: every table is protected from deletion, encrypted, and kept when
the stack goes; every table that holds personal data, or anything the stack cannot rebuild, can be
restored to any second of 35 days."""

from __future__ import annotations

from typing import Any

from local_stack.emulator.cfn import load_template
from local_stack.emulator.stack import TEMPLATE_PATH

# The tables whose rows hold an address, a name, a subject line with a name, or consent.
PERSONAL_DATA = {"CustomersTable", "DeliveriesTable", "ConsentHistoryTable"}
# Progress of the daily runs (expires after 30 days): the next run starts afresh without it.
DISPOSABLE = {"ReengagementRunsTable"}


def tables() -> dict[str, dict[str, Any]]:
    resources = load_template(TEMPLATE_PATH)["Resources"]
    return {name: r for name, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"}


def test_every_table_has_deletion_protection_and_is_retained_with_the_stack() -> None:
    unprotected = [
        name
        for name, table in tables().items()
        if table["Properties"].get("DeletionProtectionEnabled") != {"Fn::If": ["ProtectTables", True, False]}
        or (table.get("DeletionPolicy") != "Retain" and name not in DISPOSABLE)
    ]
    assert unprotected == []


def test_tables_with_personal_data_have_point_in_time_recovery_and_encryption() -> None:
    missing = [
        name
        for name in PERSONAL_DATA
        if not tables()[name]["Properties"]
        .get("PointInTimeRecoverySpecification", {})
        .get("PointInTimeRecoveryEnabled")
        or not tables()[name]["Properties"].get("SSESpecification", {}).get("SSEEnabled")
    ]
    assert missing == []


def test_every_table_but_the_disposable_can_be_restored_to_any_second_of_35_days() -> None:
    # The catalog, the co-purchase counts learned from months of orders, the segments and the
    # experiments a marketer wrote: none of them can be rebuilt from the store's events.
    missing = [
        name
        for name, table in tables().items()
        if name not in DISPOSABLE
        and not table["Properties"]
        .get("PointInTimeRecoverySpecification", {})
        .get("PointInTimeRecoveryEnabled")
    ]
    assert missing == []
