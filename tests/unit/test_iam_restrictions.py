"""Least privilege below the resource, from template.yaml: the public unsubscribe URL, the SES
feedback and engagement functions and the re-engagement worker may touch only the profile attributes
they name; the worker reads the Customers table only through its projection; email goes out only
from the sender's own address.

The attribute lists themselves are checked against the code in
tests/integration/test_attribute_grants.py; these tests fail when a restriction is taken away."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.emulator.cfn import Resolver, load_template
from local_stack.emulator.stack import TEMPLATE_PATH
from nudge.profiles import CustomerFacts

RESOURCES: dict[str, dict[str, Any]] = load_template(TEMPLATE_PATH)["Resources"]
WRITES = {"dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
# What may come back from an update restricted to some attributes: nothing, or the updated ones.
PARTIAL_RETURN_VALUES = {"NONE", "UPDATED_OLD", "UPDATED_NEW"}
ATTRIBUTE_RESTRICTED = (
    "UnsubscribeFunction",
    "SesFeedbackFunction",
    "EngagementFunction",
    "ReengagementWorkerFunction",
)


def statements_of(function: str) -> list[dict[str, Any]]:
    """The function's statements, those of the template's managed policies it attaches included."""
    found: list[dict[str, Any]] = []
    for policy in RESOURCES[function]["Properties"].get("Policies", []):
        if "Ref" in policy:
            found += RESOURCES[policy["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
        else:
            found += policy["Statement"]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def on_table(statement: dict[str, Any], table: str) -> bool:
    return {"Fn::GetAtt": [table, "Arn"]} in as_list(statement["Resource"])


def actions(statement: dict[str, Any]) -> set[str]:
    return set(as_list(statement["Action"]))


def listed_attributes(statement: dict[str, Any]) -> list[str]:
    return list(
        statement.get("Condition", {}).get("ForAllValues:StringEquals", {}).get("dynamodb:Attributes", [])
    )


@pytest.mark.parametrize("function", ATTRIBUTE_RESTRICTED)
def test_a_function_may_write_a_profile_only_within_its_list_of_attributes(function: str) -> None:
    # Given every statement of the function that lets it write to the Customers table
    writes = [s for s in statements_of(function) if on_table(s, "CustomersTable") and actions(s) & WRITES]
    assert writes, f"{function} writes no profile attribute any more: remove it from this test"
    for statement in writes:
        condition = statement.get("Condition", {})
        # Then it is an UpdateItem (PutItem and DeleteItem replace or remove the whole item) ...
        assert actions(statement) == {"dynamodb:UpdateItem"}
        # ... of the listed attributes only, the key among them (IAM counts it), on a request that
        # always names some (ForAllValues alone would allow a request naming none) ...
        assert "customer_id" in listed_attributes(statement)
        assert condition.get("Null") == {"dynamodb:Attributes": "false"}
        # ... that returns nothing but the attributes it updated
        assert set(as_list(condition["StringEquals"]["dynamodb:ReturnValues"])) <= PARTIAL_RETURN_VALUES


def test_the_unsubscribe_url_may_only_add_to_the_consent_history() -> None:
    (put,) = [s for s in statements_of("UnsubscribeFunction") if on_table(s, "ConsentHistoryTable")]
    assert actions(put) == {"dynamodb:PutItem"}
    assert {"customer_id", "changed_at"} <= set(listed_attributes(put))
    assert put["Condition"]["StringEquals"]["dynamodb:ReturnValues"] == "NONE"


@pytest.mark.parametrize(
    ("table", "key"), [("CustomersTable", "customer_id"), ("SegmentsTable", "segment_id")]
)
def test_the_worker_scans_only_through_its_projection(table: str, key: str) -> None:
    # Given the worker's Scan of the table
    scans = [s for s in statements_of("ReengagementWorkerFunction") if "dynamodb:Scan" in actions(s)]
    (scan,) = [s for s in scans if on_table(s, table)]
    # Then it must say it reads named attributes (Select: every Scan request carries it), and name
    # only attributes of its list, the key among them
    assert actions(scan) == {"dynamodb:Scan"}
    assert scan["Condition"]["StringEquals"] == {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}
    assert scan["Condition"]["Null"] == {"dynamodb:Attributes": "false"}
    assert key in listed_attributes(scan)
    if table == "CustomersTable":
        # ...which are the facts segmentation reads: no address, no name
        assert set(listed_attributes(scan)) == set(CustomerFacts.model_fields)
        assert not {"email", "first_name", "last_name"} & set(listed_attributes(scan))


def sending_statements() -> list[tuple[str, dict[str, Any]]]:
    return [
        (function, statement)
        for function, resource in RESOURCES.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for statement in statements_of(function)
        if {a for a in actions(statement) if a.startswith("ses:Send")}
    ]


@pytest.mark.parametrize("sender", ["Your Shop <hello@yourshop.com>", "hello@yourshop.com"])
def test_email_goes_out_only_from_the_sender_address(sender: str) -> None:
    # Given every statement that lets a function send email
    statements = sending_statements()
    assert {function for function, _ in statements} == {
        "CartAbandonedFunction",
        "OrderPlacedFunction",
        "CustomerLapsedFunction",
    }
    for _, statement in statements:
        # Then SES allows it only with the From address of SenderAddress, without its display name
        from_address = statement["Condition"]["StringEquals"]["ses:FromAddress"]
        resolver = Resolver(parameters={"SenderAddress": sender}, pseudo={})
        assert resolver.resolve(from_address) == "hello@yourshop.com"
