"""The report's numbers: each trigger's sends, and each experiment's arms against its control."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from reporting.aggregate import Tally, by_experiment, by_trigger, main_currency
from reporting.records import HOLDOUT, ExperimentRow, delivery, experiment_row
from reporting.stats import (
    Interval,
    Verdict,
    fisher_p_value,
    mean_interval,
    proportion_interval,
    verdict,
    welch_p_value,
)


@dataclass(frozen=True)
class CurrencyTotal:
    conversions: int
    revenue: Decimal


@dataclass(frozen=True)
class Group:
    """A trigger's sends, or an experiment's arm. Revenue is in the report's currency only; the
    conversions in any other currency are in other_currencies, never added to it."""

    name: str
    recipients: int
    unconfirmed: int
    delivered: int
    opened: int
    clicked: int
    converted: int
    revenue: Decimal
    other_currencies: Mapping[str, CurrencyTotal]
    conversion_rate: float | None
    conversion_ci: Interval | None
    revenue_per_recipient: float | None
    revenue_per_recipient_ci: Interval | None

    @property
    def sent(self) -> int:
        return self.recipients


@dataclass(frozen=True)
class Arm(Group):
    """A variant (its sends) or the holdout (its held-out customers: recipients who were not sent).
    The comparison fields are None on the control."""

    is_holdout: bool
    is_control: bool
    in_experiment_row: bool
    lift: float | None
    """The relative difference of the conversion rate from the control's (0.5 is 50 % higher)."""
    p_value_conversion: float | None
    p_value_revenue: float | None
    conversion_verdict: Verdict | None
    revenue_verdict: Verdict | None

    @property
    def sent(self) -> int:
        return 0 if self.is_holdout else self.recipients


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    trigger: str | None
    status: str | None
    holdout_percent: Decimal | None
    control: str | None
    arms: Mapping[str, Arm]
    has_row: bool
    problems: tuple[str, ...]
    """What is wrong with the experiment's row ("invalid row: variants[0].weight"), or its absence."""


@dataclass(frozen=True)
class Report:
    currency: str | None
    """The currency revenue is reported in: the one most conversions are in."""
    currency_conversions: int
    all_conversions: int
    triggers: Mapping[str, Group]
    experiments: Mapping[str, Experiment]
    records: int
    """The delivery records counted (guard items, and records before since, are not)."""
    since: datetime | None
    notes: tuple[str, ...]


def build_report(
    deliveries: Iterable[Mapping[str, Any]],
    experiments: Iterable[Mapping[str, Any]],
    *,
    since: datetime | None = None,
) -> Report:
    """The report of the two tables' items (plain Python, as read_tables returns them), counting the
    records decided at or after since (a naive since is UTC)."""
    records = [record for item in deliveries if (record := delivery(item)) is not None]
    if since is not None:
        since = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
        records = [r for r in records if r.decided_at is not None and r.decided_at >= since]
    rows: dict[str, ExperimentRow] = {}
    unnamed = 0
    for item in experiments:
        row = experiment_row(item)
        if row is None:
            unnamed += 1
        else:
            rows[row.experiment_id] = row
    triggers = by_trigger(records)
    arms = by_experiment(records)
    experiment_triggers: dict[str, str] = {}
    for record in records:
        if record.experiment_id is not None:
            seen = experiment_triggers.get(record.experiment_id, record.trigger)
            experiment_triggers[record.experiment_id] = min(seen, record.trigger)
    currency, in_currency, conversions = main_currency(
        [*triggers.values(), *(tallies[HOLDOUT] for tallies in arms.values() if HOLDOUT in tallies)]
    )
    notes = [f"{unnamed} experiment row(s) without an experiment_id: not shown"] if unnamed else []
    return Report(
        currency=currency,
        currency_conversions=in_currency,
        all_conversions=conversions,
        triggers={name: Group(name=name, **_measures(triggers[name], currency)) for name in sorted(triggers)},
        experiments={
            experiment_id: _experiment(
                experiment_id,
                rows.get(experiment_id),
                arms.get(experiment_id, {}),
                experiment_triggers.get(experiment_id),
                currency,
            )
            for experiment_id in sorted(rows.keys() | arms.keys())
        },
        records=len(records),
        since=since,
        notes=tuple(notes),
    )


def _experiment(
    experiment_id: str,
    row: ExperimentRow | None,
    tallies: Mapping[str, Tally],
    trigger_of_records: str | None,
    currency: str | None,
) -> Experiment:
    listed = [variant.variant_id for variant in row.variants] if row else []
    order = [HOLDOUT] if HOLDOUT in tallies else []
    order += [name for name in listed if name not in order]
    order += sorted(name for name in tallies if name not in order)
    control = order[0] if order else None
    by_name = {name: tallies.get(name, Tally()) for name in order}
    control_tally = by_name[control] if control else Tally()
    problems = [f"invalid row: {name}" for name in row.problems] if row else ["no experiment row"]
    return Experiment(
        experiment_id=experiment_id,
        trigger=row.trigger if row and row.trigger else trigger_of_records,
        status=row.status if row else None,
        holdout_percent=row.holdout_percent if row else None,
        control=control,
        has_row=row is not None,
        arms={
            name: _arm(name, tally, control_tally, name == control, name in listed, currency)
            for name, tally in by_name.items()
        },
        problems=tuple(problems),
    )


_NO_COMPARISON: dict[str, Any] = dict.fromkeys(
    ("lift", "p_value_conversion", "p_value_revenue", "conversion_verdict", "revenue_verdict")
)


def _arm(
    name: str, tally: Tally, control: Tally, is_control: bool, in_row: bool, currency: str | None
) -> Arm:
    return Arm(
        name=name,
        **_measures(tally, currency),
        is_holdout=name == HOLDOUT,
        is_control=is_control,
        in_experiment_row=in_row,
        **(_NO_COMPARISON if is_control else _comparison(tally, control, currency)),
    )


def _comparison(arm: Tally, control: Tally, currency: str | None) -> dict[str, Any]:
    recipients = (arm.recipients, control.recipients)
    conversions = (arm.converted, control.converted)
    p_conversion = fisher_p_value(arm.converted, arm.recipients, control.converted, control.recipients)
    p_revenue = welch_p_value(arm.revenue_per_recipient(currency), control.revenue_per_recipient(currency))
    lift = None
    if arm.recipients and control.converted:
        lift = (arm.converted / arm.recipients) / (control.converted / control.recipients) - 1
    return {
        "lift": lift,
        "p_value_conversion": p_conversion,
        "p_value_revenue": p_revenue,
        "conversion_verdict": verdict(p_conversion, recipients, conversions),
        "revenue_verdict": verdict(p_revenue, recipients, conversions),
    }


def _measures(tally: Tally, currency: str | None) -> dict[str, Any]:
    per_recipient = tally.revenue_per_recipient(currency)
    return {
        "recipients": tally.recipients,
        "unconfirmed": tally.unconfirmed,
        "delivered": tally.delivered,
        "opened": tally.opened,
        "clicked": tally.clicked,
        "converted": tally.converted,
        "revenue": tally.revenue(currency),
        "other_currencies": {
            code: CurrencyTotal(len(values), sum(values, Decimal(0)))
            for code, values in sorted(tally.revenues.items())
            if code != currency
        },
        "conversion_rate": tally.converted / tally.recipients if tally.recipients else None,
        "conversion_ci": proportion_interval(tally.converted, tally.recipients),
        "revenue_per_recipient": sum(per_recipient) / len(per_recipient) if per_recipient else None,
        "revenue_per_recipient_ci": mean_interval(per_recipient),
    }
