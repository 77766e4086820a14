"""The SES samples in events/ses/ are SES's own event shapes: each parses with the model of the
function its rule feeds, and is routed by exactly that rule (the feedback rule or the engagement rule,
both scoped to this stack's configuration set)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from moto.events.models import EventPattern

from local_stack.emulator.cfn import Resolver, load_template
from local_stack.emulator.scenario import EVENTS_DIR
from local_stack.emulator.stack import TEMPLATE_PATH, local_parameter_values
from nudge.engagement.events import EngagementEvent
from nudge.feedback import SesFeedbackEvent
from nudge.message_tags import delivery_ref

SES_SAMPLES = sorted(p for p in (EVENTS_DIR / "ses").glob("*.json") if p.name != "expectations.json")
MODELS: dict[str, type[SesFeedbackEvent] | type[EngagementEvent]] = {
    "SesFeedbackRule": SesFeedbackEvent,
    "EngagementRule": EngagementEvent,
}


def _patterns() -> dict[str, Any]:
    template = load_template(TEMPLATE_PATH)
    resolver = Resolver(parameters=local_parameter_values(template), pseudo={"AWS::StackName": "nudge-local"})
    resolver.refs["MarketingConfigurationSet"] = lambda: "nudge-local-marketing"
    resources = template["Resources"]
    return {name: resolver.resolve(resources[name]["Properties"]["EventPattern"]) for name in MODELS}


PATTERNS = _patterns()


def _matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(cast(Any, event)))


@pytest.mark.parametrize("path", SES_SAMPLES, ids=lambda p: p.name)
def test_an_ses_sample_goes_to_exactly_one_rule_and_parses_with_its_model(path: Path) -> None:
    event = json.loads(path.read_text())
    matching = [name for name, pattern in PATTERNS.items() if _matches(pattern, event)]
    assert len(matching) == 1
    parsed = MODELS[matching[0]].model_validate(event)
    if matching[0] == "EngagementRule":
        # An engagement event finds its delivery record through the tags every email we send carries.
        assert delivery_ref(parsed.detail.mail.tags) is not None


def test_engagement_events_of_another_configuration_set_match_no_rule() -> None:
    event = json.loads((EVENTS_DIR / "ses" / "clicked_ada.json").read_text())
    event["detail"]["mail"]["tags"]["ses:configuration-set"] = ["someone-elses-transactional"]
    assert not any(_matches(pattern, event) for pattern in PATTERNS.values())
