"""python -m operations redrive --queue NAME [--stack NAME [--region R]] [--dry-run] [--max-per-second N]:
list a dead-letter queue's messages and why they are there, then move them back to their queue.

NAME is a dead-letter queue's logical id (CartAbandonedDLQ) or the trigger whose queue it serves
(cart_abandoned, catalog, customer_updated, ...). With --stack, of that deployed stack (its queues found
with cloudformation:DescribeStackResource). Without, of the local stack on moto after the sample day,
whose invalid sample events are dead-lettered; the handlers' logs go to out/logs/redrive.jsonl.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local_stack.emulator.cfn import load_template
from operations.dead_letter_queues import UnknownQueueError, find_dead_letter_queue
from operations.redrive import MoveNotFinishedError, NotMovableError, Say, list_dead_letters, redrive
from operations.stack_queues import deployed_stack_queues, local_stack_queues

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"
_FAILURES = (UnknownQueueError, NotMovableError, MoveNotFinishedError, BotoCoreError, ClientError)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m operations", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser(
        "redrive", help="list a dead-letter queue and move its messages back (after the cause is fixed)"
    )
    command.add_argument(
        "--queue", required=True, help="a dead-letter queue's logical id, or its trigger (cart_abandoned)"
    )
    command.add_argument(
        "--stack", help="a deployed stack's name (default: the local stack, after the sample day)"
    )
    command.add_argument("--region", help="the deployed stack's region (default: the AWS configuration's)")
    command.add_argument("--dry-run", action="store_true", help="list only; move nothing")
    command.add_argument(
        "--max-per-second", type=int, help="SQS's move rate (default: SQS chooses; at most 500 a second)"
    )
    args = parser.parse_args(argv)
    if args.region and not args.stack:
        parser.error("--region is the deployed stack's: give --stack too")
    template = load_template(TEMPLATE_PATH)
    try:
        find_dead_letter_queue(template, args.queue)
    except UnknownQueueError as error:
        parser.error(str(error))
    if args.stack:
        try:
            _on_deployed_stack(args, template, print)
        except _FAILURES as error:
            parser.exit(1, f"{parser.prog}: {error}\n")
        return 0
    lines: list[str] = []
    try:
        _on_local_stack(args, template, lines.append)
    except _FAILURES as error:
        print("\n".join(lines))
        parser.exit(1, f"{parser.prog}: {error}\n")
    # Printed once the handlers are done: their logs go to a file meanwhile (stdout, as in Lambda).
    print("\n".join(lines))
    return 0


def _on_deployed_stack(args: argparse.Namespace, template: dict[str, Any], say: Say) -> None:
    import boto3

    session = boto3.session.Session(region_name=args.region)
    sqs = session.client("sqs")
    locate = deployed_stack_queues(session.client("cloudformation"), sqs, args.stack)
    redrive(
        sqs, template, args.queue, locate, dry_run=args.dry_run, max_per_second=args.max_per_second, say=say
    )


def _on_local_stack(args: argparse.Namespace, template: dict[str, Any], say: Say) -> None:
    # Imported here: a redrive of a deployed stack needs neither moto nor the local stack.
    import time_machine

    from local_stack.emulator import clients
    from local_stack.emulator.capture import stdout_to
    from local_stack.emulator.lambda_runtime import EventSourceMappings
    from local_stack.emulator.moto_endpoint import running_moto
    from local_stack.emulator.run import put_events
    from local_stack.emulator.scenario import SAMPLE_DAY_CLOCK, load_sample_events
    from local_stack.emulator.seed import seed_sample_data, verify_sender_identity
    from local_stack.emulator.stack import REPO_ROOT, build_stack

    with (
        time_machine.travel(SAMPLE_DAY_CLOCK, tick=True) as clock,
        running_moto(),
        stdout_to(REPO_ROOT / "out" / "logs" / "redrive.jsonl"),
    ):
        stack = build_stack()
        verify_sender_identity(stack)
        seed_sample_data(stack)
        mappings = EventSourceMappings(stack, clock)
        put_events(stack, load_sample_events())
        mappings.drain()
        say("the local stack after the sample day, whose invalid events are dead-lettered:")
        sqs = clients.sqs(stack.region)
        locate = local_stack_queues(stack)
        outcome = redrive(
            sqs,
            template,
            args.queue,
            locate,
            dry_run=args.dry_run,
            max_per_second=args.max_per_second,
            say=say,
        )
        if not outcome.moved:
            return
        mappings.drain()
        again = list_dead_letters(sqs, locate(outcome.dead_letter_queue.logical_id), sample_size=0)
        say(
            f"after the functions ran: {again.waiting} in {outcome.dead_letter_queue.logical_id} again"
            + (" (the cause is not fixed: they failed again)" if again.waiting else "")
        )


if __name__ == "__main__":
    sys.exit(main())
