"""Who may send to the queues EventBridge feeds, from template.yaml: the rules that target them, the
quiet-hours Scheduler role where it puts deferred events back, the operators' redrive roles
(RedriveRoleArns), and nobody else, whatever their own IAM policies allow.

Within one account, SQS lets a principal send if its own policy or the queue's allows it and no
statement denies it. So the queues' Allow for EventBridge is not enough: without a Deny, anyone whose
role has ``sqs:SendMessage`` on ``*`` could put a forged bounce on the feedback queue. The policy is
evaluated here as IAM would, for the conditions it uses."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import pytest

from local_stack.emulator.cfn import Resolver, load_template
from local_stack.emulator.stack import TEMPLATE_PATH, local_parameter_values

TEMPLATE = load_template(TEMPLATE_PATH)
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
ACCOUNT = "123456789012"
EVENTS = "events.amazonaws.com"
OPERATORS = f"arn:aws:iam::{ACCOUNT}:role/nudge-operators"
SSO_OPERATORS = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_NudgeOps_*"
SSO_SESSION_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_NudgeOps_0a1b2c3d"
)


def arn_of(logical_id: str) -> str:
    kind = RESOURCES[logical_id]["Type"]
    if kind == "AWS::SQS::Queue":
        return f"arn:aws:sqs:us-east-1:{ACCOUNT}:nudge-{logical_id}"
    if kind == "AWS::Events::Rule":
        return f"arn:aws:events:us-east-1:{ACCOUNT}:rule/nudge-{logical_id}"
    if kind == "AWS::IAM::Role":
        return f"arn:aws:iam::{ACCOUNT}:role/nudge-{logical_id}"
    raise KeyError(logical_id)


def _arn_of(logical_id: str) -> Callable[[], str]:
    return lambda: arn_of(logical_id)


def _named(value: Any) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return None


def rule_targets() -> dict[str, set[str]]:
    """Each queue an EventBridge rule delivers to (a target, or a target's dead-letter queue), with
    the rules that do."""
    found: dict[str, set[str]] = {}
    for rule_id, rule in RESOURCES.items():
        if rule["Type"] != "AWS::Events::Rule":
            continue
        for target in rule["Properties"]["Targets"]:
            for value in (target["Arn"], target.get("DeadLetterConfig", {}).get("Arn")):
                queue = _named(value)
                if queue is not None and RESOURCES[queue]["Type"] == "AWS::SQS::Queue":
                    found.setdefault(queue, set()).add(rule_id)
    return found


def scheduler_queues() -> set[str]:
    """The queues the quiet-hours role (assumed by EventBridge Scheduler) may send to."""
    statements = [
        statement
        for policy in RESOURCES["QuietHoursDeliveryRole"]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    return {str(_named(arn)) for statement in statements for arn in statement["Resource"]}


def queue_policies(redrive_roles: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Each queue's statements, resolved as CloudFormation would with ``RedriveRoleArns``."""
    parameters = {k: v for k, v in local_parameter_values(TEMPLATE).items() if k != "RedriveRoleArns"}
    resolver = Resolver(
        parameters=parameters,
        pseudo={"AWS::StackName": "nudge", "AWS::AccountId": ACCOUNT, "AWS::Region": "us-east-1"},
        conditions=TEMPLATE["Conditions"],
    )
    resolver.refs["RedriveRoleArns"] = lambda: list(redrive_roles)  # type: ignore[assignment,return-value]
    for logical_id, resource in RESOURCES.items():
        if resource["Type"] in ("AWS::SQS::Queue", "AWS::Events::Rule", "AWS::IAM::Role"):
            # A queue's Ref is its URL: the policy's Queues list is keyed by ARN here all the same.
            resolver.attributes[(logical_id, "Arn")] = resolver.refs[logical_id] = _arn_of(logical_id)
    policies: dict[str, list[dict[str, Any]]] = {}
    for resource in RESOURCES.values():
        if resource["Type"] == "AWS::SQS::QueuePolicy":
            properties = resolver.resolve(resource["Properties"])
            for queue in properties["Queues"]:
                policies.setdefault(queue, []).extend(properties["PolicyDocument"]["Statement"])
    return policies


@dataclass(frozen=True)
class Request:
    """``sqs:SendMessage`` to a queue, by an IAM role (``principal_arn``) or by a service on behalf
    of a resource of ours (``service``, ``source_arn``)."""

    principal_arn: str | None = None
    service: str | None = None
    source_arn: str | None = None

    def context(self) -> dict[str, str]:
        keys = {"aws:PrincipalArn": self.principal_arn, "aws:SourceArn": self.source_arn}
        return {key: value for key, value in keys.items() if value is not None}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _holds(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool:
    patterns = [str(value) for value in _listed(expected)]
    if operator in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        matches = key in context and any(fnmatchcase(context[key], pattern) for pattern in patterns)
        # IAM: a negated operator holds when the key is absent; a positive one does not.
        return not matches if "Not" in operator else matches
    raise AssertionError(f"the evaluator does not know the condition operator {operator}")


def _applies(statement: Mapping[str, Any], queue_arn: str, request: Request) -> bool:
    if "sqs:SendMessage" not in _listed(statement["Action"]) or queue_arn not in _listed(
        statement["Resource"]
    ):
        return False
    principal = statement["Principal"]
    if principal != "*" and request.service not in _listed(principal.get("Service", [])):
        return False
    context = request.context()
    return all(
        _holds(operator, key, expected, context)
        for operator, keys in statement.get("Condition", {}).items()
        for key, expected in keys.items()
    )


def may_send(
    statements: Sequence[Mapping[str, Any]], queue_arn: str, request: Request, *, own_policy_allows: bool
) -> bool:
    """IAM within one account: an explicit Deny wins; else the principal's own policy or the queue's
    Allow is enough."""
    applying = [statement for statement in statements if _applies(statement, queue_arn, request)]
    if any(statement["Effect"] == "Deny" for statement in applying):
        return False
    return own_policy_allows or any(statement["Effect"] == "Allow" for statement in applying)


QUEUES = rule_targets()
SCHEDULED = scheduler_queues()


def test_the_rules_feed_the_trigger_ses_and_customer_queues() -> None:
    # The queues this file guards: every rule target today (a new one is guarded as it is added)
    assert {"EngagementQueue", "SesFeedbackQueue", "CartAbandonedQueue", "RuleDeliveryDLQ"} <= set(QUEUES)
    assert {"CartAbandonedQueue", "OrderPlacedQueue", "CustomerLapsedQueue"} <= SCHEDULED


@pytest.mark.parametrize("queue", sorted(QUEUES))
def test_the_rules_that_target_a_queue_may_send_to_it_and_no_other_rule(queue: str) -> None:
    statements = queue_policies([]).get(arn_of(queue), [])
    for rule in QUEUES[queue]:
        request = Request(service=EVENTS, source_arn=arn_of(rule))
        assert may_send(statements, arn_of(queue), request, own_policy_allows=False), rule
    # A rule of another stack (or one an attacker creates) may not, nor EventBridge without a rule
    for source in (f"arn:aws:events:us-east-1:{ACCOUNT}:rule/someone-elses", None):
        request = Request(service=EVENTS, source_arn=source)
        assert not may_send(statements, arn_of(queue), request, own_policy_allows=False), source


@pytest.mark.parametrize("queue", sorted(QUEUES))
def test_no_role_of_the_account_may_send_to_a_queue_the_rules_feed(queue: str) -> None:
    # Given roles whose own policies allow sqs:SendMessage on every queue: any role of the account,
    # this stack's functions, an administrator
    statements = queue_policies([]).get(arn_of(queue), [])
    roles = [
        f"arn:aws:iam::{ACCOUNT}:role/someone-with-sqs-star",
        f"arn:aws:iam::{ACCOUNT}:role/nudge-EngagementFunctionRole-1A2B3C",
        f"arn:aws:iam::{ACCOUNT}:role/Admin",
        f"arn:aws:iam::{ACCOUNT}:root",
    ]
    for role in roles:
        # Then the queue's policy denies it
        assert not may_send(statements, arn_of(queue), Request(principal_arn=role), own_policy_allows=True), (
            role
        )


@pytest.mark.parametrize("queue", sorted(QUEUES))
def test_the_quiet_hours_role_may_send_only_where_it_puts_deferred_events_back(queue: str) -> None:
    statements = queue_policies([]).get(arn_of(queue), [])
    request = Request(principal_arn=arn_of("QuietHoursDeliveryRole"))
    # Even if its own policy allowed more, the queue decides
    assert may_send(statements, arn_of(queue), request, own_policy_allows=True) is (queue in SCHEDULED)


@pytest.mark.parametrize("queue", sorted(QUEUES))
def test_the_operators_redrive_roles_may_move_messages_back(queue: str) -> None:
    # SQS's message move task (StartMessageMoveTask) sends with the permissions of whoever started
    # it, as make redrive's sends from RuleDeliveryDLQ do: the operators' roles must be exempt
    statements = queue_policies([OPERATORS, SSO_OPERATORS]).get(arn_of(queue), [])
    for role in (OPERATORS, SSO_SESSION_ROLE):
        assert may_send(statements, arn_of(queue), Request(principal_arn=role), own_policy_allows=True), role
    # ...and only they, not the rest of the account
    other = Request(principal_arn=f"arn:aws:iam::{ACCOUNT}:role/nudge-operators-not")
    assert not may_send(statements, arn_of(queue), other, own_policy_allows=True)
    # Without RedriveRoleArns, nobody is exempt: the queue takes EventBridge's messages only
    assert not may_send(
        queue_policies([]).get(arn_of(queue), []),
        arn_of(queue),
        Request(principal_arn=OPERATORS),
        own_policy_allows=True,
    )
