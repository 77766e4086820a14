"""The metrics template.yaml's dashboard and alarms read, and the ones among them nothing emits.

A graph of a metric that never comes is empty, and an alarm on one never fires (or, treating missing
data as breaching, always does): a typo in a name, a dimension forgotten or added. Dashboard metric
rows (``[namespace, name, dimension, value, ..., {options}]``) and ``SEARCH('{namespace,dimension,...}
MetricName="..."')`` expressions are read; a SEARCH's schema names the exact set of dimensions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from local_stack.emulator.cfn import Resolver
from local_stack.emulator.emf import EmittedMetric
from local_stack.emulator.stack import ACCOUNT_ID, LocalStack

_SEARCH = re.compile(r"SEARCH\(\s*'(?P<query>[^']*)'")
_SCHEMA = re.compile(r"\{(?P<schema>[^}]*)\}")
_TERM = re.compile(r'(?P<key>[\w:.-]+)\s*=\s*"(?P<value>[^"]*)"')


@dataclass(frozen=True)
class WatchedMetric:
    namespace: str
    name: str
    dimension_names: frozenset[str]
    """Exactly the dimensions the metric must have (CloudWatch matches the whole set)."""
    values: tuple[tuple[str, str], ...]
    """The dimension values it asks for; a SEARCH may leave some open."""
    where: str


def dashboard_metrics(body: Mapping[str, Any]) -> Iterator[WatchedMetric]:
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        properties = widget["properties"]
        where = f"dashboard widget {properties.get('title', '(untitled)')!r}"
        previous: list[str] = []
        for row in properties["metrics"]:
            options = row[-1] if row and isinstance(row[-1], dict) else {}
            fields = [str(field) for field in (row[:-1] if options else row)]
            if not fields:
                yield from searched_metrics(str(options.get("expression", "")), where)
                continue
            # "." repeats the row above's field at that position.
            fields = [previous[i] if field == "." else field for i, field in enumerate(fields)]
            previous = fields
            namespace, name, *pairs = fields
            yield _metric(namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True)), where)


def alarm_metrics(logical_id: str, properties: Mapping[str, Any]) -> Iterator[WatchedMetric]:
    where = f"alarm {logical_id}"
    if "MetricName" in properties:
        yield _metric(
            properties["Namespace"], properties["MetricName"], _named(properties.get("Dimensions", [])), where
        )
    for query in properties.get("Metrics", []):
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            yield _metric(
                metric["Namespace"], metric["MetricName"], _named(metric.get("Dimensions", [])), where
            )
        yield from searched_metrics(str(query.get("Expression", "")), where)


def searched_metrics(expression: str, where: str) -> Iterator[WatchedMetric]:
    for search in _SEARCH.finditer(expression):
        query = search["query"]
        schema = _SCHEMA.search(query)
        if schema is None:
            raise ValueError(f"{where}: a SEARCH without a {{namespace,dimensions}} schema: {query}")
        namespace, *dimension_names = (part.strip().strip('"') for part in schema["schema"].split(","))
        terms = dict(_TERM.findall(query[schema.end() :]))
        name = terms.pop("MetricName", None)
        if name is None:
            raise ValueError(f"{where}: a SEARCH that names no MetricName: {query}")
        yield WatchedMetric(namespace, name, frozenset(dimension_names), tuple(sorted(terms.items())), where)


def never_emitted(
    watched: Iterable[WatchedMetric],
    emitted: Iterable[EmittedMetric],
    aws_metrics: Mapping[tuple[str, str], frozenset[str]],
    physical_names: Iterable[str],
) -> list[str]:
    """What is wrong with each watched metric: ours (not ``AWS/...``) must be emitted with exactly its
    dimension names, and each value it names must have been emitted for that dimension; AWS's must be
    in ``aws_metrics`` with those dimensions, their values naming resources of the stack."""
    emitted = list(emitted)
    ours = {(m.namespace, m.name, m.dimension_names) for m in emitted}
    values_seen: dict[str, set[str]] = {}
    for emitted_metric in emitted:
        for dimension, value in emitted_metric.dimensions:
            values_seen.setdefault(dimension, set()).add(value)
    names = set(physical_names)
    problems = []
    for metric in watched:
        label = f"{metric.where}: {metric.namespace} {metric.name} {sorted(metric.dimension_names)}"
        if metric.namespace.startswith("AWS/"):
            if aws_metrics.get((metric.namespace, metric.name)) != metric.dimension_names:
                problems.append(f"{label} is not an AWS metric we know (with these dimensions)")
            problems += [
                f"{label}: {d}={v!r} names nothing of the stack" for d, v in metric.values if v not in names
            ]
            continue
        if (metric.namespace, metric.name, metric.dimension_names) not in ours:
            emitted_with = sorted(sorted(d) for n, m, d in ours if (n, m) == (metric.namespace, metric.name))
            problems.append(
                f"{label} is never emitted" + (f"; emitted with {emitted_with}" if emitted_with else "")
            )
            continue
        for dimension, value in metric.values:
            seen = values_seen.get(dimension, set())
            if value not in seen:
                problems.append(f"{label}: {dimension}={value!r} is never emitted (emitted: {sorted(seen)})")
    return problems


def resolver_for(stack: LocalStack, template: Mapping[str, Any], stack_name: str = "nudge-local") -> Resolver:
    """Resolves what the dashboard and the alarms name as CloudFormation would for this stack:
    parameters, physical names (``Ref``, ``QueueName``) and ARNs (made up for what moto lacks)."""
    resources: Mapping[str, dict[str, Any]] = template["Resources"]
    attributes = {}
    for logical_id, resource in resources.items():
        name = stack.names[logical_id]
        arn = stack.arns.get(
            logical_id, f"arn:aws:{resource['Type'].split('::')[1].lower()}::{ACCOUNT_ID}:{name}"
        )
        attributes[(logical_id, "Arn")] = _constant(arn)
        if resource["Type"] == "AWS::SQS::Queue":
            attributes[(logical_id, "QueueName")] = _constant(name)
    return Resolver(
        parameters=stack.parameters,
        pseudo={
            "AWS::Region": stack.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": stack_name,
            "AWS::Partition": "aws",
        },
        conditions=template.get("Conditions", {}),
        refs={logical_id: _constant(name) for logical_id, name in stack.names.items()},
        attributes=attributes,
    )


def _constant(value: str) -> Any:
    return lambda: value


def _metric(namespace: str, name: str, dimensions: Mapping[str, str], where: str) -> WatchedMetric:
    return WatchedMetric(namespace, name, frozenset(dimensions), tuple(sorted(dimensions.items())), where)


def _named(dimensions: Iterable[Mapping[str, str]]) -> dict[str, str]:
    return {dimension["Name"]: str(dimension["Value"]) for dimension in dimensions}
