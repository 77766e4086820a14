"""``Customer Updated``: create the profile, or change only the fields the event names.

Per field group the newest ``updated_at`` wins, stored beside the group as ``<group>_updated_at``
(microseconds, so a sign-up and its consent a moment later stay in order). An event older than a
group's stamp changes nothing in that group, whatever order events arrive in, and the same event
twice changes nothing. The groups are written in one conditional write, so an event is applied whole
or (when a newer one got in between) decided again from the profile as it then is.

Consent: every consent statement is kept in the consent history, applied or not (an older statement
that arrives late is still a fact about the past). Suppression follows the address: a suppressed
address that leaves a profile goes on the suppression list as a keyed hash, and a profile that takes
a listed address is suppressed too, until an event brings consent given after the suppression.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from nudge.customers.events import CustomerUpdated
from nudge.customers.hashing import address_hash, customer_hash, hash_key, normalized_address
from nudge.customers.settings import CustomerSettings
from nudge.dal import consent_history, customers, profile_changes, suppression_list
from nudge.dal.consent_history import ConsentStatement
from nudge.dal.suppression_list import SuppressedAddress
from nudge.observability import metrics
from nudge.timeutil import to_stored, to_stored_precise
from nudge.waiting import ComesBackLaterError

FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "name": ("first_name", "last_name"),
    "locale": ("locale",),
    "timezone": ("timezone",),
    "country": ("country",),
    "consent": ("marketing_consent", "consent_source"),
}
"""Fields that change together; each group keeps the time of its newest change."""

# A profile changed by another event between our read and our write is read again; this many times
# in a row means heavy contention: the record is retried later with back-off.
MAX_ATTEMPTS = 5
UNSUBSCRIBED = "unsubscribed"


def stamp_of(group: str) -> str:
    return f"{group}_updated_at"


class UpdateResult(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    NOT_NEWER = "not_newer"
    """Every field group the event names holds a newer change: nothing written."""
    ERASED = "erased"
    """The customer was erased after this event was written: it is ignored."""


_METRICS = {
    UpdateResult.CREATED: "CustomerCreated",
    UpdateResult.UPDATED: "CustomerUpdated",
    UpdateResult.NOT_NEWER: "CustomerUpdateNotNewer",
    UpdateResult.ERASED: "CustomerUpdateAfterErasure",
}


class ErasureInProgressError(ComesBackLaterError):
    """A newer event for a customer being erased: it comes back once the erasure is done."""


class ProfileContendedError(RuntimeError):
    """Other writes kept changing the profile between our read and write; retried with back-off."""


def missing_email() -> ValidationError:
    """What an event that would create a profile without an address is: invalid, naming the field."""
    error: InitErrorDetails = {
        "type": PydanticCustomError("missing_email", "required to create a profile"),
        "loc": ("body", "detail", "email"),
        "input": None,
    }
    return ValidationError.from_exception_data("CustomerUpdatedRecord", [error])


def apply_update(detail: CustomerUpdated, settings: CustomerSettings, now: datetime) -> UpdateResult:
    for _ in range(MAX_ATTEMPTS):
        stored = customers.get_profile_item(settings.customers_table, detail.customer_id)
        result = _create(detail, settings, now) if stored is None else _update(detail, stored, settings, now)
        if result is not None:
            metrics.add_metric(name=_METRICS[result], unit=MetricUnit.Count, value=1)
            return result
    raise ProfileContendedError(detail.customer_id)


def _create(detail: CustomerUpdated, settings: CustomerSettings, now: datetime) -> UpdateResult | None:
    key = hash_key(settings.address_hash_key_secret)
    erased_at = suppression_list.erasure_requested_at(
        settings.suppression_list_table, customer_hash(key, detail.customer_id)
    )
    if erased_at is not None and detail.updated_at <= erased_at:
        return UpdateResult.ERASED
    if detail.email is None:
        raise missing_email()
    stamp = to_stored_precise(detail.updated_at)
    profile: dict[str, Any] = {
        "customer_id": detail.customer_id,
        "marketing_consent": False,
        "created_at": to_stored(now),
    }
    for group, fields in FIELD_GROUPS.items():
        if any(detail.given(name) for name in fields):
            profile[stamp_of(group)] = stamp
            profile.update({name: getattr(detail, name) for name in fields if detail.given(name)})
    listed = suppression_list.suppressed_address(
        settings.suppression_list_table, address_hash(key, detail.email)
    )
    if listed is not None and not _consent_after(detail, listed.suppressed_at):
        profile.update(_suppressed_by(listed))
    _keep_consent_statement(detail, settings, now)
    if not profile_changes.create_profile(settings.customers_table, profile):
        return None
    return UpdateResult.CREATED


def _update(
    detail: CustomerUpdated, stored: dict[str, Any], settings: CustomerSettings, now: datetime
) -> UpdateResult | None:
    erasing = stored.get("erasure_requested_at")
    if erasing is not None:
        if to_stored_precise(detail.updated_at) <= str(erasing):
            return UpdateResult.ERASED
        raise ErasureInProgressError(detail.customer_id)
    stamp = to_stored_precise(detail.updated_at)
    applied = [
        group
        for group, fields in FIELD_GROUPS.items()
        if any(detail.given(name) for name in fields) and str(stored.get(stamp_of(group), "")) < stamp
    ]
    _keep_consent_statement(detail, settings, now)
    if not applied:
        return UpdateResult.NOT_NEWER
    changes: dict[str, Any] = {}
    for group in applied:
        changes[stamp_of(group)] = stamp
        changes.update({name: getattr(detail, name) for name in FIELD_GROUPS[group] if detail.given(name)})
    if "consent" in applied:
        # A consent without its source: the source of the consent it replaces no longer describes it.
        changes.setdefault("consent_source", None)
        if detail.marketing_consent is True:
            changes.update(_lifted_by_consent(detail, stored))
    if "email" in applied and _address_changes(stored.get("email"), detail.email):
        changes.update(_suppression_following_address(detail, stored, settings, now))
    set_values = {name: value for name, value in changes.items() if value is not None}
    remove = [name for name, value in changes.items() if value is None and name in stored]
    written = profile_changes.update_profile(
        settings.customers_table,
        detail.customer_id,
        set_values=set_values,
        remove=remove,
        older_than={stamp_of(group): stamp for group in applied},
    )
    if not written:
        return None
    if "consent" in applied and detail.marketing_consent is False:
        metrics.add_metric(name="ConsentWithdrawn", unit=MetricUnit.Count, value=1)
    return UpdateResult.UPDATED


def _keep_consent_statement(detail: CustomerUpdated, settings: CustomerSettings, now: datetime) -> None:
    if detail.marketing_consent is None:
        return
    statement = ConsentStatement(
        customer_id=detail.customer_id,
        changed_at=detail.updated_at,
        marketing_consent=detail.marketing_consent,
        source=detail.consent_source,
    )
    consent_history.record(settings.consent_history_table, statement, now)


def _consent_after(detail: CustomerUpdated, moment: datetime) -> bool:
    """Whether this event brings consent given after ``moment`` (which lifts a suppression)."""
    return detail.marketing_consent is True and detail.updated_at > moment


def _suppressed_by(listed: SuppressedAddress) -> dict[str, Any]:
    at = to_stored(listed.suppressed_at)
    if listed.reason == UNSUBSCRIBED:
        return {"unsubscribed_at": at, "unsubscribe_source": "suppression_list"}
    return {"suppressed_reason": listed.reason, "suppressed_at": at}


def _lifted_by_consent(detail: CustomerUpdated, stored: dict[str, Any]) -> dict[str, Any]:
    """New consent lifts an unsubscribe or a suppression that came before it."""
    lifted: dict[str, Any] = {}
    for moment, also in (("unsubscribed_at", "unsubscribe_source"), ("suppressed_at", "suppressed_reason")):
        at = stored.get(moment)
        if at is not None and detail.updated_at > datetime.fromisoformat(str(at)):
            lifted.update({moment: None, also: None})
    return lifted


def _address_changes(old: object, new: str | None) -> bool:
    return new is not None and (
        not isinstance(old, str) or normalized_address(old) != normalized_address(new)
    )


def _suppression_following_address(
    detail: CustomerUpdated, stored: dict[str, Any], settings: CustomerSettings, now: datetime
) -> dict[str, Any]:
    """The old address's suppression goes on the list with it; the new address brings its own."""
    key = hash_key(settings.address_hash_key_secret)
    reason, at = stored.get("suppressed_reason"), stored.get("suppressed_at")
    old = stored.get("email")
    if reason and isinstance(old, str):
        # A profile imported without ``suppressed_at``: suppressed as of now, so only consent given
        # from now on lifts it.
        entry = SuppressedAddress(str(reason), datetime.fromisoformat(str(at)) if at else now)
        suppression_list.suppress_address(settings.suppression_list_table, address_hash(key, old), entry, now)
    listed = suppression_list.suppressed_address(
        settings.suppression_list_table, address_hash(key, str(detail.email))
    )
    if listed is not None and not _consent_after(detail, listed.suppressed_at):
        return _suppressed_by(listed)
    return {"suppressed_reason": None, "suppressed_at": None} if reason else {}
