"""Builds the MIME message SES sends: a text part and an HTML alternative."""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from typing import Any

from nudge.rendering import RenderedEmail
from nudge.text import one_line

# RFC 5322's hard limit for a line, CRLF excluded.
MAX_HEADER_LINE = 998

# Headers whose value is a list of <URL>s that mailbox providers parse as such (RFC 2369, RFC 8058).
_URL_LIST_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post"})


class _WirePolicy(EmailPolicy):
    """SMTP's policy (CRLF, 78-character folding, RFC 2047 for non-ASCII), except for URL-list headers.

    The stdlib folds a header whose value has a token longer than a line by turning it into RFC 2047
    encoded-words: ``List-Unsubscribe: =?utf-8?q?=3Chttps...`` is not a ``<URL>`` to Gmail or Yahoo,
    and the one-click button never shows. Those headers are written as they are, on one line.
    """

    def fold(self, name: str, value: Any) -> str:
        if name.lower() in _URL_LIST_HEADERS:
            return _verbatim(name, str(value)) + self.linesep
        return str(super().fold(name, value))

    def fold_binary(self, name: str, value: Any) -> bytes:
        if name.lower() in _URL_LIST_HEADERS:
            return (_verbatim(name, str(value)) + self.linesep).encode("ascii")
        return bytes(super().fold_binary(name, value))


def _verbatim(name: str, value: str) -> str:
    line = f"{name}: {value}"
    if not line.isascii() or len(line) > MAX_HEADER_LINE:
        raise ValueError(f"{name} must be ASCII and fit one {MAX_HEADER_LINE}-character line")
    return line


WIRE_POLICY = _WirePolicy(linesep="\r\n")


def build_message(
    *,
    sender: str,
    recipient_name: str,
    recipient_email: str,
    email: RenderedEmail,
    sent_at: datetime,
    unsubscribe_url: str,
) -> EmailMessage:
    """The policy still refuses CR or LF in any header value, so no data can add a header."""
    message = EmailMessage(policy=WIRE_POLICY)
    message["From"] = sender
    local_part, _, domain = recipient_email.partition("@")
    message["To"] = Address(display_name=one_line(recipient_name), username=local_part, domain=domain)
    message["Subject"] = one_line(email.subject)
    message["Date"] = format_datetime(sent_at)
    # RFC 8058 one-click unsubscribe: mailbox providers POST "List-Unsubscribe=One-Click" to the URL.
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Quoted-printable keeps every line 7-bit clean, as SES recommends for non-ASCII content.
    message.set_content(email.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(email.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
