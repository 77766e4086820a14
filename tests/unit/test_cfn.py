"""The template reader the local stack and the tests build resources with."""

from __future__ import annotations

import pytest

from local_stack.emulator.cfn import (
    Resolver,
    UnsupportedTemplateFeatureError,
    load_template,
    parameter_values,
)
from local_stack.emulator.stack import LOCAL_PARAMETERS, TEMPLATE_PATH, local_parameter_values


def resolver() -> Resolver:
    return Resolver(
        parameters={"Env": "dev"},
        pseudo={"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::StackName": "s"},
        refs={"Table": lambda: "s-Table"},
        attributes={("Queue", "Arn"): lambda: "arn:aws:sqs:eu-west-1:123456789012:q"},
    )


def test_short_form_tags_are_read_into_their_long_form() -> None:
    template = load_template(TEMPLATE_PATH)
    rule = template["Resources"]["CartAbandonedRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "StoreEventBus"}
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["CartAbandonedQueue", "Arn"]}


def test_intrinsics_resolve_against_parameters_pseudo_parameters_and_resources() -> None:
    r = resolver()
    assert r.resolve({"Ref": "Env"}) == "dev"
    assert r.resolve({"Fn::Sub": "${AWS::StackName}-${Env}-${Table}"}) == "s-dev-s-Table"
    assert r.resolve({"Fn::Sub": "${Queue.Arn}"}) == "arn:aws:sqs:eu-west-1:123456789012:q"
    assert r.resolve({"Fn::Sub": ["${X}/${AWS::Region}", {"X": {"Ref": "Env"}}]}) == "dev/eu-west-1"
    assert r.resolve({"Fn::Join": ["-", ["a", {"Ref": "Env"}]]}) == "a-dev"
    assert r.resolve({"Fn::Select": [1, {"Fn::Split": [",", {"Fn::Sub": "a,${Env}"}]}]}) == "dev"
    assert r.resolve({"Fn::Sub": "${!Literal}"}) == "${Literal}"
    assert r.resolve({"List": ["a", {"Ref": "AWS::NoValue"}]}) == {"List": ["a"]}


def test_anything_the_local_stack_cannot_emulate_is_refused_loudly() -> None:
    with pytest.raises(UnsupportedTemplateFeatureError):
        resolver().resolve({"Fn::FindInMap": ["M", "k", "v"]})
    with pytest.raises(KeyError, match="Nowhere"):
        resolver().resolve({"Ref": "Nowhere"})


def test_parameters_take_defaults_and_reject_unknown_overrides() -> None:
    template = load_template(TEMPLATE_PATH)
    values = parameter_values(template, {**LOCAL_PARAMETERS, "EventSource": "com.other"})
    assert values["EventSource"] == "com.other"
    assert values["MaxSendConcurrency"] == "2"
    with pytest.raises(KeyError, match="Typo"):
        parameter_values(template, {**LOCAL_PARAMETERS, "Typo": "x"})


def test_a_parameter_without_a_default_needs_a_value() -> None:
    template = load_template(TEMPLATE_PATH)
    with pytest.raises(KeyError, match="SenderAddress has no default"):
        parameter_values(template, {})


def test_the_local_stack_sets_the_example_shop_and_takes_overrides_over_it() -> None:
    template = load_template(TEMPLATE_PATH)
    values = local_parameter_values(template, {"StoreName": "Other Shop"})
    assert values["SenderIdentity"] == "shop.example" and values["StoreName"] == "Other Shop"
    assert values["LogLevel"] == "INFO"
