"""Builds the MIME message SES sends: a text part and an HTML alternative."""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from nudge.rendering import RenderedEmail


def build_message(
    *, sender: str, recipient_name: str, recipient_email: str, email: RenderedEmail, sent_at: datetime
) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    local_part, _, domain = recipient_email.partition("@")
    message["To"] = Address(display_name=recipient_name, username=local_part, domain=domain)
    message["Subject"] = email.subject
    message["Date"] = format_datetime(sent_at)
    # Quoted-printable keeps every line 7-bit clean, as SES recommends for non-ASCII content.
    message.set_content(email.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(email.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
