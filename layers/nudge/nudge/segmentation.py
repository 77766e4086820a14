"""Rule-based segmentation: segment definitions are data, evaluated over a customer's profile facts.

A definition is a set of conditions that must all hold, for example
``{"days_since_last_order": {"gte": 180}, "order_count": {"gte": 2}}``. Segments are tried in priority
order (lowest first) and the first match wins; the ``default`` segment takes everyone else. Unknown
fact names and empty or contradictory bounds are rejected, so a typo in the Segments table fails
validation instead of silently matching nobody.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_SEGMENT_ID = "default"


class Bounds(BaseModel):
    """A numeric range; a missing fact (never ordered, never emailed) is outside every range."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    gte: Decimal | None = None
    gt: Decimal | None = None
    lte: Decimal | None = None
    lt: Decimal | None = None

    @model_validator(mode="after")
    def _bounded_and_satisfiable(self) -> Self:
        lower = [bound for bound in (self.gte, self.gt) if bound is not None]
        upper = [bound for bound in (self.lte, self.lt) if bound is not None]
        if not lower and not upper:
            raise ValueError("give at least one of gte, gt, lte, lt")
        if lower and upper and max(lower) > min(upper):
            raise ValueError("the lower bound is above the upper bound")
        return self

    def admits(self, value: int | Decimal | None) -> bool:
        if value is None:
            return False
        return (
            (self.gte is None or value >= self.gte)
            and (self.gt is None or value > self.gt)
            and (self.lte is None or value <= self.lte)
            and (self.lt is None or value < self.lt)
        )


class WindowBounds(Bounds):
    """A range over a count of events (orders, opens, clicks) within the last ``days`` days."""

    days: Annotated[int, Field(ge=1, le=3660)]


Code = Annotated[str, Field(min_length=1, max_length=16)]


class OneOf(BaseModel):
    """A text fact in (or not in) a list, case-insensitively: ``{"in": ["DE", "AT"]}``, or for short
    ``["DE", "AT"]`` or ``"DE"``. A missing fact (no country on the profile) is in no list, and so
    passes every ``not_in``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        if isinstance(value, str):
            return {"in": [value]}
        if isinstance(value, list | tuple | set | frozenset):
            return {"in": list(value)}
        return value

    any_of: Annotated[frozenset[Code], Field(min_length=1)] | None = Field(default=None, alias="in")
    none_of: Annotated[frozenset[Code], Field(min_length=1)] | None = Field(default=None, alias="not_in")

    @model_validator(mode="after")
    def _one_list(self) -> Self:
        if (self.any_of is None) == (self.none_of is None):
            raise ValueError("give exactly one of in, not_in")
        return self

    def admits(self, value: str | None) -> bool:
        folded = value.casefold() if value else None
        if self.any_of is not None:
            return folded is not None and folded in {code.casefold() for code in self.any_of}
        assert self.none_of is not None
        return folded not in {code.casefold() for code in self.none_of}


def _within(moments: tuple[datetime, ...], days: int, as_of: datetime) -> int:
    since = as_of - timedelta(days=days)
    return sum(1 for moment in moments if since < moment <= as_of)


class ProfileFacts(NamedTuple):
    """What rules can see of a customer, as of one moment."""

    days_since_last_order: int | None
    order_count: int
    order_dates: tuple[datetime, ...]
    total_spent: Decimal
    marketing_consent: bool
    days_since_last_email: int | None
    as_of: datetime
    country: str | None = None
    language: str | None = None
    days_since_last_open: int | None = None
    days_since_last_click: int | None = None
    days_since_first_email: int | None = None
    open_dates: tuple[datetime, ...] = ()
    click_dates: tuple[datetime, ...] = ()

    def orders_within(self, days: int) -> int:
        return _within(self.order_dates, days, self.as_of)

    def opens_within(self, days: int) -> int:
        return _within(self.open_dates, days, self.as_of)

    def clicks_within(self, days: int) -> int:
        return _within(self.click_dates, days, self.as_of)


class SegmentRules(BaseModel):
    """Conditions over profile facts; all given conditions must hold. No conditions matches everyone."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    days_since_last_order: Bounds | None = None
    order_count: Bounds | None = None
    orders_in_last_days: WindowBounds | None = None
    total_spent: Bounds | None = None
    days_since_last_email: Bounds | None = None
    marketing_consent: bool | None = None
    country: OneOf | None = None
    """ISO 3166 alpha-2: the profile's ``country``, else the region of its ``locale``."""
    language: OneOf | None = None
    """The language of the profile's ``locale`` (``de`` for ``de-AT``)."""
    days_since_last_open: Bounds | None = None
    days_since_last_click: Bounds | None = None
    opens_in_last_days: WindowBounds | None = None
    clicks_in_last_days: WindowBounds | None = None
    days_since_first_email: Bounds | None = None
    """Since the first email engagement is tracked for: "no open in 180 days" means something only
    for a customer emailed for that long."""

    def matches(self, facts: ProfileFacts) -> bool:
        return self._matches_orders_and_email(facts) and self._matches_engagement(facts)

    def _matches_engagement(self, facts: ProfileFacts) -> bool:
        opens, clicks = self.opens_in_last_days, self.clicks_in_last_days
        checks = (
            self.country is None or self.country.admits(facts.country),
            self.language is None or self.language.admits(facts.language),
            self.days_since_last_open is None or self.days_since_last_open.admits(facts.days_since_last_open),
            self.days_since_last_click is None
            or self.days_since_last_click.admits(facts.days_since_last_click),
            opens is None or opens.admits(facts.opens_within(opens.days)),
            clicks is None or clicks.admits(facts.clicks_within(clicks.days)),
            self.days_since_first_email is None
            or self.days_since_first_email.admits(facts.days_since_first_email),
        )
        return all(checks)

    def _matches_orders_and_email(self, facts: ProfileFacts) -> bool:
        window = self.orders_in_last_days
        checks = (
            self.days_since_last_order is None
            or self.days_since_last_order.admits(facts.days_since_last_order),
            self.order_count is None or self.order_count.admits(facts.order_count),
            window is None or window.admits(facts.orders_within(window.days)),
            self.total_spent is None or self.total_spent.admits(facts.total_spent),
            self.days_since_last_email is None
            or self.days_since_last_email.admits(facts.days_since_last_email),
            self.marketing_consent is None or self.marketing_consent == facts.marketing_consent,
        )
        return all(checks)


class SegmentDefinition(BaseModel):
    """The part of a Segments row that decides membership."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    segment_id: str
    priority: int = 1000
    rules: SegmentRules = SegmentRules()


EMAIL_MARK_RULES = ("days_since_last_email", "days_since_first_email")
"""The rules that read when the customer was emailed: the send state's marks (``nudge.send_state``)."""


def reads_email_marks(definitions: Iterable[SegmentDefinition]) -> bool:
    """Whether any definition has a rule on the send marks, so profiles need their send state read."""
    return any(getattr(d.rules, name) is not None for d in definitions for name in EMAIL_MARK_RULES)


def whole_days_between(earlier: datetime | None, later: datetime) -> int | None:
    """Whole days elapsed, never negative (a late event may carry a time after ``later``)."""
    if earlier is None:
        return None
    return max(0, (later - earlier) // timedelta(days=1))


def assign_segment(facts: ProfileFacts, definitions: Iterable[SegmentDefinition]) -> str:
    """The first matching segment by priority (ties by id, so the result never depends on row order)."""
    for definition in ordered(definitions):
        if definition.segment_id != DEFAULT_SEGMENT_ID and definition.rules.matches(facts):
            return definition.segment_id
    return DEFAULT_SEGMENT_ID


def ordered(definitions: Iterable[SegmentDefinition]) -> Sequence[SegmentDefinition]:
    return sorted(definitions, key=lambda definition: (definition.priority, definition.segment_id))
