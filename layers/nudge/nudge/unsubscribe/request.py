"""Bounded reading of what anyone on the internet can send to the public unsubscribe URL.

Sizes are checked on the raw event before anything is decoded, and fields are counted before they are
parsed, so no request can make the function do more than a few kilobytes of work. Whatever is malformed raises
:class:`MalformedRequestError` with a fixed ``reason`` label: safe to log, as it never holds a token,
a customer id or a byte of the body. The endpoint answers it with 400 and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
from email.parser import BytesParser
from urllib.parse import parse_qs, parse_qsl

# The one-click body is 26 bytes and our own confirmation form 10: a few kilobytes leave room for
# whatever a mailbox provider adds, and nothing more.
MAX_BODY_BYTES = 8 * 1024
MAX_FORM_FIELDS = 10
# Our links carry one parameter, a token of about a hundred characters (tokens.verify refuses more
# than 1,024).
MAX_QUERY_CHARS = 2048
MAX_QUERY_FIELDS = 10

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MULTIPART_CONTENT_TYPE = "multipart/form-data"
# Base64 turns every 3 bytes into 4 characters.
_MAX_BASE64_CHARS = 4 * -(-MAX_BODY_BYTES // 3)


class MalformedRequestError(Exception):
    """A request the endpoint refuses with 400; ``reason`` is a fixed label, never request data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def token_from_query(raw_query: str) -> str:
    """The ``token`` query parameter ("" when there is none); more than one is malformed.

    Reads ``rawQueryString``: ``queryStringParameters`` joins repeated values with commas, which would
    hide a repeated token.
    """
    if len(raw_query) > MAX_QUERY_CHARS:
        raise MalformedRequestError("query_too_long")
    if raw_query and raw_query.count("&") + 1 > MAX_QUERY_FIELDS:
        raise MalformedRequestError("too_many_query_fields")
    values = [
        value
        for name, value in parse_qsl(raw_query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
        if name == "token"
    ]
    if len(values) > 1:
        raise MalformedRequestError("repeated_token")
    return values[0] if values else ""


def form_fields(body: str | None, base64_encoded: bool, content_type: str | None) -> dict[str, list[str]]:
    """The fields of a form body, as ``parse_qs`` returns them.

    ``application/x-www-form-urlencoded`` (what Gmail and Yahoo send) and ``multipart/form-data``
    (RFC 8058's own example) are read; a request without a Content-Type is read as the former; any
    other media type is refused.
    """
    media_type = (content_type or FORM_CONTENT_TYPE).partition(";")[0].strip().lower()
    if media_type not in (FORM_CONTENT_TYPE, MULTIPART_CONTENT_TYPE):
        raise MalformedRequestError("unsupported_content_type")
    if not body:
        return {}
    if base64_encoded:
        if len(body) > _MAX_BASE64_CHARS:
            raise MalformedRequestError("body_too_large")
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):  # ValueError: a str with non-ASCII characters
            raise MalformedRequestError("invalid_base64") from None
    else:
        if len(body) > MAX_BODY_BYTES:  # characters: never more than the bytes they encode to
            raise MalformedRequestError("body_too_large")
        try:
            data = body.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            raise MalformedRequestError("body_not_utf8") from None
    if len(data) > MAX_BODY_BYTES:
        raise MalformedRequestError("body_too_large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequestError("body_not_utf8") from None
    if media_type == MULTIPART_CONTENT_TYPE:
        return _multipart_fields(data, str(content_type))
    # parse_qs counts fields the same way and raises ValueError beyond the limit: refuse first.
    if text.count("&") + 1 > MAX_FORM_FIELDS:
        raise MalformedRequestError("too_many_form_fields")
    return parse_qs(text, max_num_fields=MAX_FORM_FIELDS)


def _multipart_fields(data: bytes, content_type: str) -> dict[str, list[str]]:
    """The text fields of a (size-checked) ``multipart/form-data`` body."""
    envelope = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + data
    message = BytesParser(policy=email.policy.HTTP).parsebytes(envelope)
    if not message.is_multipart() or message.defects:
        raise MalformedRequestError("invalid_multipart")
    parts = list(message.iter_parts())
    if len(parts) > MAX_FORM_FIELDS:
        raise MalformedRequestError("too_many_form_fields")
    fields: dict[str, list[str]] = {}
    for part in parts:
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.is_multipart():
            raise MalformedRequestError("invalid_multipart")
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            raise MalformedRequestError("invalid_multipart")
        try:
            value = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedRequestError("body_not_utf8") from None
        fields.setdefault(name, []).append(value.strip())
    return fields
