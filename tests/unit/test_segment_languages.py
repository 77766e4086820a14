"""A segment's perks and offer title as the store wrote them per language: an email lists its copy's
language's perks and heading, and falls back to the stored perks and the wording's own heading."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from local_stack.emulator.scenario import SampleEvent
from nudge.profiles import Customer, Segment
from nudge.rendering import RenderedEmail
from nudge.sending.case import EmailCase, Recipient
from nudge.sending.compose import render_for
from nudge.settings import Settings
from nudge.triggers import ORDER_PLACED

PERKS = ["Early access to new collections", "Extended 60-day returns"]
SPANISH_PERKS = ["Acceso anticipado a las nuevas colecciones", "Devoluciones ampliadas a 60 días"]


def a_vip_segment(**fields: Any) -> Segment:
    return Segment.model_validate(
        {
            "segment_id": "vip",
            "name": "VIP",
            "discount_percent": 15,
            "perks": PERKS,
            "offer_wording": "vip_perks",
            **fields,
        }
    )


def order_email(
    samples: dict[str, SampleEvent], settings: Settings, segment: Segment, locale: str
) -> RenderedEmail:
    detail = ORDER_PLACED.parse(samples["order_placed/repeat_order_maria.json"].event)
    customer = Customer(
        customer_id="c1",
        email="sam@example.com",
        first_name="Sam",
        locale=locale,
        marketing_consent=True,
        segment_id=segment.segment_id,
        order_count=6,
        total_spent=Decimal(1500),
    )
    return render_for(
        EmailCase(ORDER_PLACED, detail, settings), Recipient(customer, segment, "https://u.example/?token=t")
    )


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("locale", ["es-ES", "es-MX", "es"])
def test_a_spanish_email_lists_the_perks_the_store_wrote_in_spanish(
    locale: str, samples: dict[str, SampleEvent], settings: Settings
) -> None:
    segment = a_vip_segment(perks_by_language={"es": SPANISH_PERKS})

    email = order_email(samples, settings, segment, locale)

    for body in (email.html, email.text):
        assert all(perk in flat(body) for perk in SPANISH_PERKS)
        assert not any(perk in flat(body) for perk in PERKS)


def test_a_language_the_store_wrote_no_perks_in_lists_the_stored_perks(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    segment = a_vip_segment(perks_by_language={"es": SPANISH_PERKS})

    email = order_email(samples, settings, segment, "de-DE")

    for body in (email.html, email.text):
        assert all(perk in flat(body) for perk in PERKS)
        assert not any(perk in flat(body) for perk in SPANISH_PERKS)


def test_a_regional_entry_serves_its_language_when_the_language_has_none(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    segment = a_vip_segment(perks_by_language={"es-MX": ["Envío gratis en todo México"]})

    email = order_email(samples, settings, segment, "es-ES")

    assert "Envío gratis en todo México" in email.text


def test_an_empty_list_means_no_perks_in_that_language(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    segment = a_vip_segment(perks_by_language={"fr": []})

    email = order_email(samples, settings, segment, "fr-FR")

    assert not any(perk in flat(email.text) for perk in PERKS)
    assert "15" in email.text  # the offer box stays: it has a discount


def test_the_offer_title_the_store_wrote_replaces_the_wordings_heading_in_that_language_only(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    segment = a_vip_segment(offer_titles={"de": "Deine Vorteile als Stammkundin"})

    german = order_email(samples, settings, segment, "de-DE")
    english = order_email(samples, settings, segment, "en-US")

    assert ">Deine Vorteile als Stammkundin</h2>" in german.html
    assert "DEINE VORTEILE ALS STAMMKUNDIN" in german.text
    assert "Deine VIP-Vorteile" not in german.html
    assert "Your VIP perks" in english.html
    assert "Stammkundin" not in english.html + english.text


def test_a_plain_segment_gets_a_heading_only_where_the_store_wrote_one(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    segment = a_vip_segment(offer_wording="plain", offer_titles={"fr": "Votre cadeau"})

    assert ">Votre cadeau</h2>" in order_email(samples, settings, segment, "fr-FR").html
    english_box = order_email(samples, settings, segment, "en-US").html.split("offer-body")[1]
    assert "</h2>" not in english_box.split("</table>")[0]


def test_store_text_is_escaped_in_the_html(samples: dict[str, SampleEvent], settings: Settings) -> None:
    segment = a_vip_segment(
        offer_titles={"en": "<script>x</script>"}, perks_by_language={"en": ["<b>bold</b>"]}
    )

    email = order_email(samples, settings, segment, "en-US")

    assert "<script>" not in email.html
    assert "<b>bold</b>" not in email.html


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"perks_by_language": {"Spanish": ["x"]}}, "perks_by_language"),
        ({"offer_titles": {"de": "x" * 201}}, "offer_titles"),
        ({"offer_titles": {"de": ""}}, "offer_titles"),
        ({"offer_titles": {f"l{i:02d}"[:3]: "t" for i in range(51)}}, "offer_titles"),
        ({"perks_by_language": {"de": "not a list"}}, "perks_by_language"),
        ({"perks_by_language": {"de": ["x" * 301]}}, "perks_by_language"),
        ({"perks_by_language": {"de": ["perk"] * 21}}, "perks_by_language"),
    ],
)
def test_a_malformed_language_entry_is_an_error_naming_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        a_vip_segment(**fields)

    assert {str(error["loc"][0]) for error in raised.value.errors()} == {field}


def test_a_title_with_a_line_break_reads_as_one_line() -> None:
    segment = a_vip_segment(offer_titles={"de": "Deine\r\nVorteile"})

    assert segment.in_language("de").offer_title == "Deine Vorteile"
