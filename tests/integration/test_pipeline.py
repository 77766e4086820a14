"""Each handler against moto, with every resource built from template.yaml."""

from __future__ import annotations

import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
import time_machine

from local_stack.emulator import clients
from local_stack.emulator.fresh import fresh_stack
from local_stack.emulator.lambda_runtime import DrainReport, EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.rows import get_outcome
from local_stack.emulator.run import (
    customer_as_sent,
    dead_letter_problems,
    dead_lettered_details,
    put_events,
    recorded_outcome,
    run_samples,
)
from local_stack.emulator.scenario import SampleEvent, load_sample_rows
from local_stack.emulator.sqs_records import sqs_event
from local_stack.emulator.stack import LocalStack
from local_stack.faults.shapes import deeply_nested
from nudge.adapters import clients as handler_clients
from nudge.dal.customers import get_customer, put_customer
from nudge.dal.deliveries import get_record
from nudge.message_tags import DeliveryRef, delivery_ref
from nudge.outcome import Decision, Outcome
from nudge.pipeline import process_event
from nudge.sending.records import SendInProgressError
from nudge.settings import Settings
from nudge.timeutil import to_stored, utc_now
from nudge.triggers import CART_ABANDONED, CUSTOMER_LAPSED, ORDER_PLACED
from tests.conftest import sent_emails


def function_settings(stack: LocalStack, logical_id: str) -> Settings:
    return Settings.from_environment(stack.functions[logical_id].environment)


def test_every_sample_event_does_what_its_expectation_says(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given every sample event, one of them delivered twice
    duplicate = samples["cart_abandoned/vip_ada.json"]
    # When they are put on the bus and the functions drain their queues
    results, _ = run_samples(stack, mappings, list(samples.values()), repeat=[duplicate])
    # Then each was sent, skipped for its reason, or dead-lettered, as expected
    assert [r.sample.name for r in results if not r.as_expected] == []
    # And SES sent exactly one email per sendable event: the duplicate sent nothing
    sendable = [r for r in results if r.outcome and r.outcome.decision is Decision.SENT]
    emails = sent_emails(moto)
    assert len(emails) == len(sendable) == 6
    assert sorted(str(e["Subject"]) for e in emails) == sorted(
        str(r.outcome.subject) for r in sendable if r.outcome
    )


def test_a_sent_email_is_personal_complete_mime(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    put_events(stack, [samples["order_placed/repeat_order_maria.json"]])
    mappings.drain()

    (message,) = sent_emails(moto)
    assert message["To"].addresses[0].addr_spec == "maria.garcia@example.es"
    assert message["To"].addresses[0].display_name == "María García"
    assert message["From"].addresses[0].addr_spec == "hello@shop.example"
    # María's profile says es-ES: the email is in Spanish, from the shipped catalog.
    assert message["Subject"] == "Gracias por tu pedido, María"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    # es-ES formatting of the order total; the order made her a VIP, and the email already says so.
    assert "1234,50\xa0€" in text.get_content() or "1.234,50\xa0€" in text.get_content()
    assert "VIP15" in html.get_content()


def test_a_duplicate_delivered_ten_times_concurrently_sends_one_email(
    stack: LocalStack, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given one Cart Abandoned event delivered ten times at once (ten Lambda sandboxes)
    settings = function_settings(stack, "CartAbandonedFunction")
    detail = CART_ABANDONED.parse(samples["cart_abandoned/vip_ada.json"].event)

    def deliver(_: int) -> Outcome | None:
        try:
            return process_event(CART_ABANDONED, detail, settings, None)
        except SendInProgressError:
            return None  # the record fails and SQS delivers it again later

    with ThreadPoolExecutor(max_workers=10) as pool:
        first_attempts = list(pool.map(deliver, range(10)))
    # When the deliveries that found it in progress are retried
    retries = [deliver(0) for attempt in first_attempts if attempt is None]

    # Then exactly one email was sent, and every delivery reports that same email
    assert len(sent_emails(moto)) == 1
    outcomes = [o for o in [*first_attempts, *retries] if o is not None]
    assert len(outcomes) == 10
    assert {o.message_id for o in outcomes} == {outcomes[0].message_id}
    assert outcomes[0].decision is Decision.SENT


def test_an_order_is_counted_on_the_profile_exactly_once(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    table = stack.names["CustomersTable"]
    before = get_customer(table, "cus_frequent_maria")
    assert before is not None
    order = samples["order_placed/repeat_order_maria.json"]

    # When the same Order Placed event arrives twice
    put_events(stack, [order, order])
    mappings.drain()

    after = get_customer(table, "cus_frequent_maria")
    assert after is not None
    assert after.order_count == before.order_count + 1
    assert after.total_spent == before.total_spent + Decimal("1234.50")
    assert after.last_order_at is not None and after.last_order_at.isoformat() == "2026-11-23T09:02:00+00:00"
    emailed = customer_as_sent(stack, "cus_frequent_maria")
    assert emailed is not None and emailed.last_emailed_at is not None
    assert len(sent_emails(moto)) == 1


def test_a_late_order_counts_but_does_not_make_the_customer_look_less_recent(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    table = stack.names["CustomersTable"]
    newer = samples["order_placed/repeat_order_maria.json"]
    older = newer.varied("older", order_id="ord_0999", placed_at="2026-11-20T08:00:00Z", total="10.00")
    put_events(stack, [newer, older])
    mappings.drain()

    after = get_customer(table, "cus_frequent_maria")
    assert after is not None
    assert after.order_count == 8
    assert after.total_spent == Decimal("412.75") + Decimal("1234.50") + Decimal("10.00")
    assert after.last_order_at is not None and after.last_order_at.isoformat() == "2026-11-23T09:02:00+00:00"


def test_an_unsubscribed_customers_order_is_recorded_but_not_emailed(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    put_events(stack, [samples["order_placed/unsubscribed_yuki.json"]])
    mappings.drain()
    customer = customer_as_sent(stack, "cus_unsubscribed_yuki")
    assert customer is not None and customer.order_count == 10
    assert customer.last_emailed_at is None
    assert sent_emails(moto) == []


def test_a_lapse_is_not_emailed_when_the_customer_has_ordered_since(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given Sam lapsed, and then ordered before the win-back went out
    order = samples["order_placed/repeat_order_maria.json"].varied(
        "order", customer_id="cus_atrisk_sam", order_id="ord_sam_1", currency="USD"
    )
    put_events(stack, [order])
    mappings.drain()
    emails_after_order = len(sent_emails(moto))
    # When the lapse event arrives
    results, _ = run_samples(stack, mappings, [samples["customer_lapsed/at_risk_sam.json"]])
    # Then no win-back is sent
    outcome = results[0].outcome
    assert outcome is not None and outcome.decision is Decision.SKIPPED and outcome.reason == "ordered_since"
    assert len(sent_emails(moto)) == emails_after_order


def test_an_invalid_record_is_dead_lettered_alone_and_its_batch_siblings_are_sent(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    function = mappings.function("CartAbandonedFunction")
    bad = samples["invalid/cart_abandoned_missing_cart_id.json"].event
    event = sqs_event(samples["cart_abandoned/vip_ada.json"].event, bad, message_ids=["good", "bad"])
    response = function.invoke(event)
    # The invalid one can never succeed: it is on the dead-letter queue already, not retried
    assert response == {"batchItemFailures": []}
    assert dead_lettered_details(stack)["CartAbandonedDLQ"] == [bad["detail"]]
    assert len(sent_emails(moto)) == 1


def test_a_batch_where_every_record_fails_raises_without_quoting_the_data(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    # Given SES refuses every send (the sender identity is not verified)
    clients.sesv2(stack.region).delete_email_identity(EmailIdentity="shop.example")
    function = mappings.function("CartAbandonedFunction")
    with pytest.raises(RuntimeError) as raised:
        function.invoke(sqs_event(samples["cart_abandoned/vip_ada.json"].event))
    assert "example.com" not in str(raised.value) and "cus_vip_ada" not in str(raised.value)
    assert "1 records of the batch failed" in str(raised.value)


def test_invalid_events_go_straight_to_the_dead_letter_queue_with_the_reason(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    bad = samples["invalid/order_placed_bad_currency.json"]
    put_events(stack, [bad])
    report = mappings.drain()
    # Received once by each of its consumers (the thank-you, the catalog, attribution after its
    # queue's 2-minute delay), never retried: an event that fails validation cannot succeed later
    assert (report.records, report.failed_records) == (3, 0)
    assert report.waited_seconds == pytest.approx(120, abs=1)
    assert dead_lettered_details(stack)["OrderPlacedDLQ"] == [bad.event["detail"]]
    assert dead_lettered_details(stack)["CatalogDLQ"] == [bad.event["detail"]]
    assert dead_lettered_details(stack)["AttributionDLQ"] == [bad.event["detail"]]
    assert sent_emails(moto) == []
    # And the dead letter says why, naming fields and error types but no value
    sqs = clients.sqs(stack.region)
    (message,) = sqs.receive_message(
        QueueUrl=stack.queue_url("OrderPlacedDLQ"), MessageAttributeNames=["All"], VisibilityTimeout=0
    )["Messages"]
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["nudge_error"] == "OrderPlacedRecord"
    assert json.loads(attributes["nudge_problems"]) == [
        {"field": "body.detail.currency", "error": "string_pattern_mismatch"}
    ]


def test_a_send_that_ses_refuses_is_retried_and_then_sent_once(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given SES refuses the first attempt (the sender identity is not verified at that moment)
    ses = clients.sesv2(stack.region)
    ses.delete_email_identity(EmailIdentity="shop.example")
    lapse = samples["customer_lapsed/at_risk_sam.json"]
    detail = CUSTOMER_LAPSED.parse(lapse.event)
    delivery_log = partial(
        get_outcome,
        stack.names["DeliveriesTable"],
        "cus_atrisk_sam",
        "customer_lapsed",
        CUSTOMER_LAPSED.business_id(detail),
    )
    put_events(stack, [lapse])
    report = DrainReport()
    assert mappings.poll_once(report) == 1
    assert report.failed_records == 1
    assert sent_emails(moto) == []
    assert delivery_log() is None
    # When SES accepts again and the record is redelivered
    ses.create_email_identity(EmailIdentity="shop.example")
    mappings.drain()
    # Then exactly one email went out and the outcome was recorded
    assert len(sent_emails(moto)) == 1
    outcome = delivery_log()
    assert outcome is not None and outcome.decision is Decision.SENT


def test_logs_of_a_full_run_hold_no_email_addresses_or_names(
    stack: LocalStack,
    mappings: EventSourceMappings,
    samples: dict[str, SampleEvent],
    service_logs: io.StringIO,
) -> None:
    run_samples(stack, mappings, list(samples.values()))
    logs = service_logs.getvalue()
    assert '"message":"email sent"' in logs
    assert '"message":"invalid event rejected"' in logs
    personal: set[str] = set()
    for row in load_sample_rows("customers"):
        personal |= {row["email"], row["first_name"], *([row["last_name"]] if row.get("last_name") else [])}
    leaked = {value for value in personal if re.search(rf"\b{re.escape(value)}\b", logs)}
    assert leaked == set()
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", logs.replace("hello@shop.example", ""))


def test_order_placed_for_an_unknown_customer_creates_no_profile(
    stack: LocalStack, samples: dict[str, SampleEvent]
) -> None:
    settings = function_settings(stack, "OrderPlacedFunction")
    event = samples["order_placed/first_order_priya.json"].varied("nobody", customer_id="cus_nobody").event
    detail = ORDER_PLACED.parse(event)
    outcome = process_event(ORDER_PLACED, detail, settings, None)
    assert outcome.reason == "unknown_customer"
    assert get_customer(settings.customers_table, "cus_nobody") is None


def test_ses_is_asked_for_the_configuration_set_and_the_trigger_and_segment_tags(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    # moto does not keep the configuration set or tags, so read them off the request the SDK sends.
    requests: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        requests.append(params)

    client = handler_clients.sesv2()
    client.meta.events.register("provide-client-params.sesv2.SendEmail", record)
    try:
        put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
        mappings.drain()
    finally:
        client.meta.events.unregister("provide-client-params.sesv2.SendEmail", record)

    (request,) = requests
    assert (
        request["ConfigurationSetName"] == stack.names["MarketingConfigurationSet"] == "nudge-local-marketing"
    )
    tags = {tag["Name"]: tag["Value"] for tag in request["EmailTags"]}
    # How SES's events (delivery, open, click, bounce, complaint) find the delivery record and profile
    assert delivery_ref({name: [value] for name, value in tags.items()}) == DeliveryRef(
        "cus_vip_ada", "cart_abandoned#cart_7f3a"
    )
    # ...and which attempt SES accepted: the claim the email was sent under
    stored = get_record(stack.names["DeliveriesTable"], "cus_vip_ada", "cart_abandoned", "cart_7f3a")
    assert stored is not None and tags["claim"] and len(tags["claim"]) == 32
    assert {name: value for name, value in tags.items() if name not in ("delivery", "claim")} == {
        "trigger": "cart_abandoned",
        "segment": "vip",
        "customer_id": "cus_vip_ada",
    }
    assert request["FromEmailAddress"] == "Example Shop <hello@shop.example>"
    assert request["Destination"] == {"ToAddresses": ["ada.lovelace@example.com"]}


def test_a_corrupt_profile_dead_letters_the_record_without_logging_its_contents(
    stack: LocalStack,
    mappings: EventSourceMappings,
    samples: dict[str, SampleEvent],
    service_logs: io.StringIO,
) -> None:
    # Given a profile row someone wrote by hand, with an address that is not one
    dynamodb = clients.dynamodb(stack.region)
    dynamodb.put_item(
        TableName=stack.names["CustomersTable"],
        Item={
            "customer_id": {"S": "cus_vip_ada"},
            "email": {"S": "ada at example"},
            "first_name": {"S": "Ada"},
        },
    )
    # When her cart event is processed
    response = mappings.function("CartAbandonedFunction").invoke(
        sqs_event(
            samples["cart_abandoned/vip_ada.json"].event,
            samples["cart_abandoned/new_customer_jonas.json"].event,
        )
    )
    # Then her record goes to the dead-letter queue for an operator (retrying cannot fix the row),
    # Jonas's is sent, and the log names the model and the field, not the data
    assert response == {"batchItemFailures": []}
    assert [d["customer_id"] for d in dead_lettered_details(stack)["CartAbandonedDLQ"]] == ["cus_vip_ada"]
    failure = next(
        json.loads(line) for line in service_logs.getvalue().splitlines() if "dead-lettered" in line
    )
    assert failure["model"] == "Customer"
    assert {problem["field"] for problem in failure["problems"]} == {"email"}
    assert "ada at example" not in service_logs.getvalue()


def test_a_store_that_keys_customers_by_email_address_gets_no_address_in_the_logs(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    service_logs: io.StringIO,
) -> None:
    # Given a store whose customer ids are their email addresses
    table = stack.names["CustomersTable"]
    ada = get_customer(table, "cus_vip_ada")
    assert ada is not None
    put_customer(table, ada.model_copy(update={"customer_id": "ada.lovelace@example.com"}))
    cart = samples["cart_abandoned/vip_ada.json"].varied(
        "keyed by address", customer_id="ada.lovelace@example.com"
    )
    # When her cart reminder is sent
    put_events(stack, [cart])
    mappings.drain()
    assert len(sent_emails(moto)) == 1
    # Then the logs name her by a pseudonym, never by the address
    logs = service_logs.getvalue()
    assert '"message":"email sent"' in logs
    assert "ada.lovelace@example.com" not in logs and "sha256:" in logs


def test_an_envelope_time_without_an_offset_is_read_as_utc(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # EventBridge always writes `time` with a Z; a hand-made event might not, and must not crash the age check
    event = {**samples["cart_abandoned/vip_ada.json"].event, "time": "2026-11-23T14:00:00"}
    response = mappings.function("CartAbandonedFunction").invoke(sqs_event(event))
    assert response == {"batchItemFailures": []}
    assert len(sent_emails(moto)) == 1


# ---------------------------------------------------------------- what is refused: times ahead, deep nesting

FAR_FUTURE = "2099-06-01T00:00:00Z"
TIME_FIELDS = [
    ("cart_abandoned/vip_ada.json", "abandoned_at", "CartAbandonedDLQ"),
    ("order_placed/repeat_order_maria.json", "placed_at", "OrderPlacedDLQ"),
    ("customer_lapsed/at_risk_sam.json", "last_order_at", "CustomerLapsedDLQ"),
]


@pytest.mark.parametrize(("name", "field", "queue"), TIME_FIELDS)
def test_an_event_time_beyond_the_clock_skew_is_dead_lettered_at_once_naming_the_field(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    name: str,
    field: str,
    queue: str,
) -> None:
    # Given a store whose clock is decades ahead for one event
    put_events(stack, [samples[name].varied("far future", **{field: FAR_FUTURE})])
    report = mappings.drain()
    # Then it is received once by each consumer and dead-lettered, naming the field, never retried
    assert report.failed_records == 0
    assert dead_letter_problems(stack, queue) == [
        [{"field": f"body.detail.{field}", "error": "timestamp_in_future"}]
    ]
    assert sent_emails(moto) == []


def test_a_cart_dated_decades_ahead_does_not_supersede_the_customers_real_cart(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    # Given one of Ada's carts says it was abandoned in 2099
    cart = samples["cart_abandoned/vip_ada.json"]
    put_events(stack, [cart.varied("2099", cart_id="cart_2099", abandoned_at=FAR_FUTURE)])
    mappings.drain()
    # When her real cart is abandoned
    put_events(stack, [cart])
    mappings.drain()
    # Then its reminder goes out: the 2099 cart was refused, so it supersedes nothing
    outcome = recorded_outcome(stack, cart)
    assert outcome is not None and outcome.decision is Decision.SENT


def test_an_order_dated_decades_ahead_does_not_end_the_customers_win_back(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    # Given an order of Sam's says it was placed in 2099
    order = samples["order_placed/repeat_order_maria.json"].varied(
        "2099", customer_id="cus_atrisk_sam", order_id="ord_2099", currency="USD", placed_at=FAR_FUTURE
    )
    put_events(stack, [order])
    mappings.drain()
    # When his lapse arrives
    results, _ = run_samples(stack, mappings, [samples["customer_lapsed/at_risk_sam.json"]])
    # Then the win-back goes out: he has not ordered since
    outcome = results[0].outcome
    assert outcome is not None and outcome.decision is Decision.SENT


def test_an_event_time_within_the_clock_skew_is_accepted(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # A store's clock an hour fast is not an error: the default skew allows a day
    ahead = to_stored(utc_now() + timedelta(hours=1))
    put_events(stack, [samples["cart_abandoned/vip_ada.json"].varied("an hour ahead", abandoned_at=ahead)])
    report = mappings.drain()
    assert report.failed_records == 0
    assert dead_letter_problems(stack, "CartAbandonedDLQ") == []
    assert len(sent_emails(moto)) == 1


def test_the_clock_skew_is_a_parameter(
    moto: MotoEndpoint, clock: time_machine.Traveller, samples: dict[str, SampleEvent]
) -> None:
    # Given a stack that allows a store's clock to be ten minutes ahead
    stack = fresh_stack(moto, MaxClockSkewSeconds="600")
    mappings = EventSourceMappings(stack, clock)
    # When a cart is dated an hour ahead
    ahead = to_stored(utc_now() + timedelta(hours=1))
    put_events(stack, [samples["cart_abandoned/vip_ada.json"].varied("an hour ahead", abandoned_at=ahead)])
    mappings.drain()
    # Then it is refused
    assert dead_letter_problems(stack, "CartAbandonedDLQ") == [
        [{"field": "body.detail.abandoned_at", "error": "timestamp_in_future"}]
    ]


def test_a_record_nested_too_deep_to_read_is_dead_lettered_alone_and_its_siblings_are_sent(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given a batch with Ada's cart and another cart whose detail is nested 990 levels deep
    deep = deeply_nested(samples["cart_abandoned/new_customer_jonas.json"].event)
    event = sqs_event(samples["cart_abandoned/vip_ada.json"].event, deep, message_ids=["good", "deep"])
    # When the function gets the batch
    response = mappings.function("CartAbandonedFunction").invoke(event)
    # Then the deep one is dead-lettered at once saying why, and Ada's reminder is sent
    assert response == {"batchItemFailures": []}
    assert dead_letter_problems(stack, "CartAbandonedDLQ") == [
        [{"field": "body", "error": "too_deeply_nested"}]
    ]
    assert len(sent_emails(moto)) == 1
