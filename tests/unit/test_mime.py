"""The MIME message a mail client receives."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.parser import BytesParser
from email.utils import parseaddr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nudge.mime import build_message
from nudge.rendering import RenderedEmail
from nudge.text import one_line

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
    raw = message.data
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
    return message.data


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


# ---- Every message, parsed back strictly, is exactly what was meant ---------------------------------

STRICT = email.policy.default.clone(raise_on_defect=True)
HEADER_NAMES = [
    "From",
    "To",
    "Subject",
    "Date",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
]
SENT_AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def strictly_parsed(raw: bytes) -> email.message.EmailMessage:
    message = BytesParser(policy=STRICT).parsebytes(raw)
    assert isinstance(message, email.message.EmailMessage)
    return message


def rfc2047_display_name(raw: bytes) -> str:
    """The To display name as RFC 2047 reads it: the white space between two adjacent encoded-words
    is dropped (the stdlib's address parser keeps one space there)."""
    value = next(line for line in unfolded_headers(raw) if line.startswith("To: "))[4:]
    phrase = value.rpartition(" <")[0] if value.endswith(">") else ""
    if phrase.startswith('"'):
        return re.sub(r"\\(.)", r"\1", phrase[1:-1])
    decoded: list[str] = []
    previous_encoded = False
    for word in phrase.split(" ") if phrase else []:
        encoded = word.startswith("=?") and word.endswith("?=")
        text = str(make_header(decode_header(word))) if encoded else word
        decoded.append(text if (encoded and previous_encoded) or not decoded else " " + text)
        previous_encoded = encoded
    return "".join(decoded)


def unfolded_headers(raw: bytes) -> list[str]:
    head, _, _ = raw.partition(b"\r\n\r\n")
    return head.decode("ascii").replace("\r\n ", " ").split("\r\n")


def assert_round_trip(**meant: str) -> None:
    """Build the message from ``meant``, then check it arrives exactly so."""
    assert_received_as_meant(message_bytes(**meant), **meant)


def assert_received_as_meant(
    raw: bytes, *, sender: str, recipient_name: str, subject: str, text: str, html: str, url: str
) -> None:
    # 7-bit clean, CRLF only, and no line longer than RFC 5322 allows (78, but the verbatim pair).
    assert raw.isascii()
    assert b"\r" not in raw.replace(b"\r\n", b"") and b"\n" not in raw.replace(b"\r\n", b"")
    lines = header_lines(raw)
    assert all(len(line) <= 78 for line in lines if not line.startswith("List-Unsubscribe"))
    received = strictly_parsed(raw)
    # No data can add, drop or reorder a header.
    assert list(received.keys()) == HEADER_NAMES
    assert received["From"].addresses[0].addr_spec == parseaddr(sender)[1]
    assert received["From"].addresses[0].display_name == parseaddr(sender)[0]
    (to,) = received["To"].addresses
    assert to.addr_spec == "ada@example.com"
    assert rfc2047_display_name(raw) == one_line(recipient_name)
    if "?= =?" not in next(line for line in unfolded_headers(raw) if line.startswith("To: ")):
        assert to.display_name == one_line(recipient_name)
    assert received["Subject"] == one_line(subject)
    assert received["Date"].datetime == SENT_AT
    assert f"List-Unsubscribe: <{url}>" in lines
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines
    assert received.get_content_type() == "multipart/alternative"
    plain, rich = received.iter_parts()
    for part, subtype, body in ((plain, "plain", text), (rich, "html", html)):
        assert part.get_content_type() == f"text/{subtype}"
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        # Line breaks arrive as the wire has them, CRLF (a lone CR or LF is a line break too).
        assert part.get_content() == re.sub(r"\r\n|\r|\n", "\r\n", body)


def message_bytes(*, sender: str, recipient_name: str, subject: str, text: str, html: str, url: str) -> bytes:
    return build_message(
        sender=sender,
        recipient_name=recipient_name,
        recipient_email="ada@example.com",
        email=RenderedEmail(subject=subject, html=html, text=text),
        sent_at=SENT_AT,
        unsubscribe_url=url,
    ).data


NAMES_AND_SUBJECTS = [
    "Ada Lovelace",
    "María García",
    'Ada "The Countess" Lovelace',
    "Lovelace, Ada <ada@evil.example>",
    "=?utf-8?q?Bcc=3A_victim=40example=2Ecom?=",
    "=?utf-8?b?QmNjOg==?= looks encoded",
    "Ada\\ backslash",
    "山田太郎" * 12,
    "👩‍💻 Ada 🎉🎉🎉",
    "שלום עולם مرحبا بالعالم",
    "x" * 200,
    "Stühle Küchen Lampen Größe Übergröße Ärger Öl " * 4,
    "(comment) [literal] ;:.@",
    "Ada\r\nBcc: victim@example.com\x00",
    "",
]


@pytest.mark.parametrize("value", NAMES_AND_SUBJECTS, ids=repr)
def test_hostile_and_non_ascii_names_and_subjects_arrive_exactly(value: str) -> None:
    text = "Line one\n.leading dot\ntrailing spaces   \n" + "long " * 60 + "\n"
    html = "<p>" + "é" * 300 + "</p>\n<p>=?utf-8?q?x?= =3D --=_ boundary-like</p>"
    assert_round_trip(
        sender="Example Shop <hello@shop.example>",
        recipient_name=value,
        subject=value,
        text=text,
        html=html,
        url=REAL_LENGTH_URL,
    )


def test_the_boundary_is_fresh_for_every_message_and_never_in_a_body() -> None:
    first, second = (build() for _ in range(2))
    boundaries = [strictly_parsed(raw).get_boundary() for raw in (first, second)]
    assert boundaries[0] != boundaries[1]
    assert all(boundary and boundary.startswith("=_") for boundary in boundaries)


def test_an_internationalised_domain_is_written_in_its_ascii_form() -> None:
    message = build_message(
        sender="Shop <hello@shop.example>",
        recipient_name="Jörg",
        recipient_email="joerg@bücher.example",
        email=RenderedEmail(subject="Hallo", html="<p>x</p>", text="x"),
        sent_at=SENT_AT,
        unsubscribe_url=REAL_LENGTH_URL,
    )
    assert message.recipients == ("joerg@xn--bcher-kva.example",)
    assert strictly_parsed(message.data)["To"].addresses[0].addr_spec == "joerg@xn--bcher-kva.example"


@pytest.mark.parametrize("address", ["müller@example.de", '"a b"@example.com', "a<b>@example.com"])
def test_an_address_that_cannot_be_written_plainly_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="addr-spec"):
        build_message(
            sender="Shop <hello@shop.example>",
            recipient_name="X",
            recipient_email=address,
            email=RenderedEmail(subject="s", html="h", text="t"),
            sent_at=SENT_AT,
            unsubscribe_url=REAL_LENGTH_URL,
        )


HOSTILE_CHARACTERS = st.characters(codec="utf-8")  # any character UTF-8 can carry
HOSTILE_FRAGMENTS = st.sampled_from(
    ['"', "\\", ",", "<", ">", "@", ":", ";", "=?", "?=", "=?utf-8?q?", "\r\n", "\n", "\r", "\x00", " ", "\t"]
)
hostile_text = st.lists(
    st.one_of(st.text(HOSTILE_CHARACTERS, max_size=30), HOSTILE_FRAGMENTS), max_size=12
).map("".join)
body_line = st.one_of(
    st.text(HOSTILE_CHARACTERS, max_size=200),
    st.sampled_from([".", "..", ".x", "From here", "trailing   ", "tab\t", "=", "--=_x", " "]),
)
body = st.lists(body_line, max_size=20).map("\n".join)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(name=hostile_text, subject=hostile_text, text=body, html=body)
def test_fuzzed_names_subjects_and_bodies_arrive_exactly_and_add_no_header(
    name: str, subject: str, text: str, html: str
) -> None:
    assert_round_trip(
        sender="Example Shop <hello@shop.example>",
        recipient_name=name,
        subject=subject,
        text=text,
        html=html,
        url=REAL_LENGTH_URL,
    )
