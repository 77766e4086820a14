"""One-click unsubscribe end to end: the link in the email's own header, the function URL, and the
next trigger for that customer sending nothing."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import pytest

from local_stack.lambda_runtime import EventSourceMappings, LocalFunctionUrls
from local_stack.moto_endpoint import MotoEndpoint
from local_stack.run import put_events
from local_stack.scenario import SampleEvent, load_sample_rows
from local_stack.stack import LocalStack
from nudge.dal.customers import get_customer
from nudge.unsubscribe.tokens import issue
from tests.conftest import sent_emails

ONE_CLICK = "List-Unsubscribe=One-Click"


@pytest.fixture
def urls(mappings: EventSourceMappings) -> LocalFunctionUrls:
    return LocalFunctionUrls(mappings)


def unsubscribe_link_of_first_email(moto: MotoEndpoint) -> str:
    (message,) = sent_emails(moto)
    assert message["List-Unsubscribe-Post"] == ONE_CLICK
    return str(message["List-Unsubscribe"]).strip("<>")


def test_send_unsubscribe_from_the_header_then_nothing_more_is_sent(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    urls: LocalFunctionUrls,
) -> None:
    # Given Ada got a cart reminder
    put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
    mappings.drain()
    link = unsubscribe_link_of_first_email(moto)
    # When her mailbox provider POSTs the one-click body to the URL from the email's header
    response = urls.request("POST", link, body=ONE_CLICK)
    # Then she is unsubscribed at once, by one click
    assert response.status == 200
    ada = get_customer(stack.names["CustomersTable"], "cus_vip_ada")
    assert ada is not None and ada.unsubscribed_at is not None
    # And the next trigger for her sends nothing
    put_events(stack, [samples["order_placed/first_order_priya.json"]])  # someone else still gets email
    lapsed = samples["customer_lapsed/at_risk_sam.json"].varied("ada lapsed", customer_id="cus_vip_ada")
    put_events(stack, [lapsed])
    mappings.drain()
    recipients = [str(m["To"].addresses[0].addr_spec) for m in sent_emails(moto)]
    assert recipients.count("ada.lovelace@example.com") == 1
    assert "priya.sharma@example.in" in recipients


def test_the_footer_links_to_the_same_unsubscribe_url(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
    mappings.drain()
    link = unsubscribe_link_of_first_email(moto)
    (message,) = sent_emails(moto)
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and f"Unsubscribe: {link}" in text.get_content()
    assert html is not None and f'href="{link}"' in html.get_content()


def test_a_get_shows_a_button_and_changes_nothing(
    stack: LocalStack, mappings: EventSourceMappings, urls: LocalFunctionUrls
) -> None:
    link = stack.functions["UnsubscribeFunction"].function_url
    assert link is not None
    token = issue_for(stack, "cus_vip_ada")
    response = urls.request("GET", f"{link}?token={token}")
    assert response.status == 200
    assert '<form method="post"' in response.body and "Unsubscribe</button>" in response.body
    ada = get_customer(stack.names["CustomersTable"], "cus_vip_ada")
    assert ada is not None and ada.unsubscribed_at is None
    # The page's button posts the confirmation, which does unsubscribe.
    confirmed = urls.request("POST", f"{link}?token={token}", body="confirm=yes")
    assert confirmed.status == 200
    ada = get_customer(stack.names["CustomersTable"], "cus_vip_ada")
    assert ada is not None and ada.unsubscribed_at is not None


def test_a_post_without_the_one_click_body_changes_nothing(
    stack: LocalStack, urls: LocalFunctionUrls
) -> None:
    link = f"{stack.functions['UnsubscribeFunction'].function_url}?token={issue_for(stack, 'cus_vip_ada')}"
    assert urls.request("POST", link, body="List-Unsubscribe=Maybe").status == 400
    ada = get_customer(stack.names["CustomersTable"], "cus_vip_ada")
    assert ada is not None and ada.unsubscribed_at is None


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_forged_token_gets_403_and_reveals_nothing(
    stack: LocalStack, urls: LocalFunctionUrls, method: str, service_logs: io.StringIO
) -> None:
    base = stack.functions["UnsubscribeFunction"].function_url
    forged = issue(b"x" * 64, "cus_vip_ada")
    real_customer = urls.request(method, f"{base}?token={forged}", body=ONE_CLICK)
    no_customer = urls.request(method, f"{base}?token={issue(b'x' * 64, 'cus_nobody')}", body=ONE_CLICK)
    missing = urls.request(method, f"{base}", body=ONE_CLICK)
    assert real_customer.status == no_customer.status == missing.status == 403
    assert real_customer.body == no_customer.body == missing.body
    ada = get_customer(stack.names["CustomersTable"], "cus_vip_ada")
    assert ada is not None and ada.unsubscribed_at is None
    assert forged not in service_logs.getvalue()


def test_a_valid_token_for_a_deleted_profile_answers_like_success(
    stack: LocalStack, urls: LocalFunctionUrls
) -> None:
    base = stack.functions["UnsubscribeFunction"].function_url
    known = urls.request("POST", f"{base}?token={issue_for(stack, 'cus_vip_ada')}", body=ONE_CLICK)
    unknown = urls.request("POST", f"{base}?token={issue_for(stack, 'cus_deleted')}", body=ONE_CLICK)
    assert known.status == unknown.status == 200 and known.body == unknown.body


def test_unsubscribe_logs_hold_no_token_or_email(
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
    urls: LocalFunctionUrls,
    service_logs: io.StringIO,
) -> None:
    put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
    mappings.drain()
    link = unsubscribe_link_of_first_email(moto)
    urls.request("GET", link)
    urls.request("POST", link, body=ONE_CLICK)
    logs = service_logs.getvalue()
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert '"message":"unsubscribed"' in logs
    assert token not in logs and token.split(".")[2] not in logs
    emails = {row["email"] for row in load_sample_rows("customers")}
    assert not any(address in logs for address in emails)


def issue_for(stack: LocalStack, customer_id: str) -> str:
    import boto3

    secret = (
        boto3.session.Session(region_name=stack.region)
        .client("secretsmanager")
        .get_secret_value(SecretId=stack.secret_arns["UnsubscribeSigningKey"])
    )
    return issue(secret["SecretString"].encode(), customer_id)
