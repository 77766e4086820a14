"""make send-test against the local stack on moto: one email in SES with the "[TEST] " prefix, the
stack's configuration set and nothing else changed (every table's items, the queues, no metric, no
AWS call but reads and one SendEmail); the email is the customer's but for the prefix, the To and
the unsubscribe token; and its unsubscribe link unsubscribes no one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.client
import pytest

from local_stack.emulator import clients
from local_stack.emulator.emf import emitted_metrics
from local_stack.emulator.lambda_runtime import EventSourceMappings, LocalFunctionUrls
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.outbox import parse_email
from local_stack.emulator.patches import observing_api_calls
from local_stack.emulator.run import put_events
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.stack import LocalStack
from marketing import send_test
from marketing import stack as deployed
from marketing.__main__ import main
from marketing.samples import TEST_CUSTOMER_ID, local_environment, trigger_function
from nudge.unsubscribe import tokens
from nudge.unsubscribe.keys import signing_key

STACK = "nudge"
TO = "marketer@shop.example"
READS = {("dynamodb", "Scan"), ("dynamodb", "GetItem"), ("secretsmanager", "GetSecretValue")}


@pytest.fixture(autouse=True)
def deployed_as_the_local_stack(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack named on the command line is the local stack: a trigger function's environment is
    the one the local stack gives it (the lookup of a deployed one is test_marketing_stack.py's)."""

    def function_environment(_cfn: Any, _lambda: Any, stack_name: str, logical_id: str) -> dict[str, str]:
        assert stack_name == STACK
        return dict(stack.functions[logical_id].environment)

    monkeypatch.setattr(deployed, "function_environment", function_environment)


@contextmanager
def aws_calls() -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """Every AWS call made in the block: (service, operation, parameters)."""
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def observe(client: botocore.client.BaseClient, operation: str, params: dict[str, Any]) -> None:
        calls.append((client.meta.service_model.service_name, operation, dict(params)))

    with observing_api_calls(observe):
        yield calls


def every_item(stack: LocalStack) -> dict[str, list[Any]]:
    """Every table's items, in a stable order."""
    dynamodb = clients.dynamodb(stack.region)
    tables = {}
    for logical_id in stack.of_type("AWS::DynamoDB::Table"):
        name = stack.names[logical_id]
        items = [
            item for page in dynamodb.get_paginator("scan").paginate(TableName=name) for item in page["Items"]
        ]
        tables[logical_id] = sorted(items, key=repr)
    return tables


def queued(stack: LocalStack) -> dict[str, int]:
    sqs = clients.sqs(stack.region)
    counts = {}
    for logical_id, url in stack.queue_urls.items():
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        counts[logical_id] = sum(int(value) for value in attributes.values())
    return counts


def send(*arguments: str) -> int:
    return main(["send-test", "--stack", STACK, "--to", TO, *arguments])


def test_one_email_arrives_with_the_prefix_and_nothing_else_changes(
    stack: LocalStack, moto: MotoEndpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the stack with its sample data, and nothing sent yet
    items, messages = every_item(stack), queued(stack)
    assert moto.sent_raw_emails() == {}

    with aws_calls() as calls:
        assert (
            send("--trigger", "cart_abandoned", "--segment", "vip", "--locale", "de-DE", "--step", "3") == 0
        )

    printed = capsys.readouterr().out
    # One email, in SES, to the address given, with the prefix
    (raw,) = moto.sent_raw_emails().values()
    email = parse_email(raw)
    assert email["Subject"].startswith("[TEST] ")
    assert email["To"].addresses[0].addr_spec == TO
    assert email["From"] == stack.parameters["SenderAddress"]
    # ... as VIP Ada's last reminder in German: the offer box and the coupon
    html = email.get_body(preferencelist=("html",))
    assert html is not None and "VIP15" in html.get_content() and "Deine VIP-Vorteile" in html.get_content()
    # ... through the stack's configuration set, with no tag that names a delivery or a customer
    (request,) = [params for service, operation, params in calls if operation == "SendEmail"]
    assert request["ConfigurationSetName"] == stack.names["MarketingConfigurationSet"]
    assert request["EmailTags"] == [{"Name": "test_send", "Value": "true"}]
    # Nothing else changed: no item of any table, no message on any queue, no metric printed
    assert every_item(stack) == items
    assert queued(stack) == messages
    assert list(emitted_metrics(printed)) == [] and "_aws" not in printed
    # The only calls are reads, and the one send
    assert {(service, operation) for service, operation, _ in calls} <= READS | {("sesv2", "SendEmail")}
    assert [operation for _, operation, _ in calls].count("SendEmail") == 1
    # What it says it did
    (message_id,) = moto.sent_raw_emails()
    assert printed.splitlines()[-1] == (
        f"sent through SES (configuration set {stack.names['MarketingConfigurationSet']}) to {TO}: "
        f"SES message id {message_id}"
    )
    assert f"subject: {email['Subject']}" in printed


def test_the_unsubscribe_link_is_signed_for_an_id_no_customer_has_and_unsubscribes_no_one(
    stack: LocalStack, moto: MotoEndpoint, mappings: EventSourceMappings
) -> None:
    assert send("--trigger", "customer_lapsed", "--segment", "at_risk", "--locale", "en-US") == 0

    (raw,) = moto.sent_raw_emails().values()
    link = str(parse_email(raw)["List-Unsubscribe"]).strip("<>")
    token = link.split("token=", 1)[1]
    key = signing_key(stack.functions["UnsubscribeFunction"].environment["UNSUBSCRIBE_KEY_SECRET"])
    assert tokens.verify(key, token) == TEST_CUSTOMER_ID
    assert "#" in TEST_CUSTOMER_ID  # a store's ids may not hold "#": no profile can be named so

    # When a mailbox provider's one-click POST comes for it
    items = every_item(stack)
    response = LocalFunctionUrls(mappings).request("POST", link, body="List-Unsubscribe=One-Click")

    # Then it is answered like any unsubscribe, and nothing changes
    assert response.status == 200
    assert every_item(stack) == items


def test_the_email_is_the_customer_s_but_for_the_prefix_and_the_unsubscribe_token(
    stack: LocalStack,
    moto: MotoEndpoint,
    mappings: EventSourceMappings,
    samples: dict[str, SampleEvent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the email the pipeline sends Ada (VIP, en-GB) for her cart, with no catalog yet, so no
    # recommendations
    put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
    mappings.drain()
    (customers_email,) = moto.sent_raw_emails().values()
    moto.forget_sent_emails()

    # When a test email is sent to her address for her segment and locale (she is the sample customer
    # of both, her cart the sample event), without the sample catalog
    monkeypatch.setattr(send_test, "sample_products", list)
    to = "ada.lovelace@example.com"
    assert (
        main(
            [
                "send-test",
                "--stack",
                STACK,
                "--to",
                to,
                *("--trigger", "cart_abandoned"),
                *("--segment", "vip", "--locale", "en-GB"),
            ]
        )
        == 0
    )
    (test_email,) = moto.sent_raw_emails().values()

    # Then the two are the same bytes but for the Subject's prefix, the unsubscribe token, the Date
    # and the MIME boundary
    assert normalized(test_email) == normalized(customers_email).replace(
        "\r\nSubject: ", "\r\nSubject: [TEST] ", 1
    )


def normalized(raw: str) -> str:
    raw = re.sub(r"^Date: .*$", "Date: -", raw, flags=re.MULTILINE)
    raw = re.sub(r"=_[0-9a-f]{32}", "=_BOUNDARY", raw)
    # Quoted-printable's soft line breaks fall elsewhere after a token of another length
    raw = raw.replace("=\r\n", "")
    return re.sub(r"token(=3D|=)v2\.[A-Za-z0-9_-]+", "token=TOKEN", raw)


@pytest.mark.parametrize("trigger", ["cart_abandoned", "order_placed", "customer_lapsed"])
def test_without_a_stack_the_settings_are_those_the_local_stack_gives_the_trigger_s_function(
    stack: LocalStack, trigger: str
) -> None:
    resolved = local_environment(trigger)
    built = stack.functions[trigger_function(trigger)].environment
    # Only what exists once created differs: a queue's URL, a secret's ARN (its random suffix)
    assert set(resolved) == set(built)
    assert {name for name in built if built[name] != resolved[name]} <= {
        "QUEUE_URL",
        "DEAD_LETTER_QUEUE_URL",
        "WORK_QUEUE_URL",
        "UNSUBSCRIBE_KEY_SECRET",
        "ADDRESS_HASH_KEY_SECRET",
    }
