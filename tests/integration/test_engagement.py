"""Engagement: SES's delivery, open and click events, through the real rule on the default bus, the
queue and the function, land on the delivery record and the profile exactly once, in any order."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from local_stack.emulator import clients
from local_stack.emulator.failures import CrashPoint, Refusal, Throttling, crash_at, refusing, throttled
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.run import dead_letter_problems, dead_lettered_details, publish_as_ses, put_events
from local_stack.emulator.scenario import EVENTS_DIR, SampleEvent
from local_stack.emulator.stack import LocalStack
from nudge.dal.customers import get_customer
from nudge.dal.deliveries import get_record

SES_DIR = EVENTS_DIR / "ses"
ADA = "cus_vip_ada"


def ses_sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((SES_DIR / name).read_text())
    return event


def at(event: dict[str, Any], moment: str) -> dict[str, Any]:
    """The same SES event for another open or click of the email: its own timestamp."""
    other = copy.deepcopy(event)
    section = event["detail"]["eventType"].lower()
    other["detail"][section]["timestamp"] = moment
    return other


def ada_record(stack: LocalStack) -> dict[str, Any]:
    record = get_record(stack.names["DeliveriesTable"], ADA, "cart_abandoned", "cart_7f3a")
    assert record is not None
    return record


@pytest.fixture
def ada_was_sent_her_reminder(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
    mappings.drain()
    assert ada_record(stack)["decision"] == "sent"


@pytest.mark.usefixtures("ada_was_sent_her_reminder")
def test_delivery_open_and_click_land_on_the_email_and_the_profile(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    for name in ("delivered_ada.json", "opened_ada.json", "clicked_ada.json"):
        publish_as_ses(stack, ses_sample(name))
    mappings.drain()
    record = ada_record(stack)
    assert record["delivered_at"] == "2026-11-23T10:15:03Z"
    assert (record["first_opened_at"], record["opens"]) == ("2026-11-23T10:41:17Z", 1)
    assert (record["first_clicked_at"], record["clicks"]) == ("2026-11-23T10:42:05Z", 1)
    # The block of the email the click came from, read from the link's utm_content
    assert record["utm_content"] == "cta"
    ada = get_customer(stack.names["CustomersTable"], ADA)
    assert ada is not None
    assert ada.last_opened_at == datetime(2026, 11, 23, 10, 41, 17, tzinfo=UTC)
    assert ada.last_clicked_at == datetime(2026, 11, 23, 10, 42, 5, tzinfo=UTC)
    assert len(ada.recent_open_dates) == len(ada.recent_click_dates) == 1


@pytest.mark.usefixtures("ada_was_sent_her_reminder")
def test_duplicated_and_out_of_order_events_count_once_and_keep_the_earliest(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    opened, clicked = ses_sample("opened_ada.json"), ses_sample("clicked_ada.json")
    later_open = at(opened, "2026-11-23T12:00:00.250Z")
    later_click = at(clicked, "2026-11-23T12:01:00.500Z")
    # Given the later open and click arrive first, every event twice, and the delivery event last
    for event in (later_click, later_open, later_click, clicked, opened, opened, clicked, later_open):
        publish_as_ses(stack, event)
    mappings.drain()
    publish_as_ses(stack, ses_sample("delivered_ada.json"))
    publish_as_ses(stack, ses_sample("delivered_ada.json"))
    mappings.drain()
    record = ada_record(stack)
    # Then two opens and two clicks are counted, and the first-time fields are the earliest events
    assert (record["opens"], record["clicks"]) == (2, 2)
    assert record["first_opened_at"] == "2026-11-23T10:41:17Z"
    assert record["first_clicked_at"] == "2026-11-23T10:42:05Z"
    assert record["delivered_at"] == "2026-11-23T10:15:03Z"
    ada = get_customer(stack.names["CustomersTable"], ADA)
    assert ada is not None
    # The profile's "last" fields are the latest, whatever came last
    assert ada.last_opened_at == datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    assert ada.last_clicked_at == datetime(2026, 11, 23, 12, 1, 0, tzinfo=UTC)
    assert (len(ada.recent_open_dates), len(ada.recent_click_dates)) == (2, 2)


@pytest.mark.usefixtures("ada_was_sent_her_reminder")
@pytest.mark.parametrize("nth", [1, 2, 3])
def test_a_crash_after_any_write_of_a_click_still_counts_it_once(
    stack: LocalStack, mappings: EventSourceMappings, nth: int
) -> None:
    # Given the function dies right after its 1st (profile), 2nd (count) or 3rd (first click) write
    with crash_at(CrashPoint(service="dynamodb", operation="UpdateItem", nth=nth)):
        publish_as_ses(stack, ses_sample("clicked_ada.json"))
        report = mappings.drain()
    assert report.died == 1
    # Then the retry completed it, and nothing was counted twice
    record = ada_record(stack)
    assert (record["clicks"], record["first_clicked_at"], record["utm_content"]) == (
        1,
        "2026-11-23T10:42:05Z",
        "cta",
    )
    ada = get_customer(stack.names["CustomersTable"], ADA)
    assert ada is not None and len(ada.recent_click_dates) == 1


@pytest.mark.usefixtures("ada_was_sent_her_reminder")
def test_a_refused_write_is_retried_later_and_the_open_counted_once(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    with refusing(Refusal(service="dynamodb", operation="UpdateItem", nth=2)):
        publish_as_ses(stack, ses_sample("opened_ada.json"))
        report = mappings.drain()
    assert report.failed_records == 1
    assert ada_record(stack)["opens"] == 1


def test_an_event_for_an_email_we_keep_no_record_of_changes_no_delivery(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    # Ada's reminder was never sent in this test: the record does not exist
    publish_as_ses(stack, ses_sample("opened_ada.json"))
    mappings.drain()
    assert get_record(stack.names["DeliveriesTable"], ADA, "cart_abandoned", "cart_7f3a") is None
    # ...and the profile is not touched either (an event naming a delivery that never was may be
    # forged), and nothing is dead-lettered
    ada = get_customer(stack.names["CustomersTable"], ADA)
    assert ada is not None and ada.last_opened_at is None
    assert all(details == [] for details in dead_lettered_details(stack).values())


@pytest.mark.usefixtures("ada_was_sent_her_reminder")
def test_an_event_of_another_configuration_set_changes_nothing(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    # Given a message on the engagement queue that names Ada's delivery but another stack's
    # configuration set (forged, or another stack's event routed here)
    forged = ses_sample("opened_ada.json")
    forged["detail"]["mail"]["tags"]["ses:configuration-set"] = ["another-stack-marketing"]
    # (the rule would not route it: put straight on the queue, as anyone allowed to send there can)
    clients.sqs(stack.region).send_message(
        QueueUrl=stack.queue_url("EngagementQueue"), MessageBody=json.dumps(forged)
    )
    mappings.drain()
    # Then neither the delivery nor the profile records an open
    record = get_record(stack.names["DeliveriesTable"], ADA, "cart_abandoned", "cart_7f3a")
    assert record is not None and not record.get("opens")
    ada = get_customer(stack.names["CustomersTable"], ADA)
    assert ada is not None and ada.last_opened_at is None


def test_an_event_without_its_section_is_dead_lettered_naming_the_field(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    broken = ses_sample("clicked_ada.json")
    del broken["detail"]["click"]
    publish_as_ses(stack, broken)
    mappings.drain()
    assert dead_lettered_details(stack)["EngagementDLQ"] == [broken["detail"]]


@pytest.mark.usefixtures("ada_was_sent_her_reminder")
@pytest.mark.parametrize("name", ["delivered_ada.json", "opened_ada.json", "clicked_ada.json"])
def test_an_engagement_dated_decades_ahead_is_dead_lettered_and_changes_nothing(
    stack: LocalStack, mappings: EventSourceMappings, name: str
) -> None:
    # Given SES's event says it happened in 2099
    publish_as_ses(stack, at(ses_sample(name), "2099-06-01T00:00:00.000Z"))
    report = mappings.drain()
    # Then it is dead-lettered at once naming the field, and neither the email nor Ada learns it
    section = ses_sample(name)["detail"]["eventType"].lower()
    assert report.failed_records == 0
    assert dead_letter_problems(stack, "EngagementDLQ") == [
        [{"field": f"body.detail.{section}.timestamp", "error": "timestamp_in_future"}]
    ]
    record = ada_record(stack)
    assert not {"delivered_at", "first_opened_at", "first_clicked_at"} & set(record)
    ada = get_customer(stack.names["CustomersTable"], ADA)
    assert ada is not None and ada.last_opened_at is None and ada.last_clicked_at is None


def test_a_send_event_dated_decades_ahead_is_dead_lettered_naming_the_field(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    sent = ses_sample("delivered_ada.json")
    sent["detail-type"] = "Email Sent"
    sent["detail"]["eventType"] = "Send"
    sent["detail"]["send"] = {}
    del sent["detail"]["delivery"]
    sent["detail"]["mail"]["timestamp"] = "2099-06-01T00:00:00.000Z"
    publish_as_ses(stack, sent)
    mappings.drain()
    assert dead_letter_problems(stack, "EngagementDLQ") == [
        [{"field": "body.detail.mail.timestamp", "error": "timestamp_in_future"}]
    ]


@pytest.mark.usefixtures("ada_was_sent_her_reminder")
def test_under_forty_percent_throttling_every_open_and_click_counts_exactly_once(
    stack: LocalStack, mappings: EventSourceMappings, clock: time_machine.Traveller
) -> None:
    opens = [at(ses_sample("opened_ada.json"), f"2026-11-23T15:{minute:02d}:00.000Z") for minute in range(20)]
    clicks = [
        at(ses_sample("clicked_ada.json"), f"2026-11-23T16:{minute:02d}:30.000Z") for minute in range(10)
    ]
    with throttled(Throttling(rate=0.4, services=frozenset({"dynamodb"})), clock.shift) as throttling:
        for event in [*opens, *clicks, *opens[:5]]:
            publish_as_ses(stack, event)
        mappings.drain()
    assert throttling.refused.get("dynamodb", 0) > 10
    record = ada_record(stack)
    assert (record["opens"], record["clicks"]) == (20, 10)
    assert (record["first_opened_at"], record["first_clicked_at"]) == (
        "2026-11-23T15:00:00Z",
        "2026-11-23T16:00:30Z",
    )
    ada = get_customer(stack.names["CustomersTable"], ADA)
    assert ada is not None and (len(ada.recent_open_dates), len(ada.recent_click_dates)) == (20, 10)
    assert all(details == [] for details in dead_lettered_details(stack).values())


@pytest.mark.usefixtures("ada_was_sent_her_reminder")
def test_an_email_sent_before_the_delivery_tag_is_found_by_its_ses_message_id(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    # Given SES's event for it carries only the tags emails had before (customer_id, trigger, segment)
    record = ada_record(stack)
    opened = ses_sample("opened_ada.json")
    tags = opened["detail"]["mail"]["tags"]
    del tags["delivery"]
    opened["detail"]["mail"]["messageId"] = record["message_id"]
    publish_as_ses(stack, opened)
    mappings.drain()
    # Then the open still lands on that email
    assert ada_record(stack)["opens"] == 1
    # ...and one whose message id matches no email of the customer changes no delivery record
    opened["detail"]["mail"]["messageId"] = "0100019a-no-such-message"
    publish_as_ses(stack, at(opened, "2026-11-23T18:00:00.000Z"))
    mappings.drain()
    assert ada_record(stack)["opens"] == 1


@pytest.mark.usefixtures("ada_was_sent_her_reminder")
def test_a_crash_after_the_delivery_write_or_a_refused_one_still_records_it_once(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    with crash_at(CrashPoint(service="dynamodb", operation="UpdateItem", nth=1)):
        publish_as_ses(stack, ses_sample("delivered_ada.json"))
        report = mappings.drain()
    assert report.died == 1
    with refusing(Refusal(service="dynamodb", operation="UpdateItem", nth=1)):
        publish_as_ses(stack, at(ses_sample("delivered_ada.json"), "2026-11-23T10:15:01.000Z"))
        refused = mappings.drain()
    assert refused.failed_records == 1
    # The earliest delivery stands, whatever died or was refused on the way
    assert ada_record(stack)["delivered_at"] == "2026-11-23T10:15:01Z"
