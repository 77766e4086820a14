"""Where a deployed stack keeps what the marketing tools read and write: its Segments and Experiments
tables (the stack's Outputs) and a trigger function's settings (its Lambda environment). Every AWS
call of the tools besides the layer's own (the DAL's reads and writes, the signing key, SES) is here.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.exceptions import ClientError

from nudge.adapters import clients

TABLE_OUTPUTS = {"segment": "SegmentsTableName", "experiment": "ExperimentsTableName"}
"""The template output that names each kind of row's table."""


class IncompleteStackError(LookupError):
    """The stack lacks an output or a resource the tools need (another template, or an older one)."""


def use_region(region: str | None) -> None:
    """The layer's clients (its DAL, Secrets Manager, SES) come from one Session made from the
    environment (nudge.adapters.clients): they are pointed at the stack's region."""
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
        clients.forget()


def session(region: str | None) -> boto3.session.Session:
    return boto3.session.Session(region_name=region)


def table_of(cloudformation: Any, stack_name: str, kind: str) -> str:
    """A table's physical name, from the stack's Outputs (cloudformation:DescribeStacks)."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    output = TABLE_OUTPUTS[kind]
    if output not in outputs:
        raise IncompleteStackError(f"stack {stack_name} has no output {output}")
    return str(outputs[output])


def function_environment(
    cloudformation: Any, lambda_client: Any, stack_name: str, logical_id: str
) -> dict[str, str]:
    """A function's environment as deployed: its name from cloudformation:DescribeStackResource, its
    variables from lambda:GetFunctionConfiguration (names of tables and secrets, never a secret)."""
    try:
        resource = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
    except ClientError as error:
        if "does not exist" in str(error) and logical_id in str(error):
            raise IncompleteStackError(f"stack {stack_name} has no resource {logical_id}") from error
        raise
    name = str(resource["StackResourceDetail"]["PhysicalResourceId"])
    configuration = lambda_client.get_function_configuration(FunctionName=name)
    variables: dict[str, str] = configuration.get("Environment", {}).get("Variables", {})
    return dict(variables)
