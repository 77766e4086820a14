"""The offer box's wording comes from the segment's row (``offer_wording``), never from its id: a new
segment gets its offer from its data, and rows written before the field existed read as they did."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from local_stack.emulator.scenario import SampleEvent, load_sample_rows
from local_stack.emulator.stack import REPO_ROOT
from nudge.profiles import LEGACY_OFFER_WORDINGS, Customer, OfferWording, Segment
from nudge.rendering import RenderedEmail
from nudge.sending.case import EmailCase, Recipient
from nudge.sending.compose import render_for
from nudge.settings import Settings
from nudge.triggers import ORDER_PLACED

PARTIALS = REPO_ROOT / "templates" / "_partials"
HEADINGS: dict[str, str | None] = {
    "vip_perks": "Your VIP perks",
    "welcome_back": "Your welcome-back offer",
    "missed_you": "We have missed you",
    "welcome_gift": "A welcome gift",
    "thank_you": "Thanks for being a regular",
    "plain": None,
}
SENTENCES = {
    "vip_perks": "As one of our best customers, you get 12% off.",
    "welcome_back": "A lot has changed since your last visit. Take 12% off your first order back.",
    "missed_you": "Come back for 12% off your next order.",
    "welcome_gift": "Enjoy 12% off your next order.",
    "thank_you": "Here is 12% off as a thank-you.",
    "plain": "Take 12% off your next order.",
}


def order_email(samples: dict[str, SampleEvent], settings: Settings, segment: Segment) -> RenderedEmail:
    """A repeat order's thank-you: no heading of an offer box in its own copy."""
    detail = ORDER_PLACED.parse(samples["order_placed/repeat_order_maria.json"].event)
    customer = Customer(
        customer_id="c1",
        email="sam@example.com",
        first_name="Sam",
        locale="en-US",
        marketing_consent=True,
        segment_id=segment.segment_id,
        order_count=3,
        total_spent=Decimal(300),
    )
    return render_for(
        EmailCase(ORDER_PLACED, detail, settings), Recipient(customer, segment, "https://u.example/?token=t")
    )


def a_segment(**fields: Any) -> Segment:
    return Segment.model_validate({"name": "A segment", "discount_percent": 12, **fields})


def test_every_wording_the_model_allows_is_one_the_partials_know() -> None:
    assert set(get_args(OfferWording)) == set(HEADINGS)


@pytest.mark.parametrize("wording", sorted(HEADINGS))
def test_a_new_segment_gets_the_wording_its_row_names(
    wording: str, samples: dict[str, SampleEvent], settings: Settings
) -> None:
    # Given a segment no template has heard of, whose row names a wording
    segment = a_segment(segment_id="vip_germany", offer_wording=wording)

    email = order_email(samples, settings, segment)

    for body in (email.html, email.text):
        heading = HEADINGS[wording]
        if heading is not None:
            assert heading.lower() in body.lower()
        others = [other for name, other in HEADINGS.items() if other and name != wording]
        assert not any(other.lower() in body.lower() for other in others)
        assert SENTENCES[wording] in " ".join(body.split())


def test_the_partials_never_name_a_segment() -> None:
    for partial in ("offer.html.j2", "offer.txt.j2"):
        source = (PARTIALS / partial).read_text()
        assert "segment_id" not in source
        for row in load_sample_rows("segments"):
            assert f'"{row["segment_id"]}"' not in source


def test_a_row_written_before_the_field_existed_keeps_its_wording(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    # Given the rows of the sample segments as they were stored before offer_wording
    for segment_id, wording in LEGACY_OFFER_WORDINGS.items():
        old_row = a_segment(segment_id=segment_id)
        assert old_row.offer_wording == wording
    # A segment the old templates gave no wording of its own reads plainly, as it did
    assert a_segment(segment_id="engaged_non_purchasers").offer_wording == "plain"
    # A row's own wording wins over its id
    assert a_segment(segment_id="vip", offer_wording="plain").offer_wording == "plain"
    email = order_email(samples, settings, a_segment(segment_id="vip", offer_wording="plain"))
    assert "Your VIP perks" not in email.html and SENTENCES["plain"] in " ".join(email.text.split())


def test_an_unknown_wording_is_refused_naming_the_field_and_the_wordings() -> None:
    with pytest.raises(ValidationError) as refused:
        a_segment(segment_id="vip", offer_wording="gold")
    (problem,) = refused.value.errors()
    assert problem["loc"] == ("offer_wording",)
    assert "'vip_perks'" in problem["msg"] and "'plain'" in problem["msg"]


def test_the_sample_segments_name_their_wording() -> None:
    rows = {row["segment_id"]: row for row in load_sample_rows("segments")}
    offered = [row for row in rows.values() if row.get("discount_percent") or row.get("perks")]
    assert offered and all("offer_wording" in row for row in offered)


def test_no_template_names_a_segment() -> None:
    # A new segment gets its wording from its row: no template may branch on a segment's id
    templates = Path(__file__).resolve().parents[2] / "templates"
    naming = [str(path) for path in templates.rglob("*.j2") if "segment_id" in path.read_text()]
    assert naming == []
