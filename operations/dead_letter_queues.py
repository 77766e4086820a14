"""The stack's dead-letter queues, read from template.yaml: what feeds each one and where its messages
go back to.

Three kinds, by what put the messages there:

- ``QUEUE``: the dead-letter queue of an SQS queue (its ``RedrivePolicy`` names it), read by one
  function. SQS moved a message here after the queue's ``maxReceiveCount`` receives, or the function
  put it here itself (an invalid event, nudge/sqs_batches.py); the Scheduler's deferred sends that
  could not be delivered land in the trigger's one too. Messages go back to that source queue.
- ``RULE_DELIVERY``: EventBridge could not deliver an event to a rule's target queue. Each message goes
  back to the queue its ``TARGET_ARN`` attribute names, if that is one of the rules' target queues.
- ``ASYNC_INVOCATION``: a function invoked asynchronously (by a schedule) failed every attempt. Its
  messages are events for the function, not for a queue: they cannot be moved back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class DeadLetterKind(Enum):
    QUEUE = "queue"
    RULE_DELIVERY = "rule_delivery"
    ASYNC_INVOCATION = "async_invocation"


@dataclass(frozen=True)
class DeadLetterQueue:
    logical_id: str
    kind: DeadLetterKind
    source_queue: str | None = None
    """QUEUE: the logical id of the queue whose RedrivePolicy names this one."""
    function: str | None = None
    """The logical id of the function that reads the source queue (QUEUE), or that failed
    (ASYNC_INVOCATION)."""
    trigger: str | None = None
    """That function's folder under functions/ (``cart_abandoned``): the name an operator knows it by."""
    rule_targets: tuple[str, ...] = ()
    """RULE_DELIVERY: the logical ids of the queues of the rules whose targets dead-letter here."""
    max_receive_count: int | None = None
    """QUEUE: the source queue's receives before SQS moves a message here."""


class UnknownQueueError(LookupError):
    """The name is no dead-letter queue, queue, function or trigger of the template."""


def dead_letter_queues(template: Mapping[str, Any]) -> dict[str, DeadLetterQueue]:
    """Every dead-letter queue of the template, by logical id."""
    resources: Mapping[str, dict[str, Any]] = template["Resources"]
    functions = {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    reader_of = {
        queue: function
        for function, properties in functions.items()
        for event in properties.get("Events", {}).values()
        if event.get("Type") == "SQS"
        for queue in [_get_att_arn(event["Properties"]["Queue"])]
        if queue is not None
    }
    found: dict[str, DeadLetterQueue] = {}
    for logical_id, resource in resources.items():
        policy = resource.get("Properties", {}).get("RedrivePolicy")
        if resource["Type"] != "AWS::SQS::Queue" or not policy:
            continue
        dead_letter = _get_att_arn(policy["deadLetterTargetArn"])
        if dead_letter is None:
            continue
        function = reader_of.get(logical_id)
        found[dead_letter] = DeadLetterQueue(
            logical_id=dead_letter,
            kind=DeadLetterKind.QUEUE,
            source_queue=logical_id,
            function=function,
            trigger=_trigger(functions[function]) if function else None,
            max_receive_count=int(policy["maxReceiveCount"]),
        )
    rule_targets: dict[str, list[str]] = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        for target in resource.get("Properties", {}).get("Targets", []):
            dead_letter = _get_att_arn(target.get("DeadLetterConfig", {}).get("Arn"))
            queue = _get_att_arn(target.get("Arn"))
            if dead_letter is not None and queue is not None:
                rule_targets.setdefault(dead_letter, []).append(queue)
    for dead_letter, queues in rule_targets.items():
        found.setdefault(
            dead_letter,
            DeadLetterQueue(
                dead_letter, DeadLetterKind.RULE_DELIVERY, rule_targets=tuple(sorted(set(queues)))
            ),
        )
    for function, properties in functions.items():
        dead_letter = _get_att_arn(properties.get("DeadLetterQueue", {}).get("TargetArn"))
        if dead_letter is not None and dead_letter not in found:
            found[dead_letter] = DeadLetterQueue(
                dead_letter, DeadLetterKind.ASYNC_INVOCATION, function=function, trigger=_trigger(properties)
            )
    return found


def find_dead_letter_queue(template: Mapping[str, Any], name: str) -> DeadLetterQueue:
    """The dead-letter queue ``name`` means: its logical id (``CartAbandonedDLQ``), its source queue's
    (``CartAbandonedQueue``), or the function's that reads that queue, by logical id
    (``CartAbandonedFunction``) or by trigger (``cart_abandoned``)."""
    queues = dead_letter_queues(template)
    for queue in queues.values():
        if name in {queue.logical_id, queue.source_queue, queue.function, queue.trigger}:
            return queue
    known = sorted({*queues, *(q.trigger for q in queues.values() if q.trigger)})
    raise UnknownQueueError(
        f"{name!r} is no dead-letter queue or trigger of the stack; one of: {', '.join(known)}"
    )


def _get_att_arn(value: Any) -> str | None:
    """The logical id of ``!GetAtt X.Arn``; None for anything else."""
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        logical_id, attribute = value["Fn::GetAtt"]
        if attribute == "Arn":
            return str(logical_id)
    return None


def _trigger(function_properties: Mapping[str, Any]) -> str | None:
    """``functions/cart_abandoned/`` -> ``cart_abandoned``."""
    code = function_properties.get("CodeUri")
    return str(code).rstrip("/").rsplit("/", 1)[-1] if code else None
