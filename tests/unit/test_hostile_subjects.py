"""A marketer's subject is Jinja that runs on every send: whatever it asks for, it is refused within a
small budget (nudge.sandbox, used by nudge.rendering.render_subject), and its experiment is ignored
with a metric naming the subject, so the email goes out with the trigger's own subject.

Each case is asserted on what the budget counted and on the memory the attempt took, never on how
long it took: the bounds are the same on any machine.
"""

from __future__ import annotations

import io
import json
import tracemalloc
from contextlib import redirect_stdout
from decimal import Decimal
from typing import Any

import pytest
from jinja2.exceptions import TemplateError

from local_stack.emulator.stack import REPO_ROOT
from nudge import rendering
from nudge.experiments.models import Experiment
from nudge.experiments.running import arm_for
from nudge.profiles import Customer
from nudge.rendering import render_subject

TEMPLATES_DIR = str(REPO_ROOT / "templates")
CONTEXT: dict[str, Any] = {
    "customer": Customer(customer_id="c1", email="robin@example.com", first_name="Robin"),
    "variant": None,
}
# What one refused attempt may take: a subject that renders fine takes a few kilobytes.
MEMORY_BOUND = 8_000_000

HOSTILE: dict[str, tuple[str, str | None]] = {
    # Loops over huge ranges, nested or not, with output or without
    "nested-huge-ranges": (
        "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}",
        "range",
    ),
    "huge-range": ("{{ range(10 ** 9)|length }}", "range"),
    "nested-ranges-with-output": (
        "{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}",
        "output",
    ),
    "nested-ranges-without-output": (
        "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
        "steps",
    ),
    "nested-loops-over-strings": (
        "{% for a in 'x' * 5000 %}{% for b in 'x' * 5000 %}{% endfor %}{% endfor %}",
        "steps",
    ),
    "output-through-a-loop": (
        "{% for i in range(1000) %}{{ customer.first_name * 100 }}{% endfor %}",
        "output",
    ),
    "hoarded-in-a-block-set": (
        "{% set x %}{% for i in range(1000) %}{% for j in range(1000) %}xxxxxxxxxx{% endfor %}"
        "{% endfor %}{% endset %}{{ x|length }}",
        "steps",
    ),
    # Multiplication and powers
    "huge-string-multiplication": ("{{ 'x' * 300000000 }}", "value"),
    "chained-multiplication": ("{{ 'x' * 1000 * 1000 }}", "value"),
    "huge-list-multiplication": ("{{ [0] * 10 ** 9 }}", "value"),
    "nested-list-aliasing": ("{{ [[0] * 1000] * 1000 }}", "value"),
    "huge-power": ("{{ 10 ** (10 ** 10) }}", "value"),
    "huge-chained-power": ("{{ 2 ** 64 ** 64 ** 64 ** 64 }}", "value"),
    "huge-markup-multiplication": ("{{ ('<b>x</b>'|safe) * 999999 }}", "value"),
    "huge-bytes-multiplication": ("{{ 'x'.encode() * 999999999 }}", "value"),
    "repeated-squaring": (
        "{% set ns = namespace(n=3) %}{% for i in range(100) %}{% set ns.n = ns.n * ns.n %}{% endfor %}"
        "{{ ns.n > 0 }}",
        "value",
    ),
    "repeated-doubling-by-concatenation": (
        "{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
        "{{ ns.s|length }}",
        "value",
    ),
    "long-concatenation": ("{{ 'x' * 9999 ~ 'x' * 9999 }}", "value"),
    # Recursion
    "a-macro-calling-itself": ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "depth"),
    "a-macro-calling-itself-twice": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(18) }}",
        "steps",
    ),
    "a-recursive-loop": ("{% for x in [[1]] recursive %}{{ loop([x]) }}{% endfor %}", "depth"),
    # join, format and the other ways text grows
    "join-method": ("{{ ('x' * 5000).join('y' * 5000) }}", "value"),
    "join-of-a-mapped-range": ("{{ ('x' * 9000).join(range(1000)|map('string')) }}", "value"),
    "join-filter": ("{{ range(1000)|map('string')|join('x' * 5000) }}", "value"),
    "join-of-a-multiplied-list": ("{{ (customer.first_name|list * 2000)|join }}", "value"),
    "center-filter": ("{{ 'x'|center(999999999) }}", "value"),
    "indent-filter": ("{{ 'a\nb'|indent(999999999) }}", "value"),
    "batch-filter": ("{{ [1]|batch(999999999, 'x')|list }}", "value"),
    "slice-filter": ("{{ [1]|slice(999999999)|list }}", "value"),
    "replace-filter": ("{{ ('x' * 5000)|replace('', 'y' * 5000) }}", "value"),
    "wordwrap-filter": ("{{ ('x' * 100)|wordwrap(1, wrapstring='y' * 1000) }}", "value"),
    "ljust-method": ("{{ 'x'.ljust(999999999) }}", "value"),
    "zfill-method": ("{{ 'x'.zfill(999999999) }}", "value"),
    "bytes-center-method": ("{{ 'x'.encode().center(999999999) }}", "value"),
    "expandtabs-method": ("{{ ('a\t' * 4000).expandtabs(999999) }}", "value"),
    "translate-method": ("{{ ('x' * 1000).translate({120: 'y' * 1000}) }}", "value"),
    "dict-fromkeys": ("{{ dict.fromkeys(range(1000), 'x' * 1000) }}", "value"),
    "printf-width": ("{{ '%0999999999d' % 1 }}", "format"),
    "printf-star-width": ("{{ '%*d' % (999999999, 1) }}", "format"),
    "printf-precision": ("{{ '%.999999999f' % 1.5 }}", "format"),
    "format-filter-width": ("{{ '%999999999s'|format('x') }}", "format"),
    "format-method-width": ("{{ '{:>999999999}'.format(1) }}", "format"),
    "format-method-nested-width": ("{{ '{0:{1}}'.format('x', 999999999) }}", "format"),
    "format-method-precision": ("{{ '{:.999999999f}'.format(1.5) }}", "format"),
    "gettext-width": ("{{ _('%(n)999999999s', n=1) }}", "format"),
    # Not in the sandbox at all
    "lipsum": ("{{ lipsum(999999) }}", None),
}


@pytest.mark.parametrize(("source", "limit"), list(HOSTILE.values()), ids=list(HOSTILE))
def test_a_hostile_subject_is_refused_within_a_small_bound(
    source: str, limit: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(source) <= 500, "a variant's subject is at most 500 characters (nudge.experiments.models)"
    # Given all the CPU time it wants, it is stopped by the budget's counters, the same on any machine
    budget = rendering.SUBJECT_BUDGET
    monkeypatch.setattr(rendering, "SUBJECT_BUDGET", budget._replace(seconds=60))
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError) as refused:
            render_subject(TEMPLATES_DIR, "en", source, CONTEXT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND
    if limit is not None:
        # Refused by the budget, on the bound it names, at most one operation past its counters
        error = refused.value
        assert getattr(error, "limit", None) == limit, repr(error)
        used, budget = error.used, error.budget  # type: ignore[attr-defined]
        assert used.steps <= budget.steps + budget.value + 1
        assert used.output <= budget.output + budget.value and used.depth <= budget.depth + 1


def test_an_experiment_with_a_hostile_subject_is_ignored_naming_the_subject() -> None:
    experiment = Experiment.model_validate(
        {
            "experiment_id": "cart-subject-nov",
            "trigger": "cart_abandoned",
            "status": "running",
            "variants": [
                {"variant_id": "a", "weight": Decimal(50), "subject": "{{ customer.first_name }}, hi"},
                {"variant_id": "b", "weight": Decimal(50), "subject": HOSTILE["nested-huge-ranges"][0]},
            ],
        }
    )
    out = io.StringIO()
    with redirect_stdout(out):
        arm = arm_for(experiment, "c1", templates_dir=TEMPLATES_DIR, language="en", context=CONTEXT)
    # No arm: the email goes out as if there were no experiment, with the trigger's own subject
    assert arm is None
    (metric,) = [json.loads(line) for line in out.getvalue().splitlines() if "InvalidExperiment" in line]
    assert (metric["experiment"], metric["field"]) == ("cart-subject-nov", "variants.1.subject")


@pytest.mark.parametrize(
    ("source", "subject"),
    [
        ("{{ customer.first_name }}, your cart misses you", "Robin, your cart misses you"),
        ("{% if customer.first_name %}Hi {{ customer.first_name|upper }}{% endif %}", "Hi ROBIN"),
        ("{{ _('Your cart is still waiting') }}", "Your cart is still waiting"),
        ("{% for i in range(3) %}{{ loop.index }}{% endfor %} {{ 'ab' * 3 }}", "123 ababab"),
        ("{{ '%s, %d%% off'|format(customer.first_name, 20) }}", "Robin, 20% off"),
        ("{{ '{}: {:>5}'.format('a', 'b') }} {{ ['x', 'y']|join('-') }}", "a: b x-y"),
        ("{% macro hi(n) %}Hi {{ n }}{% endmacro %}{{ hi(customer.first_name) }}", "Hi Robin"),
    ],
)
def test_an_ordinary_subject_renders_as_before(source: str, subject: str) -> None:
    assert render_subject(TEMPLATES_DIR, "en", source, CONTEXT) == subject


def test_a_subject_is_text_so_nothing_in_it_is_html_escaped() -> None:
    # A subject line is no HTML: "Tom & Jerry" must not arrive as "Tom &amp; Jerry"
    customer = Customer(customer_id="c2", email="tj@example.com", first_name="Tom & Jerry <3")
    subject = render_subject(
        TEMPLATES_DIR, "en", "{{ customer.first_name }}, 20% off", {"customer": customer}
    )
    assert subject == "Tom & Jerry <3, 20% off"
