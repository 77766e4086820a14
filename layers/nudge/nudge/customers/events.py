"""The ``Customer Updated`` and ``Customer Deleted`` contracts: how a store gets its customers into
Nudge, changes them, and has them forgotten.

A field of ``Customer Updated`` that is absent is left as it is; one that is ``null`` is cleared
(where the profile can do without it: never ``email`` or ``marketing_consent``). Every value is
checked before anything is written (a real address, an IANA time zone, a locale Babel knows, an
ISO 3166 country), so an invalid event is dead-lettered naming the field and nothing is half-applied.
"""

import re
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from babel import Locale, UnknownLocaleError
from pydantic import AfterValidator, ConfigDict, Field, Json, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from nudge.envelopes import SqsRecordModel
from nudge.event_times import EventTime
from nudge.events import Identifier, _Detail, _StoreEvent
from nudge.text import one_line

# RFC 5321 caps a path at 256 octets, so an address is at most 254 characters.
MAX_EMAIL_LENGTH = 254
_EMAIL = re.compile(
    r"^[^@\s\"(),:;<>\[\\\]]{1,64}@(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_CONSENT_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")


def _email_address(value: str) -> str:
    """A deliverable-looking address: one ``@``, a local part without spaces or quoting, and a
    domain of letters, digits and hyphens with a top-level label. Kept as given (case and all)."""
    address = value.strip()
    if len(address) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(address):
        raise PydanticCustomError("email_address", "not an email address")
    return address


@cache
def _timezone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _iana_timezone(value: str) -> str:
    if value not in _timezone_names():
        raise PydanticCustomError("timezone", "not an IANA time zone name (e.g. Europe/Berlin)")
    return value


def _known_locale(value: str) -> str:
    """``de-DE``, ``de_DE`` or ``de``: a locale Babel knows, stored as ``de-DE``."""
    try:
        locale = Locale.parse(value.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        raise PydanticCustomError("locale", "not a known locale (e.g. de-DE)") from None
    return "-".join(part for part in (locale.language, locale.script, locale.territory) if part)


@cache
def _country_codes() -> frozenset[str]:
    codes = (str(code) for code in Locale("en").territories)
    return frozenset(code for code in codes if len(code) == 2 and code.isalpha())


def _iso_country(value: str) -> str:
    code = value.upper()
    if code not in _country_codes():
        raise PydanticCustomError("country", "not an ISO 3166-1 alpha-2 country code (e.g. DE)")
    return code


def _consent_source(value: str) -> str:
    if not _CONSENT_SOURCE.fullmatch(value):
        raise PydanticCustomError(
            "consent_source", "lowercase letters, digits and _.:- only, at most 64 (e.g. checkout)"
        )
    return value


EmailAddress = Annotated[str, Field(max_length=MAX_EMAIL_LENGTH + 10), AfterValidator(_email_address)]
PersonName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(one_line)]
LocaleTag = Annotated[str, Field(min_length=2, max_length=35), AfterValidator(_known_locale)]
TimezoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_iana_timezone)]
CountryCode = Annotated[str, Field(min_length=2, max_length=2), AfterValidator(_iso_country)]
ConsentSource = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_consent_source)]

# The fields that may be sent as null to clear them; the others must have a value when present.
CLEARABLE = ("first_name", "last_name", "locale", "timezone", "country", "consent_source")


class CustomerUpdated(_Detail):
    """A customer as the store knows them now: the fields present change, the others stay."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    customer_id: Identifier
    updated_at: EventTime
    """When the store changed the customer: per field group, the newest wins."""
    email: EmailAddress | None = None
    first_name: PersonName | None = None
    last_name: PersonName | None = None
    locale: LocaleTag | None = None
    timezone: TimezoneName | None = None
    country: CountryCode | None = None
    marketing_consent: Annotated[bool, Field(strict=True)] | None = None
    consent_source: ConsentSource | None = None

    @field_validator("email", "marketing_consent", mode="before")
    @classmethod
    def _not_cleared(cls, value: Any) -> Any:
        """A profile needs an address, and consent is given or withdrawn, never unknown."""
        if value is None:
            raise PydanticCustomError("not_clearable", "cannot be null (send a value, or leave it out)")
        return value

    @field_validator("consent_source")
    @classmethod
    def _with_its_consent(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("marketing_consent") is None:
            raise PydanticCustomError(
                "consent_source_without_consent", "describes a marketing_consent sent in the same event"
            )
        return value

    def given(self, name: str) -> bool:
        """Whether the event says anything about this field (a value, or null to clear it)."""
        return name in self.model_fields_set


class CustomerDeleted(_Detail):
    """The store asks Nudge to forget a customer (the right to erasure)."""

    customer_id: Identifier
    requested_at: EventTime


class CustomerUpdatedEvent(_StoreEvent):
    detail_type: Literal["Customer Updated"] = Field(alias="detail-type")
    detail: CustomerUpdated


class CustomerDeletedEvent(_StoreEvent):
    detail_type: Literal["Customer Deleted"] = Field(alias="detail-type")
    detail: CustomerDeleted


class CustomerUpdatedRecord(SqsRecordModel):
    model_config = ConfigDict(defer_build=True)

    body: Json[CustomerUpdatedEvent]


class CustomerDeletedRecord(SqsRecordModel):
    model_config = ConfigDict(defer_build=True)

    body: Json[CustomerDeletedEvent]


PROFILE_DETAIL_TYPES = ("Customer Updated", "Customer Deleted")
