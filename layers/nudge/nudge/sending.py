"""Sends a finished MIME message through SES v2."""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import getaddresses

from nudge import aws

# SES accepts only these characters in message tag values.
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]")


def send_raw(message: EmailMessage, *, configuration_set: str, tags: Mapping[str, str]) -> str:
    """Send and return SES's message id.

    SES throttling (``TooManyRequestsException``) and other errors propagate after the SDK's own
    retries: the caller's record fails and SQS delivers it again, so a refused send is never lost.
    """
    recipients = [address for _, address in getaddresses(message.get_all("To", []))]
    response = aws.sesv2().send_email(
        FromEmailAddress=str(message["From"]),
        Destination={"ToAddresses": recipients},
        Content={"Raw": {"Data": message.as_bytes()}},
        ConfigurationSetName=configuration_set,
        EmailTags=[
            {"Name": name, "Value": _TAG_UNSAFE.sub("_", value)[:256]} for name, value in tags.items()
        ],
    )
    return response["MessageId"]
