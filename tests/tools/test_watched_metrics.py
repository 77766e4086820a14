"""Reading the metrics a dashboard or an alarm watches, and the metrics EMF documents emit."""

from __future__ import annotations

import json

import pytest

from local_stack.emulator.emf import EmittedMetric, emitted_metrics
from local_stack.emulator.watched_metrics import (
    WatchedMetric,
    dashboard_metrics,
    never_emitted,
    searched_metrics,
)

SENT = EmittedMetric("Nudge", "EmailSent", (("service", "nudge"), ("trigger", "order_placed")), (1.0,))


def emf(name: str, **dimensions: str) -> str:
    return json.dumps(
        {
            "_aws": {
                "Timestamp": 0,
                "CloudWatchMetrics": [
                    {"Namespace": "Nudge", "Dimensions": [sorted(dimensions)], "Metrics": [{"Name": name}]}
                ],
            },
            name: [1.0, 1.0],
            **dimensions,
        },
        separators=(",", ":"),
    )


def test_emf_documents_are_read_even_two_on_one_line_and_logs_are_skipped() -> None:
    # Given two threads' documents printed onto one line, and a log line
    printed = emf("EmailSent", service="nudge", trigger="order_placed") + emf("EmailFailed", service="nudge")
    printed += '\n{"level":"INFO","message":"email sent"}\n'
    # Then both documents' metrics are read, with their dimensions and values
    assert list(emitted_metrics(printed)) == [
        EmittedMetric("Nudge", "EmailSent", SENT.dimensions, (1.0, 1.0)),
        EmittedMetric("Nudge", "EmailFailed", (("service", "nudge"),), (1.0, 1.0)),
    ]


OPENED_ON_ORDERS = (
    "SUM(SEARCH('{Nudge,service,trigger,variant} "
    + 'MetricName="EmailOpened" trigger="order_placed"'
    + "', 'Sum', 300))"
)


def test_dashboard_rows_repeat_fields_with_a_dot_and_searches_name_their_exact_dimensions() -> None:
    body = {
        "widgets": [
            {"type": "text", "properties": {"markdown": "x"}},
            {
                "type": "metric",
                "properties": {
                    "title": "t",
                    "metrics": [
                        ["Nudge", "EmailSent", "service", "nudge", "trigger", "order_placed", {"label": "a"}],
                        [".", ".", ".", ".", ".", "cart_abandoned"],
                        [{"expression": OPENED_ON_ORDERS, "id": "o"}],
                    ],
                },
            },
        ]
    }
    watched = list(dashboard_metrics(body))
    assert [(w.name, sorted(w.dimension_names), w.values) for w in watched] == [
        ("EmailSent", ["service", "trigger"], (("service", "nudge"), ("trigger", "order_placed"))),
        ("EmailSent", ["service", "trigger"], (("service", "nudge"), ("trigger", "cart_abandoned"))),
        ("EmailOpened", ["service", "trigger", "variant"], (("trigger", "order_placed"),)),
    ]


def test_a_search_without_a_schema_is_refused_as_it_matches_any_dimensions() -> None:
    with pytest.raises(ValueError, match="schema"):
        list(searched_metrics("SEARCH('MetricName=\"EmailSent\"', 'Sum', 300)", "w"))


def test_a_watched_metric_is_wrong_by_name_by_dimension_set_or_by_value() -> None:
    def watched(name: str, dimensions: dict[str, str]) -> WatchedMetric:
        return WatchedMetric("Nudge", name, frozenset(dimensions), tuple(sorted(dimensions.items())), "w")

    problems = never_emitted(
        [
            watched("EmailSent", {"service": "nudge", "trigger": "order_placed"}),
            watched("EmailSend", {"service": "nudge", "trigger": "order_placed"}),
            watched("EmailSent", {"trigger": "order_placed"}),
            watched("EmailSent", {"service": "nudge", "trigger": "order_place"}),
        ],
        [SENT],
        {},
        [],
    )
    assert len(problems) == 3
    assert "EmailSend" in problems[0] and "emitted with [['service', 'trigger']]" in problems[1]
    assert "trigger='order_place' is never emitted" in problems[2]
