"""Composing one email: its currency, recommendations, experiment arm, template context, render
and tagged links. Nothing here decides or writes; the preview and the test send use the same path."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools.metrics import MetricUnit

from nudge import formatting
from nudge.catalog_rows import Product
from nudge.experiments.models import Arm
from nudge.experiments.running import arm_for, running_experiment
from nudge.link_tracking import LinkTracking
from nudge.observability import log_safe_id, logger, metrics
from nudge.profiles import Customer, Segment
from nudge.recommendations import RecommendationRequest, Recommender, recommender_for
from nudge.rendering import RenderedEmail, language_for, render_email, render_subject
from nudge.sending.case import Draft, EmailCase, Recipient
from nudge.settings import Settings
from nudge.triggers import TRIGGER_NAMES
from nudge.unsubscribe import tokens
from nudge.unsubscribe.keys import signing_key


def email_currency(case: EmailCase, customer: Customer) -> str:
    """The cart's or the order's currency; for a win-back the customer's last order's, else the
    store's (``StoreCurrency``)."""
    return case.trigger.currency(case.detail, customer) or case.settings.store.currency


def shown_in(products: list[Product], currency: str, language: str) -> list[Product]:
    """The products as an email in ``currency`` and ``language`` shows them: priced and named in
    them, and none without a price in that currency (whatever recommender chose them)."""
    return [shown for shown in (product.shown_in(currency, language) for product in products) if shown]


def unsubscribe_link(settings: Settings, customer_id: str) -> str:
    token = tokens.issue(signing_key(settings.unsubscribe_key_secret), customer_id)
    return f"{settings.unsubscribe_url}?{urlencode({'token': token})}"


def recommend_for_email(case: EmailCase, recipient: Recipient) -> list[Product]:
    """The stack's recommendations for this email (none when the segment turns them off)."""
    segment = recipient.segment
    recommender = recommender_for(case.settings) if segment.show_recommendations else None
    return recommendations_for(case, recipient.customer, segment, recommender)


def recommendations_for(
    case: EmailCase, customer: Customer, segment: Segment, recommender: Recommender | None
) -> list[Product]:
    """Up to ``RecommendationsPerEmail`` products from ``recommender`` (the stack's, or the preview's
    sample catalog); none when the segment turns them off, and none (with a log line and a metric)
    when the recommender fails: it never stops an email."""
    if recommender is None or not segment.show_recommendations:
        return []
    trigger, detail = case.trigger, case.detail
    request = RecommendationRequest(
        trigger=trigger.name,
        customer_id=customer.customer_id,
        seed_skus=trigger.seed_skus(detail, customer),
        exclude_skus=frozenset({*trigger.shown_skus(detail), *customer.recent_skus}),
        limit=case.settings.recommendations_per_email,
        currency=email_currency(case, customer),
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


def draft_for(case: EmailCase, recipient: Recipient, recommendations: list[Product]) -> Draft:
    """The email before it is rendered: its context, its copy's language and the recipient's arm of
    the trigger's running experiment."""
    context = template_context(case, recipient, recommendations)
    language = language_for(case.settings.templates_dir, context["locale"])
    return Draft(recipient, context, language, arm_of(case, recipient.customer, context, language))


def arm_of(case: EmailCase, customer: Customer, context: dict[str, Any], language: str) -> Arm | None:
    """The customer's arm of the trigger's running experiment, if there is a valid one."""
    settings = case.settings
    experiment = running_experiment(settings.experiments_table, case.trigger.name, TRIGGER_NAMES)
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
    case: EmailCase,
    recipient: Recipient,
    recommendations: list[Product] | None = None,
    arm: Arm | None = None,
) -> RenderedEmail:
    """The email for this event and customer: in their language, with every store link tagged, and
    the experiment variant's subject and content when it is in one."""
    context = template_context(case, recipient, recommendations)
    language = language_for(case.settings.templates_dir, context["locale"])
    return compose_email(case, Draft(recipient, context, language, arm))


def compose_email(case: EmailCase, draft: Draft) -> RenderedEmail:
    arm, context, language = draft.arm, draft.context, draft.language
    templates_dir = case.settings.templates_dir
    variant = arm.variant if arm is not None else None
    subject = arm.subject if arm is not None else None
    if subject is None and variant is not None and variant.subject is not None:
        # An arm that did not come through ``arm_for`` (a preview): its subject is rendered here.
        subject = render_subject(templates_dir, language, variant.subject, {**context, "variant": variant})
    return render_email(
        templates_dir,
        case.trigger.name,
        {**context, "variant": variant},
        language=language,
        links=link_tracking(case, draft.recipient.unsubscribe_url, arm),
        subject=subject,
    )


def link_tracking(case: EmailCase, unsubscribe_url: str, arm: Arm | None = None) -> LinkTracking | None:
    settings = case.settings
    if not settings.utm_source:
        return None
    return LinkTracking(
        source=settings.utm_source,
        campaign=case.trigger.campaign(case.detail),
        domains=settings.store_domains,
        untracked=frozenset({unsubscribe_url}),
        term=arm.utm_term if arm is not None else None,
    )


def template_context(
    case: EmailCase, recipient: Recipient, recommendations: list[Product] | None = None
) -> dict[str, Any]:
    settings, customer = case.settings, recipient.customer
    locale = formatting.resolve_locale(customer.locale, settings.default_locale)
    language = language_for(settings.templates_dir, locale)
    currency = email_currency(case, customer)
    return {
        "store": settings.store,
        "unsubscribe_url": recipient.unsubscribe_url,
        "customer": customer,
        "segment": recipient.segment.in_language(language),
        "locale": formatting.in_language(locale, language),
        "timezone": formatting.resolve_timezone(customer.timezone, settings.default_timezone),
        "currency": currency,
        "recommendations": shown_in(recommendations or [], currency, language),
        "reminder_steps": len(settings.cart_reminder_hours),
        "variant": None,
        **case.trigger.template_data(case.detail, customer),
    }
