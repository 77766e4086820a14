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


# As long as a real one: a 32-character Lambda URL id, and a token for a 40-character customer id.
REAL_LENGTH_URL = (
    "https://3kq7vxm2c5y4hb6nrt8wpj9dfzlsa1ue.lambda-url.eu-west-1.on.aws/"
    "?token=v1.Y3VzdG9tZXItN2YzYTljMmUtNGIxZC00ZDZhLWE4ZjAtOWMzZTJiMWQ."
    "x8Qp3m0y0m3vLZc2y2oZ0aG4h1n3pXvYwq2bS6tJd9E"
)


def build(
    *,
    subject: str = "Your cart",
    recipient_name: str = "Ada Lovelace",
    sender: str = "Shop <hello@shop.example>",
    unsubscribe_url: str = REAL_LENGTH_URL,
) -> bytes:
    message = build_message(
        sender=sender,
        recipient_name=recipient_name,
        recipient_email="ada@example.com",
        email=RenderedEmail(subject=subject, html="<p>x</p>", text="x"),
        sent_at=datetime(2026, 11, 23, tzinfo=UTC),
        unsubscribe_url=unsubscribe_url,
    )
    return message.as_bytes()


def header_lines(raw: bytes) -> list[str]:
    """The top-level header block as it is on the wire, folded lines kept apart."""
    head, _, _ = raw.partition(b"\r\n\r\n")
    return head.decode("ascii").split("\r\n")


def test_list_unsubscribe_is_a_plain_url_on_the_wire_however_long() -> None:
    raw = build()
    # Mailbox providers read <URL>: an RFC 2047 encoded-word here hides the one-click button.
    assert f"List-Unsubscribe: <{REAL_LENGTH_URL}>" in header_lines(raw)
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in header_lines(raw)
    assert len(f"List-Unsubscribe: <{REAL_LENGTH_URL}>") > 78  # the case the stdlib's SMTP policy encodes


def test_other_headers_fold_at_78_and_stay_readable() -> None:
    long_sender = "Example Shop \u2014 the finest goods for every home in the wide world <hello@shop.example>"
    raw = build(sender=long_sender, subject="Ihr Warenkorb wartet: 15 % Rabatt auf Lampen, Stühle und Küchen")
    lines = header_lines(raw)
    assert all(len(line) <= 78 for line in lines if not line.startswith("List-Unsubscribe"))
    received = parse(raw)
    assert received["From"].addresses[0].display_name == long_sender.split(" <")[0]
    assert received["From"].addresses[0].addr_spec == "hello@shop.example"
    # Non-ASCII subjects are still RFC 2047 on the wire, and decode to what was meant.
    assert any(line.startswith("Subject: ") and "=?utf-8?" in line for line in lines)
    assert received["Subject"] == "Ihr Warenkorb wartet: 15 % Rabatt auf Lampen, Stühle und Küchen"


HOSTILE = [
    "Ada\r\nBcc: victim@example.com",
    "Ada\nBcc: victim@example.com",
    "Ada\rBcc: victim@example.com",
    "Ada\u2028Bcc: victim@example.com",
    "Ada\x0bBcc:\x0cvictim@example.com\x00",
    "Ada\x85Bcc: victim@example.com\t",
]


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_no_name_or_subject_from_data_can_add_a_header_and_the_email_still_goes(value: str) -> None:
    # A first name imported from a CSV with a stray line break: the customer still gets the email.
    raw = build(subject=f"Hi {value}", recipient_name=value)
    names = [line.split(":", 1)[0] for line in header_lines(raw) if not line.startswith(" ")]
    assert "Bcc" not in names
    received = parse(raw)
    assert received["To"].addresses[0].display_name == "Ada Bcc: victim@example.com"
    assert received["Subject"] == "Hi Ada Bcc: victim@example.com"


def test_a_url_with_a_line_break_is_refused_not_written() -> None:
    with pytest.raises(ValueError, match=r"linefeed|carriage return"):
        build(unsubscribe_url="https://u.example/?t=1\r\nBcc: victim@example.com")


def test_a_url_too_long_for_one_line_is_refused_rather_than_encoded() -> None:
    with pytest.raises(ValueError, match="List-Unsubscribe"):
        build(unsubscribe_url="https://u.example/?t=" + "x" * 1000)
