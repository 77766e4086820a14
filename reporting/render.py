"""The report as plain text: aligned columns, one table of triggers, then one table per experiment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from decimal import Decimal

from reporting.report import Arm, Experiment, Group, Report
from reporting.stats import CONFIDENCE, MIN_CONVERSIONS, MIN_RECIPIENTS_PER_ARM, Interval, Verdict

_COUNTS = ("recipients", "unconfirmed", "delivered", "opened", "clicked", "converted")
_MEASURES = ("revenue", "conversion (95 % CI)", "revenue/recipient (95 % CI)")
_NOT_SENT = "-"


def render(report: Report) -> str:
    lines = [*_preamble(report), "", *_triggers(report)]
    for experiment in report.experiments.values():
        lines += ["", *_experiment(experiment, report.currency)]
    return "\n".join(lines) + "\n"


def _preamble(report: Report) -> list[str]:
    since = f", decided since {report.since.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}" if report.since else ""
    records = "record" if report.records == 1 else "records"
    lines = [f"Nudge report: {report.records:,} delivery {records}{since}"]
    if report.currency is None:
        lines.append("No conversions yet: revenue is 0.")
    else:
        lines.append(
            f"Revenue is in {report.currency}, the currency of {report.currency_conversions:,} of "
            f"{report.all_conversions:,} conversions; any other currency is shown apart, never added."
        )
    lines += [
        f"Intervals are {CONFIDENCE * 100:.0f} %: Wilson for conversion, t for revenue per recipient"
        " (never below 0)."
        " Each arm is tested against its control: Fisher's exact test (conversion) and Welch's t-test"
        " (revenue per recipient).",
        f"Too few recipients to call: fewer than {MIN_RECIPIENTS_PER_ARM} recipients in either arm, or"
        f" fewer than {MIN_CONVERSIONS} conversions in the two together.",
        *report.notes,
    ]
    return lines


def _triggers(report: Report) -> list[str]:
    title = "Triggers: every send, in an experiment or not (the holdout is not sent, so not here)"
    if not report.triggers:
        return [title, "  no sends"]
    rows = [[name, *_row(group, report.currency)] for name, group in report.triggers.items()]
    notes = [note for name, group in report.triggers.items() for note in _currency_notes(name, group)]
    return [title, "", *_table(["trigger", *_COUNTS, *_MEASURES], rows), *notes]


def _experiment(experiment: Experiment, currency: str | None) -> list[str]:
    holdout = "n/a" if experiment.holdout_percent is None else f"{experiment.holdout_percent} %"
    lines = [
        f"Experiment {experiment.experiment_id}: trigger {experiment.trigger or 'unknown'}, "
        f"status {experiment.status or 'unknown'}, holdout {holdout}",
        *(f"  {problem}" for problem in experiment.problems),
    ]
    if not experiment.arms:
        return [*lines, "  no recipients yet"]
    control = experiment.arms[experiment.control] if experiment.control else None
    rows = [
        [
            f"{name} (control)" if arm.is_control else name,
            *_row(arm, currency),
            _lift(arm),
            _p(arm.p_value_conversion, arm),
            _p(arm.p_value_revenue, arm),
        ]
        for name, arm in experiment.arms.items()
    ]
    notes = [note for name, arm in experiment.arms.items() for note in _currency_notes(name, arm)]
    notes += [
        f"  {name}: not a variant of the experiment's row"
        for name, arm in experiment.arms.items()
        if experiment.has_row and not arm.in_experiment_row and not arm.is_holdout
    ]
    verdicts = [
        f"  {name} vs {control.name}: {_verdicts(arm)}"
        for name, arm in experiment.arms.items()
        if control is not None and not arm.is_control
    ]
    if not any(arm.recipients for arm in experiment.arms.values()):
        notes.append("  no recipients yet")
    headers = ["arm", *_COUNTS, *_MEASURES, "lift", "p conversion", "p revenue"]
    return [*lines, "", *_table(headers, rows), *notes, *verdicts]


def _verdicts(arm: Arm) -> str:
    if arm.conversion_verdict is arm.revenue_verdict is Verdict.TOO_FEW:
        return str(Verdict.TOO_FEW)
    return f"conversion {arm.conversion_verdict}; revenue per recipient {arm.revenue_verdict}"


def _row(group: Group, currency: str | None) -> list[str]:
    """The counts and measures; the holdout was not emailed, so it has no delivery counts."""
    held_out = isinstance(group, Arm) and group.is_holdout
    emailed = [group.unconfirmed, group.delivered, group.opened, group.clicked]
    return [
        f"{group.recipients:,}",
        *([_NOT_SENT] * len(emailed) if held_out else [f"{count:,}" for count in emailed]),
        f"{group.converted:,}",
        _money(group.revenue, currency),
        _rate(group.conversion_rate, group.conversion_ci),
        _money_interval(group.revenue_per_recipient, group.revenue_per_recipient_ci, currency),
    ]


def _currency_notes(name: str, group: Group) -> list[str]:
    return [
        f"  {name}: {total.conversions:,} conversion(s) in {code} ({_money(total.revenue, code)}), "
        "not in revenue"
        for code, total in group.other_currencies.items()
    ]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The first column aligned left, the others right, two spaces between columns."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        aligned = [
            cells[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)),
        ]
        return "  ".join(aligned).rstrip()

    return [line(headers), *(line(row) for row in rows)]


def _money(value: Decimal | float, currency: str | None) -> str:
    return f"{value:,.2f} {currency}" if currency else f"{value:,.2f}"


def _money_interval(value: float | None, interval: Interval | None, currency: str | None) -> str:
    if value is None:
        return "n/a"
    bounds = f" [{interval.low:,.2f}, {interval.high:,.2f}]" if interval else ""
    return _money(value, currency) + bounds


def _rate(rate: float | None, interval: Interval | None) -> str:
    if rate is None:
        return "n/a"
    bounds = f" [{interval.low * 100:.1f}, {interval.high * 100:.1f}]" if interval else ""
    return f"{rate * 100:.1f} %{bounds}"


def _lift(arm: Arm) -> str:
    if arm.is_control:
        return ""
    return "n/a" if arm.lift is None else f"{arm.lift * 100:+.1f} %"


def _p(value: float | None, arm: Arm) -> str:
    if arm.is_control:
        return ""
    if value is None:
        return "n/a"
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"
