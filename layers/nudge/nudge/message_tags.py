"""The SES message tags every email carries, and how an SES event finds its delivery record by them.

SES returns the tags on every event it publishes for the message (delivery, open, click, bounce,
complaint), so an event finds the delivery it belongs to without looking anyone up by email address.
Tag values may only hold ``A-Za-z0-9_.@-`` (at most 256 characters), and our identities hold more
(``cart_91bc#2``, a lapse's timestamp), so the record's key travels losslessly as base64url of
``[customer_id, delivery_key]``, split over ``delivery``, ``delivery_2``, ... when it is long. The
readable ``trigger``, ``segment``, ``customer_id``, ``experiment`` and ``variant`` tags are for people
reading SES's console and for metric dimensions.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import NamedTuple

from nudge.outcome import Outcome, delivery_key

DELIVERY_TAG = "delivery"
TAG_VALUE_LIMIT = 256
# The longest reference, a lapse of a scheduled run (the customer id twice, a timestamp and the run
# id; ids of 256 UTF-8 bytes, nudge.events.MAX_ID_BYTES, each up to twice as long once JSON escapes
# its quotes and backslashes), takes nine parts; SES allows 50 tags per email.
MAX_DELIVERY_PARTS = 12


class DeliveryRef(NamedTuple):
    """The key of one delivery record (``nudge.dal.deliveries``)."""

    customer_id: str
    delivery_key: str


def _part_name(index: int) -> str:
    return DELIVERY_TAG if index == 0 else f"{DELIVERY_TAG}_{index + 1}"


def delivery_tags(ref: DeliveryRef) -> dict[str, str]:
    """The tags that carry ``ref``: base64url without padding, in parts of at most 256 characters."""
    raw = json.dumps([ref.customer_id, ref.delivery_key], separators=(",", ":"), ensure_ascii=False)
    encoded = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    parts = [encoded[start : start + TAG_VALUE_LIMIT] for start in range(0, len(encoded), TAG_VALUE_LIMIT)]
    if len(parts) > MAX_DELIVERY_PARTS:
        raise ValueError("the delivery record's key is too long to travel in message tags")
    return {_part_name(index): part for index, part in enumerate(parts)}


def delivery_ref(tags: Mapping[str, list[str]]) -> DeliveryRef | None:
    """The delivery record an SES event belongs to, or None when its tags do not name one (an email
    sent before the tag existed, or by another sender on the configuration set)."""
    parts: list[str] = []
    for index in range(MAX_DELIVERY_PARTS):
        values = tags.get(_part_name(index))
        if not values:
            break
        parts.append(values[0])
    if not parts:
        return None
    encoded = "".join(parts)
    try:
        decoded = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not (isinstance(decoded, list) and len(decoded) == 2 and all(isinstance(v, str) for v in decoded)):
        return None
    return DeliveryRef(customer_id=decoded[0], delivery_key=decoded[1])


CLAIM_TAG = "claim"


def send_tags(outcome: Outcome, claim_token: str | None = None) -> dict[str, str]:
    """The tags of the email ``outcome`` claims: its delivery record, the claim it was sent under
    (which attempt SES accepted), and readable dimensions."""
    readable = {
        "trigger": outcome.trigger,
        "segment": outcome.segment_id,
        # Bounce and complaint handling read customer_id for emails sent before the delivery tag.
        "customer_id": outcome.customer_id,
        "experiment": outcome.experiment_id,
        "variant": outcome.variant_id,
    }
    ref = DeliveryRef(outcome.customer_id, delivery_key(outcome.trigger, outcome.business_id))
    claim = {CLAIM_TAG: claim_token} if claim_token else {}
    return {**{name: value for name, value in readable.items() if value}, **claim, **delivery_tags(ref)}


def first_tag(tags: Mapping[str, list[str]], name: str) -> str | None:
    return next(iter(tags.get(name, [])), None)
