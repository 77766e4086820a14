"""Writes the MIME message SES sends, as bytes: a text part and an HTML alternative.

Written directly rather than through ``email.message.EmailMessage``: its header objects, folding and
pure-Python quoted-printable cost about 1 ms per email, more than rendering it. What is written is a
small fixed shape, so each rule the stdlib would apply is applied here on purpose:

- every header line is ASCII, at most 78 characters (folded at spaces); a value that is not plain
  ASCII words (non-ASCII, a word too long for a line, or anything a reader would decode as an
  RFC 2047 encoded-word) is written as RFC 2047 "Q" encoded-words of whole characters;
- a display name with RFC 5322 specials is a quoted-string; one from data first goes through
  ``one_line``, and any header value still holding a control character is refused, so no data can
  add a header;
- ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` are written verbatim on one line (mailbox
  providers parse ``<URL>``; an encoded-word there hides the one-click button);
- both bodies are UTF-8 in quoted-printable (``binascii.b2a_qp``, C) with CRLF line breaks, and the
  boundary holds ``=_``, which quoted-printable output never contains.

tests/unit/test_mime.py parses every message back with the stdlib's strict parser.
"""

from __future__ import annotations

import binascii
import re
import secrets
from datetime import datetime
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from typing import NamedTuple

from nudge.rendering import RenderedEmail
from nudge.text import one_line

# RFC 5322's hard limit for a line, CRLF excluded.
MAX_HEADER_LINE = 998
# RFC 5322's recommended limit, which every other header keeps to.
FOLD_AT = 78
# RFC 2047: an encoded-word is at most 75 characters.
MAX_ENCODED_WORD = 75
CRLF = "\r\n"

_ENCODED_WORD_START = "=?utf-8?q?"
_ENCODED_WORD_END = "?="
# RFC 2047 section 5(3): the characters an encoded-word in a phrase may carry as they are.
_Q_LITERAL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
# RFC 5322 atext: a word of a display name written as it is; with spaces, a name that needs no quoting.
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_PLAIN_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
# A word of an unstructured header (Subject) written as it is.
_PRINTABLE_WORD = re.compile(r"[!-~]*")
# What a header value may hold once it is one line: printable ASCII, or any non-ASCII character that
# is not a control or line break (those are what nudge.text.one_line collapses).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LINE_BREAK = re.compile(r"\r\n|\r")
# An addr-spec we can write without quoting: a dot-atom local part, and a domain of ASCII labels
# (an internationalised domain is written in its IDNA form first).
_ADDR_SPEC = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


class WireMessage(NamedTuple):
    """What SES's SendEmail takes for a raw email: the bytes, and the envelope's two addresses."""

    data: bytes
    sender: str
    recipients: tuple[str, ...]


def build_message(
    *,
    sender: str,
    recipient_name: str,
    recipient_email: str,
    email: RenderedEmail,
    sent_at: datetime,
    unsubscribe_url: str,
) -> WireMessage:
    """The message as SES receives it. ``sender`` is a mailbox (``Shop <hello@shop.example>``) from
    the settings; the recipient's name and the subject come from data and are made one line first."""
    recipient = _ascii_address("To", recipient_email)
    boundary = f"=_{secrets.token_hex(16)}"
    head = "".join(
        (
            _from_header(sender),
            _mailbox_header("To", one_line(recipient_name), recipient),
            _unstructured_header("Subject", one_line(email.subject)),
            f"Date: {format_datetime(sent_at)}{CRLF}",
            # RFC 8058 one-click unsubscribe: mailbox providers POST "List-Unsubscribe=One-Click".
            _verbatim("List-Unsubscribe", f"<{unsubscribe_url}>"),
            _verbatim("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            "MIME-Version: 1.0",
            CRLF,
            f'Content-Type: multipart/alternative;{CRLF} boundary="{boundary}"{CRLF}',
            CRLF,
        )
    )
    data = b"".join(
        (
            head.encode("ascii"),
            _part(boundary, "plain", email.text),
            _part(boundary, "html", email.html),
            f"--{boundary}--{CRLF}".encode("ascii"),
        )
    )
    return WireMessage(data=data, sender=sender, recipients=(recipient,))


def _part(boundary: str, subtype: str, body: str) -> bytes:
    # Quoted-printable keeps every line 7-bit clean, as SES recommends for non-ASCII content. Its line
    # breaks are CRLF: a lone CR is a line break too (as str.splitlines has it), never a bare CR.
    wire_body = _LINE_BREAK.sub("\n", body).replace("\n", CRLF).encode("utf-8")
    headers = (
        f"--{boundary}{CRLF}"
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
    )
    encoded = binascii.b2a_qp(wire_body, istext=True)
    if b"\n" not in wire_body:
        # b2a_qp ends its soft line breaks as the body's first line ends, and LF when it has none.
        encoded = encoded.replace(b"\n", b"\r\n")
    return b"".join((headers.encode("ascii"), encoded, CRLF.encode()))


def _verbatim(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{name} must not contain a carriage return or linefeed")
    line = f"{name}: {value}"
    if not line.isascii() or not line.isprintable() or len(line) > MAX_HEADER_LINE:
        raise ValueError(f"{name} must be printable ASCII and fit one {MAX_HEADER_LINE}-character line")
    return line + CRLF


@lru_cache(maxsize=16)
def _parsed_sender(sender: str) -> tuple[str, str]:
    name, address = parseaddr(sender)
    if not address:
        raise ValueError(f"the sender {sender!r} is not a mailbox")
    return name, address


@lru_cache(maxsize=16)
def _from_header(sender: str) -> str:
    """The sender is the same for every email of a function: written once."""
    name, address = _parsed_sender(sender)
    return _mailbox_header("From", name, address)


def _mailbox_header(name: str, display_name: str, address: str) -> str:
    address = _ascii_address(name, address)
    _refuse_controls(name, display_name)
    if not display_name:
        return f"{name}: {address}{CRLF}"
    angle_address = f"<{address}>"
    if display_name.isascii() and "=?" not in display_name and not _PLAIN_PHRASE.fullmatch(display_name):
        line = f"{name}: {_quoted(display_name)} {angle_address}"
        if len(line) <= FOLD_AT:
            return line + CRLF
    return _folded(name, [*_words(name, display_name, _ATOM), angle_address])


def _unstructured_header(name: str, value: str) -> str:
    _refuse_controls(name, value)
    return _folded(name, _words(name, value, _PRINTABLE_WORD))


def _words(name: str, value: str, plain: re.Pattern[str]) -> list[str]:
    """The value's words, each as it is when ``plain`` matches it and it fits a line, else in
    encoded-words. Consecutive encoded words share encoded-words with their spaces inside: RFC 2047
    readers drop the white space between two encoded-words, and the stdlib's address parser keeps it
    (as one space), so keeping them together reads the same to both when a run fits one word."""
    longest = FOLD_AT - len(name) - 3
    words: list[str] = []
    run: list[str] = []
    for word in value.split(" "):
        if plain.fullmatch(word) and len(word) <= longest and "=?" not in word:
            if run:
                words += _encoded_words(" ".join(run), longest)
                run = []
            words.append(word)
        else:
            run.append(word)
    if run:
        words += _encoded_words(" ".join(run), longest)
    return words


def _ascii_address(name: str, address: str) -> str:
    local_part, _, domain = address.rpartition("@")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as error:
            raise ValueError(f"{name} address {address!r} has an invalid domain") from error
        address = f"{local_part}@{domain}"
    if not _ADDR_SPEC.fullmatch(address):
        # A quoted or non-ASCII local part needs quoting or SMTPUTF8, which no address we send to uses.
        raise ValueError(f"{name} address {address!r} is not a plain ASCII addr-spec")
    return address


def _quoted(display_name: str) -> str:
    escaped = display_name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _refuse_controls(name: str, value: str) -> None:
    if _CONTROL.search(value):
        raise ValueError(f"{name} must be one line without control characters")


def _folded(name: str, words: list[str]) -> str:
    """``Name:`` and the words, a space between each, broken before a word that would pass 78."""
    lines = [f"{name}:"]
    for word in words:
        if len(lines[-1]) + 1 + len(word) > FOLD_AT:
            lines.append("")
        lines[-1] += " " + word
    return CRLF.join(lines) + CRLF


def _encoded_words(value: str, longest: int) -> list[str]:
    """``value`` as RFC 2047 Q encoded-words of whole characters (a UTF-8 sequence is never split
    between two words), each at most ``longest`` characters, so one fits even the header's first line."""
    room = min(MAX_ENCODED_WORD, longest) - len(_ENCODED_WORD_START) - len(_ENCODED_WORD_END)
    words: list[str] = []
    current = ""
    for character in value:
        encoded = _q_encoded(character)
        if current and len(current) + len(encoded) > room:
            words.append(_ENCODED_WORD_START + current + _ENCODED_WORD_END)
            current = ""
        current += encoded
    words.append(_ENCODED_WORD_START + current + _ENCODED_WORD_END)
    return words


@lru_cache(maxsize=4096)
def _q_encoded(character: str) -> str:
    if character == " ":
        return "_"
    return "".join(chr(byte) if byte in _Q_LITERAL else f"={byte:02X}" for byte in character.encode())
