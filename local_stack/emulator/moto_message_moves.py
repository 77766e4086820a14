"""SQS dead-letter queue redrive for moto: ``StartMessageMoveTask`` and ``ListMessageMoveTasks``.

moto (5.2.5) does not implement them: boto3 gets "The start_message_move_task action has not been
implemented". The redrive tool (``operations.redrive``) moves a dead-letter queue's messages back with
exactly these calls on AWS, so ``install()`` adds them to moto's SQS responses and the local stack takes
the same boto3 calls. As AWS documents them:

- ``StartMessageMoveTask(SourceArn, DestinationArn?, MaxNumberOfMessagesPerSecond?)``: the source must
  exist (``ResourceNotFoundException``) and be the dead-letter queue of another queue: SQS moves
  messages out of dead-letter queues only (``InvalidParameterValue``). One task at a time per source.
  Each message visible when the task starts goes to the destination as a new message (a new id, a
  receive count of 0, its retention from now) with its body and message attributes unchanged, and
  leaves the source.
- Without ``DestinationArn`` AWS returns each message to the queue SQS dead-lettered it from; moto
  does not record that queue, so the dead-letter queue's one source queue is used, and a dead-letter
  queue of several queues fails the task (``FAILED``, with a ``FailureReason``).
- ``ListMessageMoveTasks(SourceArn, MaxResults=1..10)``: the most recent tasks first, with their
  status and counts.

The move is done within the call (moto runs nothing in the background), so a task is ``COMPLETED``
when ``StartMessageMoveTask`` returns; ``MaxNumberOfMessagesPerSecond`` is recorded, not enforced.
Tasks live on moto's SQS backend, so a reset forgets them with everything else.

It relies on these moto internals, named in patches.PRIVATE (tests/tools/test_private_patches.py fails
loudly if one changes):
``SQSResponse`` dispatching an action to its snake_case method, ``SQSResponse.sqs_backend``,
``_get_param`` and ``ActionResult``; ``SQSBackend.queues``, ``list_dead_letter_source_queues`` and
``send_message``; ``Queue.queue_arn``, ``messages`` (visible, not delayed), ``_messages``,
``_messages_lock`` and ``pending_messages``; ``Message.body``, ``message_attributes`` and
``system_attributes``; ``SQSException(code, message)``.
"""

from __future__ import annotations

import base64
import json
import uuid
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import unix_time_millis
from moto.sqs.exceptions import SQSException
from moto.sqs.models import Queue, SQSBackend
from moto.sqs.responses import SQSResponse

from local_stack.emulator import patches

_TASKS_ATTRIBUTE = "nudge_message_move_tasks"
"""Where the tasks live on each SQS backend (an instance attribute: a reset clears it)."""


@dataclass
class MessageMoveTask:
    task_handle: str
    source_arn: str
    destination_arn: str | None
    max_per_second: int | None
    started_at_ms: int
    to_move: int
    moved: int = 0
    status: str = "RUNNING"
    failure_reason: str | None = None

    def as_result_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started_at_ms,
        }
        if self.status == "RUNNING":
            entry["TaskHandle"] = self.task_handle  # AWS gives the handle of running tasks only
        if self.destination_arn is not None:
            entry["DestinationArn"] = self.destination_arn
        if self.max_per_second is not None:
            entry["MaxNumberOfMessagesPerSecond"] = self.max_per_second
        if self.failure_reason is not None:
            entry["FailureReason"] = self.failure_reason
        return entry


def _tasks(backend: SQSBackend) -> dict[str, list[MessageMoveTask]]:
    """The backend's tasks by source ARN, oldest first."""
    tasks: dict[str, list[MessageMoveTask]] | None = getattr(backend, _TASKS_ATTRIBUTE, None)
    if tasks is None:
        tasks = {}
        setattr(backend, _TASKS_ATTRIBUTE, tasks)
    return tasks


def _queue_of_arn(backend: SQSBackend, arn: str, parameter: str) -> Queue:
    found = next((queue for queue in backend.queues.values() if queue.queue_arn == arn), None)
    if found is None:
        raise SQSException(
            "ResourceNotFoundException",
            f"The resource that you specified for the {parameter} parameter doesn't exist.",
        )
    return found


def _move_messages(backend: SQSBackend, source: Queue, destination: Queue, task: MessageMoveTask) -> None:
    """Each message visible now to ``destination`` as a new message, body and attributes unchanged."""
    for message in list(source.messages):
        backend.send_message(
            destination.name,
            message.body,
            message_attributes=deepcopy(message.message_attributes),
            system_attributes=deepcopy(message.system_attributes),
        )
        with source._messages_lock:
            source._messages.remove(message)
        source.pending_messages.discard(message)
        task.moved += 1


def start_message_move_task(self: SQSResponse) -> ActionResult:
    backend = self.sqs_backend
    source_arn = str(self._get_param("SourceArn"))
    destination_arn = self._get_param("DestinationArn")
    source = _queue_of_arn(backend, source_arn, "SourceArn")
    feeding = backend.list_dead_letter_source_queues(source.name)
    if not feeding:
        raise SQSException("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
    tasks = _tasks(backend).setdefault(source_arn, [])
    if any(task.status == "RUNNING" for task in tasks):
        raise SQSException(
            "UnsupportedOperation",
            "There is already a task running. Only one active task is allowed for a source queue arn "
            "at a given time.",
        )
    destination = _queue_of_arn(backend, str(destination_arn), "DestinationArn") if destination_arn else None
    task = MessageMoveTask(
        task_handle=base64.b64encode(
            json.dumps({"taskId": str(uuid.uuid4()), "sourceArn": source_arn}).encode()
        ).decode(),
        source_arn=source_arn,
        destination_arn=str(destination_arn) if destination_arn else None,
        max_per_second=self._get_param("MaxNumberOfMessagesPerSecond"),
        started_at_ms=int(unix_time_millis()),
        to_move=len(source.messages),
    )
    tasks.append(task)
    if destination is None and len(feeding) > 1:
        task.status = "FAILED"
        task.failure_reason = (
            "The local stack cannot tell which of several source queues a message came from."
        )
        return ActionResult({"TaskHandle": task.task_handle})
    _move_messages(backend, source, destination or feeding[0], task)
    task.status = "COMPLETED"
    return ActionResult({"TaskHandle": task.task_handle})


def list_message_move_tasks(self: SQSResponse) -> ActionResult:
    backend = self.sqs_backend
    source_arn = str(self._get_param("SourceArn"))
    _queue_of_arn(backend, source_arn, "SourceArn")
    max_results = int(self._get_param("MaxResults") or 1)
    if not 1 <= max_results <= 10:
        raise SQSException(
            "InvalidParameterValue",
            "Value for parameter MaxResults is invalid. Reason: Must be between 1 and 10.",
        )
    newest_first = list(reversed(_tasks(backend).get(source_arn, [])))[:max_results]
    return ActionResult({"Results": [task.as_result_entry() for task in newest_first]})


def install() -> None:
    """Add both actions to moto's SQS responses (in this process: the threaded server's, ``mock_aws``'s,
    or the own-process server's). Idempotent."""
    patches.add_sqs_actions(
        start_message_move_task=start_message_move_task, list_message_move_tasks=list_message_move_tasks
    )
