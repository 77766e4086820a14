"""The metered sandbox on its own (nudge.sandbox): the bounds every marketer-edited template renders
within, whatever its source, and the same mechanism for a whole email loaded by name."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import DictLoader, Template, TemplateError, select_autoescape
from jinja2.exceptions import SecurityError

from nudge import sandbox
from nudge.rendering import SUBJECT_BUDGET
from nudge.sandbox import Budget, BudgetExceeded, MeteredSandbox

# A whole email's budget, as templates loaded from S3 would get.
BODY_BUDGET = Budget(output=200_000, value=200_000, range=1_000, steps=2_000_000, depth=20, seconds=60)


def metered(**templates: str) -> MeteredSandbox:
    return MeteredSandbox(
        loader=DictLoader(templates),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    )


def test_a_template_of_the_metered_sandbox_renders_only_within_a_budget() -> None:
    template = metered().from_string("{% for i in range(3) %}{{ i }}{% endfor %}")
    with pytest.raises(SecurityError):
        template.render()
    assert sandbox.render(template, {}, SUBJECT_BUDGET) == "012"


def test_the_time_bound_stops_what_the_counters_allow() -> None:
    # Given a budget whose CPU time is already spent, an ordinary loop is stopped by the clock
    template = metered().from_string("{% for i in range(1000) %}{% endfor %}")
    with pytest.raises(BudgetExceeded) as refused:
        sandbox.render(template, {}, SUBJECT_BUDGET._replace(seconds=-1))
    assert refused.value.limit == "time" and refused.value.used.steps < SUBJECT_BUDGET.steps // 10


def test_what_a_render_counts_is_the_same_every_time() -> None:
    template = metered().from_string(
        "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"
    )
    counted = set()
    for _ in range(3):
        with pytest.raises(BudgetExceeded) as refused:
            sandbox.render(template, {}, SUBJECT_BUDGET._replace(seconds=60))
        counted.add((refused.value.limit, refused.value.used.steps, refused.value.used.output))
    assert len(counted) == 1


def test_a_whole_email_loaded_by_name_renders_within_its_own_budget_includes_and_all() -> None:
    env = metered(
        **{
            "body.html.j2": "<p>{{ name }}</p>{% include 'items.html.j2' %}",
            "items.html.j2": "{% for item in items %}<li>{{ item }}</li>{% endfor %}",
            "greedy.html.j2": "{% include 'spin.html.j2' %}",
            "spin.html.j2": "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
        }
    )
    html = sandbox.render(
        env.get_template("body.html.j2"), {"name": "<Ada>", "items": ["a", "b"]}, BODY_BUDGET
    )
    assert html == "<p>&lt;Ada&gt;</p><li>a</li><li>b</li>"
    # An included template is metered as the one that includes it
    with pytest.raises(BudgetExceeded) as refused:
        sandbox.render(env.get_template("greedy.html.j2"), {}, BODY_BUDGET._replace(steps=100_000))
    assert refused.value.limit == "steps"


def test_nothing_a_template_asks_for_is_computed_while_it_compiles() -> None:
    # Jinja folds constants while compiling: '{{ "x" * 10 ** 9 }}' would be built before any budget
    env = metered()
    tracemalloc.start()
    try:
        env.from_string("{{ 'x' * 10 ** 9 }}{{ 'y'|center(10 ** 9) }}{{ '%0999999999d' % 1 }}")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


# Pieces of hostile subjects, put together at random up to the 500 characters a subject may have.
PIECES = [
    "{% for i in range(1000) %}",
    "{% for c in 'x' * 9999 %}",
    "{% endfor %}",
    "{{ 'x' * 9999 }}",
    "{{ ('ab' * 4999)|replace('a', 'bb') }}",
    "{{ range(1000)|map('string')|join('y' * 999) }}",
    "{% macro m(n) %}{{ m(n) }}{{ m(n) }}{% endmacro %}{{ m(1) }}",
    "{% set ns = namespace(s='x') %}",
    "{% set ns.s = ns.s ~ ns.s %}",
    "{{ ns.s * 99 }}",
    "{{ [[0] * 99] * 99 }}",
    "{{ 9 ** 99999 }}",
    "{{ '%099d' % 1 }}",
    "{{ '{:>999}'.format(1) }}",
    "{{ customer }}",
    "{{ (customer ~ '|') * 999 }}",
    "x" * 40,
]


@pytest.mark.slow
@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=12))
def test_any_subject_made_of_hostile_pieces_renders_small_or_is_refused_small(pieces: list[str]) -> None:
    source = "".join(pieces)[:500]
    env = metered()
    try:
        template = env.from_string(source)
    except TemplateError:
        return  # a subject that does not compile is refused before it runs
    tracemalloc.start()
    try:
        outcome = attempt(template)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000
    if isinstance(outcome, BudgetExceeded):
        assert outcome.used.steps <= SUBJECT_BUDGET.steps + SUBJECT_BUDGET.value + 1
    elif isinstance(outcome, str):
        assert len(outcome) <= SUBJECT_BUDGET.output


def attempt(template: Template) -> str | Exception:
    """The subject, or why it was refused: the budget, or an error of the template's own (never a
    MemoryError or a RecursionError, which fail the test)."""
    try:
        return sandbox.render(template, {"customer": "Robin"}, SUBJECT_BUDGET._replace(seconds=60))
    except (TemplateError, TypeError, ValueError, ArithmeticError) as refused:
        return refused
