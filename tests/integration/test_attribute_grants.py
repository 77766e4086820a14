"""Attribute-level grants against the code that uses them.

The unsubscribe URL, the SES feedback function, the engagement function and the re-engagement worker
may write (and the worker read) only the attributes their statements in template.yaml list
(``dynamodb:Attributes``). template.yaml is the one place those lists are written: here each function
runs through every path that touches the Customers table, every call it makes is checked against its
statements with their conditions evaluated (``local_stack.emulator.iam_check``), and the attributes it really
names must be exactly the ones listed. moto does not enforce IAM: without this test, code that writes
one attribute more would first fail in production, with AccessDenied.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local_stack.emulator.iam_check import AwsCall, is_allowed, recording_aws_calls, required_permissions
from local_stack.emulator.lambda_runtime import EventSourceMappings, LocalFunctionUrls
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.reengagement import run_schedule, sample_scheduled_time
from local_stack.emulator.run import publish_all_as_ses, publish_as_ses, put_events
from local_stack.emulator.scenario import EVENTS_DIR, SampleEvent
from local_stack.emulator.stack import LocalStack
from nudge.dal.customer_history import ENGAGEMENT_TRIM_SLACK, MAX_RECENT_ENGAGEMENTS
from nudge.dal.customers import get_customer
from tests.conftest import sent_emails
from tests.integration.test_ses_feedback import the_email_was_sent

RESTRICTED = (
    "UnsubscribeFunction",
    "SesFeedbackFunction",
    "EngagementFunction",
    "ReengagementWorkerFunction",
)
ONE_CLICK = "List-Unsubscribe=One-Click"


def ses_sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / "ses" / name).read_text())
    return event


def at(event: dict[str, Any], moment: datetime) -> dict[str, Any]:
    """The same SES event for another open or click: its own timestamp."""
    other = copy.deepcopy(event)
    section = event["detail"]["eventType"].lower()
    other["detail"][section]["timestamp"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return other


@pytest.fixture
def every_writing_path(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> list[AwsCall]:
    """Ada's cart reminder; its delivery, opens and clicks, one open older than the last (only the
    history gains it) and enough opens to trim her history; a permanent bounce, a complaint and a
    transient bounce; Ada's one-click unsubscribe and the confirmation page's button; the daily run."""
    feedback = [ses_sample(name) for name in ("bounce_permanent_jonas.json", "complaint_maria.json")]
    feedback.append(ses_sample("bounce_transient_ada.json"))
    for event in feedback:
        the_email_was_sent(stack, event)  # only feedback about an email we sent suppresses
    with recording_aws_calls() as calls:
        put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
        mappings.drain()
        opened = ses_sample("opened_ada.json")
        first_open = datetime(2026, 11, 23, 10, 41, 17, tzinfo=UTC)
        opens = [at(opened, first_open + timedelta(minutes=n)) for n in range(1, MAX_RECENT_ENGAGEMENTS)]
        opens += [
            at(opened, first_open + timedelta(hours=2, seconds=n)) for n in range(ENGAGEMENT_TRIM_SLACK + 2)
        ]
        publish_all_as_ses(stack, [ses_sample("delivered_ada.json"), opened, ses_sample("clicked_ada.json")])
        mappings.drain()
        publish_all_as_ses(stack, opens)
        mappings.drain()
        publish_as_ses(stack, at(opened, first_open + timedelta(seconds=1)))  # older than her last open
        mappings.drain()
        for event in feedback:
            publish_as_ses(stack, event)
        mappings.drain()
        (email,) = sent_emails(moto)
        link = str(email["List-Unsubscribe"]).strip("<>")
        urls = LocalFunctionUrls(mappings)
        assert urls.request("POST", link, body=ONE_CLICK).status == 200
        assert urls.request("POST", link, body="confirm=yes").status == 200
        run_schedule(stack, mappings, sample_scheduled_time())
    ada = get_customer(stack.names["CustomersTable"], "cus_vip_ada")
    assert ada is not None and len(ada.recent_open_dates) < len(opens)  # her history was trimmed
    return calls


def named_attributes(calls: list[AwsCall], function: str, action: str, table_arn: str) -> set[str]:
    """Every attribute name the function's calls named to IAM for ``action`` on the table."""
    return {
        attribute
        for call in calls
        if call.function.logical_id == function
        for permission in required_permissions(call)
        if (permission.action, permission.resource) == (action, table_arn)
        for attribute in permission.value_of("dynamodb:Attributes") or ()
    }


def granted_attributes(stack: LocalStack, function: str, action: str, table_arn: str) -> set[str]:
    """The attribute names the function's statements list for ``action`` on the table."""
    listed: set[str] = set()
    for statement in stack.functions[function].policy_statements:
        actions, resources = statement["Action"], statement["Resource"]
        if action in actions and table_arn in (resources if isinstance(resources, list) else [resources]):
            condition = statement.get("Condition", {}).get("ForAllValues:StringEquals", {})
            listed |= set(condition.get("dynamodb:Attributes", ()))
    return listed


def test_every_call_of_the_attribute_restricted_functions_is_allowed_with_its_conditions(
    stack: LocalStack, every_writing_path: list[AwsCall]
) -> None:
    # Given every path of the four functions ran
    made = {(call.function.logical_id, call.operation) for call in every_writing_path}
    assert {(function, "UpdateItem") for function in RESTRICTED} <= made
    assert ("ReengagementWorkerFunction", "Scan") in made
    # Then IAM, conditions included, allows every call each of them made
    denied = sorted(
        {
            f"{call.function.logical_id}: {permission.action} on {permission.resource} "
            f"naming {permission.value_of('dynamodb:Attributes')}"
            for call in every_writing_path
            if call.function.logical_id in RESTRICTED
            for permission in required_permissions(call)
            if not is_allowed(call.function.policy_statements, permission)
        }
    )
    assert denied == []


# Each grant restricted to a list of attributes: the function, the action and the table.
ATTRIBUTE_GRANTS = (
    ("UnsubscribeFunction", "dynamodb:UpdateItem", "CustomersTable"),
    ("UnsubscribeFunction", "dynamodb:PutItem", "ConsentHistoryTable"),
    ("SesFeedbackFunction", "dynamodb:UpdateItem", "CustomersTable"),
    ("EngagementFunction", "dynamodb:UpdateItem", "CustomersTable"),
    ("ReengagementWorkerFunction", "dynamodb:UpdateItem", "CustomersTable"),
    ("ReengagementWorkerFunction", "dynamodb:Scan", "CustomersTable"),
    ("ReengagementWorkerFunction", "dynamodb:Scan", "SegmentsTable"),
)


def test_each_attribute_list_names_exactly_what_the_code_uses(
    stack: LocalStack, every_writing_path: list[AwsCall]
) -> None:
    # Given the attributes each function's statements list for a table, and those its calls named
    differences = []
    for function, action, table in ATTRIBUTE_GRANTS:
        granted = granted_attributes(stack, function, action, stack.arns[table])
        named = named_attributes(every_writing_path, function, action, stack.arns[table])
        if not granted or named != granted:
            differences.append(
                f"{function} {action} on {table}: listed but unused {sorted(granted - named)}, "
                f"used but not listed {sorted(named - granted)}"
            )
    # Then they are the same: a list wider than the code is a grant nobody needs, one narrower (or
    # none) is an AccessDenied, or an unrestricted grant, waiting for the deploy
    assert differences == [], "\n".join(differences)
