"""The experiment an email takes part in, if any, from the Experiments table as it stands now.

A row that does not validate never breaks sending: it is ignored with a log line and a metric
(``InvalidExperiment``, dimensions ``experiment`` and ``field``), and the email goes out as if the row
did not exist. Two running experiments on one trigger are an error that names both (metric
``ConflictingExperiments``): neither runs until one is stopped, so no email is split two ways.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pydantic import ValidationError

from nudge.dal.experiments import running_rows
from nudge.experiments.assignment import assign
from nudge.experiments.models import Arm, Experiment
from nudge.observability import logger, metrics
from nudge.rendering import render_subject


def report_invalid(experiment_id: str, field: str, problem: str) -> None:
    logger.error(
        "experiment ignored: its row is invalid",
        extra={"experiment_id": experiment_id, "field": field, "problem": problem},
    )
    with single_metric(
        name="InvalidExperiment",
        unit=MetricUnit.Count,
        value=1,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name="experiment", value=experiment_id[:250] or "-")
        metric.add_dimension(name="field", value=field[:250] or "-")


def _validated(row: Mapping[str, Any], triggers: Collection[str]) -> Experiment | None:
    try:
        return Experiment.model_validate(row, context={"triggers": triggers})
    except ValidationError as error:
        problem = error.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in problem["loc"]) or "variants"
        report_invalid(str(row.get("experiment_id", "")), field, problem["msg"])
        return None


def running_experiment(table: str | None, trigger: str, triggers: Collection[str]) -> Experiment | None:
    """The one valid running experiment of ``trigger``; None without one, or with two."""
    if not table:
        return None
    experiments = [
        experiment
        for row in running_rows(table)
        if row.get("trigger") == trigger or row.get("trigger") not in triggers
        if (experiment := _validated(row, triggers)) is not None
    ]
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
    does not makes the whole experiment invalid: None, as if it did not exist)."""
    if experiment is None:
        return None
    for index, variant in enumerate(experiment.variants):
        if variant.subject is None:
            continue
        try:
            render_subject(templates_dir, language, variant.subject, {**context, "variant": variant})
        except Exception as error:
            report_invalid(experiment.experiment_id, f"variants.{index}.subject", type(error).__name__)
            return None
    return assign(experiment, customer_id)
