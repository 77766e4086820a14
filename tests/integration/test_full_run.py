"""A whole day of the stack, every function and every path, checked for what moto cannot check:
that IAM in template.yaml allows each AWS call, that no log line carries personal data, and that the
dashboard and the alarms watch metrics the code emits."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine

from local_stack.emulator.cfn import load_template
from local_stack.emulator.emf import EmittedMetric, emitted_metrics
from local_stack.emulator.failures import Refusal, refusing
from local_stack.emulator.iam_check import AwsCall, is_allowed, recording_aws_calls, required_permissions
from local_stack.emulator.lambda_runtime import EventSourceMappings, LocalFunctionUrls
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.one_time_schedules import deliver_deferred
from local_stack.emulator.reengagement import run_schedule, sample_scheduled_time
from local_stack.emulator.run import publish_as_ses, put_events, run_samples
from local_stack.emulator.scenario import (
    EVENTS_DIR,
    SampleEvent,
    load_customer_events,
    load_follow_ups,
    load_sample_rows,
)
from local_stack.emulator.stack import TEMPLATE_PATH, LocalStack
from local_stack.emulator.watched_metrics import alarm_metrics, dashboard_metrics, never_emitted, resolver_for
from tests.conftest import sent_emails

TOKEN = re.compile(r"v1\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{16,}")
EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@dataclass(frozen=True)
class FullDay:
    calls: list[AwsCall]
    """Every AWS call a handler made, with the function that made it."""
    logs: str
    """Everything the service logged."""
    metrics: list[EmittedMetric]
    """Every metric the handlers emitted (the EMF documents Powertools prints)."""


@pytest.fixture
def a_full_day(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    clock: time_machine.Traveller,
    service_logs: io.StringIO,
) -> FullDay:
    """Every sample event (one twice; the first email SES refuses, as a paused account would, and
    its retry sends), a second email for the same customer (capped), her order from the reminder
    (attributed to it), the scheduled run, the night passing (deferred emails), a one-click
    unsubscribe and SES's feedback and engagement events."""
    printed = io.StringIO()
    with recording_aws_calls() as calls, redirect_stdout(printed):
        refused = Refusal(service="sesv2", operation="SendEmail", code="SendingPausedException")
        with refusing(refused):
            run_samples(
                stack, mappings, list(samples.values()), repeat=[samples["cart_abandoned/vip_ada.json"]]
            )
        assert refused.fired
        second_cart = samples["cart_abandoned/vip_ada.json"].varied(
            "second cart", cart_id="cart_second_today"
        )
        put_events(stack, [second_cart])
        mappings.drain()
        # Ada buys from her reminder: the order is attributed to it (a conversion transaction)
        order = next(s for s in load_follow_ups() if s.name.endswith("2_order_from_reminder_ada.json"))
        put_events(stack, [order])
        mappings.drain()
        run_schedule(stack, mappings, sample_scheduled_time())
        deliver_deferred(stack, mappings, clock.move_to)
        unsubscribe = str(sent_emails(moto)[0]["List-Unsubscribe"]).strip("<>")
        response = LocalFunctionUrls(mappings).request("POST", unsubscribe, body="List-Unsubscribe=One-Click")
        assert response.status == 200
        for path in sorted((EVENTS_DIR / "ses").glob("*.json")):
            if path.name != "expectations.json":
                publish_as_ses(stack, json.loads(path.read_text()))
        mappings.drain()
        # The store's profile events, valid and invalid, and an erasure, at the end of the day
        put_events(stack, load_customer_events())
        mappings.drain()
    return FullDay(calls, service_logs.getvalue(), list(emitted_metrics(printed.getvalue())))


def test_every_aws_call_of_a_full_day_is_allowed_by_its_functions_policy(
    stack: LocalStack, a_full_day: FullDay
) -> None:
    # Given every function's IAM statements as template.yaml writes them, and a full day's calls
    calls = a_full_day.calls
    # Then every function ran, and each call is covered by an Allow on that exact resource
    assert {call.function.logical_id for call in calls} == set(stack.functions)
    # ...including the measurement paths' writes: engagement updates, an attribution transaction
    made = {(call.function.logical_id, call.operation) for call in calls}
    assert {("EngagementFunction", "UpdateItem"), ("AttributionFunction", "TransactWriteItems")} <= made
    denied = sorted(
        {
            f"{call.function.logical_id}: {permission.action} on {permission.resource}"
            for call in calls
            for permission in required_permissions(call)
            if not is_allowed(call.function.policy_statements, permission)
        }
    )
    assert denied == []


def test_the_logs_of_a_full_day_hold_no_email_address_name_or_token(a_full_day: FullDay) -> None:
    logs = a_full_day.logs
    # The day did log its decisions, including the new paths...
    decisions = ("email sent", "email skipped", "email deferred for quiet hours", "invalid event rejected")
    for message in decisions:
        assert f'"message":"{message}"' in logs
    assert '"reason":"frequency_capped"' in logs
    # ...and none of it identifies a person beyond their opaque customer id
    personal: set[str] = set()
    profile_events = [s.event["detail"] for s in load_customer_events()]
    for row in [*load_sample_rows("customers"), *profile_events]:
        personal |= {
            row[name] for name in ("email", "first_name", "last_name") if isinstance(row.get(name), str)
        }
    assert {value for value in personal if re.search(rf"\b{re.escape(value)}\b", logs)} == set()
    assert EMAIL_ADDRESS.findall(logs.replace("hello@shop.example", "")) == []
    assert TOKEN.findall(logs) == []


# AWS's own metrics the dashboard and the alarms may name, with their dimensions.
AWS_METRICS = {
    ("AWS/SQS", "ApproximateAgeOfOldestMessage"): frozenset({"QueueName"}),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): frozenset({"QueueName"}),
    ("AWS/SES", "Reputation.BounceRate"): frozenset({"ses:configuration-set"}),
    ("AWS/SES", "Reputation.ComplaintRate"): frozenset({"ses:configuration-set"}),
}


def test_the_dashboard_and_the_alarms_watch_only_metrics_the_code_emits_with_those_dimensions(
    stack: LocalStack, a_full_day: FullDay
) -> None:
    # Given the dashboard and the alarms as CloudFormation resolves them for this stack
    template = load_template(TEMPLATE_PATH)
    resolver = resolver_for(stack, template)
    resources: dict[str, dict[str, Any]] = template["Resources"]
    body = json.loads(resolver.resolve(resources["Dashboard"]["Properties"]["DashboardBody"]))
    watched = list(dashboard_metrics(body))
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            metric_keys = ("Namespace", "MetricName", "Dimensions", "Metrics")
            properties = {key: value for key, value in resource["Properties"].items() if key in metric_keys}
            watched += alarm_metrics(logical_id, resolver.resolve(properties))
    assert {metric.name for metric in watched} >= {
        "EmailSent",
        "EmailSkipped",
        "EmailFailed",
        "ReengagementRunFinished",
    }
    # Then each is a metric the full day emitted, with exactly its dimensions, or one of AWS's
    problems = never_emitted(watched, a_full_day.metrics, AWS_METRICS, stack.names.values())
    assert problems == [], "\n".join(["watched metrics nothing emits:", *problems])
    # And the dashboard shows every alarm's state
    (alarm_widget,) = [widget for widget in body["widgets"] if widget["type"] == "alarm"]
    alarms = {name for name, resource in resources.items() if resource["Type"] == "AWS::CloudWatch::Alarm"}
    shown = {arn.rsplit(":", 1)[-1] for arn in alarm_widget["properties"]["alarms"]}
    assert {logical_id for logical_id, name in stack.names.items() if name in shown} == alarms
