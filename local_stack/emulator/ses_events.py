"""SES's own EventBridge events for an email we sent: what the configuration set's event destination
puts on the default bus when the email is delivered, opened, clicked, bounces or is complained about.

The shapes are SES's (``eventType``, ``mail`` with the message tags as lists, and the ``delivery``,
``open``, ``click``, ``bounce`` or ``complaint`` object); the demo's simulated day and the samples in
``events/ses/`` are built here, so both speak exactly what SES publishes.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from local_stack.emulator.stack import ACCOUNT_ID, LocalStack
from nudge.message_tags import send_tags
from nudge.outcome import Outcome
from nudge.timeutil import to_stored_ms

_DETAIL_TYPES = {
    "Send": "Email Sent",
    "Delivery": "Email Delivered",
    "Open": "Email Opened",
    "Click": "Email Clicked",
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
}
_USER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"


def mail_object(stack: LocalStack, outcome: Outcome, recipient: str, sent_at: datetime) -> dict[str, Any]:
    """The ``mail`` object SES puts on every event of the message ``outcome`` recorded as sent."""
    configuration_set = stack.names["MarketingConfigurationSet"]
    sender = stack.parameters["SenderAddress"]
    tags = {
        "ses:configuration-set": [configuration_set],
        "ses:source-ip": ["192.0.2.10"],
        "ses:from-domain": [stack.parameters["SenderIdentity"]],
        "ses:caller-identity": ["nudge-local-trigger-function-role"],
        **{name: [value] for name, value in send_tags(outcome).items()},
    }
    return {
        "timestamp": to_stored_ms(sent_at),
        "source": sender,
        "sourceArn": f"arn:aws:ses:{stack.region}:{ACCOUNT_ID}:identity/{stack.parameters['SenderIdentity']}",
        "sendingAccountId": ACCOUNT_ID,
        "messageId": outcome.message_id,
        "destination": [recipient],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": sender},
            {"name": "To", "value": recipient},
            {"name": "Subject", "value": outcome.subject or ""},
        ],
        "commonHeaders": {"from": [sender], "to": [recipient], "subject": outcome.subject or ""},
        "tags": tags,
    }


def engagement_event(
    stack: LocalStack, mail: dict[str, Any], event_type: str, at: datetime, link: str | None = None
) -> dict[str, Any]:
    """``Email Sent`` / ``Email Delivered`` / ``Email Opened`` / ``Email Clicked`` for ``mail`` at
    ``at`` (SES's ``send`` object is empty: a Send event's time is the ``mail`` object's)."""
    stamp = to_stored_ms(at)
    section: dict[str, Any]
    if event_type == "Send":
        section = {}
    elif event_type == "Delivery":
        section = {
            "timestamp": stamp,
            "processingTimeMillis": 1208,
            "recipients": mail["destination"],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
            "remoteMtaIp": "198.51.100.25",
        }
    elif event_type == "Open":
        section = {"timestamp": stamp, "userAgent": _USER_AGENT, "ipAddress": "203.0.113.7"}
    elif event_type == "Click":
        section = {
            "timestamp": stamp,
            "ipAddress": "203.0.113.7",
            "userAgent": _USER_AGENT,
            "link": link,
            "linkTags": {},
        }
    else:
        raise ValueError(f"not an engagement event type: {event_type}")
    return _event(stack, mail, event_type, at, section)


def feedback_event(
    stack: LocalStack, mail: dict[str, Any], event_type: str, at: datetime, bounce_type: str = "Permanent"
) -> dict[str, Any]:
    """``Email Bounced`` (of ``bounce_type``) / ``Email Complaint Received`` for ``mail`` at ``at``."""
    stamp = to_stored_ms(at)
    feedback_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{mail['messageId']}/{event_type}/{stamp}"))
    section: dict[str, Any]
    if event_type == "Bounce":
        section = {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": address,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
                for address in mail["destination"]
            ],
            "timestamp": stamp,
            "feedbackId": feedback_id,
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        }
    elif event_type == "Complaint":
        section = {
            "feedbackId": feedback_id,
            "complaintSubType": None,
            "complainedRecipients": [{"emailAddress": address} for address in mail["destination"]],
            "timestamp": stamp,
            "userAgent": "ExampleMailboxProvider FeedbackLoop",
            "complaintFeedbackType": "abuse",
            "arrivalDate": stamp,
        }
    else:
        raise ValueError(f"not a feedback event type: {event_type}")
    return _event(stack, mail, event_type, at, section)


def _event(
    stack: LocalStack, mail: dict[str, Any], event_type: str, at: datetime, section: dict[str, Any]
) -> dict[str, Any]:
    stamp = to_stored_ms(at)
    configuration_set = mail["tags"]["ses:configuration-set"][0]
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{mail['messageId']}/{event_type}/{stamp}")),
        "detail-type": _DETAIL_TYPES[event_type],
        "source": "aws.ses",
        "account": ACCOUNT_ID,
        "time": (at.replace(microsecond=0) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": stack.region,
        "resources": [f"arn:aws:ses:{stack.region}:{ACCOUNT_ID}:configuration-set/{configuration_set}"],
        "detail": {"eventType": event_type, "mail": mail, event_type.lower(): section},
    }
