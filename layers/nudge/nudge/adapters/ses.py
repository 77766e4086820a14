"""Sends a finished MIME message (nudge.mime) through SES v2, at most once per call.

SES's SendEmail has no idempotency key, so the SDK must never repeat a request on its own: the SES
client makes one attempt (``clients.sesv2``), and this module retries only what SES itself refused
(throttling), where nothing was sent. A request whose answer was lost (a read timeout, a dropped
connection) may have been accepted: it is reported as unknown, never retried. So is a server error
(``InternalFailure``, ``ServiceUnavailable``, any HTTP 5xx): SES failed while handling the request,
and may have sent the email before it did.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

from nudge.adapters import clients
from nudge.mime import WireMessage

# SES accepts only these characters in message tag values.
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]")
# "Maximum sending rate exceeded": SES's own answer, so the email was not sent and may be tried again.
_THROTTLED = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
# SES failed while handling the request: it may have been carried out (whatever the HTTP status says).
_SERVER_ERRORS = frozenset({"InternalFailure", "InternalServiceError", "ServiceUnavailable"})
ATTEMPTS = 3
BASE_DELAY_SECONDS = 0.2
# What an attempt may still need after its back-off: the call itself and the bookkeeping after it.
RESERVE_SECONDS = 5.0


class SendRefusedError(RuntimeError):
    """SES refused the request (a client error), or the request never reached it: nothing was sent."""


class SendResultUnknownError(RuntimeError):
    """The request may have reached SES, but no answer came back, or SES failed while handling it (a
    server error): the email may have been sent."""


def send_raw(
    message: WireMessage,
    *,
    configuration_set: str,
    tags: Mapping[str, str],
    seconds_left: Callable[[], float],
) -> str:
    """Send and return SES's message id.

    SES throttling is retried here with jittered back-off while ``seconds_left`` allows, then raised
    as ``SendRefusedError``: the caller's record fails and SQS delivers it again later. ``seconds_left``
    is the invocation's remaining time (Lambda's context), so back-off never runs past the timeout.
    A server error is never retried here: it is ``SendResultUnknownError``, so the caller keeps its
    claim and the send protocol settles it (SES's Send event, or a resend after the grace period).
    """
    request = {
        "FromEmailAddress": message.sender,
        "Destination": {"ToAddresses": list(message.recipients)},
        "Content": {"Raw": {"Data": message.data}},
        "ConfigurationSetName": configuration_set,
        "EmailTags": [
            {"Name": name, "Value": _TAG_UNSAFE.sub("_", value)[:256]} for name, value in tags.items()
        ],
    }
    for attempt in range(ATTEMPTS):
        try:
            response = clients.sesv2().send_email(**request)  # type: ignore[arg-type]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if code in _SERVER_ERRORS or status >= 500:
                raise SendResultUnknownError(code or f"HTTP {status}") from error
            delay = BASE_DELAY_SECONDS * 4**attempt * random.uniform(0.5, 1.5)  # noqa: S311 (jitter)
            if code not in _THROTTLED or attempt == ATTEMPTS - 1 or seconds_left() < delay + RESERVE_SECONDS:
                raise SendRefusedError(code or "ClientError") from error
            time.sleep(delay)
        except (EndpointConnectionError, ConnectTimeoutError) as error:
            raise SendRefusedError(type(error).__name__) from error
        except BotoCoreError as error:
            raise SendResultUnknownError(type(error).__name__) from error
        else:
            return str(response["MessageId"])
    raise AssertionError("unreachable: the last attempt returns or raises")
