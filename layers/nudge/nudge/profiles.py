"""The customer profile and segment records stored in DynamoDB."""

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from nudge.localized import MAX_LANGUAGES, LanguageTag, for_language
from nudge.segmentation import DEFAULT_SEGMENT_ID, ProfileFacts, SegmentDefinition, whole_days_between
from nudge.text import one_line
from nudge.timeutil import from_stored_moment

__all__ = [
    "DEFAULT_SEGMENT_ID",
    "FALLBACK_SEGMENT",
    "LEGACY_OFFER_WORDINGS",
    "Customer",
    "CustomerFacts",
    "OfferWording",
    "Segment",
    "SegmentInLanguage",
    "SendSlot",
    "read_send_slots",
]


# A history element: ISO text, or the compact epoch forms nudge.timeutil writes.
StoredMoment = Annotated[AwareDatetime, BeforeValidator(from_stored_moment)]


class CustomerFacts(BaseModel):
    """The part of a profile that segmentation and selection read: no contact details.

    The scheduled run scans only these attributes, so a million profiles pass through it without
    one email address or name.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    customer_id: str
    marketing_consent: bool = False
    unsubscribed_at: AwareDatetime | None = None
    suppressed_reason: str | None = None
    segment_id: str | None = None
    segment_updated_at: AwareDatetime | None = None
    order_count: Annotated[int, Field(ge=0)] = 0
    total_spent: Annotated[Decimal, Field(ge=0)] = Decimal(0)
    last_order_at: AwareDatetime | None = None
    recent_order_dates: tuple[StoredMoment, ...] = ()
    last_emailed_at: AwareDatetime | None = None
    first_emailed_at: AwareDatetime | None = None
    """The first email sent since engagement is tracked: where "unengaged for N days" starts."""
    last_winback_at: AwareDatetime | None = None
    locale: str | None = None
    country: str | None = None
    """ISO 3166 alpha-2, if the store knows it; else segment rules read the region of ``locale``."""
    last_opened_at: AwareDatetime | None = None
    last_clicked_at: AwareDatetime | None = None
    recent_open_dates: tuple[StoredMoment, ...] = ()
    recent_click_dates: tuple[StoredMoment, ...] = ()
    """The newest opens and clicks (bounded), for rules like "2 clicks in 30 days"."""
    erasure_requested_at: str | None = None
    """Set while the customer is being erased (``Customer Deleted``): no email goes out any more."""

    def facts(self, as_of: datetime) -> ProfileFacts:
        language, *subtags = (self.locale or "").replace("_", "-").split("-")
        region = next((tag for tag in subtags if len(tag) == 2 and tag.isalpha()), "")
        return ProfileFacts(
            days_since_last_order=whole_days_between(self.last_order_at, as_of),
            order_count=self.order_count,
            order_dates=self.recent_order_dates,
            total_spent=self.total_spent,
            marketing_consent=self.marketing_consent,
            days_since_last_email=whole_days_between(self.last_emailed_at, as_of),
            as_of=as_of,
            country=self.country or region or None,
            language=language or None,
            days_since_last_open=whole_days_between(self.last_opened_at, as_of),
            days_since_last_click=whole_days_between(self.last_clicked_at, as_of),
            days_since_first_email=whole_days_between(self.first_emailed_at, as_of),
            open_dates=_with_last(self.recent_open_dates, self.last_opened_at),
            click_dates=_with_last(self.recent_click_dates, self.last_clicked_at),
        )

    def last_engaged_at(self) -> datetime | None:
        """The latest open or click, or the first tracked email if there is neither yet."""
        moments = [m for m in (self.last_opened_at, self.last_clicked_at, self.first_emailed_at) if m]
        return max(moments) if moments else None


def _with_last(recent: tuple[datetime, ...], last: datetime | None) -> tuple[datetime, ...]:
    """The history with the last event in it: a profile imported with only ``last_opened_at`` still
    counts that open. The history keeps milliseconds and ``last_*`` seconds, so one within a second
    of it is the same event."""
    if last is None or any(abs((moment - last).total_seconds()) < 1 for moment in recent):
        return recent
    return (*recent, last)


# A name imported from a CSV may carry a stray CR/LF or tab: it is read as the name with spaces, so the
# customer still gets a greeting, a subject and a To header that are one clean line.
Name = Annotated[str, AfterValidator(one_line)]


class SendSlot(BaseModel):
    """One of the frequency cap's slots on the profile: which email took it, and when."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    taken_at: AwareDatetime
    taken_by: str


# How the cap's slots are stored: ``cap_<i>_at`` and ``cap_<i>_by`` (nudge.dal.frequency_cap).
_SLOT_ATTRIBUTE = re.compile(r"cap_(\d+)_at")


def read_send_slots(data: Any) -> Any:
    """A stored item's ``cap_<i>_at``/``cap_<i>_by`` pairs as ``send_slots`` (a model's input)."""
    if not isinstance(data, dict) or "send_slots" in data:
        return data
    slots = {}
    for name, value in data.items():
        match = _SLOT_ATTRIBUTE.fullmatch(name)
        taken_by = data.get(f"cap_{match.group(1)}_by") if match else None
        if match and value and taken_by:
            slots[int(match.group(1))] = {"taken_at": value, "taken_by": taken_by}
    return {**data, "send_slots": slots} if slots else data


class Customer(CustomerFacts):
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    first_name: Name | None = None
    """Optional: a store may know only the address; emails then greet without a name."""
    last_name: Name | None = None
    timezone: str | None = None
    counted_order_ids: tuple[str, ...] = ()
    """The last orders counted on this profile: an order is counted only if its id is not here."""
    last_order_currency: str | None = None
    """The currency of the newest order (``last_order_at``): a win-back's currency."""
    recent_skus: tuple[str, ...] = ()
    """What the customer bought lately, newest first (bounded): recommendations start from these
    and never offer them again."""
    latest_cart_id: str | None = None
    latest_cart_at: AwareDatetime | None = None
    """The newest abandoned cart seen: an older cart's reminder series ends as ``superseded``."""
    send_slots: dict[int, SendSlot] = Field(default_factory=dict, exclude=True)
    """The frequency cap's slots stored on the profile itself (by a version before the send state,
    ``nudge.send_state``): they count until they age out. Not written back by ``put_customer``."""
    send_state_slots: dict[int, SendSlot] = Field(default_factory=dict, exclude=True)
    """The slots of the send state as last read with the profile."""
    send_state_damaged: dict[str, Any] = Field(default_factory=dict, exclude=True)
    """The send state's attributes that could not be read, as stored (``nudge.send_state``)."""

    @model_validator(mode="before")
    @classmethod
    def _read_send_slots(cls, data: Any) -> Any:
        return read_send_slots(data)

    @property
    def held_slots(self) -> dict[int, SendSlot]:
        """Every slot held, the send state's before the profile's own: the send's one write goes
        straight to a free slot (or to none, when all are taken)."""
        return {**self.send_slots, **self.send_state_slots}

    @property
    def full_name(self) -> str:
        return " ".join(name for name in (self.first_name, self.last_name) if name)


OfferWording = Literal["vip_perks", "welcome_back", "missed_you", "welcome_gift", "thank_you", "plain"]
"""How the offer box words a segment's offer: each is a heading and a sentence in
``templates/_partials/offer.*.j2``, translated like every other word (``plain``: no heading, "Take N%
off your next order.")."""

LEGACY_OFFER_WORDINGS: dict[str, OfferWording] = {
    "vip": "vip_perks",
    "lapsed": "welcome_back",
    "at_risk": "missed_you",
    "new_customer": "welcome_gift",
    "frequent_buyer": "thank_you",
}
"""The wording of a row stored before ``offer_wording`` existed, when the templates chose it by the
sample segments' ids: such a row reads as it did. Any other row without the field reads ``plain``."""


OfferTitle = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(one_line)]
Perks = Annotated[tuple[Annotated[str, Field(min_length=1, max_length=300)], ...], Field(max_length=20)]
"""One language's perks: at most 20 of 300 characters, so 50 languages of them keep a row small."""


class Segment(SegmentDefinition):
    """A marketing segment: who is in it (rules, priority) and its offer; marketing edits these rows
    without a deploy."""

    name: str
    discount_percent: Annotated[int, Field(ge=0, le=100)] = 0
    coupon_code: str | None = None
    free_shipping: bool = False
    perks: tuple[str, ...] = ()
    perks_by_language: Annotated[dict[LanguageTag, Perks], Field(max_length=MAX_LANGUAGES)] = Field(
        default_factory=dict
    )
    """The perks in other languages (``{"es": ["Acceso anticipado", ...]}``): an email lists its copy's
    language's, else ``perks``. An empty list is kept: no perks in that language."""
    offer_wording: OfferWording = "plain"
    """Which of the offer box's wordings the segment's emails use."""
    offer_titles: Annotated[dict[LanguageTag, OfferTitle], Field(max_length=MAX_LANGUAGES)] = Field(
        default_factory=dict
    )
    """The offer box's heading in some languages (``{"de": "Deine VIP-Vorteile"}``), in place of the
    wording's translated one; other languages keep the wording's."""
    show_recommendations: bool = True
    """Whether this segment's emails carry recommended products."""

    @model_validator(mode="before")
    @classmethod
    def _legacy_offer_wording(cls, data: Any) -> Any:
        if isinstance(data, dict) and "offer_wording" not in data:
            wording = LEGACY_OFFER_WORDINGS.get(str(data.get("segment_id")))
            if wording is not None:
                return {**data, "offer_wording": wording}
        return data

    def in_language(self, language: str) -> "SegmentInLanguage":
        """The segment as an email in ``language`` shows it: that language's perks and offer title
        (``nudge.localized.for_language``), the stored perks and the wording's title otherwise."""
        perks = for_language(self.perks_by_language, language)
        return SegmentInLanguage.model_validate(
            {
                **self.model_dump(),
                "perks": self.perks if perks is None else perks,
                "offer_title": for_language(self.offer_titles, language),
            }
        )


class SegmentInLanguage(Segment):
    """What an email's templates read as ``segment``."""

    offer_title: str | None = None
    """The offer box's heading the store wrote for this language; None: the wording's."""


# Used when a customer has no segment, names an unknown one, and the table has no "default" row.
FALLBACK_SEGMENT = Segment(segment_id=DEFAULT_SEGMENT_ID, name="Everyone")
