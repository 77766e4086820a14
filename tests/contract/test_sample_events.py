"""Every file in events/ is a contract test: it parses (or fails as its expectation says), and it is
routed by exactly the rule of its trigger, with the rule patterns taken from template.yaml and
matched by moto's implementation of EventBridge's pattern matching."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from moto.events.models import EventPattern
from pydantic import ValidationError

from local_stack.emulator.cfn import Resolver, load_template
from local_stack.emulator.scenario import (
    ATTRIBUTION,
    CATALOG,
    EVENTS_DIR,
    SampleEvent,
    load_customer_events,
    load_follow_ups,
    load_sample_events,
)
from local_stack.emulator.stack import TEMPLATE_PATH, local_parameter_values
from nudge.catalog.events import CATALOG_DETAIL_TYPES, CatalogRecord, ProductUpdatedEvent
from nudge.customers.events import PROFILE_DETAIL_TYPES
from nudge.reengagement.models import RunRequest
from nudge.triggers import TRIGGERS

# The sample day's events, what customers do next and the store's profile events: all are contracts a
# store sends.
SAMPLES = [*load_sample_events(), *load_follow_ups(), *load_customer_events()]
PROFILE_CONSUMERS = {detail_type.lower().replace(" ", "_") for detail_type in PROFILE_DETAIL_TYPES}


def rules_by_trigger() -> dict[str, dict[str, Any]]:
    """Each rule's event pattern, keyed by the trigger whose function consumes the rule's queue (or
    ``catalog``, the catalog function's, ``attribution``, the attribution function's)."""
    template = load_template(TEMPLATE_PATH)
    resources = template["Resources"]
    resolver = Resolver(parameters=local_parameter_values(template), pseudo={})
    function_by_queue = {
        event["Properties"]["Queue"]["Fn::GetAtt"][0]: resource["Properties"]["CodeUri"]
        .strip("/")
        .split("/")[-1]
        for resource in resources.values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    }
    patterns = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        queue = resource["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0]
        consumers = {trigger.name for trigger in TRIGGERS} | {CATALOG, ATTRIBUTION} | PROFILE_CONSUMERS
        if function_by_queue[queue] not in consumers:
            continue  # SES's rules (feedback, engagement): tests/contract/test_ses_samples.py
        patterns[function_by_queue[queue]] = resolver.resolve(resource["Properties"]["EventPattern"])
    return patterns


RULES = rules_by_trigger()


def test_every_trigger_has_a_rule_valid_samples_and_invalid_samples() -> None:
    assert set(RULES) == {trigger.name for trigger in TRIGGERS} | {CATALOG, ATTRIBUTION} | PROFILE_CONSUMERS
    for detail_type in [
        *(trigger.detail_type for trigger in TRIGGERS),
        "Product Updated",
        *PROFILE_DETAIL_TYPES,
    ]:
        kinds = {s.is_invalid for s in SAMPLES if s.detail_type == detail_type}
        assert kinds == {True, False}, detail_type


def test_the_catalog_rule_takes_exactly_the_detail_types_its_record_model_reads() -> None:
    assert RULES[CATALOG]["detail-type"] == list(CATALOG_DETAIL_TYPES)
    for sample in (s for s in SAMPLES if not s.is_invalid and CATALOG in s.consumers):
        record = CatalogRecord.model_validate(
            {
                "messageId": "m",
                "receiptHandle": "r",
                "body": json.dumps(sample.event),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1763884800000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1763884800000",
                },
                "messageAttributes": {},
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:catalog",
                "awsRegion": "us-east-1",
            }
        )
        assert record.body.detail_type == sample.detail_type


@pytest.mark.parametrize("sample", [s for s in SAMPLES if not s.is_invalid], ids=lambda s: s.name)
def test_valid_sample_parses_with_its_model(sample: SampleEvent) -> None:
    if sample.is_product:
        assert ProductUpdatedEvent.model_validate(sample.event).detail.sku
        assert sample.expectation in ({"catalog": "written"}, {"catalog": "not_newer"})
        return
    if sample.is_customer_event:
        assert sample.event_model.model_validate(sample.event).detail.customer_id
        assert sample.expectation["profile"] in ("created", "updated", "not_newer", "erased")
        return
    assert sample.trigger.parse(sample.event).customer_id


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.is_invalid], ids=lambda s: s.name)
def test_invalid_sample_fails_naming_the_field(sample: SampleEvent) -> None:
    if "when" in sample.expectation["rejected"]:
        # Valid in itself, refused by what is stored (a profile created without an address):
        # tests/integration/test_customers.py dead-letters it naming the field.
        sample.event_model.model_validate(sample.event)
        return
    with pytest.raises(ValidationError) as raised:
        sample.event_model.model_validate(sample.event)
    problems = {(".".join(str(p) for p in e["loc"]), e["type"]) for e in raised.value.errors()}
    expected = sample.expectation["rejected"]
    assert problems == {(expected["field"], expected["error"])}


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge's own matcher, as moto implements it (its test_event_pattern is a stub)."""
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(cast(Any, event)))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_sample_is_routed_by_exactly_its_consumers_rules(sample: SampleEvent) -> None:
    # Its trigger's rule, and the catalog's for Product Updated and Order Placed.
    matching = {name for name, pattern in RULES.items() if matches(pattern, sample.event)}
    assert matching == sample.consumers


def test_events_from_another_source_match_no_rule() -> None:
    sample = next(s for s in SAMPLES if not s.is_invalid)
    foreign = {**sample.event, "source": "com.example.someone-else"}
    assert not any(matches(p, foreign) for p in RULES.values())


def test_only_the_customer_lapsed_rule_accepts_events_from_the_scheduled_run() -> None:
    for sample in (s for s in SAMPLES if not s.is_invalid):
        from_run = {**sample.event, "source": "nudge.reengagement"}
        matching = {n for n, p in RULES.items() if matches(p, from_run)}
        assert matching == ({"customer_lapsed"} if sample.detail_type == "Customer Lapsed" else set())


def test_the_schedule_input_in_the_template_is_what_the_planner_reads() -> None:
    """The sample payload and the template's Input (context attributes filled in) both parse, with
    the same fields: a renamed field on either side would fail here, not at 9:00 on a deploy day."""
    template = load_template(TEMPLATE_PATH)
    resolver = Resolver(parameters=local_parameter_values(template), pseudo={})
    planner = template["Resources"]["ReengagementPlannerFunction"]["Properties"]
    (schedule,) = [e for e in planner["Events"].values() if e["Type"] == "ScheduleV2"]
    filled = (
        str(resolver.resolve(schedule["Properties"]["Input"]))
        .replace("<aws.scheduler.scheduled-time>", "2026-11-23T09:00:00Z")
        .replace("<aws.scheduler.execution-id>", "d32c5kddcf5bb8c3")
    )
    sample = json.loads((EVENTS_DIR / "scheduled" / "reengagement_run.json").read_text())
    assert RunRequest.model_validate_json(filled) == RunRequest.model_validate(sample)
    assert set(json.loads(filled)) == set(sample)


def test_no_two_valid_samples_share_a_business_identity() -> None:
    """The delivery record is keyed on it: a follow-up reusing another sample's order id would
    silently return that sample's decision instead of being handled."""
    identities = [
        (s.trigger.name, s.trigger.business_id(s.trigger.parse(s.event)))
        for s in SAMPLES
        if not s.is_invalid and not s.is_product and not s.is_customer_event
    ]
    assert len(identities) == len(set(identities))
