"""Writes each email SES accepted as an .eml file (full MIME) and its HTML part, for people to open."""

from __future__ import annotations

import email
import email.policy
import shutil
from collections.abc import Iterable
from email.message import EmailMessage
from pathlib import Path

from nudge.outcome import Outcome


def parse_email(raw: str) -> EmailMessage:
    """A raw message as a mail client reads it."""
    message = email.message_from_string(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def write_outbox(directory: Path, sent: Iterable[Outcome], raw_by_message_id: dict[str, str]) -> list[Path]:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    written = []
    for number, outcome in enumerate(sent, start=1):
        raw = raw_by_message_id[str(outcome.message_id)]
        stem = directory / f"{number:02d}-{outcome.trigger}-{outcome.customer_id}"
        stem.with_suffix(".eml").write_text(raw, encoding="utf-8")
        html_part = parse_email(raw).get_body(preferencelist=("html",))
        if html_part is not None:
            stem.with_suffix(".html").write_text(html_part.get_content(), encoding="utf-8")
        written.append(stem.with_suffix(".eml"))
    return written
