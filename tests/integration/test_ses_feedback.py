"""SES feedback: each sample event in events/ses/, in the shape SES publishes it, through the real
rule on the default bus, the queue and the function; suppression then stops the next email."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_stack.lambda_runtime import EventSourceMappings
from local_stack.moto_endpoint import MotoEndpoint
from local_stack.run import publish_as_ses, put_events
from local_stack.scenario import EVENTS_DIR, SampleEvent
from local_stack.stack import LocalStack
from nudge.dal.customers import get_customer
from nudge.dal.deliveries import get_outcome
from nudge.outcome import SkipReason
from tests.conftest import sent_emails

SES_DIR = EVENTS_DIR / "ses"
EXPECTATIONS: dict[str, dict[str, Any]] = json.loads((SES_DIR / "expectations.json").read_text())


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
