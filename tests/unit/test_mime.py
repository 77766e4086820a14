"""The MIME message a mail client receives."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest

from nudge.mime import build_message
from nudge.rendering import RenderedEmail

UNSUBSCRIBE_URL = "https://u.lambda-url.us-east-1.on.aws/?token=v1.YzE.sig"


def parse(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_message_has_text_and_html_alternatives_and_survives_non_ascii() -> None:
    rendered = RenderedEmail(
        subject="Gracias, María", html="<p>Lámpara 1.199,00 €</p>", text="Lámpara 1.199,00 €"
    )
    message = build_message(
        sender="Example Shop <hello@shop.example>",
        recipient_name="María García",
        recipient_email="maria@example.es",
        email=rendered,
        sent_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        unsubscribe_url=UNSUBSCRIBE_URL,
    )
    raw = message.as_bytes()
    # Every line is 7-bit clean on the wire.
    assert all(byte < 128 for byte in raw)

    received = parse(raw)
    assert received.get_content_type() == "multipart/alternative"
    assert received["Subject"] == "Gracias, María"
    assert received["To"].addresses[0].display_name == "María García"
    assert received["To"].addresses[0].addr_spec == "maria@example.es"
    assert received["From"].addresses[0].addr_spec == "hello@shop.example"
    # RFC 8058: the one-click unsubscribe pair of headers.
    assert received["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert text is not None and text.get_content().strip() == "Lámpara 1.199,00 €"
    assert html is not None and "<p>Lámpara 1.199,00 €</p>" in html.get_content()


def test_a_subject_with_a_line_break_cannot_add_headers() -> None:
    rendered = RenderedEmail(subject="Hi\r\nBcc: victim@example.com", html="<p>x</p>", text="x")
    with pytest.raises(ValueError, match=r"linefeed|carriage return"):
        build_message(
            sender="Shop <hello@shop.example>",
            recipient_name="A",
            recipient_email="a@example.com",
            email=rendered,
            sent_at=datetime(2026, 11, 23, tzinfo=UTC),
            unsubscribe_url=UNSUBSCRIBE_URL,
        )
