"""Counting delivery records into groups: per trigger, and per experiment and arm. Pure functions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from reporting.records import HOLDOUT, SEND_UNCONFIRMED, SENT, UNKNOWN, Delivery


@dataclass
class Tally:
    """A group's counts. Recipients are the sent records (the held-out records, for the holdout); a
    send that may or may not have gone out (send_unconfirmed) is counted apart and in nothing else."""

    recipients: int = 0
    unconfirmed: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    converted: int = 0
    revenues: dict[str, list[Decimal]] = field(default_factory=dict)
    """Per currency, the revenue of each conversion in it (a conversion without revenue counts 0)."""

    def add(self, record: Delivery) -> None:
        if record.decision == SEND_UNCONFIRMED:
            self.unconfirmed += 1
            return
        self.recipients += 1
        self.delivered += record.delivered
        self.opened += record.opened
        self.clicked += record.clicked
        if record.converted:
            self.converted += 1
            self.revenues.setdefault(record.currency, []).append(record.revenue or Decimal(0))

    def revenue(self, currency: str | None) -> Decimal:
        return sum(self.revenues.get(currency, []), Decimal(0)) if currency else Decimal(0)

    def revenue_per_recipient(self, currency: str | None) -> list[float]:
        """Each recipient's revenue in the currency, zero for those who did not convert in it."""
        converting = [float(value) for value in self.revenues.get(currency, [])] if currency else []
        return converting + [0.0] * (self.recipients - len(converting))


def by_trigger(records: Iterable[Delivery]) -> dict[str, Tally]:
    """Every send of each trigger, in an experiment or not; the holdout was not sent, so not here."""
    tallies: dict[str, Tally] = {}
    for record in records:
        if record.decision in (SENT, SEND_UNCONFIRMED):
            tallies.setdefault(record.trigger, Tally()).add(record)
    return tallies


def by_experiment(records: Iterable[Delivery]) -> dict[str, dict[str, Tally]]:
    """Per experiment, per arm (a variant's id, or the holdout): its sends, or its held-out records."""
    tallies: dict[str, dict[str, Tally]] = {}
    for record in records:
        if record.experiment_id is None:
            continue
        if record.is_holdout:
            arm = HOLDOUT
        elif record.decision in (SENT, SEND_UNCONFIRMED) and record.variant_id != HOLDOUT:
            arm = record.variant_id or UNKNOWN
        else:
            continue
        tallies.setdefault(record.experiment_id, {}).setdefault(arm, Tally()).add(record)
    return tallies


def main_currency(tallies: Iterable[Tally]) -> tuple[str | None, int, int]:
    """The currency most conversions are in (ties: the first by code), with its conversions and all."""
    counts: Counter[str] = Counter()
    for tally in tallies:
        counts.update({currency: len(values) for currency, values in tally.revenues.items()})
    if not counts:
        return None, 0, 0
    currency = min(counts, key=lambda code: (-counts[code], code))
    return currency, counts[currency], counts.total()
