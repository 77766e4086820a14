"""What mailbox providers and customers receive: headers on the wire, names from messy data, and the
thank-you for an order placed from a reminder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from local_stack.emulator import clients
from local_stack.emulator.fresh import fresh_stack
from local_stack.emulator.lambda_runtime import EventSourceMappings, LocalFunctionUrls
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.outbox import parse_email
from local_stack.emulator.run import dead_lettered_details, put_events, recorded_outcome
from local_stack.emulator.scenario import SampleEvent, load_follow_ups
from local_stack.emulator.stack import LocalStack
from nudge.adapters import clients as handler_clients
from nudge.dal.customers import get_customer
from nudge.outcome import Decision, SkipReason
from tests.conftest import sent_emails
from tests.unit.test_rendering import LinkCollector

# One sendable event per trigger, each for a different customer so the frequency cap stays out of it.
ONE_PER_TRIGGER = (
    "cart_abandoned/vip_ada.json",
    "order_placed/repeat_order_maria.json",
    "customer_lapsed/at_risk_sam.json",
)
# What a Lambda function URL and our token look like: a 32-character URL id, then v2.<base64url>
# (a 16-byte synthetic IV and the encrypted customer id).
LIST_UNSUBSCRIBE_LINE = re.compile(
    rb"^List-Unsubscribe: <(https://[a-z0-9]{32}\.lambda-url\.[a-z0-9-]+\.on\.aws/"
    rb"\?token=v2\.[A-Za-z0-9_-]{23,})>\r$",
    re.MULTILINE,
)


@pytest.fixture
def raw_messages_to_ses() -> Iterator[list[bytes]]:
    """The exact bytes each SendEmail call hands SES, as the SDK is about to send them."""
    captured: list[bytes] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        captured.append(params["Content"]["Raw"]["Data"])

    client = handler_clients.sesv2()
    client.meta.events.register("provide-client-params.sesv2.SendEmail", record)
    yield captured
    client.meta.events.unregister("provide-client-params.sesv2.SendEmail", record)


def test_every_trigger_hands_ses_a_list_unsubscribe_header_that_is_a_url(
    stack: LocalStack,
    mappings: EventSourceMappings,
    samples: dict[str, SampleEvent],
    raw_messages_to_ses: list[bytes],
) -> None:
    # Given one email from each trigger
    put_events(stack, [samples[name] for name in ONE_PER_TRIGGER])
    mappings.drain()
    assert len(raw_messages_to_ses) == len(ONE_PER_TRIGGER)
    urls = LocalFunctionUrls(mappings)
    for raw in raw_messages_to_ses:
        head = raw.partition(b"\r\n\r\n")[0] + b"\r\n"
        # Then the header on the wire is <URL> on one line, longer than the 78 that once got it encoded
        match = LIST_UNSUBSCRIBE_LINE.search(head)
        assert match is not None, head.decode()
        assert len(match.group(0)) > 78
        assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in head
        url = match.group(1).decode()
        # And it is the same link as the footer's, which a person can click
        html = parse_email(raw.decode()).get_body(preferencelist=("html",))
        assert html is not None
        links = LinkCollector()
        links.feed(html.get_content())
        # (in the customer's language: Maria's reads "Darse de baja"), untouched by link tracking
        footer_words = {"Unsubscribe", "Darse de baja", "Abmelden", "Se désabonner"}
        assert url in [href for text, href in links.by_text.items() if text in footer_words]
        # And what Gmail's button does with it (RFC 8058's POST) unsubscribes that customer
        response = urls.request("POST", url, body="List-Unsubscribe=One-Click")
        assert response.status == 200
    unsubscribed = [
        get_customer(stack.names["CustomersTable"], customer)
        for customer in ("cus_vip_ada", "cus_frequent_maria", "cus_atrisk_sam")
    ]
    assert all(c is not None and c.unsubscribed_at is not None for c in unsubscribed)


def test_a_name_with_a_stray_line_break_still_gets_a_clean_email_and_no_extra_header(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    raw_messages_to_ses: list[bytes],
) -> None:
    # Given Ada's profile as a CSV import left it: CR/LF in her first name, a tab in her last name
    clients.dynamodb(stack.region).update_item(
        TableName=stack.names["CustomersTable"],
        Key={"customer_id": {"S": "cus_vip_ada"}},
        UpdateExpression="SET first_name = :first, last_name = :last",
        ExpressionAttributeValues={
            ":first": {"S": "Ada\r\nBcc: someone@example.net\r\n"},
            ":last": {"S": "\tLovelace"},
        },
    )
    # When her cart reminder is handled
    put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
    report = mappings.drain()
    # Then it is sent at once: no failed record, nothing in a dead-letter queue
    assert report.failed_records == 0
    assert not any(dead_lettered_details(stack).values())
    (email,) = sent_emails(moto)
    assert email["To"].addresses[0].display_name == "Ada Bcc: someone@example.net Lovelace"
    assert str(email["Subject"]).startswith("Ada Bcc: someone@example.net, your")
    # And the line break added no header
    (raw,) = raw_messages_to_ses
    head = raw.partition(b"\r\n\r\n")[0].decode()
    assert not re.search(r"^Bcc:", head, re.MULTILINE | re.IGNORECASE)


def follow_up(name: str) -> SampleEvent:
    return next(sample for sample in load_follow_ups() if sample.name == f"follow_ups/{name}")


def test_a_customer_who_buys_from_the_reminder_gets_the_thank_you(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given Ada got her cart reminder (her one marketing email of the day)
    reminder = samples["cart_abandoned/vip_ada.json"]
    put_events(stack, [reminder])
    mappings.drain()
    # When she abandons a second cart that afternoon, then orders from the reminder
    second_cart = follow_up("1_second_cart_ada.json")
    order = follow_up("2_order_from_reminder_ada.json")
    for event in (second_cart, order):
        put_events(stack, [event])
        mappings.drain()
    # Then the second cart is capped, as before
    capped = recorded_outcome(stack, second_cart)
    assert capped is not None and capped.reason is SkipReason.FREQUENCY_CAPPED
    # But the thank-you goes out: the cap does not eat an answer to the customer's own action
    thank_you = recorded_outcome(stack, order)
    assert thank_you is not None and thank_you.decision is Decision.SENT
    assert [str(e["Subject"]) for e in sent_emails(moto)] == [
        "Ada, your VIP cart is saved for you",
        "Thanks for your order, Ada",
    ]


def test_an_operator_can_put_the_thank_you_under_the_cap(
    moto: MotoEndpoint, samples: dict[str, SampleEvent], clock: time_machine.Traveller
) -> None:
    stack = fresh_stack(moto, FrequencyCapExemptTriggers="")
    mappings = EventSourceMappings(stack, clock)
    for event in (samples["cart_abandoned/vip_ada.json"], follow_up("2_order_from_reminder_ada.json")):
        put_events(stack, [event])
        mappings.drain()
    thank_you = recorded_outcome(stack, follow_up("2_order_from_reminder_ada.json"))
    assert thank_you is not None and thank_you.reason is SkipReason.FREQUENCY_CAPPED
    assert len(sent_emails(moto)) == 1


def test_an_exempt_thank_you_does_not_use_up_the_days_marketing_email(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given Ada's thank-you went out first
    put_events(stack, [follow_up("2_order_from_reminder_ada.json")])
    mappings.drain()
    # When a cart of hers abandoned after that order comes in
    later_cart = follow_up("1_second_cart_ada.json").varied(
        "a cart after the order", abandoned_at="2026-11-23T14:50:00Z"
    )
    put_events(stack, [later_cart])
    mappings.drain()
    # Then its reminder is not capped by the thank-you
    outcome = recorded_outcome(stack, later_cart)
    assert outcome is not None and outcome.decision is Decision.SENT
    assert len(sent_emails(moto)) == 2
