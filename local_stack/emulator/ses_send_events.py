"""SES's ``Send`` event, as AWS publishes it: whenever SES accepts a message sent with a configuration
set whose event destination matches SEND, an ``Email Sent`` event goes to the account's default bus
(source ``aws.ses``) with the message's tags, whatever happens to the process that sent it.

moto has no configuration-set event destinations, so the local stack publishes it here, after every
SendEmail a handler makes (``failures.observe_calls``): a crash right after SES accepted still leaves
SES's record, as on AWS. ``make faults`` drops a share of them (``dropping``) to measure what a lost
Send event costs.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import botocore.client

from local_stack.emulator import clients, failures
from local_stack.emulator.stack import ACCOUNT_ID
from nudge.timeutil import to_stored, to_stored_ms, utc_now


@dataclass
class SendEventLoss:
    """The share of Send events that never arrive (SES or EventBridge losing them), and a count."""

    rate: float = 0.0
    dropped: int = 0
    published: int = 0


_loss = SendEventLoss()
_lock = threading.Lock()


def install() -> None:
    """Publish a Send event after every SendEmail of a handler (once per process)."""
    failures.observe_calls(_published_after_send)


@contextmanager
def dropping(rate: float) -> Iterator[SendEventLoss]:
    """Lose ``rate`` of the Send events while inside; yields the tally."""
    global _loss
    saved, _loss = _loss, SendEventLoss(rate=rate)
    try:
        yield _loss
    finally:
        _loss = saved


def _published_after_send(
    client: botocore.client.BaseClient, operation: str, params: dict[str, Any], response: Any
) -> None:
    if client.meta.service_model.service_name != "sesv2" or operation != "SendEmail":
        return
    configuration_set = params.get("ConfigurationSetName")
    if not configuration_set:
        return  # SES publishes events only for messages sent with a configuration set
    with _lock:
        if random.random() < _loss.rate:  # noqa: S311 (a simulated loss)
            _loss.dropped += 1
            return
        _loss.published += 1
    region = client.meta.region_name
    now = utc_now()
    tags = {str(tag["Name"]): [str(tag["Value"])] for tag in params.get("EmailTags", [])}
    detail = {
        "eventType": "Send",
        "mail": {
            "timestamp": to_stored_ms(now),
            "source": params.get("FromEmailAddress"),
            "sendingAccountId": ACCOUNT_ID,
            "messageId": response["MessageId"],
            "destination": list(params.get("Destination", {}).get("ToAddresses", [])),
            "tags": {"ses:configuration-set": [configuration_set], **tags},
        },
        "send": {},
    }
    entry: Any = {
        "Source": "aws.ses",
        "DetailType": "Email Sent",
        "Detail": json.dumps(detail),
        "Resources": [f"arn:aws:ses:{region}:{ACCOUNT_ID}:configuration-set/{configuration_set}"],
        "Time": to_stored(now),
    }
    answer = clients.events(region).put_events(Entries=[entry])
    if answer["FailedEntryCount"]:
        raise RuntimeError(f"the local SES could not publish its Send event: {answer['Entries']}")
