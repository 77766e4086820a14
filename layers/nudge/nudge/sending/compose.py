"""Composing one email: its currency, recommendations, experiment arm, template context, render
and tagged links. Nothing here decides or writes; the preview and the test send use the same path."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools.metrics import MetricUnit

from nudge import formatting
from nudge.catalog_rows import Product
from nudge.events import TriggerDetail
from nudge.experiments.models import Arm
from nudge.experiments.running import arm_for, running_experiment
from nudge.link_tracking import LinkTracking
from nudge.observability import log_safe_id, logger, metrics
from nudge.profiles import Customer, Segment
from nudge.recommendations import RecommendationRequest, Recommender, recommender_for
from nudge.rendering import RenderedEmail, language_for, render_email, render_subject
from nudge.settings import Settings
from nudge.triggers import TRIGGER_NAMES, Trigger
from nudge.unsubscribe import tokens
from nudge.unsubscribe.keys import signing_key


def email_currency(
    trigger: Trigger[Any], detail: TriggerDetail, customer: Customer, settings: Settings
) -> str:
    """The cart's or the order's currency; for a win-back the customer's last order's, else the
    store's (``StoreCurrency``)."""
    return trigger.currency(detail, customer) or settings.store.currency


def shown_in(products: list[Product], currency: str, language: str) -> list[Product]:
    """The products as an email in ``currency`` and ``language`` shows them: priced and named in
    them, and none without a price in that currency (whatever recommender chose them)."""
    return [shown for shown in (product.shown_in(currency, language) for product in products) if shown]


def unsubscribe_link(settings: Settings, customer_id: str) -> str:
    token = tokens.issue(signing_key(settings.unsubscribe_key_secret), customer_id)
    return f"{settings.unsubscribe_url}?{urlencode({'token': token})}"


def recommend_for_email(
    trigger: Trigger[Any], detail: TriggerDetail, customer: Customer, segment: Segment, settings: Settings
) -> list[Product]:
    recommender = recommender_for(settings) if segment.show_recommendations else None
    return recommendations_for(trigger, detail, customer, segment, settings, recommender)


def recommendations_for(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    customer: Customer,
    segment: Segment,
    settings: Settings,
    recommender: Recommender | None,
) -> list[Product]:
    """Up to ``RecommendationsPerEmail`` products from ``recommender`` (the stack's, or the preview's
    sample catalog); none when the segment turns them off, and none (with a log line and a metric)
    when the recommender fails: it never stops an email."""
    if recommender is None or not segment.show_recommendations:
        return []
    request = RecommendationRequest(
        trigger=trigger.name,
        customer_id=customer.customer_id,
        seed_skus=trigger.seed_skus(detail, customer),
        exclude_skus=frozenset({*trigger.shown_skus(detail), *customer.recent_skus}),
        limit=settings.recommendations_per_email,
        currency=email_currency(trigger, detail, customer, settings),
    )
    try:
        return recommender.recommend(request)
    except Exception:
        logger.exception(
            "recommendations unavailable; the email goes without them",
            extra={"customer_id": log_safe_id(customer.customer_id), "trigger": trigger.name},
        )
        metrics.add_metric(name="RecommendationsUnavailable", unit=MetricUnit.Count, value=1)
        return []


def arm_of(
    trigger: Trigger[Any], customer: Customer, settings: Settings, context: dict[str, Any], language: str
) -> Arm | None:
    """The customer's arm of the trigger's running experiment, if there is a valid one."""
    experiment = running_experiment(settings.experiments_table, trigger.name, TRIGGER_NAMES)
    return arm_for(
        experiment,
        customer.customer_id,
        templates_dir=settings.templates_dir,
        language=language,
        context=context,
    )


def arm_facts(arm: Arm | None) -> dict[str, Any]:
    if arm is None:
        return {}
    return {"experiment_id": arm.experiment.experiment_id, "variant_id": arm.variant_id}


def render_for(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    customer: Customer,
    segment: Segment,
    settings: Settings,
    unsubscribe_url: str,
    recommendations: list[Product] | None = None,
    arm: Arm | None = None,
) -> RenderedEmail:
    """The email for this event and customer: in their language, with every store link tagged, and
    the experiment variant's subject and content when it is in one."""
    context = template_context(trigger, detail, customer, segment, settings, unsubscribe_url, recommendations)
    language = language_for(settings.templates_dir, context["locale"])
    return compose_email(trigger, detail, settings, unsubscribe_url, context, language, arm)


def compose_email(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    unsubscribe_url: str,
    context: dict[str, Any],
    language: str,
    arm: Arm | None,
) -> RenderedEmail:
    variant = arm.variant if arm is not None else None
    subject = arm.subject if arm is not None else None
    if subject is None and variant is not None and variant.subject is not None:
        # An arm that did not come through ``arm_for`` (a preview): its subject is rendered here.
        subject = render_subject(
            settings.templates_dir, language, variant.subject, {**context, "variant": variant}
        )
    return render_email(
        settings.templates_dir,
        trigger.name,
        {**context, "variant": variant},
        language=language,
        links=link_tracking(trigger, detail, settings, unsubscribe_url, arm),
        subject=subject,
    )


def link_tracking(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    settings: Settings,
    unsubscribe_url: str,
    arm: Arm | None = None,
) -> LinkTracking | None:
    if not settings.utm_source:
        return None
    return LinkTracking(
        source=settings.utm_source,
        campaign=trigger.campaign(detail),
        domains=settings.store_domains,
        untracked=frozenset({unsubscribe_url}),
        term=arm.utm_term if arm is not None else None,
    )


def template_context(
    trigger: Trigger[Any],
    detail: TriggerDetail,
    customer: Customer,
    segment: Segment,
    settings: Settings,
    unsubscribe_url: str,
    recommendations: list[Product] | None = None,
) -> dict[str, Any]:
    locale = formatting.resolve_locale(customer.locale, settings.default_locale)
    language = language_for(settings.templates_dir, locale)
    currency = email_currency(trigger, detail, customer, settings)
    return {
        "store": settings.store,
        "unsubscribe_url": unsubscribe_url,
        "customer": customer,
        "segment": segment.in_language(language),
        "locale": formatting.in_language(locale, language),
        "timezone": formatting.resolve_timezone(customer.timezone, settings.default_timezone),
        "currency": currency,
        "recommendations": shown_in(recommendations or [], currency, language),
        "reminder_steps": len(settings.cart_reminder_hours),
        "variant": None,
        **trigger.template_data(detail, customer),
    }
