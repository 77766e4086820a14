"""Reads the metrics the handlers print in CloudWatch's embedded metric format (EMF), as CloudWatch
Logs turns them into metrics: one metric per namespace, name and set of dimensions (name and value).

Powertools prints one JSON document per flush; ``_aws.CloudWatchMetrics`` names the metrics and the
dimension sets, and the document's top-level keys hold their values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_DECODER = json.JSONDecoder()


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
    for document in _json_documents(printed):
        directives = document.get("_aws", {}).get("CloudWatchMetrics", [])
        for directive in directives:
            for dimension_set in directive["Dimensions"]:
                dimensions = tuple(sorted((name, str(document[name])) for name in dimension_set))
                for metric in directive["Metrics"]:
                    value = document[metric["Name"]]
                    values = tuple(float(v) for v in value) if isinstance(value, list) else (float(value),)
                    yield EmittedMetric(directive["Namespace"], metric["Name"], dimensions, values)


def _json_documents(printed: str) -> Iterator[dict[str, Any]]:
    """The JSON objects on each line. ``print`` writes a document and its newline separately, so two
    threads printing at once can leave two documents on one line: each is read in turn."""
    for line in printed.splitlines():
        position = line.find("{")
        while position != -1:
            try:
                document, end = _DECODER.raw_decode(line, position)
            except json.JSONDecodeError:
                break
            if isinstance(document, dict):
                yield document
            position = line.find("{", end)
