"""The unsubscribe endpoint behind a Lambda Function URL.

- ``POST /?token=…`` with the form body ``List-Unsubscribe=One-Click`` (RFC 8058, sent by the mailbox
  provider) or ``confirm=yes`` (our own confirmation page) unsubscribes at once and answers 200.
- ``GET /?token=…`` only shows a page with a button: link scanners and spam filters fetch every URL
  in an email, so a GET never changes anything.
- A token we did not issue gets 403 and changes nothing. A valid token for a profile that no longer
  exists answers exactly as a successful unsubscribe, so the endpoint never reveals who exists.
- The URL is public: a malformed request (see ``nudge.unsubscribe.request``) gets a small 400 page, any
  method but GET and POST a 405, any other path a 404. None of them raises, reads the signing key or
  changes anything, and the log says why without any of the request's data.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit

from nudge.dal import consent_history
from nudge.dal.consent_history import ConsentStatement
from nudge.dal.customers import record_unsubscribe
from nudge.observability import log_safe_id, logger, metrics
from nudge.timeutil import utc_now
from nudge.unsubscribe import tokens
from nudge.unsubscribe.keys import signing_key
from nudge.unsubscribe.request import MalformedRequestError, form_fields, token_from_query
from nudge.unsubscribe.settings import UnsubscribeSettings

app = LambdaFunctionUrlResolver()

ONE_CLICK = ("List-Unsubscribe", "One-Click")
CONFIRMED = ("confirm", "yes")
ALLOWED_METHODS = "GET, POST"

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">
<title>{title}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem;">
<h1 style="font-size: 1.4rem;">{title}</h1>{body}</body></html>"""


def _page(status: int, title: str, body: str, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=_PAGE.format(title=escape(title), body=body),
        # Never cached or embedded: the page is about one person's subscription.
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            **(headers or {}),
        },
    )


def _refused(reason: str) -> None:
    """Counts and logs a refused request: the fixed reason only, never the token, id or body."""
    metrics.add_metric(name="UnsubscribeRejected", unit=MetricUnit.Count, value=1)
    logger.warning("unsubscribe request refused", extra={"reason": reason})


def _malformed(error: MalformedRequestError) -> Response[str]:
    _refused(error.reason)
    return _page(
        400, "This request was not understood", "<p>Please use the unsubscribe link in one of our emails.</p>"
    )


# Registered by a call: Powertools' decorator is untyped.
app.exception_handler(MalformedRequestError)(_malformed)


@app.not_found
def _no_route(_: NotFoundError) -> Response[str]:
    if app.current_event.path == "/":
        _refused("method_not_allowed")
        return _page(
            405,
            "This request was not understood",
            "<p>Please use the unsubscribe link in one of our emails.</p>",
            headers={"Allow": ALLOWED_METHODS},
        )
    _refused("unknown_path")
    return _page(404, "Page not found", "<p>Please use the unsubscribe link in one of our emails.</p>")


def _forbidden() -> Response[str]:
    metrics.add_metric(name="UnsubscribeRejected", unit=MetricUnit.Count, value=1)
    logger.warning("unsubscribe request with a token we did not issue")
    return _page(
        403, "This link is not valid", "<p>Please use the unsubscribe link in one of our emails.</p>"
    )


def _token() -> str:
    return token_from_query(app.current_event.get("rawQueryString") or "")


def _customer(token: str) -> str | None:
    settings = UnsubscribeSettings.from_environment()
    return tokens.verify(signing_key(settings.unsubscribe_key_secret), token)


@app.get("/")
def confirmation_page() -> Response[str]:
    token = _token()
    if _customer(token) is None:
        return _forbidden()
    metrics.add_metric(name="UnsubscribePageShown", unit=MetricUnit.Count, value=1)
    action = escape("?" + urlencode({"token": token}))
    return _page(
        200,
        "Unsubscribe from our emails?",
        f'<form method="post" action="{action}"><input type="hidden" name="confirm" value="yes">'
        '<button type="submit" style="font-size: 1rem; padding: .6rem 1.2rem;">Unsubscribe</button></form>',
    )


@app.post("/")
def unsubscribe() -> Response[str]:
    # Everything the request says is read, within bounds, before the key is: a malformed request
    # costs no call to Secrets Manager.
    token = _token()
    event = app.current_event
    form = form_fields(event.body, bool(event.is_base64_encoded), event.headers.get("content-type"))
    customer_id = _customer(token)
    if customer_id is None:
        return _forbidden()
    if ONE_CLICK[1] in form.get(ONE_CLICK[0], []):
        source = "one_click"
    elif CONFIRMED[1] in form.get(CONFIRMED[0], []):
        source = "confirmation_page"
    else:
        metrics.add_metric(name="UnsubscribeRejected", unit=MetricUnit.Count, value=1)
        return _page(400, "Nothing was changed", "<p>Use the button on the unsubscribe page.</p>")
    settings = UnsubscribeSettings.from_environment()
    now = utc_now()
    unsubscribed_at = record_unsubscribe(settings.customers_table, customer_id, now, source)
    known = unsubscribed_at is not None
    if unsubscribed_at is not None and settings.consent_history_table:
        # The consent history answers "when and how" for withdrawals too, not only the store's. The
        # statement is dated by the profile's unsubscribe, so a POST sent again (after a crash between
        # the two writes, or a second click) records it once, with the profile's time.
        statement = ConsentStatement(
            customer_id, unsubscribed_at, marketing_consent=False, source=f"unsubscribe_{source}"
        )
        consent_history.record(settings.consent_history_table, statement, now)
    metrics.add_metric(name="Unsubscribed", unit=MetricUnit.Count, value=1)
    logger.info(
        "unsubscribed", extra={"customer_id": log_safe_id(customer_id) if known else None, "source": source}
    )
    return _page(
        200, "You are unsubscribed", "<p>You will not receive marketing emails from us any more.</p>"
    )
