"""The experiment an email takes part in, if any, from the Experiments table as it stands now.

A row that does not validate never breaks sending, whatever it holds (a list where a string belongs,
a number as an id, a 400 KB paste, keys left out or added): it is ignored with a log line and a
metric (``InvalidExperiment``, dimensions ``experiment`` and ``field``) that name the field, never
the data in it, and the email goes out as if the row did not exist. Two running experiments on one
trigger are an error that names both (metric ``ConflictingExperiments``): neither runs until one is
stopped, so no email is split two ways.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pydantic import ValidationError

from nudge.dal.experiments import running_rows
from nudge.experiments.assignment import assign
from nudge.experiments.models import Arm, Experiment
from nudge.observability import logger, metrics
from nudge.rendering import render_subject

# An id is shown as it is when it is short printable ASCII (a CloudWatch dimension value must be
# ASCII); anything else, a 400 KB paste or a list, by a digest, so one bad row is one short series.
_SHOWN_AS_IS = re.compile(r"[ -~]{1,64}")
_FIELD_LENGTH = 100
_PROBLEM_LENGTH = 200


def experiment_label(experiment_id: object) -> str:
    """What a row's ``experiment_id`` is called in logs and metrics: itself when it is printable ASCII
    of at most 64 characters, ``-`` when it is missing or empty, else ``sha256:`` and 16 hex digits of
    it (the same for the same value, in every function and process)."""
    if experiment_id is None or experiment_id == "":
        return "-"
    if isinstance(experiment_id, str) and experiment_id.strip() and _SHOWN_AS_IS.fullmatch(experiment_id):
        return experiment_id
    return "sha256:" + hashlib.sha256(_canonical(experiment_id).encode("utf-8", "replace")).hexdigest()[:16]


def _canonical(value: object) -> str:
    """A text for any value read from DynamoDB that does not depend on set order (string hashing
    differs between processes)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(_canonical(item) for item in value)) + "}"
    if isinstance(value, Mapping):
        return "{" + ",".join(sorted(f"{_canonical(k)}:{_canonical(v)}" for k, v in value.items())) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_canonical(item) for item in value) + "]"
    return f"{type(value).__name__}:{value!r}"


def report_invalid(experiment_id: object, field: str, problem: str) -> None:
    """One log line and one metric for an ignored row: its label, the field and what is wrong with it
    (pydantic's message or the error's name, which never quote the value)."""
    label = experiment_label(experiment_id)
    field = field[:_FIELD_LENGTH] or "-"
    logger.error(
        "experiment ignored: its row is invalid",
        extra={"experiment_id": label, "field": field, "problem": problem[:_PROBLEM_LENGTH]},
    )
    with single_metric(
        name="InvalidExperiment",
        unit=MetricUnit.Count,
        value=1,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name="experiment", value=label)
        metric.add_dimension(name="field", value=field)


def _validated(row: object, triggers: Collection[str]) -> Experiment | None:
    try:
        return Experiment.model_validate(row, context={"triggers": triggers})
    except ValidationError as error:
        problem = error.errors(include_input=False, include_url=False, include_context=False)[0]
        field = ".".join(str(part) for part in problem["loc"]) or "variants"
        message = problem["msg"]
    except Exception as error:  # a row so odd that validating it fails otherwise (nesting too deep)
        field, message = "row", type(error).__name__
    report_invalid(row.get("experiment_id") if isinstance(row, Mapping) else None, field, message)
    return None


def _concerns(row: object, trigger: str, triggers: Collection[str]) -> bool:
    """Whether this trigger's function validates the row: a row of another trigger is that trigger's;
    a row whose ``trigger`` names none (misspelt, a list, missing) is validated, and reported, by all."""
    named = row.get("trigger") if isinstance(row, Mapping) else None
    return not (isinstance(named, str) and named != trigger and named in triggers)


def valid_experiments(rows: Iterable[object], trigger: str, triggers: Collection[str]) -> list[Experiment]:
    """The valid rows of ``trigger``, each row validated on its own; the others are reported."""
    return [
        experiment
        for row in rows
        if _concerns(row, trigger, triggers)
        if (experiment := _validated(row, triggers)) is not None
    ]


def running_experiment(table: str | None, trigger: str, triggers: Collection[str]) -> Experiment | None:
    """The one valid running experiment of ``trigger``; None without one, or with two."""
    if not table:
        return None
    experiments = valid_experiments(running_rows(table), trigger, triggers)
    if len(experiments) > 1:
        names = sorted(experiment.experiment_id for experiment in experiments)
        logger.error(
            "two running experiments on one trigger: neither runs until one is stopped",
            extra={"trigger": trigger, "experiments": names},
        )
        metrics.add_metric(name="ConflictingExperiments", unit=MetricUnit.Count, value=1)
        return None
    return experiments[0] if experiments else None


def arm_for(
    experiment: Experiment | None,
    customer_id: str,
    *,
    templates_dir: str,
    language: str,
    context: Mapping[str, Any],
) -> Arm | None:
    """The customer's arm, once every variant's subject renders with this email's context (one that
    does not makes the whole experiment invalid: None, as if it did not exist), carrying its
    variant's subject as rendered here."""
    if experiment is None:
        return None
    subjects: dict[str, str] = {}
    for index, variant in enumerate(experiment.variants):
        if variant.subject is None:
            continue
        try:
            subjects[variant.variant_id] = render_subject(
                templates_dir, language, variant.subject, {**context, "variant": variant}
            )
        except Exception as error:
            report_invalid(experiment.experiment_id, f"variants.{index}.subject", type(error).__name__)
            return None
    arm = assign(experiment, customer_id)
    subject = subjects.get(arm.variant.variant_id) if arm.variant is not None else None
    return arm.model_copy(update={"subject": subject})
