"""One-click unsubscribe end to end: the link in the email's own header, the function URL, and the
next trigger for that customer sending nothing."""

from __future__ import annotations

import base64
import io
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from botocore.exceptions import ClientError

from local_stack.emulator import clients
from local_stack.emulator.cfn import load_template
from local_stack.emulator.failures import CrashPoint, LambdaDied, Refusal, crash_at, refusing
from local_stack.emulator.lambda_runtime import EventSourceMappings, LocalFunctionUrls
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.run import put_events
from local_stack.emulator.scenario import SampleEvent, load_sample_rows
from local_stack.emulator.stack import TEMPLATE_PATH, LocalStack
from nudge.dal.consent_history import history
from nudge.dal.customers import get_customer
from nudge.unsubscribe import http as unsubscribe_http
from nudge.unsubscribe.request import MAX_BODY_BYTES, MAX_FORM_FIELDS
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
    assert token not in logs and token.split(".")[1] not in logs
    emails = {row["email"] for row in load_sample_rows("customers")}
    assert not any(address in logs for address in emails)


def issue_for(stack: LocalStack, customer_id: str) -> str:

    secret = clients.client("secretsmanager", stack.region).get_secret_value(
        SecretId=stack.secret_arns["UnsubscribeSigningKey"]
    )
    return issue(secret["SecretString"].encode(), customer_id)


FORM = "application/x-www-form-urlencoded"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


Case = tuple[str, str, str | None, bool, str | None, int]
TOKEN = "token={token}"  # a valid token for Ada


def post(body: bytes, content_type: str | None = FORM, query: str = TOKEN) -> Case:
    """A POST as Lambda hands it over (body base64-encoded) that must get 400."""
    return ("POST", query, b64(body), True, content_type, 400)


def raw_post(body: str, base64_encoded: bool) -> Case:
    """A POST whose ``body`` string is exactly what Lambda would put in the event."""
    return ("POST", TOKEN, body, base64_encoded, FORM, 400)


# method, query, body, isBase64Encoded, content type, expected status
MALFORMED: dict[str, Case] = {
    "1 MB body": post(ONE_CLICK.encode() + b"&x=" + b"a" * 2**20),
    "1 MB body, not base64-encoded": raw_post(ONE_CLICK + "&x=" + "a" * 2**20, base64_encoded=False),
    "body one byte over the limit": post(ONE_CLICK.encode() + b"&x=" + b"a" * (MAX_BODY_BYTES - 28)),
    "thousands of form fields": post(("x=1&" * 3000 + ONE_CLICK).encode()),
    "thousands of empty form fields": post(("&" * 3000 + ONE_CLICK).encode()),
    "one form field too many": post("&".join([ONE_CLICK] + ["x=1"] * MAX_FORM_FIELDS).encode()),
    "invalid base64": raw_post(ONE_CLICK + "!", base64_encoded=True),
    "truncated base64": raw_post(b64(ONE_CLICK.encode())[:-1], base64_encoded=True),
    "non-ASCII in base64": raw_post(b64(ONE_CLICK.encode()) + "é", base64_encoded=True),
    "non-UTF-8 bytes": post(ONE_CLICK.encode() + b"&name=\xff\xfe"),
    "lone surrogate in a text body": raw_post(ONE_CLICK + "&name=\ud800", base64_encoded=False),
    "JSON body": post(b'{"List-Unsubscribe": "One-Click"}', content_type="application/json"),
    "text/plain body": post(ONE_CLICK.encode(), content_type="text/plain"),
    "multipart body without its boundary": post(
        ONE_CLICK.encode(), content_type="multipart/form-data; boundary=x"
    ),
    "two content types": post(ONE_CLICK.encode(), content_type=f"{FORM},text/plain"),
    "repeated token": post(ONE_CLICK.encode(), query=f"{TOKEN}&{TOKEN}"),
    "repeated token, one forged": post(ONE_CLICK.encode(), query=f"{TOKEN}&token=v1.eA.eA"),
    "repeated token on GET": ("GET", f"{TOKEN}&{TOKEN}", None, False, None, 400),
    "thousands of query fields": post(ONE_CLICK.encode(), query=TOKEN + "&x" * 3000),
    "over-long query": post(ONE_CLICK.encode(), query=f"{TOKEN}&x=" + "a" * 4096),
    # A missing token answers exactly as a forged one (see the 403 test above), revealing nothing.
    "missing token": ("POST", "", b64(ONE_CLICK.encode()), True, FORM, 403),
    **{
        method: (method, TOKEN, b64(ONE_CLICK.encode()) if body else None, body, FORM if body else None, 405)
        for method, body in [
            ("PUT", True),
            ("PATCH", True),
            ("DELETE", False),
            ("HEAD", False),
            ("OPTIONS", False),
        ]
    },
}


@pytest.mark.parametrize(
    ("method", "query", "body", "base64_encoded", "content_type", "status"),
    list(MALFORMED.values()),
    ids=list(MALFORMED),
)
def test_a_malformed_request_gets_a_small_error_page_and_changes_nothing(
    stack: LocalStack,
    mappings: EventSourceMappings,
    service_logs: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    query: str,
    body: str | None,
    base64_encoded: bool,
    content_type: str | None,
    status: int,
) -> None:
    token = issue_for(stack, "cus_vip_ada")
    if status != 403:  # refused before the signing key is read: a flood costs no Secrets Manager call
        monkeypatch.setattr(unsubscribe_http, "signing_key", key_must_not_be_read)
    event = function_url_event(stack, method, query.format(token=token), body, base64_encoded, content_type)
    # No exception: Lambda would turn one into a 502.
    response = mappings.function("UnsubscribeFunction").invoke(event)
    assert response["statusCode"] == status
    headers = response["headers"]
    assert headers["Content-Type"] == "text/html; charset=utf-8" and headers["Cache-Control"] == "no-store"
    assert response["body"].startswith("<!DOCTYPE html>") and len(response["body"]) < 2048
    if status == 405:
        assert headers["Allow"] == "GET, POST"
    ada = get_customer(stack.names["CustomersTable"], "cus_vip_ada")
    assert ada is not None and ada.unsubscribed_at is None
    logs = service_logs.getvalue()
    assert token not in logs and token.split(".")[1] not in logs and "cus_vip_ada" not in logs
    if status != 403:
        assert '"message":"unsubscribe request refused"' in logs and '"reason":' in logs


def key_must_not_be_read(secret_id: str) -> bytes:
    raise AssertionError("a malformed request read the signing key")


# The invocation fails before any metric is added; Powertools warns about the empty flush.
@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_a_failing_table_is_still_an_error_not_a_page(
    stack: LocalStack, urls: LocalFunctionUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    def table_down(*args: object) -> bool:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "UpdateItem")

    monkeypatch.setattr(unsubscribe_http, "record_unsubscribe", table_down)
    link = f"{stack.functions['UnsubscribeFunction'].function_url}?token={issue_for(stack, 'cus_vip_ada')}"
    with pytest.raises(ClientError):
        urls.request("POST", link, body=ONE_CLICK)


def test_another_path_gets_a_404_page(stack: LocalStack, urls: LocalFunctionUrls) -> None:
    base = stack.functions["UnsubscribeFunction"].function_url
    response = urls.request("GET", f"{base}wp-login.php?token={issue_for(stack, 'cus_vip_ada')}")
    assert response.status == 404 and response.body.startswith("<!DOCTYPE html>")


def test_a_form_at_the_limits_still_unsubscribes(stack: LocalStack, mappings: EventSourceMappings) -> None:
    fields = [ONE_CLICK, *["x=1"] * (MAX_FORM_FIELDS - 2)]
    padding = "p=" + "a" * (MAX_BODY_BYTES - len("&".join(fields)) - len("&p="))
    body = "&".join([*fields, padding]).encode()
    assert len(body) == MAX_BODY_BYTES and body.count(b"&") + 1 == MAX_FORM_FIELDS
    query = f"token={issue_for(stack, 'cus_vip_ada')}"
    event = function_url_event(stack, "POST", query, b64(body), True, f"{FORM}; charset=UTF-8")
    assert mappings.function("UnsubscribeFunction").invoke(event)["statusCode"] == 200
    ada = get_customer(stack.names["CustomersTable"], "cus_vip_ada")
    assert ada is not None and ada.unsubscribed_at is not None


def test_rfc_8058s_own_multipart_example_unsubscribes(
    stack: LocalStack, mappings: EventSourceMappings
) -> None:
    # The request as the example in RFC 8058 shows it: a multipart form with the one field
    body = (
        b"--FormBoundary\r\n"
        b'Content-Disposition: form-data; name="List-Unsubscribe"\r\n'
        b"\r\n"
        b"One-Click\r\n"
        b"--FormBoundary--\r\n"
    )
    query = f"token={issue_for(stack, 'cus_vip_ada')}"
    event = function_url_event(
        stack, "POST", query, b64(body), True, "multipart/form-data; boundary=FormBoundary"
    )
    assert mappings.function("UnsubscribeFunction").invoke(event)["statusCode"] == 200
    ada = get_customer(stack.names["CustomersTable"], "cus_vip_ada")
    assert ada is not None and ada.unsubscribed_at is not None


def test_the_public_url_has_its_own_reserved_concurrency() -> None:
    template = load_template(TEMPLATE_PATH)
    parameter = template["Parameters"]["UnsubscribeReservedConcurrency"]
    assert parameter["Type"] == "Number"
    assert int(parameter["Default"]) == 10 and int(parameter["MinValue"]) == 1
    assert "concurrency" in parameter["Description"]
    properties = template["Resources"]["UnsubscribeFunction"]["Properties"]
    assert properties["ReservedConcurrentExecutions"] == {"Ref": "UnsubscribeReservedConcurrency"}
    assert properties["FunctionUrlConfig"]["AuthType"] == "NONE"


def function_url_event(
    stack: LocalStack,
    method: str,
    query: str,
    body: str | None,
    base64_encoded: bool,
    content_type: str | None,
) -> dict[str, Any]:
    """A payload-2.0 event exactly as given, for bodies LocalFunctionUrls cannot send."""
    url = stack.functions["UnsubscribeFunction"].function_url
    assert url is not None
    host = urlsplit(url).netloc
    headers = {"host": host, "user-agent": "local"} | ({"content-type": content_type} if content_type else {})
    parameters: dict[str, str] = {}
    for name, value in parse_qs(query, keep_blank_values=True).items():
        parameters[name] = ",".join(value)  # as Lambda joins repeated parameters
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": query,
        "headers": headers,
        "queryStringParameters": parameters or None,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": host.split(".")[0],
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "local",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "24/Nov/2025:09:00:00 +0000",
            "timeEpoch": 1763974800000,
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


def consent_statements(stack: LocalStack, customer_id: str) -> list[dict[str, Any]]:
    return history(stack.names["ConsentHistoryTable"], customer_id)


def test_a_click_again_later_keeps_one_withdrawal_at_the_first_unsubscribes_time(
    stack: LocalStack, urls: LocalFunctionUrls, clock: time_machine.Traveller
) -> None:
    link = f"{stack.functions['UnsubscribeFunction'].function_url}?token={issue_for(stack, 'cus_vip_ada')}"
    assert urls.request("POST", link, body=ONE_CLICK).status == 200
    # When she clicks the link in another email a day later
    clock.shift(timedelta(days=1))
    assert urls.request("POST", link, body=ONE_CLICK).status == 200
    # Then the history holds one withdrawal, at the time her profile says she unsubscribed
    ada = get_customer(stack.names["CustomersTable"], "cus_vip_ada")
    (statement,) = consent_statements(stack, "cus_vip_ada")
    assert ada is not None and ada.unsubscribed_at is not None
    assert datetime.fromisoformat(statement["changed_at"]) == ada.unsubscribed_at
    assert (statement["marketing_consent"], statement["consent_source"]) == (False, "unsubscribe_one_click")


def test_a_crash_after_the_profile_write_still_records_the_withdrawal_when_the_post_comes_again(
    stack: LocalStack, urls: LocalFunctionUrls, clock: time_machine.Traveller
) -> None:
    link = f"{stack.functions['UnsubscribeFunction'].function_url}?token={issue_for(stack, 'cus_vip_ada')}"
    # Given the function dies right after marking the profile (before the consent history's write)
    with crash_at(CrashPoint(service="dynamodb", operation="UpdateItem")), pytest.raises(LambdaDied):
        urls.request("POST", link, body=ONE_CLICK)
    assert consent_statements(stack, "cus_vip_ada") == []
    # When the mailbox provider sends the POST again, minutes later
    clock.shift(timedelta(minutes=5))
    assert urls.request("POST", link, body=ONE_CLICK).status == 200
    # Then the withdrawal is recorded once, at the time the profile was marked
    ada = get_customer(stack.names["CustomersTable"], "cus_vip_ada")
    (statement,) = consent_statements(stack, "cus_vip_ada")
    assert ada is not None and datetime.fromisoformat(statement["changed_at"]) == ada.unsubscribed_at


def test_a_throttled_consent_history_write_is_an_error_and_the_retry_records_it_once(
    stack: LocalStack, urls: LocalFunctionUrls
) -> None:
    link = f"{stack.functions['UnsubscribeFunction'].function_url}?token={issue_for(stack, 'cus_vip_ada')}"
    with refusing(Refusal(service="dynamodb", operation="PutItem")), pytest.raises(ClientError):
        urls.request("POST", link, body=ONE_CLICK)
    assert urls.request("POST", link, body=ONE_CLICK).status == 200
    assert len(consent_statements(stack, "cus_vip_ada")) == 1
