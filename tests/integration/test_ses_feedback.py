"""SES feedback: each sample event in events/ses/, in the shape SES publishes it, through the real
rule on the default bus, the queue and the function; suppression then stops the next email. Only a
bounce or complaint of an email we sent, through our configuration set, suppresses anyone."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from local_stack.emulator import clients
from local_stack.emulator.failures import Refusal, refusing
from local_stack.emulator.iam_check import is_allowed, recording_aws_calls, required_permissions
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.rows import get_outcome
from local_stack.emulator.run import dead_letter_problems, dead_lettered_details, publish_as_ses, put_events
from local_stack.emulator.scenario import EVENTS_DIR, SampleEvent, load_sample_rows
from local_stack.emulator.ses_events import feedback_event, mail_object
from local_stack.emulator.sqs_records import sqs_event
from local_stack.emulator.stack import LocalStack
from nudge.dal.customers import get_customer
from nudge.dal.deliveries import get_record, record_decision
from nudge.message_tags import DeliveryRef, delivery_tags
from nudge.outcome import Decision, Outcome, SkipReason
from nudge.timeutil import utc_now
from tests.conftest import sent_emails

SES_DIR = EVENTS_DIR / "ses"
EXPECTATIONS: dict[str, dict[str, Any]] = json.loads((SES_DIR / "expectations.json").read_text())
ADA = "cus_vip_ada"


def ses_sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((SES_DIR / name).read_text())
    return event


def the_email_was_sent(stack: LocalStack, event: dict[str, Any]) -> None:
    """The delivery record of the email an SES sample is about. The samples are of emails sent before
    the delivery tag (only the readable ``customer_id`` and ``trigger`` tags): their record is known
    by the SES message id it holds."""
    mail = event["detail"]["mail"]
    outcome = Outcome(
        trigger=mail["tags"]["trigger"][0],
        customer_id=mail["tags"]["customer_id"][0],
        business_id=f"before_the_tag_{mail['messageId'][-6:]}",
        decision=Decision.SENT,
        message_id=mail["messageId"],
    )
    assert record_decision(stack.names["DeliveriesTable"], outcome, utc_now(), timedelta(days=400)) is None


def suppressed_reason(stack: LocalStack, customer_id: str) -> str | None:
    customer = get_customer(stack.names["CustomersTable"], customer_id)
    assert customer is not None
    return customer.suppressed_reason


@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_each_ses_event_suppresses_exactly_as_expected(
    stack: LocalStack, mappings: EventSourceMappings, name: str
) -> None:
    expected = EXPECTATIONS[name]
    event = ses_sample(name)
    the_email_was_sent(stack, event)
    publish_as_ses(stack, event)
    mappings.drain()
    assert suppressed_reason(stack, expected["customer_id"]) == expected["suppressed_reason"]


def test_a_suppressed_customer_gets_no_further_email(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given an email we sent Jonas bounced permanently
    bounce = ses_sample("bounce_permanent_jonas.json")
    the_email_was_sent(stack, bounce)
    publish_as_ses(stack, bounce)
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
    bounce = ses_sample("bounce_permanent_jonas.json")
    the_email_was_sent(stack, bounce)
    with refusing(Refusal(service="dynamodb", operation="UpdateItem")) as (refusal,):
        publish_as_ses(stack, bounce)
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
    bounce = ses_sample("bounce_permanent_jonas.json")
    the_email_was_sent(stack, bounce)
    with recording_aws_calls() as calls, refusing(Refusal(service="dynamodb", operation="UpdateItem")):
        publish_as_ses(stack, complaint)
        publish_as_ses(stack, bounce)
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


# ---------------------------------------------------------------- forged and foreign feedback
# Anyone allowed to send to the feedback queue (or to publish through another stack's configuration
# set) could otherwise suppress any customer: the function acts only on a bounce or complaint of an
# email we sent, through our configuration set.


@pytest.fixture
def ada_was_sent_her_reminder(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> dict[str, Any]:
    """Ada's cart reminder, sent; returns the ``mail`` object SES puts on every event of it."""
    put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
    mappings.drain()
    outcome = get_outcome(stack.names["DeliveriesTable"], ADA, "cart_abandoned", "cart_7f3a")
    assert outcome is not None and outcome.decision is Decision.SENT and outcome.message_id
    email = next(row["email"] for row in load_sample_rows("customers") if row["customer_id"] == ADA)
    return mail_object(stack, outcome, email, utc_now())


def feedback(stack: LocalStack, mail: dict[str, Any], event_type: str = "Bounce") -> dict[str, Any]:
    return feedback_event(
        stack, mail, event_type, datetime.fromisoformat(mail["timestamp"]) + timedelta(minutes=1)
    )


def straight_to_the_queue(stack: LocalStack, event: dict[str, Any]) -> None:
    """As anyone allowed to send to the queue can, past the rule and its configuration-set pattern."""
    clients.sqs(stack.region).send_message(
        QueueUrl=stack.queue_url("SesFeedbackQueue"), MessageBody=json.dumps(event)
    )


@pytest.mark.parametrize("event_type", ["Bounce", "Complaint"])
def test_a_bounce_or_complaint_of_an_email_we_sent_suppresses_its_customer(
    stack: LocalStack,
    mappings: EventSourceMappings,
    ada_was_sent_her_reminder: dict[str, Any],
    event_type: str,
) -> None:
    publish_as_ses(stack, feedback(stack, ada_was_sent_her_reminder, event_type))
    mappings.drain()
    assert suppressed_reason(stack, ADA) == ("permanent_bounce" if event_type == "Bounce" else "complaint")


@pytest.mark.parametrize("event_type", ["Bounce", "Complaint"])
def test_feedback_of_another_configuration_set_on_the_queue_suppresses_nobody_and_is_not_retried(
    stack: LocalStack,
    mappings: EventSourceMappings,
    ada_was_sent_her_reminder: dict[str, Any],
    service_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    event_type: str,
) -> None:
    # Given SES's own event for Ada's real email, but naming another stack's configuration set, put
    # straight on the feedback queue (the rule would not route it)
    mail = {**ada_was_sent_her_reminder}
    mail["tags"] = {**mail["tags"], "ses:configuration-set": ["another-stack-transactional"]}
    capsys.readouterr()
    straight_to_the_queue(stack, feedback(stack, mail, event_type))
    report = mappings.drain()
    # Then Ada is not suppressed, the record is neither retried nor dead-lettered, it is counted...
    assert suppressed_reason(stack, ADA) is None
    assert report.failed_records == 0
    assert dead_lettered_details(stack)["SesFeedbackDLQ"] == []
    assert '"ForeignSesEvent":[1.0]' in capsys.readouterr().out
    # ...and nothing that names her is logged
    logs = service_logs.getvalue()
    assert "SES event of another configuration set ignored" in logs
    assert ADA not in logs and "example" not in logs.replace("shop.example", "")


def test_a_bounce_naming_a_delivery_we_never_made_suppresses_nobody(
    stack: LocalStack, mappings: EventSourceMappings, ada_was_sent_her_reminder: dict[str, Any]
) -> None:
    # Given a bounce through our configuration set whose delivery tags name an email never sent
    mail = {**ada_was_sent_her_reminder}
    never = delivery_tags(DeliveryRef(ADA, "cart_abandoned#cart_never_abandoned"))
    mail["tags"] = {**mail["tags"], **{name: [value] for name, value in never.items()}}
    publish_as_ses(stack, feedback(stack, mail))
    report = mappings.drain()
    # Then nobody is suppressed, and the record is not retried
    assert suppressed_reason(stack, ADA) is None
    assert report.failed_records == 0


def test_a_bounce_naming_our_email_with_a_message_id_ses_never_gave_it_suppresses_nobody(
    stack: LocalStack, mappings: EventSourceMappings, ada_was_sent_her_reminder: dict[str, Any]
) -> None:
    # Given a bounce that copies the tags of Ada's real email, but not its SES message id
    mail = {**ada_was_sent_her_reminder, "messageId": "0100019a7c0000000-forged-000000"}
    publish_as_ses(stack, feedback(stack, mail, "Complaint"))
    mappings.drain()
    assert suppressed_reason(stack, ADA) is None


def test_a_bounce_naming_a_skipped_delivery_suppresses_nobody(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    # Given Tom's cart was decided (skipped: no consent) and nothing was sent him
    put_events(stack, [samples["cart_abandoned/no_consent_tom.json"]])
    mappings.drain()
    skipped = get_record(stack.names["DeliveriesTable"], "cus_noconsent_tom", "cart_abandoned", "cart_5a10")
    assert skipped is not None and skipped["decision"] == "skipped"
    # When a bounce names that delivery
    bounce = ses_sample("bounce_permanent_jonas.json")
    tags = delivery_tags(DeliveryRef("cus_noconsent_tom", "cart_abandoned#cart_5a10"))
    bounce["detail"]["mail"]["tags"] |= {name: [value] for name, value in tags.items()}
    publish_as_ses(stack, bounce)
    mappings.drain()
    # Then Tom is not suppressed
    assert suppressed_reason(stack, "cus_noconsent_tom") is None


def test_a_bounce_of_an_email_sent_before_the_delivery_tag_needs_our_record_of_that_message(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    # Given a bounce with only the readable customer_id tag, of a message we hold no record of
    bounce = ses_sample("bounce_permanent_jonas.json")
    publish_as_ses(stack, bounce)
    mappings.drain()
    # Then Jonas is not suppressed
    assert suppressed_reason(stack, "cus_new_jonas") is None
    # But once his record of that SES message exists (the email was ours), the same bounce suppresses
    the_email_was_sent(stack, bounce)
    publish_as_ses(stack, bounce)
    mappings.drain()
    assert suppressed_reason(stack, "cus_new_jonas") == "permanent_bounce"
