"""Runtime configuration, read from the function's environment at handler entry."""

import os
from collections.abc import Mapping
from datetime import timedelta
from itertools import pairwise
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from nudge.environment_settings import EnvironmentSettings
from nudge.event_times import EventTimeSettings
from nudge.quiet_hours import QuietHours

# Each allowed email is a pair of attributes on the profile (see nudge.dal.frequency_cap).
MAX_CAP_SLOTS = 10


def _hours_list(value: Any) -> Any:
    """``"0,24,72"``: the cart reminder series' steps, hours after ``abandoned_at``."""
    if isinstance(value, str):
        return tuple(int(part) for part in value.split(",") if part.strip())
    return value


def _ascending_from_zero(hours: tuple[int, ...]) -> tuple[int, ...]:
    if not hours or hours[0] != 0 or any(b <= a for a, b in pairwise(hours)):
        raise ValueError("must start at 0 and rise, e.g. 0,24,72")
    return hours


def _comma_separated(value: Any) -> Any:
    """``"order_placed,cart_abandoned"`` as a CloudFormation parameter passes it; blanks dropped."""
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    return value


def _blank_is_none(value: Any) -> Any:
    """An optional CloudFormation parameter left empty arrives as ``""``."""
    return None if isinstance(value, str) and not value.strip() else value


class StoreSettings(EnvironmentSettings):
    """What every email says about the store that sends it."""

    name: str = Field(validation_alias="STORE_NAME", min_length=1)
    url: str = Field(validation_alias="STORE_URL", min_length=1)
    postal_address: str = Field(validation_alias="STORE_POSTAL_ADDRESS", min_length=1)
    preferences_url: str = Field(validation_alias="PREFERENCES_URL", min_length=1)
    currency: str = Field(default="USD", validation_alias="STORE_CURRENCY", pattern=r"^[A-Z]{3}$")
    """The currency of an email that has none of its own: a win-back to a customer with no order
    known in any currency. Recommendations show only products with a price in it."""
    logo_url: Annotated[str | None, BeforeValidator(_blank_is_none)] = Field(
        default=None, validation_alias="LOGO_URL", pattern=r"^https://\S+$"
    )
    """The store's logo (https) at the top of every email, its alt text the store's name; without
    it the header is the store's name."""


class DeferralSettings(EnvironmentSettings):
    """Where an email delayed by quiet hours goes back to: the trigger's own queue, through a
    one-time EventBridge Scheduler schedule in this stack's group."""

    schedule_group: str = Field(validation_alias="DEFERRAL_SCHEDULE_GROUP", min_length=1)
    role_arn: str = Field(validation_alias="DEFERRAL_ROLE_ARN", pattern=r"^arn:")
    queue_arn: str = Field(validation_alias="DEFERRAL_QUEUE_ARN", pattern=r"^arn:")
    dead_letter_queue_arn: str = Field(validation_alias="DEFERRAL_DLQ_ARN", pattern=r"^arn:")


class Settings(EventTimeSettings):
    """Everything a trigger function needs to know about its environment.

    The field aliases are the environment variable names set in ``template.yaml``.
    """

    customers_table: str = Field(validation_alias="CUSTOMERS_TABLE", min_length=1)
    segments_table: str = Field(validation_alias="SEGMENTS_TABLE", min_length=1)
    deliveries_table: str = Field(validation_alias="DELIVERIES_TABLE", min_length=1)
    sender: str = Field(validation_alias="SENDER_ADDRESS", min_length=3)
    configuration_set: str = Field(validation_alias="SES_CONFIGURATION_SET", min_length=1)
    templates_dir: str = Field(validation_alias="TEMPLATES_DIR", min_length=1)
    unsubscribe_url: str = Field(validation_alias="UNSUBSCRIBE_URL", pattern=r"^https?://")
    unsubscribe_key_secret: str = Field(validation_alias="UNSUBSCRIBE_KEY_SECRET", min_length=1)
    default_locale: str = Field(default="en-US", validation_alias="DEFAULT_LOCALE")
    default_timezone: str = Field(default="UTC", validation_alias="DEFAULT_TIMEZONE")
    """For customers whose profile has no valid timezone: dates in emails and quiet hours."""
    idempotency_ttl_days: int = Field(default=30, ge=1, validation_alias="IDEMPOTENCY_TTL_DAYS")
    """The replay window: an event older than this (by its EventBridge ``time``) is refused as
    ``event_too_old``; anything younger is recognised as a duplicate by its delivery record, so it is
    at most ``delivery_record_ttl_days`` (checked below)."""
    unknown_customer_wait_seconds: int = Field(
        default=600, ge=0, le=3600, validation_alias="UNKNOWN_CUSTOMER_WAIT_SECONDS"
    )
    """How long an event for a customer without a profile is retried (with back-off) before it is
    decided ``unknown_customer``: a store's Customer Updated may arrive just after its Order Placed."""
    unconfirmed_send_grace_seconds: int = Field(
        default=600, ge=0, le=6 * 3600, validation_alias="UNCONFIRMED_SEND_GRACE_SECONDS"
    )
    """How long after a dead invocation's claim expired its retry waits for SES's own record of the
    send (the ``Send`` event) before it sends again under a new claim."""
    unconfirmed_sends: Literal["resend", "give_up"] = Field(
        default="resend", validation_alias="UNCONFIRMED_SENDS"
    )
    """What a retry does with a claim SES never confirmed once the grace period is over: send again
    (``resend``), or close it as ``send_unconfirmed`` and never send (``give_up``)."""
    delivery_record_ttl_days: int = Field(default=400, ge=1, validation_alias="DELIVERY_RECORD_TTL_DAYS")
    frequency_cap_emails: int = Field(
        default=1, ge=0, le=MAX_CAP_SLOTS, validation_alias="FREQUENCY_CAP_EMAILS"
    )
    """At most this many emails per customer per window, across all triggers; 0 turns the cap off."""
    frequency_cap_hours: int = Field(default=24, ge=1, validation_alias="FREQUENCY_CAP_HOURS")
    frequency_cap_exempt: Annotated[frozenset[str], BeforeValidator(_comma_separated)] = Field(
        default=frozenset({"order_placed"}), validation_alias="FREQUENCY_CAP_EXEMPT_TRIGGERS"
    )
    """Triggers whose emails answer the customer's own action (the order thank-you): the marketing cap
    neither holds them back nor counts them."""
    queue_url: str | None = Field(default=None, validation_alias="QUEUE_URL")
    """The trigger's queue: failed records are backed off on it by receive count."""
    dead_letter_queue_url: str | None = Field(default=None, validation_alias="DEAD_LETTER_QUEUE_URL")
    """Where a record that can never succeed goes at once, instead of being retried."""
    products_table: str | None = Field(default=None, validation_alias="PRODUCTS_TABLE")
    recommendations_table: str | None = Field(default=None, validation_alias="RECOMMENDATIONS_TABLE")
    recommendations_per_email: int = Field(
        default=3, ge=0, le=12, validation_alias="RECOMMENDATIONS_PER_EMAIL"
    )
    """Recommended products in each email; 0 turns the block (and its two reads) off."""
    utm_source: str = Field(default="nudge", validation_alias="UTM_SOURCE")
    """``utm_source`` of every store link; empty leaves links untagged."""
    tracked_link_domains: Annotated[frozenset[str], BeforeValidator(_comma_separated)] = Field(
        default=frozenset(), validation_alias="TRACKED_LINK_DOMAINS"
    )
    """The store's domains besides the host of ``STORE_URL`` whose links get UTM parameters."""
    cart_reminder_hours: Annotated[
        tuple[int, ...], BeforeValidator(_hours_list), AfterValidator(_ascending_from_zero)
    ] = Field(default=(0, 24, 72), validation_alias="CART_REMINDER_HOURS")
    """The cart reminder series: step k goes out ``cart_reminder_hours[k-1]`` hours after
    ``abandoned_at`` (the first on the event itself)."""
    sunset_after_days: int = Field(default=0, ge=0, le=3650, validation_alias="SUNSET_AFTER_DAYS")
    """The sunset policy: no marketing email to a customer with no open or click for this many days
    (counted from the first tracked email when there is none); 0 turns it off."""
    sunset_exempt: Annotated[frozenset[str], BeforeValidator(_comma_separated)] = Field(
        default=frozenset({"order_placed"}), validation_alias="SUNSET_EXEMPT_TRIGGERS"
    )
    """Triggers that answer the customer's own action (the order thank-you): sent even when unengaged."""
    experiments_table: str | None = Field(default=None, validation_alias="EXPERIMENTS_TABLE")
    """A/B experiments (``nudge.experiments``); without it no email takes part in one."""
    store: StoreSettings
    quiet_hours: QuietHours
    deferral: DeferralSettings

    @model_validator(mode="after")
    def _replays_are_recognised(self) -> Self:
        if self.idempotency_ttl_days > self.delivery_record_ttl_days:
            raise ValueError(
                f"IDEMPOTENCY_TTL_DAYS ({self.idempotency_ttl_days}) must be at most "
                f"DELIVERY_RECORD_TTL_DAYS ({self.delivery_record_ttl_days}): a replay older than the "
                "delivery records that recognise it would be sent again"
            )
        return self

    @property
    def store_domains(self) -> frozenset[str]:
        host = urlsplit(self.store.url).hostname
        return frozenset({*(d.lower() for d in self.tracked_link_domains), *([host.lower()] if host else [])})

    @property
    def replay_window(self) -> timedelta:
        return timedelta(days=self.idempotency_ttl_days)

    @property
    def unconfirmed_send_grace(self) -> timedelta:
        return timedelta(seconds=self.unconfirmed_send_grace_seconds)

    @property
    def unknown_customer_wait(self) -> timedelta:
        return timedelta(seconds=self.unknown_customer_wait_seconds)

    @property
    def frequency_cap_window(self) -> timedelta:
        return timedelta(hours=self.frequency_cap_hours)

    @property
    def delivery_record_retention(self) -> timedelta:
        return timedelta(days=self.delivery_record_ttl_days)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = dict(os.environ if environ is None else environ)
        quiet_hours = {
            "start": env.get("QUIET_HOURS_START", "21:00"),
            "end": env.get("QUIET_HOURS_END", "08:00"),
        }
        return cls.model_validate({**env, "store": env, "deferral": env, "quiet_hours": quiet_hours})
