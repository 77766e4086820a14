"""A stack with the sample data and nothing else, for each test and each fault run.

Creating the template's tables, queues, rules and groups takes longer than most tests, so the stack
is built once per moto server and emptied between uses: every item deleted, every queue purged,
every schedule deleted, SES's sent emails forgotten, then the sample data seeded again. Parameters
that only change the functions (the frequency cap, quiet hours, ...) reuse the resources; parameters
that change a resource, a moto that runs in another process, or a reset by anyone else build anew.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from local_stack.emulator import clients
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.seed import seed_sample_data, verify_sender_identity
from local_stack.emulator.stack import LocalStack, ResourcesDifferError, build_stack
from nudge import ttl_cache

# What a call into a resource of a reset moto answers.
_GONE = {"ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


def fresh_stack(moto: MotoEndpoint, **parameters: str) -> LocalStack:
    """A stack from template.yaml with these parameter overrides, the verified sender identity and the
    sample segments and customers, and no other data."""
    previous = moto.stack if moto.in_process else None
    stack = _emptied(moto, previous, parameters) if previous is not None else None
    if stack is None:
        moto.reset()
        stack = build_stack(parameter_overrides=parameters)
    moto.stack = stack
    verify_sender_identity(stack)
    seed_sample_data(stack)
    return stack


def _emptied(moto: MotoEndpoint, previous: LocalStack, parameters: dict[str, str]) -> LocalStack | None:
    """``previous``'s resources, emptied, with its functions described under these parameters; None
    when the parameters change a resource."""
    try:
        stack = build_stack(parameter_overrides=parameters, reuse=previous)
    except ResourcesDifferError:
        return None
    try:
        empty_data(stack)
    except ClientError as error:
        # Someone reset moto's backends since (a test's own ``mock_aws`` resets the process's on
        # exit, and this moto shares them): the resources are gone, so the stack is built anew.
        if error.response["Error"]["Code"] in _GONE:
            return None
        raise
    moto.forget_sent_emails()
    return stack


def empty_data(stack: LocalStack) -> None:
    """Delete what the handlers and tests wrote; keep the resources. A schedule group a test deleted
    is created again. The handlers' in-memory caches start empty, as in a fresh container."""
    ttl_cache.forget_all()
    dynamodb = clients.dynamodb(stack.region)
    for logical_id in stack.of_type("AWS::DynamoDB::Table"):
        table = stack.names[logical_id]
        key_names = [key["AttributeName"] for key in stack.resources[logical_id]["KeySchema"]]
        keys = [
            {name: item[name] for name in key_names}
            for page in dynamodb.get_paginator("scan").paginate(TableName=table)
            for item in page["Items"]
        ]
        for start in range(0, len(keys), 25):
            requests: list[Any] = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]
            unprocessed = dynamodb.batch_write_item(RequestItems={table: requests})["UnprocessedItems"]
            if unprocessed:
                raise RuntimeError(f"could not empty {table}")
    sqs = clients.sqs(stack.region)
    for url in stack.queue_urls.values():
        sqs.purge_queue(QueueUrl=url)
    scheduler = clients.scheduler(stack.region)
    existing = {group["Name"] for group in scheduler.list_schedule_groups()["ScheduleGroups"]}
    for group in stack.schedule_groups.values():
        if group not in existing:
            scheduler.create_schedule_group(Name=group)
            continue
        for page in scheduler.get_paginator("list_schedules").paginate(GroupName=group):
            for schedule in page["Schedules"]:
                scheduler.delete_schedule(Name=schedule["Name"], GroupName=group)
