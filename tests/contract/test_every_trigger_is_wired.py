"""A trigger is declared once, in ``nudge.triggers.TRIGGERS``; what must know it and cannot derive
from the list is checked against it, a missing piece named (docs/adding-an-event-type.md): here its
function and rule as the list declares them, handler, templates, contract and the fault and fuzz
runs' samples; in tests/unit/test_wiring.py the template's wiring of each trigger function, the
parameters that name triggers, and the sample events."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.emulator.cfn import load_template
from local_stack.emulator.stack import REPO_ROOT, TEMPLATE_PATH
from local_stack.faults import forged_ses, hostile_experiments
from local_stack.faults import runs as fault_runs
from nudge.delivery_facts import CART_TRIGGER
from nudge.triggers import CART_ABANDONED, TRIGGERS, Trigger

NAMES = [trigger.name for trigger in TRIGGERS]


def _template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.mark.parametrize("trigger", TRIGGERS, ids=NAMES)
def test_the_template_has_the_triggers_function_and_rule(trigger: Trigger[Any]) -> None:
    template = _template()
    resources = template["Resources"]
    code_dirs = {
        str(resource["Properties"].get("CodeUri", "")).rstrip("/")
        for resource in resources.values()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert f"functions/{trigger.name}" in code_dirs, (
        f"template.yaml: no function with CodeUri functions/{trigger.name}"
    )
    patterns = [
        resource["Properties"].get("EventPattern", {}).get("detail-type", [])
        for resource in resources.values()
        if resource["Type"] == "AWS::Events::Rule"
    ]
    assert any(trigger.detail_type in types for types in patterns), (
        f"template.yaml: no rule routes detail-type {trigger.detail_type!r}"
    )


@pytest.mark.parametrize("trigger", TRIGGERS, ids=NAMES)
def test_the_trigger_has_its_handler_templates_and_contract(trigger: Trigger[Any]) -> None:
    handler = REPO_ROOT / "functions" / trigger.name / "app.py"
    assert handler.is_file(), f"{handler.relative_to(REPO_ROOT)} is missing"
    for part in ("subject.txt.j2", "body.html.j2", "body.txt.j2"):
        path = REPO_ROOT / "templates" / trigger.name / part
        assert path.is_file(), f"{path.relative_to(REPO_ROOT)} is missing"
    contracts = (REPO_ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    assert f"`{trigger.detail_type}`" in contracts, (
        f"docs/contracts.md does not describe {trigger.detail_type!r}"
    )


@pytest.mark.parametrize("trigger", TRIGGERS, ids=NAMES)
def test_the_fault_and_fuzz_runs_cover_the_trigger(trigger: Trigger[Any]) -> None:
    for where, samples in (
        ("local_stack/faults/runs.py CRASH_SAMPLES", fault_runs.CRASH_SAMPLES),
        ("local_stack/faults/hostile_experiments.py PROBE_SAMPLES", hostile_experiments.PROBE_SAMPLES),
        ("local_stack/faults/forged_ses.py VICTIM_SAMPLES", forged_ses.VICTIM_SAMPLES),
    ):
        assert any(sample.startswith(f"{trigger.name}/") for sample in samples), (
            f"{where} has no {trigger.name} sample"
        )
    assert trigger.name in hostile_experiments.TRIGGER_NAMES, (
        f"local_stack/faults/hostile_experiments.py TRIGGER_NAMES lacks {trigger.name}"
    )


def test_attribution_knows_the_cart_trigger_by_its_declared_name() -> None:
    assert CART_ABANDONED.name == CART_TRIGGER


def test_a_trigger_without_its_pieces_is_named() -> None:
    # Given a trigger nothing else knows
    stray = CART_ABANDONED._replace(name="price_dropped", detail_type="Price Dropped")
    # Then each check names what is missing
    with pytest.raises(AssertionError, match="functions/price_dropped"):
        test_the_template_has_the_triggers_function_and_rule(stray)
    with pytest.raises(AssertionError, match=r"functions/price_dropped/app\.py is missing"):
        test_the_trigger_has_its_handler_templates_and_contract(stray)
    with pytest.raises(AssertionError, match="CRASH_SAMPLES has no price_dropped sample"):
        test_the_fault_and_fuzz_runs_cover_the_trigger(stray)
