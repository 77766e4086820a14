"""Redrive a dead-letter queue: say what is in it and why, then move its messages back to the queue
they came from, for the function to handle again (after the cause is fixed).

- **The listing** counts the queue (SQS's approximate counts) and reads a bounded sample of up to
  ``SAMPLE_SIZE`` messages for their reasons. Receiving hides a message, so each is received with a
  short visibility timeout and made visible again at once: nothing is consumed, and a crash of the tool
  hides the sample for ``PEEK_VISIBILITY_SECONDS`` at most. Only message attributes are read: the
  problem a function recorded when it dead-lettered an invalid event (``nudge_error``, and
  ``nudge_problems``: fields and error types), EventBridge's or Lambda's error code, else "retries
  exhausted" with the receive count. A body is never printed: bodies are the store's events, with
  customers' addresses and names.
- **The move** of a queue's dead letters is SQS's own redrive (``StartMessageMoveTask``, then
  ``ListMessageMoveTasks`` until the task ends). The destination is always named: the messages a
  function dead-lettered itself were sent to the dead-letter queue, and SQS returns to "the source
  queue" only what it moved there.
- A rule's undelivered events are sent to the queue each message's ``TARGET_ARN`` names, one by one,
  and deleted once sent: SQS moves messages only out of the dead-letter queue of another queue.
- An asynchronous invocation's dead letters are events for a function, not for a queue: they are
  listed, never moved.

Every handler is idempotent (delivery records, conditional writes), so a redriven event that was in
fact handled before does nothing twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from operations.dead_letter_queues import DeadLetterKind, DeadLetterQueue, find_dead_letter_queue
from operations.stack_queues import Locate, PhysicalQueue

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

SAMPLE_SIZE = 50
"""Messages read for their reasons; the count is SQS's, of the whole queue."""
PEEK_VISIBILITY_SECONDS = 30
"""How long a sampled message is hidden if the tool dies before making it visible again."""
RESEND_VISIBILITY_SECONDS = 120
"""How long a rule's undelivered event is hidden while it is sent on (it is deleted once sent)."""
RECEIVE_WAIT_SECONDS = 1
"""Long polling: a short poll may miss messages of a small queue."""
MOVE_TIMEOUT_SECONDS = 900
MOVE_POLL_SECONDS = 5
MESSAGE_IDS_SHOWN = 5
PROBLEMS_SHOWN = 5
FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELLED"})

Say = Callable[[str], None]


@dataclass
class ReasonGroup:
    reason: str
    message_ids: list[str] = field(default_factory=list)
    receive_counts: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Listing:
    queue: PhysicalQueue
    waiting: int
    """ApproximateNumberOfMessages: visible, what a move takes."""
    in_flight: int
    """ApproximateNumberOfMessagesNotVisible: being read (by a listing a moment ago, say)."""
    sampled: int
    oldest_sent_at: datetime | None
    groups: tuple[ReasonGroup, ...]


@dataclass(frozen=True)
class MoveResult:
    status: str
    moved: int
    to_move: int | None
    failure_reason: str | None = None


class MoveNotFinishedError(RuntimeError):
    """A move task is still running (started before, or not finished within the timeout)."""


class NotMovableError(RuntimeError):
    """This dead-letter queue's messages cannot be moved back to a queue."""


@dataclass(frozen=True)
class RedriveOutcome:
    dead_letter_queue: DeadLetterQueue
    listing: Listing
    moved: int = 0
    left: int = 0
    """Messages that were not moved (a rule's event for a queue that is not the stack's)."""


def redrive(
    sqs: SQSClient,
    template: Mapping[str, Any],
    name: str,
    locate: Locate,
    *,
    dry_run: bool = False,
    max_per_second: int | None = None,
    say: Say = print,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RedriveOutcome:
    """List the dead-letter queue ``name`` means (see ``find_dead_letter_queue``), and unless
    ``dry_run``, move its messages back. Raises ``NotMovableError`` for an asynchronous invocation's
    queue, ``MoveNotFinishedError`` when SQS's task does not finish in time."""
    dead_letter = find_dead_letter_queue(template, name)
    queue = locate(dead_letter.logical_id)
    listing = list_dead_letters(sqs, queue)
    for line in describe(dead_letter, listing, now()):
        say(line)
    if dry_run:
        say("dry run: nothing moved")
        return RedriveOutcome(dead_letter, listing)
    if listing.waiting == 0 and listing.sampled == 0:
        say("nothing to move")
        return RedriveOutcome(dead_letter, listing)
    if dead_letter.kind is DeadLetterKind.QUEUE:
        assert dead_letter.source_queue is not None
        source = locate(dead_letter.source_queue)
        say(f"moving the messages back to {source.logical_id} ({source.name}) ...")
        result = move_back(sqs, queue, source, max_per_second=max_per_second)
        if result.status != "COMPLETED":
            raise MoveNotFinishedError(
                f"the move task ended {result.status} after {result.moved} messages"
                + (f": {result.failure_reason}" if result.failure_reason else "")
            )
        say(f"moved {result.moved} to {source.logical_id}; {_reader(dead_letter)} handles them again")
        return RedriveOutcome(dead_letter, listing, moved=result.moved)
    if dead_letter.kind is DeadLetterKind.RULE_DELIVERY:
        targets = {target.arn: target for target in map(locate, dead_letter.rule_targets)}
        sent, left = resend_to_targets(sqs, queue, targets)
        for logical_id, count in sorted(sent.items()):
            say(f"sent {count} to {logical_id}")
        if left:
            say(f"left {left} in {queue.logical_id}: their TARGET_ARN is none of the stack's rule targets")
        return RedriveOutcome(dead_letter, listing, moved=sum(sent.values()), left=left)
    raise NotMovableError(
        f"{queue.logical_id} holds events {dead_letter.function} failed on when invoked asynchronously"
        " (by its schedule), not a queue's messages: nothing can move them back. Fix the cause; the"
        " schedule runs it again. To run a failed event now, invoke the function with that message's"
        " body (docs/redrive.md)."
    )


def list_dead_letters(sqs: SQSClient, queue: PhysicalQueue, sample_size: int = SAMPLE_SIZE) -> Listing:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue.url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    waiting = int(attributes.get("ApproximateNumberOfMessages", "0"))
    in_flight = int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0"))
    sample = peek(sqs, queue.url, min(sample_size, waiting))
    groups: dict[str, ReasonGroup] = {}
    for message in sample:
        group = groups.setdefault(failure_reason(message), ReasonGroup(failure_reason(message)))
        group.message_ids.append(message["MessageId"])
        # The count includes this listing's own receive.
        group.receive_counts.append(
            int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1")) - 1
        )
    sent = [int(m.get("Attributes", {}).get("SentTimestamp", "0")) for m in sample]
    oldest = datetime.fromtimestamp(min(sent) / 1000, UTC) if any(sent) else None
    ordered = sorted(groups.values(), key=lambda group: (-len(group.message_ids), group.reason))
    return Listing(queue, waiting, in_flight, len(sample), oldest, tuple(ordered))


def peek(sqs: SQSClient, queue_url: str, limit: int) -> list[MessageTypeDef]:
    """Up to ``limit`` messages with their attributes, each visible again when this returns."""
    sampled: dict[str, MessageTypeDef] = {}
    receipts: list[str] = []
    try:
        while len(sampled) < limit:
            batch = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, limit - len(sampled)),
                VisibilityTimeout=PEEK_VISIBILITY_SECONDS,
                WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            receipts += [message["ReceiptHandle"] for message in batch]
            fresh = [message for message in batch if message["MessageId"] not in sampled]
            if not fresh:
                break
            sampled.update((message["MessageId"], message) for message in fresh)
    finally:
        make_visible(sqs, queue_url, receipts)
    return list(sampled.values())


def make_visible(sqs: SQSClient, queue_url: str, receipts: Sequence[str]) -> None:
    """Received messages visible again now. A failed entry (a stale receipt) is visible again within
    the visibility timeout anyway."""
    for start in range(0, len(receipts), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(number), "ReceiptHandle": receipt, "VisibilityTimeout": 0}
                for number, receipt in enumerate(receipts[start : start + 10])
            ],
        )


def failure_reason(message: MessageTypeDef) -> str:
    """Why the message is here, from its attributes only (never its body)."""
    attributes = {
        name: str(value.get("StringValue", ""))
        for name, value in message.get("MessageAttributes", {}).items()
    }
    if "nudge_error" in attributes:
        problems = _problems(attributes.get("nudge_problems", ""))
        return f"invalid {attributes['nudge_error']}" + (f": {problems}" if problems else "")
    error_code = attributes.get("ERROR_CODE") or "no error code"
    if "SCHEDULE_ARN" in attributes:
        return f"EventBridge Scheduler could not deliver a deferred send ({error_code})"
    if "RULE_ARN" in attributes:
        target = attributes.get("TARGET_ARN", "").rsplit(":", 1)[-1] or "its target"
        return f"EventBridge could not deliver it to {target} ({error_code})"
    if "ErrorCode" in attributes:
        return f"the function failed every attempt (Lambda error code {attributes['ErrorCode']})"
    return "retries exhausted"


def describe(dead_letter: DeadLetterQueue, listing: Listing, now: datetime) -> list[str]:
    queue = listing.queue
    lines = [f"{queue.logical_id} ({queue.name}): {_origin(dead_letter)}"]
    count = f"  {listing.waiting} {_plural(listing.waiting, 'message')} waiting"
    if listing.in_flight:
        count += f", {listing.in_flight} in flight (being received; visible again within minutes)"
    if listing.oldest_sent_at is not None:
        count += f"; the oldest sampled was first queued {_age(now - listing.oldest_sent_at)} ago"
    lines.append(count)
    if dead_letter.kind is DeadLetterKind.ASYNC_INVOCATION and listing.waiting:
        lines.append("  these are events for the function, not a queue's: they cannot be moved back")
    if not listing.groups:
        return lines
    lines.append(f"  why ({listing.sampled} sampled):")
    for group in listing.groups:
        detail = group.reason
        if group.reason == "retries exhausted":
            low, high = min(group.receive_counts), max(group.receive_counts)
            received = f"{low}" if low == high else f"{low} to {high}"
            detail += f", received {received} times"
            if dead_letter.max_receive_count:
                detail += f" (the queue allows {dead_letter.max_receive_count})"
        ids = ", ".join(group.message_ids[:MESSAGE_IDS_SHOWN])
        more = len(group.message_ids) - MESSAGE_IDS_SHOWN
        lines.append(f"    {len(group.message_ids):>4}  {detail}")
        lines.append(f"          message ids: {ids}" + (f" and {more} more" if more > 0 else ""))
    if any(group.reason == "retries exhausted" for group in listing.groups):
        lines.append(
            f"  each receive that failed logged its error_type and error_code with the message id: search"
            f" {_reader(dead_letter)}'s logs for these ids"
        )
    return lines


def move_back(
    sqs: SQSClient,
    dead_letter: PhysicalQueue,
    destination: PhysicalQueue,
    *,
    max_per_second: int | None = None,
    timeout_seconds: float = MOVE_TIMEOUT_SECONDS,
    poll_seconds: float = MOVE_POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> MoveResult:
    """SQS's redrive of ``dead_letter`` into ``destination``, waited for until it ends."""
    latest = _latest_task(sqs, dead_letter.arn)
    if latest is not None and latest["Status"] not in FINISHED:
        raise MoveNotFinishedError(
            f"a move task of {dead_letter.logical_id} is {latest['Status']} already: wait for it to end"
        )
    if max_per_second is None:
        sqs.start_message_move_task(SourceArn=dead_letter.arn, DestinationArn=destination.arn)
    else:
        sqs.start_message_move_task(
            SourceArn=dead_letter.arn,
            DestinationArn=destination.arn,
            MaxNumberOfMessagesPerSecond=max_per_second,
        )
    deadline = monotonic() + timeout_seconds
    while True:
        # One task runs per queue at a time: the most recent one is the one just started.
        task = _latest_task(sqs, dead_letter.arn) or {"Status": "RUNNING"}
        moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        if task["Status"] in FINISHED:
            to_move = task.get("ApproximateNumberOfMessagesToMove")
            return MoveResult(
                str(task["Status"]),
                moved,
                int(to_move) if to_move is not None else None,
                task.get("FailureReason"),
            )
        if monotonic() >= deadline:
            raise MoveNotFinishedError(
                f"the move task is still {task['Status']} after {timeout_seconds:.0f} s ({moved} moved so"
                " far); it goes on: run the listing again later (DRY_RUN=1)"
            )
        sleep(poll_seconds)


def resend_to_targets(
    sqs: SQSClient, dead_letter: PhysicalQueue, targets: Mapping[str, PhysicalQueue]
) -> tuple[dict[str, int], int]:
    """Each event a rule could not deliver, sent to the queue its ``TARGET_ARN`` names (one of
    ``targets``, by ARN) with its body unchanged, then deleted. Returns the count sent per target
    logical id, and how many were left (made visible again)."""
    sent: dict[str, int] = {}
    left: list[str] = []
    seen: set[str] = set()
    try:
        while True:
            batch = sqs.receive_message(
                QueueUrl=dead_letter.url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=RESEND_VISIBILITY_SECONDS,
                WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [message for message in batch if message["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message["MessageId"])
                target_attribute = message.get("MessageAttributes", {}).get("TARGET_ARN")
                target = targets.get(str(target_attribute.get("StringValue"))) if target_attribute else None
                if target is None:
                    left.append(message["ReceiptHandle"])
                    continue
                # As EventBridge delivers it: the event as the body, no message attributes.
                sqs.send_message(QueueUrl=target.url, MessageBody=message["Body"])
                sqs.delete_message(QueueUrl=dead_letter.url, ReceiptHandle=message["ReceiptHandle"])
                sent[target.logical_id] = sent.get(target.logical_id, 0) + 1
    finally:
        make_visible(sqs, dead_letter.url, left)
    return sent, len(left)


def _latest_task(sqs: SQSClient, source_arn: str) -> Any:
    results = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1).get("Results", [])
    return results[0] if results else None


def _problems(encoded: str) -> str:
    """``detail.items: too_short; detail.cart_id: missing``: field paths and error types, no values."""
    try:
        problems = json.loads(encoded)
    except ValueError:
        return ""
    if not isinstance(problems, list):
        return ""
    named = [
        f"{problem.get('field', '?')}: {problem.get('error', '?')}"
        for problem in problems
        if isinstance(problem, dict)
    ]
    more = len(named) - PROBLEMS_SHOWN
    return "; ".join(named[:PROBLEMS_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _origin(dead_letter: DeadLetterQueue) -> str:
    if dead_letter.kind is DeadLetterKind.QUEUE:
        return f"the dead-letter queue of {dead_letter.source_queue}, read by {_reader(dead_letter)}"
    if dead_letter.kind is DeadLetterKind.RULE_DELIVERY:
        return "events EventBridge rules could not deliver to their queues"
    return f"events {_reader(dead_letter)} failed on when invoked asynchronously"


def _reader(dead_letter: DeadLetterQueue) -> str:
    return dead_letter.trigger or dead_letter.function or "its function"


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _age(delta: Any) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts: Iterable[str] = (
        f"{value} {unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if value
    )
    return " ".join(parts) or "under a minute"
