"""Every queue-fed function is wired completely in template.yaml, functions/Makefile and events/.

Adding an event type touches several hand-kept places; this names the one that was forgotten.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from local_stack.emulator.cfn import load_template
from local_stack.emulator.scenario import EVENTS_DIR
from local_stack.emulator.stack import REPO_ROOT, TEMPLATE_PATH
from nudge.triggers import TRIGGERS

TRIGGER_NAMES = {trigger.name for trigger in TRIGGERS}


def _refs(value: Any) -> set[str]:
    """Every logical id a piece of the template names (Ref, GetAtt, ${X} in Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                found |= {part.split("}")[0].split(".")[0] for part in text.split("${")[1:]}
                found |= _refs(inner)
            else:
                found |= _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _refs(inner)
    return found


def wiring_problems(template: dict[str, Any], makefile: str) -> list[str]:
    resources: dict[str, dict[str, Any]] = template["Resources"]
    problems: list[str] = []
    dead_letter_output = _refs(template["Outputs"]["DeadLetterQueues"]["Value"])
    for function_id, function in resources.items():
        if function["Type"] != "AWS::Serverless::Function":
            continue
        properties = function["Properties"]
        name = properties["CodeUri"].strip("/").split("/")[-1]
        if f"build-{function_id}" not in makefile:
            problems.append(f"{function_id}: no build-{function_id} target in functions/Makefile")
        if not any(
            r["Type"] == "AWS::Logs::LogGroup" and function_id in _refs(r["Properties"])
            for r in resources.values()
        ):
            problems.append(f"{function_id}: no log group with a retention")
        queues = [
            event["Properties"]["Queue"]["Fn::GetAtt"][0]
            for event in properties.get("Events", {}).values()
            if event["Type"] == "SQS"
        ]
        for queue_id in queues:
            redrive = resources.get(queue_id, {}).get("Properties", {}).get("RedrivePolicy")
            dlq_id = next(iter(_refs(redrive)), None) if redrive else None
            if dlq_id is None or dlq_id not in resources:
                problems.append(f"{function_id}: its queue {queue_id} has no dead-letter queue")
                continue
            if dlq_id not in dead_letter_output:
                problems.append(f"{function_id}: {dlq_id} is not in the DeadLetterQueues output")
            if name in TRIGGER_NAMES:
                problems += _trigger_problems(resources, function_id, properties, queue_id, dlq_id)
    return problems


def _trigger_problems(
    resources: dict[str, dict[str, Any]],
    function_id: str,
    properties: dict[str, Any],
    queue_id: str,
    dlq_id: str,
) -> list[str]:
    problems = []
    rules = [
        rule_id
        for rule_id, rule in resources.items()
        if rule["Type"] == "AWS::Events::Rule" and queue_id in _refs(rule["Properties"]["Targets"])
    ]
    if not rules:
        problems.append(f"{function_id}: no EventBridge rule targets {queue_id}")
    queue_policy = _refs(resources["RuleTargetQueuesPolicy"]["Properties"])
    for needed in [queue_id, *rules]:
        if needed not in queue_policy:
            problems.append(f"{function_id}: RuleTargetQueuesPolicy does not name {needed}")
    scheduler_role = _refs(resources["QuietHoursDeliveryRole"]["Properties"]["Policies"])
    for needed in (queue_id, dlq_id):
        if needed not in scheduler_role:
            problems.append(f"{function_id}: QuietHoursDeliveryRole cannot send to {needed}")
    variables = properties.get("Environment", {}).get("Variables", {})
    for variable, needed in [
        ("QUEUE_URL", queue_id),
        ("DEAD_LETTER_QUEUE_URL", dlq_id),
        ("DEFERRAL_QUEUE_ARN", queue_id),
        ("DEFERRAL_DLQ_ARN", dlq_id),
    ]:
        if needed not in _refs(variables.get(variable)):
            problems.append(f"{function_id}: {variable} does not name {needed}")
    statements = _refs(properties.get("Policies"))
    for needed in (queue_id, dlq_id):
        if needed not in statements:
            problems.append(f"{function_id}: its policy does not name {needed}")
    return problems


def sample_problems() -> list[str]:
    expectations: dict[str, Any] = json.loads((EVENTS_DIR / "expectations.json").read_text())
    problems = []
    for trigger in TRIGGERS:
        valid = [name for name in expectations if name.startswith(f"{trigger.name}/")]
        invalid = [name for name in expectations if name.startswith(f"invalid/{trigger.name}_")]
        if not valid:
            problems.append(f"{trigger.name}: no sample event in events/{trigger.name}/")
        if not invalid:
            problems.append(f"{trigger.name}: no invalid sample events/invalid/{trigger.name}_*.json")
    return problems


TRIGGER_LIST_PARAMETERS = ("FrequencyCapExemptTriggers", "SunsetExemptTriggers")


def parameter_problems(template: dict[str, Any]) -> list[str]:
    """Parameters that list the triggers by name must accept every one."""
    return [
        f"{trigger.name}: not in {parameter}'s AllowedPattern"
        for parameter in TRIGGER_LIST_PARAMETERS
        for trigger in TRIGGERS
        if not re.fullmatch(template["Parameters"][parameter]["AllowedPattern"], trigger.name)
    ]


def makefile_text() -> str:
    return (REPO_ROOT / "functions" / "Makefile").read_text()


def test_every_queue_fed_function_is_wired_completely() -> None:
    assert wiring_problems(load_template(TEMPLATE_PATH), makefile_text()) == []


def test_every_trigger_can_be_exempted_from_the_frequency_cap_and_the_sunset() -> None:
    assert parameter_problems(load_template(TEMPLATE_PATH)) == []


def test_every_trigger_has_valid_and_invalid_samples_with_expectations() -> None:
    assert sample_problems() == []


def test_a_trigger_missing_its_dead_letter_queue_is_named() -> None:
    template = copy.deepcopy(load_template(TEMPLATE_PATH))
    del template["Resources"]["OrderPlacedQueue"]["Properties"]["RedrivePolicy"]
    template["Resources"]["QuietHoursDeliveryRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ][0]["Resource"].remove({"Fn::GetAtt": ["CustomerLapsedDLQ", "Arn"]})
    assert wiring_problems(template, makefile_text()) == [
        "OrderPlacedFunction: its queue OrderPlacedQueue has no dead-letter queue",
        "CustomerLapsedFunction: QuietHoursDeliveryRole cannot send to CustomerLapsedDLQ",
    ]


def test_a_function_missing_its_build_target_is_named() -> None:
    makefile = makefile_text().replace("build-SesFeedbackFunction", "build-Something")
    assert wiring_problems(load_template(TEMPLATE_PATH), makefile) == [
        "SesFeedbackFunction: no build-SesFeedbackFunction target in functions/Makefile"
    ]


# What may differ between two triggers' blocks besides their names: what each does (its description),
# who may send its events (Customer Lapsed also comes from the scheduled run), and what it reads of the
# Segments table (Order Placed re-segments, so it scans the definitions).
_MAY_DIFFER = ("Description", "source")
TRIGGER_BLOCK = ("DLQ", "Queue", "Rule", "Function", "Logs")


def _logical_prefix(trigger_name: str) -> str:
    return "".join(word.capitalize() for word in trigger_name.split("_"))


def trigger_block(resources: dict[str, Any], trigger_name: str, detail_type: str) -> dict[str, Any]:
    """A trigger's resources with its own names written as placeholders and what may differ left out."""
    prefix = _logical_prefix(trigger_name)
    block = {suffix: copy.deepcopy(resources.get(f"{prefix}{suffix}")) for suffix in TRIGGER_BLOCK}
    text = (
        json.dumps(block, sort_keys=True)
        .replace(prefix, "<Trigger>")
        .replace(trigger_name.replace("_", "-"), "<trigger-id>")
        .replace(trigger_name, "<trigger>")
        .replace(detail_type, "<Detail Type>")
    )
    return dict(_without(json.loads(text), _MAY_DIFFER))


def _without(value: Any, keys: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        if value.get("Resource") == {"Fn::GetAtt": ["SegmentsTable", "Arn"]}:  # its Action may differ
            value = {k: v for k, v in value.items() if k != "Action"}
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(inner, keys) for inner in value]
    return value


def block_differences(resources: dict[str, Any]) -> list[str]:
    blocks = {
        trigger.name: trigger_block(resources, trigger.name, trigger.detail_type) for trigger in TRIGGERS
    }
    first, *others = blocks
    return [
        f"{name}: its {suffix} differs from {first}'s (copy {_logical_prefix(first)}{suffix} and rename)"
        for name in others
        for suffix in TRIGGER_BLOCK
        if blocks[name][suffix] != blocks[first][suffix]
    ]


def test_the_trigger_blocks_of_the_template_differ_only_in_their_names() -> None:
    # A new trigger is a copy of a block with the names changed: nothing else may drift between them.
    assert block_differences(load_template(TEMPLATE_PATH)["Resources"]) == []


def test_a_trigger_block_that_drifted_is_named() -> None:
    resources = copy.deepcopy(load_template(TEMPLATE_PATH)["Resources"])
    resources["CustomerLapsedQueue"]["Properties"]["VisibilityTimeout"] = 30
    del resources["OrderPlacedLogs"]
    assert block_differences(resources) == [
        "order_placed: its Logs differs from cart_abandoned's (copy CartAbandonedLogs and rename)",
        "customer_lapsed: its Queue differs from cart_abandoned's (copy CartAbandonedQueue and rename)",
    ]


# The re-engagement worker's queue carries work items of its own run, retried by its own rules
# (nudge.reengagement.worker); every other queue-fed function runs on nudge.sqs_batches.
OWN_RETRIES = ("ReengagementWorkerFunction",)
BATCH_RECEIVES = 16
BATCH_VISIBILITY_SECONDS = 180


def _statements(properties: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in properties.get("Policies", [])
        if isinstance(policy, dict)
        for statement in policy.get("Statement", [])
    ]


def _allows(statements: list[dict[str, Any]], action: str, logical_id: str) -> bool:
    return any(
        action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        and logical_id in _refs(s["Resource"])
        for s in statements
    )


def batch_processor_problems(template: dict[str, Any]) -> list[str]:
    """What a function on the batch processor needs to dead-letter at once and back off: its queue's
    and dead-letter queue's URLs, the right to change a message's visibility and to send to the
    dead-letter queue, and the receive limit and visibility every such queue has."""
    resources: dict[str, dict[str, Any]] = template["Resources"]
    problems: list[str] = []
    for function_id, function in resources.items():
        if function["Type"] != "AWS::Serverless::Function" or function_id in OWN_RETRIES:
            continue
        properties = function["Properties"]
        for event in properties.get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            queue_id = event["Properties"]["Queue"]["Fn::GetAtt"][0]
            queue = resources[queue_id]["Properties"]
            redrive = queue.get("RedrivePolicy", {})
            dlq_id = next(iter(_refs(redrive)), "")
            if redrive.get("maxReceiveCount") != BATCH_RECEIVES:
                problems.append(f"{function_id}: {queue_id}'s maxReceiveCount is not {BATCH_RECEIVES}")
            if queue.get("VisibilityTimeout") != BATCH_VISIBILITY_SECONDS:
                problems.append(
                    f"{function_id}: {queue_id}'s VisibilityTimeout is not {BATCH_VISIBILITY_SECONDS}"
                )
            variables = properties.get("Environment", {}).get("Variables", {})
            for variable, needed in [("QUEUE_URL", queue_id), ("DEAD_LETTER_QUEUE_URL", dlq_id)]:
                if needed not in _refs(variables.get(variable)):
                    problems.append(f"{function_id}: {variable} does not name {needed}")
            statements = _statements(properties)
            if not _allows(statements, "sqs:ChangeMessageVisibility", queue_id):
                problems.append(f"{function_id}: may not change the visibility of {queue_id}'s messages")
            if not _allows(statements, "sqs:SendMessage", dlq_id):
                problems.append(f"{function_id}: may not send to {dlq_id}")
    return problems


def test_every_function_on_the_batch_processor_can_dead_letter_and_back_off() -> None:
    assert batch_processor_problems(load_template(TEMPLATE_PATH)) == []


def test_a_function_that_cannot_back_off_is_named() -> None:
    template = copy.deepcopy(load_template(TEMPLATE_PATH))
    del template["Resources"]["EngagementFunction"]["Properties"]["Environment"]["Variables"]["QUEUE_URL"]
    template["Resources"]["CatalogQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] = 5
    assert batch_processor_problems(template) == [
        "EngagementFunction: QUEUE_URL does not name EngagementQueue",
        "CatalogFunction: CatalogQueue's maxReceiveCount is not 16",
    ]
