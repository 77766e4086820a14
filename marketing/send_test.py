"""One test email, as a customer of a segment would get it, to an address of your choosing.

The email is rendered by the pipeline's own render path (``nudge.sending.compose.render_for``: the same
context, language, link tagging, experiment variant) and written by its MIME builder
(``nudge.mime.build_message``), so it is what a customer gets but for two things: the subject starts
with ``[TEST] `` and the To is the address given. It is made from sample data (a sample customer of
the segment, a sample event of the trigger, the sample catalog as recommendations) with the stack's
own segment row, experiment row and settings. It goes through SES with the stack's configuration set
(``nudge.adapters.ses.send_raw``), or without a stack into out/outbox/.

Nothing of the pipeline's decide-and-claim path runs: no profile is read or written, no frequency-cap
slot is taken, no delivery record is written, no customer is assigned to an experiment, no metric is
counted, nothing is put on a queue or a bus. The AWS calls are reads (the stack's function
configuration, its Segments and Experiments tables, the unsubscribe signing key) and one SendEmail.

The unsubscribe link is signed for ``TEST_CUSTOMER_ID`` (``nudge#send-test``), an id no customer can
have, so clicking it (or a mailbox provider's one-click POST) unsubscribes no one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from babel import Locale, UnknownLocaleError
from pydantic import ValidationError

from marketing.samples import (
    TEST_CUSTOMER_ID,
    SampleDetail,
    is_reachable,
    sample_customers,
    sample_details,
    sample_products,
)
from nudge.adapters.ses import send_raw
from nudge.experiments.models import HOLDOUT, Arm, Experiment
from nudge.mime import WireMessage, build_message
from nudge.profiles import Customer, Segment
from nudge.rendering import RenderedEmail, language_for, render_subject
from nudge.sending.case import EmailCase, Recipient
from nudge.sending.compose import render_for, template_context
from nudge.settings import Settings
from nudge.triggers import TRIGGER_NAMES, TRIGGERS, Trigger
from nudge.unsubscribe import tokens

SUBJECT_PREFIX = "[TEST] "
TEST_TAGS = {"test_send": "true"}
"""The message tags of a test email: none that names a delivery record or a customer, so SES's events
for it (delivery, open, click, bounce) find nothing to update."""
SAMPLE_ORIGIN = "https://shop.example"
"""The store URL of the sample data: its links are written with the stack's store URL instead."""
LOCALE_EXAMPLES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES")
_ADDRESS_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~.-@"
)


class ArgumentError(ValueError):
    """An argument that names nothing there is: the message names the argument and the valid values."""

    def __init__(self, argument: str, value: object, problem: str) -> None:
        super().__init__(f"{argument}={value}: {problem}")


@dataclass(frozen=True)
class SendTestRequest:
    to: str
    trigger: str
    segment: str
    locale: str
    step: int | None = None
    variant: str | None = None
    experiment: str | None = None


@dataclass(frozen=True)
class Source:
    """What a test email is made with: a trigger function's settings (templates of this checkout),
    the rows of the Segments and Experiments tables, and the unsubscribe signing key."""

    settings: Settings
    segment_rows: Sequence[dict[str, Any]]
    experiment_rows: Sequence[dict[str, Any]]
    signing_key: Callable[[], bytes]
    description: str
    """``stack nudge`` or ``the local stack``."""


@dataclass(frozen=True)
class PreparedEmail:
    message: WireMessage
    email: RenderedEmail
    summary: tuple[str, ...]
    """What the email was made of, a line each."""
    file_stem: str


def find_trigger(name: str) -> Trigger[Any]:
    found = next((trigger for trigger in TRIGGERS if trigger.name == name), None)
    if found is None:
        raise ArgumentError("TRIGGER", name, f"not a trigger; one of {', '.join(sorted(TRIGGER_NAMES))}")
    return found


def prepare(request: SendTestRequest, source: Source, *, now: datetime) -> PreparedEmail:
    """The test email, every argument checked first (``ArgumentError``)."""
    trigger = find_trigger(request.trigger)
    settings = source.settings
    _check_address(request.to)
    segment = _segment(request.segment, source)
    locale = _locale(request.locale)
    step = _step(trigger, request.step, settings)
    experiment, variant_id = _experiment(trigger, request, source)
    customer, detail, event_name = _samples(trigger, segment, request, step, settings)
    products = sample_products() if segment.show_recommendations else []
    shown = set(trigger.shown_skus(detail.detail))
    recommendations = [p for p in products if p.in_stock and p.sku not in shown][
        : settings.recommendations_per_email
    ]
    unsubscribe_url = unsubscribe_url_of_test(settings, source.signing_key())
    case = EmailCase(trigger, detail.detail, settings)
    recipient = Recipient(customer, segment, unsubscribe_url)
    context = template_context(case, recipient, recommendations)
    language = language_for(settings.templates_dir, context["locale"])
    arm = _arm(experiment, variant_id, context, language, settings)
    email = render_for(case, recipient, recommendations, arm)
    email = email._replace(subject=SUBJECT_PREFIX + email.subject)
    message = build_message(
        sender=settings.sender,
        recipient_name=customer.full_name,
        recipient_email=request.to,
        email=email,
        sent_at=now,
        unsubscribe_url=unsubscribe_url,
    )
    written_in = (
        language if language == str(locale.language) else f"{language}, no catalog for {locale.language}"
    )
    summary = (
        f"{trigger.name}{_step_text(trigger, step, settings)}, segment {segment.segment_id}, "
        f"locale {request.locale} (copy in {written_in})"
        + (f", variant {variant_id} of experiment {experiment.experiment_id}" if experiment else ""),
        f"sample customer {event_name[0]} as {TEST_CUSTOMER_ID}, event events/{event_name[1]}",
        f"subject: {email.subject}",
    )
    stem = "-".join(
        part
        for part in (
            f"test-{now:%Y%m%dT%H%M%SZ}",
            trigger.name,
            segment.segment_id,
            request.locale,
            f"step{step}" if trigger.series is not None else "",
            variant_id or "",
        )
        if part
    )
    return PreparedEmail(message, email, summary, _safe_file_name(stem))


def unsubscribe_url_of_test(settings: Settings, key: bytes) -> str:
    """The link as ``nudge.sending.compose.unsubscribe_link`` writes it, signed for ``TEST_CUSTOMER_ID``."""
    return f"{settings.unsubscribe_url}?{urlencode({'token': tokens.issue(key, TEST_CUSTOMER_ID)})}"


def send(test_email: PreparedEmail, settings: Settings) -> str:
    """Through SES with the stack's configuration set; SES's message id."""
    return send_raw(
        test_email.message,
        configuration_set=settings.configuration_set,
        tags=TEST_TAGS,
        seconds_left=lambda: 60.0,
    )


def write_outbox(test_email: PreparedEmail, directory: Path) -> Path:
    """The .eml (the bytes SES would be given) and its HTML part, next to the demo's emails."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{test_email.file_stem}.eml"
    path.write_bytes(test_email.message.data)
    path.with_suffix(".html").write_text(test_email.email.html, encoding="utf-8")
    return path


def _check_address(to: str) -> None:
    local_part, _, domain = to.rpartition("@")
    if not local_part or "." not in domain or not set(to) <= _ADDRESS_CHARACTERS or to.count("@") != 1:
        raise ArgumentError("TO", to, "not an email address (name@example.com)")


def _segment(segment_id: str, source: Source) -> Segment:
    rows = {str(row.get("segment_id")): row for row in source.segment_rows}
    if segment_id not in rows:
        known = ", ".join(sorted(rows)) or "none: the Segments table is empty"
        raise ArgumentError("SEGMENT", segment_id, f"not a segment of {source.description}; one of {known}")
    try:
        return Segment.model_validate(rows[segment_id])
    except ValidationError as error:
        fields = ", ".join(".".join(map(str, p["loc"])) or "row" for p in error.errors())
        raise ArgumentError(
            "SEGMENT", segment_id, f"its row does not validate ({fields}): make segments-validate says why"
        ) from error


def _locale(tag: str) -> Locale:
    try:
        return Locale.parse(tag.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        raise ArgumentError(
            "LOCALE", tag, f"not a locale; a language and region such as {', '.join(LOCALE_EXAMPLES)}"
        ) from None


def _step(trigger: Trigger[Any], step: int | None, settings: Settings) -> int:
    if trigger.series is None:
        if step is not None:
            series = [t.name for t in TRIGGERS if t.series is not None]
            raise ArgumentError("STEP", step, f"{trigger.name} has no steps; only {', '.join(series)} has")
        return 1
    steps = len(trigger.series.hours(settings))
    if step is None:
        return 1
    if not 1 <= step <= steps:
        raise ArgumentError(
            "STEP", step, f"not a step of the series; one of {', '.join(map(str, range(1, steps + 1)))}"
        )
    return step


def _step_text(trigger: Trigger[Any], step: int, settings: Settings) -> str:
    if trigger.series is None:
        return ""
    return f" step {step} of {len(trigger.series.hours(settings))}"


def _experiment(
    trigger: Trigger[Any], request: SendTestRequest, source: Source
) -> tuple[Experiment | None, str | None]:
    """The experiment and variant asked for: EXPERIMENT, else the trigger's running experiment, else
    its only one (a draft is tested before it runs)."""
    if request.variant is None:
        if request.experiment is not None:
            raise ArgumentError("EXPERIMENT", request.experiment, "give VARIANT too: which variant to send")
        return None, None
    experiments = _valid_experiments(source.experiment_rows, trigger.name)
    if not experiments:
        raise ArgumentError(
            "VARIANT", request.variant, f"{trigger.name} has no valid experiment in {source.description}"
        )
    listed = ", ".join(f"{e.experiment_id} ({e.status})" for e in experiments) or "none"
    if request.experiment is not None:
        experiment = next((e for e in experiments if e.experiment_id == request.experiment), None)
        if experiment is None:
            raise ArgumentError(
                "EXPERIMENT", request.experiment, f"not a valid experiment of {trigger.name}; one of {listed}"
            )
    else:
        running = [e for e in experiments if e.status == "running"]
        candidates = running or experiments
        if len(candidates) != 1:
            raise ArgumentError(
                "VARIANT",
                request.variant,
                f"which experiment's? Give EXPERIMENT: the valid experiments of {trigger.name}: {listed}",
            )
        (experiment,) = candidates
    variants = [variant.variant_id for variant in experiment.variants]
    if request.variant == HOLDOUT:
        raise ArgumentError("VARIANT", HOLDOUT, f"the holdout is sent nothing; one of {', '.join(variants)}")
    if request.variant not in variants:
        raise ArgumentError(
            "VARIANT",
            request.variant,
            f"not a variant of experiment {experiment.experiment_id}; one of {', '.join(variants)}",
        )
    return experiment, request.variant


def _valid_experiments(rows: Sequence[dict[str, Any]], trigger: str) -> list[Experiment]:
    """The trigger's rows that validate, as the functions validate them (an invalid one is ignored
    there too: ``make experiments-validate`` says why)."""
    valid = []
    for row in rows:
        try:
            experiment = Experiment.model_validate(row, context={"triggers": TRIGGER_NAMES})
        except ValidationError:
            continue
        if experiment.trigger == trigger:
            valid.append(experiment)
    return sorted(valid, key=lambda experiment: experiment.experiment_id)


def _arm(
    experiment: Experiment | None,
    variant_id: str | None,
    context: dict[str, Any],
    language: str,
    settings: Settings,
) -> Arm | None:
    """The variant's arm, its subject rendered in the metered sandbox as ``arm_for`` renders it; a
    subject that does not render is refused (the functions would ignore the whole experiment)."""
    if experiment is None:
        return None
    variant = next(v for v in experiment.variants if v.variant_id == variant_id)
    subject = None
    if variant.subject is not None:
        try:
            subject = render_subject(
                settings.templates_dir, language, variant.subject, {**context, "variant": variant}
            )
        except Exception as error:
            raise ArgumentError(
                "VARIANT",
                variant_id,
                f"its subject does not render for this email ({type(error).__name__}: {error}); the "
                "functions would ignore the experiment",
            ) from error
    return Arm(experiment=experiment, variant=variant, subject=subject)


def _samples(
    trigger: Trigger[Any], segment: Segment, request: SendTestRequest, step: int, settings: Settings
) -> tuple[Customer, SampleDetail, tuple[str, str]]:
    """A sample customer of the segment (of the locale's language if there is one), else one of the
    language, else the first; as the test customer, in the segment and locale asked for. A sample
    event of the trigger, the customer's own if there is one, else one the sample day sends."""
    customers = [customer for customer in sample_customers() if is_reachable(customer)]
    language = request.locale.replace("_", "-").split("-")[0].casefold()

    def speaks(customer: Customer) -> bool:
        return (customer.locale or "").split("-")[0].casefold() == language

    in_segment = [customer for customer in customers if customer.segment_id == segment.segment_id]
    chosen = next(
        iter(
            [c for c in in_segment if speaks(c)]
            or in_segment
            or [c for c in customers if speaks(c)]
            or customers
        )
    )
    details = sample_details(trigger)
    detail = next(
        iter(
            [d for d in details if d.detail.customer_id == chosen.customer_id]
            or [d for d in details if d.sent]
            or details
        )
    )
    customer = chosen.model_copy(
        update={
            "customer_id": TEST_CUSTOMER_ID,
            "email": request.to,
            "locale": request.locale,
            "segment_id": segment.segment_id,
        }
    )
    rebased = _rebased(detail.detail.model_dump(mode="json", by_alias=True), settings.store.url)
    updates: dict[str, Any] = {"customer_id": TEST_CUSTOMER_ID}
    if trigger.series is not None:
        updates["step"] = step
    parsed = type(detail.detail).model_validate(rebased).model_copy(update=updates)
    return customer, dataclasses.replace(detail, detail=parsed), (chosen.customer_id, detail.name)


def _rebased(value: Any, store_url: str) -> Any:
    """The sample's links on the stack's store, so they are tagged as a customer's would be."""
    split = urlsplit(store_url)
    origin = f"{split.scheme}://{split.netloc}"
    if isinstance(value, str) and (value == SAMPLE_ORIGIN or value.startswith(SAMPLE_ORIGIN + "/")):
        return origin + value[len(SAMPLE_ORIGIN) :]
    if isinstance(value, dict):
        return {name: _rebased(item, store_url) for name, item in value.items()}
    if isinstance(value, list):
        return [_rebased(item, store_url) for item in value]
    return value


def _safe_file_name(stem: str) -> str:
    return "".join(character if character.isalnum() or character in "-_." else "_" for character in stem)
