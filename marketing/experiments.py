"""Experiment rows checked as the functions read them (nudge.experiments.models), and every variant's
subject rendered in the metered sandbox with the sample data's contexts, as ``arm_for`` renders it
for each email (nudge.experiments.running): a row the functions would ignore is refused here,
naming the experiment, the field and the variant."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import ValidationError

from local_stack.emulator.scenario import load_sample_rows
from marketing.rows import Problem, duplicates, row_label, unknown_fields, validation_problems
from marketing.samples import (
    TEST_CUSTOMER_ID,
    local_settings,
    sample_customers,
    sample_details,
    sample_products,
)
from nudge.experiments.models import Experiment, Variant
from nudge.profiles import DEFAULT_SEGMENT_ID, FALLBACK_SEGMENT, Customer, Segment
from nudge.rendering import language_for, render_subject
from nudge.sending.case import EmailCase, Recipient
from nudge.sending.compose import template_context
from nudge.triggers import TRIGGER_NAMES, TRIGGERS, Trigger

KEY = "experiment_id"
FIELDS = frozenset(Experiment.model_fields)
VARIANT_FIELDS = frozenset(Variant.model_fields)


@dataclass(frozen=True)
class SubjectContext:
    """One email's context, as ``subject.txt.j2`` and a variant's subject get it."""

    label: str
    templates_dir: str
    language: str
    context: dict[str, Any]


SubjectContexts = Callable[[str], Sequence[SubjectContext]]
"""The contexts a trigger's subjects are rendered with."""


@dataclass(frozen=True)
class CheckedExperiments:
    experiments: dict[str, Experiment]
    """The valid rows by id, in file order."""
    rows: dict[str, dict[str, Any]]
    """The same rows as written in the file, to be written as they are."""
    problems: list[Problem]
    warnings: list[Problem]
    """What renders but reads oddly (``None`` for a customer without a first name)."""


def check_experiments(rows: Sequence[Any], contexts: SubjectContexts | None = None) -> CheckedExperiments:
    """Each row validated on its own, then its variants' subjects rendered with ``contexts`` (by
    default the sample data's, ``sample_subject_contexts``); ids unique, one running per trigger."""
    contexts = contexts or sample_subject_contexts
    experiments: dict[str, Experiment] = {}
    written: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for index, row in enumerate(rows):
        label = row_label("experiment", KEY, index, row)
        if not isinstance(row, dict):
            problems.append(Problem(label, "row", "must be an object"))
            continue
        found = unknown_fields(label, row, FIELDS)
        variants = row.get("variants")
        if isinstance(variants, list):
            for number, variant in enumerate(variants):
                if isinstance(variant, dict):
                    found += unknown_fields(label, variant, VARIANT_FIELDS, prefix=f"variants.{number}.")
        try:
            experiment = Experiment.model_validate(row, context={"triggers": TRIGGER_NAMES})
        except ValidationError as error:
            found += validation_problems(label, error)
        else:
            rendered, odd = _subjects(label, experiment, contexts(experiment.trigger))
            found += rendered
            warnings += odd
            if not found and experiment.experiment_id not in experiments:
                experiments[experiment.experiment_id] = experiment
                written[experiment.experiment_id] = row
        problems += found
    problems += duplicates("experiment", [str(r.get(KEY)) for r in rows if isinstance(r, dict) and KEY in r])
    problems += _conflicts(experiments.values())
    return CheckedExperiments(experiments, written, problems, warnings)


def _subjects(
    label: str, experiment: Experiment, contexts: Sequence[SubjectContext]
) -> tuple[list[Problem], list[Problem]]:
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for number, variant in enumerate(experiment.variants):
        if variant.subject is None:
            continue
        field = f"variants.{number}.subject"
        odd = None
        for sample in contexts:
            try:
                subject = render_subject(
                    sample.templates_dir,
                    sample.language,
                    variant.subject,
                    {**sample.context, "variant": variant},
                )
            except Exception as error:
                problems.append(
                    Problem(
                        label,
                        field,
                        f"variant {variant.variant_id}'s subject does not render for {sample.label} "
                        f"({type(error).__name__}: {error}): the functions would ignore this experiment",
                    )
                )
                break
            if odd is None and "None" in subject and "None" not in variant.subject:
                odd = Problem(
                    label, field, f"variant {variant.variant_id} reads {subject!r} for {sample.label}"
                )
        if odd is not None and not any(problem.field == field for problem in problems):
            warnings.append(odd)
    return problems, warnings


def _conflicts(experiments: Iterable[Experiment]) -> list[Problem]:
    running: dict[str, list[str]] = defaultdict(list)
    for experiment in experiments:
        if experiment.status == "running":
            running[experiment.trigger].append(experiment.experiment_id)
    return [
        Problem(
            f"experiment {ids[0]}",
            "status",
            f"running on {trigger} beside {', '.join(ids[1:])}: the functions run none of them until "
            "only one runs",
        )
        for trigger, ids in sorted(running.items())
        if len(ids) > 1
    ]


@cache
def sample_subject_contexts(trigger_name: str) -> tuple[SubjectContext, ...]:
    """The contexts of the sample data's emails of one trigger: every valid sample event (every step
    of a series) for every sample customer, and one without a first name, each in the customer's
    language, with the sample segments' offers and the sample catalog as recommendations."""
    trigger: Trigger[Any] = next(t for t in TRIGGERS if t.name == trigger_name)
    settings = local_settings(trigger_name)
    segments = {row["segment_id"]: Segment.model_validate(row) for row in load_sample_rows("segments")}
    customers = sample_customers()
    customers.append(
        customers[0].model_copy(
            update={"customer_id": TEST_CUSTOMER_ID, "first_name": None, "last_name": None}
        )
    )
    products = sample_products()[: settings.recommendations_per_email]
    unsubscribe_url = f"{settings.unsubscribe_url}?token=sample"
    contexts = []
    for sample in sample_details(trigger):
        details = [sample.detail]
        if trigger.series is not None:
            steps = range(2, len(trigger.series.hours(settings)) + 1)
            details += [trigger.series.with_step(sample.detail, step) for step in steps]
        for detail in details:
            for customer in customers:
                segment = _segment_of(customer, segments)
                recommended = products if segment.show_recommendations else []
                context = template_context(
                    EmailCase(trigger, detail, settings),
                    Recipient(customer, segment, unsubscribe_url),
                    recommended,
                )
                contexts.append(
                    SubjectContext(
                        label=_label(customer, sample.name, detail, trigger),
                        templates_dir=settings.templates_dir,
                        language=language_for(settings.templates_dir, context["locale"]),
                        context=context,
                    )
                )
    return tuple(contexts)


def _segment_of(customer: Customer, segments: dict[str, Segment]) -> Segment:
    return segments.get(customer.segment_id or "", segments.get(DEFAULT_SEGMENT_ID, FALLBACK_SEGMENT))


def _label(customer: Customer, sample: str, detail: Any, trigger: Trigger[Any]) -> str:
    who = (
        "a customer without a first name"
        if customer.first_name is None
        else f"customer {customer.customer_id}"
    )
    step = f", step {trigger.series.step(detail)}" if trigger.series is not None else ""
    return f"{who}, events/{sample}{step}"
