"""Reads the metrics the handlers print in CloudWatch's embedded metric format (EMF), as CloudWatch
Logs turns them into metrics: one metric per namespace, name and set of dimensions (name and value).

Powertools prints one JSON document per flush; ``_aws.CloudWatchMetrics`` names the metrics and the
dimension sets, and the document's top-level keys hold their values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class EmittedMetric:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    """(name, value) pairs, sorted by name."""
    values: tuple[float, ...]

    @property
    def dimension_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.dimensions)


def emitted_metrics(printed: str) -> Iterator[EmittedMetric]:
    """Every metric in the EMF documents among these lines; other lines (logs) are skipped."""
    for line in printed.splitlines():
        stripped = line.strip()
        if not stripped.startswith("{") or '"_aws"' not in stripped:
            continue
        document = json.loads(stripped)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = tuple(sorted((name, str(document[name])) for name in dimension_set))
                for metric in directive["Metrics"]:
                    value = document[metric["Name"]]
                    values = tuple(float(v) for v in value) if isinstance(value, list) else (float(value),)
                    yield EmittedMetric(directive["Namespace"], metric["Name"], dimensions, values)
