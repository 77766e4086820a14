"""Redriving a dead-letter queue on the local stack (operations.redrive): a record that failed every
receive is sent exactly once after the fix and a redrive, a second redrive finds nothing, a dry run
moves nothing, and the listing never shows a customer's data."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local_stack.emulator import clients
from local_stack.emulator.cfn import load_template
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.run import put_events, recorded_outcome
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.stack import REPO_ROOT, TEMPLATE_PATH, LocalStack
from operations.dead_letter_queues import DeadLetterKind
from operations.redrive import NotMovableError, RedriveOutcome, list_dead_letters, redrive
from operations.stack_queues import local_stack_queues
from tests.conftest import sent_emails
from tests.integration.test_customers import customer_updated

CART_ABANDONED = ["CartAbandonedFunction"]
ADA = "ada.lovelace@example.com"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture
def cart(samples: dict[str, SampleEvent]) -> SampleEvent:
    return samples["cart_abandoned/vip_ada.json"]


@pytest.fixture
def run_redrive(stack: LocalStack, template: dict[str, Any]) -> Callable[..., RedriveOutcome]:
    """The redrive tool's own code, in this process, against the local stack (its output printed)."""

    def run(name: str, *, dry_run: bool = False) -> RedriveOutcome:
        return redrive(clients.sqs(stack.region), template, name, local_stack_queues(stack), dry_run=dry_run)

    return run


@pytest.fixture
def fix_the_subject(mappings: EventSourceMappings, tmp_path: Path) -> Callable[[], None]:
    """Deploys the fix, when called; until then the Cart Abandoned function runs with a subject template
    that does not render (a broken copy of templates/, through its TEMPLATES_DIR)."""
    broken = tmp_path / "templates"
    shutil.copytree(REPO_ROOT / "templates", broken)
    (broken / "cart_abandoned" / "subject.txt.j2").write_text(
        "{{ customer.no_such_field }}\n", encoding="utf-8"
    )
    function = mappings.function("CartAbandonedFunction")
    fixed = function.spec
    function.spec = dataclasses.replace(
        fixed, environment={**fixed.environment, "TEMPLATES_DIR": str(broken)}
    )

    def deploy_the_fix() -> None:
        function.spec = fixed

    return deploy_the_fix


def emails_to(moto: MotoEndpoint, address: str) -> int:
    return sum(1 for email in sent_emails(moto) if address in str(email["To"]))


def waiting(stack: LocalStack, logical_id: str) -> int:
    return list_dead_letters(clients.sqs(stack.region), local_stack_queues(stack)(logical_id), 0).waiting


def dead_lettered_by_the_broken_template(
    stack: LocalStack, mappings: EventSourceMappings, cart: SampleEvent
) -> None:
    put_events(stack, [cart])
    report = mappings.drain(only=CART_ABANDONED)
    # A render error is no invalid event: it is retried, backed off, until the queue's 16 receives are
    # used up (about three hours on the test's clock), and SQS moves the record to the dead-letter queue.
    assert (report.invocations, report.failed_records) == (16, 16)
    assert report.waited_seconds > 2.5 * 3600
    assert waiting(stack, "CartAbandonedDLQ") == 1
    assert recorded_outcome(stack, cart) is None


def test_a_record_dead_lettered_by_a_template_error_is_sent_once_after_the_fix_and_a_redrive(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    cart: SampleEvent,
    fix_the_subject: Callable[[], None],
    run_redrive: Callable[..., RedriveOutcome],
) -> None:
    # Given Ada's cart reminder failed every receive on a template that does not render
    dead_lettered_by_the_broken_template(stack, mappings, cart)
    assert emails_to(moto, ADA) == 0
    # When the template is fixed and the dead-letter queue redriven
    fix_the_subject()
    outcome = run_redrive("cart_abandoned")
    assert outcome.dead_letter_queue.logical_id == "CartAbandonedDLQ"
    assert outcome.moved == 1
    assert waiting(stack, "CartAbandonedDLQ") == 0
    mappings.drain(only=CART_ABANDONED)
    # Then Ada gets her reminder, exactly once
    assert emails_to(moto, ADA) == 1
    sent = recorded_outcome(stack, cart)
    assert sent is not None and sent.decision.value == "sent"


def test_redriving_again_sends_nothing_more(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    cart: SampleEvent,
    fix_the_subject: Callable[[], None],
    run_redrive: Callable[..., RedriveOutcome],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the reminder was dead-lettered, redriven after the fix and sent
    dead_lettered_by_the_broken_template(stack, mappings, cart)
    fix_the_subject()
    run_redrive("CartAbandonedDLQ")
    mappings.drain(only=CART_ABANDONED)
    assert emails_to(moto, ADA) == 1
    capsys.readouterr()
    # When the operator redrives a second time
    again = run_redrive("CartAbandonedDLQ")
    # Then there is nothing to move
    assert (again.listing.waiting, again.moved) == (0, 0)
    assert "nothing to move" in capsys.readouterr().out
    # And the same event delivered once more is a duplicate: its delivery record stops it
    put_events(stack, [cart])
    mappings.drain(only=CART_ABANDONED)
    assert emails_to(moto, ADA) == 1
    still = recorded_outcome(stack, cart)
    assert still is not None and still.decision.value == "sent"


def test_a_dry_run_lists_the_count_and_the_reasons_and_moves_nothing(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    cart: SampleEvent,
    fix_the_subject: Callable[[], None],
    run_redrive: Callable[..., RedriveOutcome],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a record that used up its receives, and an invalid event the function dead-lettered at once
    dead_lettered_by_the_broken_template(stack, mappings, cart)
    put_events(stack, [samples["invalid/cart_abandoned_missing_cart_id.json"]])
    mappings.drain(only=CART_ABANDONED)
    fix_the_subject()
    capsys.readouterr()
    # When the operator runs a dry run
    outcome = run_redrive("cart_abandoned", dry_run=True)
    # Then it counts both and names each one's reason
    listing = outcome.listing
    assert (listing.waiting, listing.sampled) == (2, 2)
    assert sorted(group.reason for group in listing.groups) == [
        "invalid CartAbandonedRecord: body.detail.cart_id: missing",
        "retries exhausted",
    ]
    exhausted = next(group for group in listing.groups if group.reason == "retries exhausted")
    assert exhausted.receive_counts == [16]
    out = capsys.readouterr().out
    assert "2 messages waiting" in out
    assert "retries exhausted, received 16 times (the queue allows 16)" in out
    assert "dry run: nothing moved" in out
    # And nothing moved: both are still there, visible (the listing consumed nothing), and no email went out
    assert waiting(stack, "CartAbandonedDLQ") == 2
    mappings.drain(only=CART_ABANDONED)
    assert emails_to(moto, ADA) == 0


def test_the_listing_never_shows_an_address_a_name_or_a_body(
    stack: LocalStack,
    mappings: EventSourceMappings,
    cart: SampleEvent,
    fix_the_subject: Callable[[], None],
    run_redrive: Callable[..., RedriveOutcome],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given Ada's reminder dead-lettered, and two invalid profile updates carrying her address and name
    dead_lettered_by_the_broken_template(stack, mappings, cart)
    updates = [
        customer_updated(
            "cus_vip_ada", "2026-11-23T10:00:00Z", email=ADA, first_name="Ada", locale="klingon"
        ),
        customer_updated(
            "cus_vip_ada", "2026-11-23T10:01:00Z", email="ada.lovelace@@example", first_name="Ada"
        ),
    ]
    put_events(stack, updates)
    mappings.drain(only=["CustomerUpdatedFunction"])
    capsys.readouterr()
    # When the operator lists both queues
    listings = [run_redrive(name, dry_run=True).listing for name in ("cart_abandoned", "customer_updated")]
    out = capsys.readouterr().out
    # Then each message is counted and explained by its fields and error types
    assert [listing.sampled for listing in listings] == [1, 2]
    assert "invalid CustomerUpdatedRecord: body.detail.email: email_address" in out
    # And neither an address, a first name nor anything of a body is printed
    private = [ADA, "ada.lovelace@@example", "Ada", "Lovelace", "klingon", "Cashmere scarf", "cart_7f3a"]
    assert [value for value in private if value in out] == []
    assert "{" not in out


def test_events_a_rule_could_not_deliver_are_sent_to_their_target_queue(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    cart: SampleEvent,
    run_redrive: Callable[..., RedriveOutcome],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given EventBridge could not deliver Ada's event to the Cart Abandoned queue, and an event for a
    # queue that is not this stack's
    sqs = clients.sqs(stack.region)
    rule_arn = stack.arns["CartAbandonedRule"]
    for target in (stack.arns["CartAbandonedQueue"], "arn:aws:sqs:us-east-1:123456789012:someone-else"):
        sqs.send_message(
            QueueUrl=stack.queue_urls["RuleDeliveryDLQ"],
            MessageBody=json.dumps(cart.event),
            MessageAttributes={
                "RULE_ARN": {"DataType": "String", "StringValue": rule_arn},
                "TARGET_ARN": {"DataType": "String", "StringValue": target},
                "ERROR_CODE": {"DataType": "String", "StringValue": "SQS_PERMISSION_DENIED"},
            },
        )
    # When the operator redrives the rules' dead-letter queue
    outcome = run_redrive("RuleDeliveryDLQ")
    # Then the event is sent to its target queue and handled; the other stays
    assert outcome.dead_letter_queue.kind is DeadLetterKind.RULE_DELIVERY
    assert (outcome.moved, outcome.left) == (1, 1)
    out = capsys.readouterr().out
    assert "EventBridge could not deliver it to nudge-local-CartAbandonedQueue (SQS_PERMISSION_DENIED)" in out
    assert waiting(stack, "RuleDeliveryDLQ") == 1
    mappings.drain(only=CART_ABANDONED)
    assert emails_to(moto, ADA) == 1


def test_a_failed_scheduled_invocation_is_listed_but_never_moved(
    stack: LocalStack, mappings: EventSourceMappings, run_redrive: Callable[..., RedriveOutcome]
) -> None:
    # Given the planner's schedule event failed every attempt (Lambda's asynchronous dead letter)
    clients.sqs(stack.region).send_message(
        QueueUrl=stack.queue_urls["ReengagementPlannerDLQ"],
        MessageBody=json.dumps({"scheduled_time": "2026-11-23T09:00:00Z", "execution_id": "e1"}),
        MessageAttributes={"ErrorCode": {"DataType": "String", "StringValue": "200"}},
    )
    # When the operator redrives it, the tool refuses, and the event stays
    with pytest.raises(NotMovableError, match="invoked asynchronously"):
        run_redrive("reengagement_planner")
    assert waiting(stack, "ReengagementPlannerDLQ") == 1
