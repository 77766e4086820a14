"""Builds the MIME message SES sends: a text part and an HTML alternative."""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from nudge.rendering import RenderedEmail


def build_message(
    *,
    sender: str,
    recipient_name: str,
    recipient_email: str,
    email: RenderedEmail,
    sent_at: datetime,
    unsubscribe_url: str,
) -> EmailMessage:
    """The policy refuses CR or LF in any header value, so no data can add a header."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    local_part, _, domain = recipient_email.partition("@")
    message["To"] = Address(display_name=recipient_name, username=local_part, domain=domain)
    message["Subject"] = email.subject
    message["Date"] = format_datetime(sent_at)
    # RFC 8058 one-click unsubscribe: mailbox providers POST "List-Unsubscribe=One-Click" to the URL.
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Quoted-printable keeps every line 7-bit clean, as SES recommends for non-ASCII content.
    message.set_content(email.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(email.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
