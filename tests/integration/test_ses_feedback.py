"""SES feedback: each sample event in events/ses/, in the shape SES publishes it, through the real
rule on the default bus, the queue and the function; suppression then stops the next email."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_stack.faults import Refusal, refusing
from local_stack.iam_check import is_allowed, recording_aws_calls, required_permissions
from local_stack.lambda_runtime import EventSourceMappings
from local_stack.moto_endpoint import MotoEndpoint
from local_stack.run import dead_letter_problems, publish_as_ses, put_events, sqs_event
from local_stack.scenario import EVENTS_DIR, SampleEvent
from local_stack.stack import LocalStack
from nudge.dal.customers import get_customer
from nudge.dal.deliveries import get_outcome
from nudge.outcome import SkipReason
from tests.conftest import sent_emails

SES_DIR = EVENTS_DIR / "ses"
EXPECTATIONS: dict[str, dict[str, Any]] = json.loads((SES_DIR / "expectations.json").read_text())


def ses_sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((SES_DIR / name).read_text())
    return event


@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_each_ses_event_suppresses_exactly_as_expected(
    stack: LocalStack, mappings: EventSourceMappings, name: str
) -> None:
    expected = EXPECTATIONS[name]
    publish_as_ses(stack, json.loads((SES_DIR / name).read_text()))
    mappings.drain()
    customer = get_customer(stack.names["CustomersTable"], expected["customer_id"])
    assert customer is not None and customer.suppressed_reason == expected["suppressed_reason"]


def test_a_suppressed_customer_gets_no_further_email(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given Jonas's address bounced permanently
    publish_as_ses(stack, json.loads((SES_DIR / "bounce_permanent_jonas.json").read_text()))
    mappings.drain()
    # When his cart is abandoned again
    put_events(stack, [samples["cart_abandoned/new_customer_jonas.json"]])
    mappings.drain()
    # Then nothing is sent and the reason is recorded
    assert sent_emails(moto) == []
    outcome = get_outcome(stack.names["DeliveriesTable"], "cus_new_jonas", "cart_abandoned", "cart_91bc")
    assert outcome is not None and outcome.reason is SkipReason.SUPPRESSED


def test_feedback_for_another_configuration_set_is_not_ours(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    event = json.loads((SES_DIR / "complaint_maria.json").read_text())
    event["detail"]["mail"]["tags"]["ses:configuration-set"] = ["someone-elses-transactional"]
    publish_as_ses(stack, event)
    mappings.drain()
    maria = get_customer(stack.names["CustomersTable"], "cus_frequent_maria")
    assert maria is not None and maria.suppressed_reason is None


@pytest.mark.parametrize(
    ("name", "section"), [("complaint_maria.json", "complaint"), ("bounce_permanent_jonas.json", "bounce")]
)
def test_an_event_without_its_section_is_dead_lettered_at_once_naming_the_field(
    stack: LocalStack, mappings: EventSourceMappings, name: str, section: str
) -> None:
    # Given a complaint without its complaint object (or a bounce without its bounce)
    event = ses_sample(name)
    del event["detail"][section]
    publish_as_ses(stack, event)
    report = mappings.drain()
    # Then it is received once and dead-lettered, naming the missing field
    assert report.failed_records == 0
    assert dead_letter_problems(stack, "SesFeedbackDLQ") == [
        [{"field": f"body.detail.{section}", "error": "missing"}]
    ]


@pytest.mark.parametrize(
    ("name", "section"), [("complaint_maria.json", "complaint"), ("bounce_permanent_jonas.json", "bounce")]
)
def test_feedback_dated_decades_ahead_is_dead_lettered_naming_the_field(
    stack: LocalStack, mappings: EventSourceMappings, name: str, section: str
) -> None:
    event = ses_sample(name)
    event["detail"][section]["timestamp"] = "2099-06-01T00:00:00.000Z"
    publish_as_ses(stack, event)
    report = mappings.drain()
    assert report.failed_records == 0
    assert dead_letter_problems(stack, "SesFeedbackDLQ") == [
        [{"field": f"body.detail.{section}.timestamp", "error": "timestamp_in_future"}]
    ]


def test_an_invalid_event_never_fails_the_batch_or_quotes_its_data(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    # Given a batch of one bounce whose type is not one SES sends
    event = ses_sample("bounce_permanent_jonas.json")
    event["detail"]["bounce"]["bounceType"] = "jonas@example.com"
    # When the function gets it, it answers (nothing raised, nothing quoted) and dead-letters it
    response = mappings.function("SesFeedbackFunction").invoke(sqs_event(event))
    assert response == {"batchItemFailures": []}
    assert dead_letter_problems(stack, "SesFeedbackDLQ") == [
        [{"field": "body.detail.bounce.bounceType", "error": "literal_error"}]
    ]


def test_a_failed_write_comes_back_after_a_back_off_and_suppresses_once(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    # Given the suppression write is refused once
    with refusing(Refusal(service="dynamodb", operation="UpdateItem")) as (refusal,):
        publish_as_ses(stack, ses_sample("bounce_permanent_jonas.json"))
        report = mappings.drain()
    # Then the record came back after the batch processor's first back-off (30 s, jittered), not
    # after the queue's 180 s visibility timeout, and Jonas is suppressed
    assert refusal.fired and report.failed_records == 1
    assert report.waited_seconds < 60
    jonas = get_customer(stack.names["CustomersTable"], "cus_new_jonas")
    assert jonas is not None and jonas.suppressed_reason == "permanent_bounce"


def test_the_feedback_functions_policy_allows_it_to_back_off_and_dead_letter(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    # Given an invalid complaint (dead-lettered) and a bounce whose write is refused once (backed off)
    complaint = ses_sample("complaint_maria.json")
    del complaint["detail"]["complaint"]
    with recording_aws_calls() as calls, refusing(Refusal(service="dynamodb", operation="UpdateItem")):
        publish_as_ses(stack, complaint)
        publish_as_ses(stack, ses_sample("bounce_permanent_jonas.json"))
        mappings.drain()
    # Then both calls were made, and template.yaml's statements allow each on its exact resource
    mine = [call for call in calls if call.function.logical_id == "SesFeedbackFunction"]
    assert {"SendMessage", "ChangeMessageVisibility"} <= {call.operation for call in mine}
    denied = [
        f"{permission.action} on {permission.resource}"
        for call in mine
        for permission in required_permissions(call)
        if not is_allowed(call.function.policy_statements, permission)
    ]
    assert denied == []
