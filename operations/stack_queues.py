"""Where a stack's queues are: a queue's URL, ARN and name by its logical id, of a deployed stack
(CloudFormation's DescribeStackResource, then SQS's GetQueueAttributes) or of the local stack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local_stack.emulator.stack import LocalStack


@dataclass(frozen=True)
class PhysicalQueue:
    logical_id: str
    url: str
    arn: str

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]


Locate = Callable[[str], PhysicalQueue]
"""A queue by its logical id."""


def deployed_stack_queues(cloudformation: Any, sqs: Any, stack_name: str) -> Locate:
    """The queues of a deployed stack. CloudFormation names an SQS queue's physical id by its URL."""

    @cache
    def locate(logical_id: str) -> PhysicalQueue:
        url = str(
            cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)[
                "StackResourceDetail"
            ]["PhysicalResourceId"]
        )
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return PhysicalQueue(logical_id, url, str(arn))

    return locate


def local_stack_queues(stack: LocalStack) -> Locate:
    """The queues of the local stack, as it built them."""
    return lambda logical_id: PhysicalQueue(logical_id, stack.queue_urls[logical_id], stack.arns[logical_id])
