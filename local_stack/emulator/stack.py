"""Creates the resources declared in template.yaml in whatever AWS endpoint boto3 points at (moto).

Tables, queues with their redrive policies, the event bus, rules with their SQS targets and the SES
configuration set are created from their template properties; functions are described (code,
handler, resolved environment, SQS event sources) for the local Lambda runtime to run.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

from local_stack.emulator import clients
from local_stack.emulator.catalogs import compile_catalogs
from local_stack.emulator.cfn import (
    Resolver,
    UnsupportedTemplateFeatureError,
    load_template,
    parameter_values,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
ACCOUNT_ID = "123456789012"

# The example shop the local stack, the demo and the tests run as. template.yaml gives these parameters
# no default and refuses these very values, so that a deploy names a real sender and store; locally
# they are parameter overrides, as a deploy's answers are.
LOCAL_PARAMETERS: Mapping[str, str] = MappingProxyType(
    {
        "SenderAddress": "Example Shop <hello@shop.example>",
        "SenderIdentity": "shop.example",
        "StoreName": "Example Shop",
        "StoreUrl": "https://shop.example",
        "StorePostalAddress": "Example Shop Ltd, 1 Market Street, Springfield",
        "PreferencesUrl": "https://shop.example/account/email-preferences",
    }
)

# Present in the template but meaningless locally: IAM-ish wiring, log groups, code packaging.
_NOT_EMULATED = {
    "AWS::SQS::QueuePolicy",
    "AWS::Logs::LogGroup",
    "AWS::Serverless::LayerVersion",
    # Monitoring: moto would store them, and nothing local reads them back.
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::Lambda::Permission",
    # moto does not enforce IAM, as it does not for the roles SAM generates: only the ARN is used.
    "AWS::IAM::Role",
    "AWS::IAM::ManagedPolicy",
    # moto has no configuration-set event destinations: tests put SES's events on the bus themselves.
    "AWS::SES::ConfigurationSetEventDestination",
    # The sender's identity (CreateSenderIdentity): local_stack.emulator.seed.verify_sender_identity
    # declares it in moto whatever the parameter says, as an identity verified by DNS long ago.
    "AWS::SES::EmailIdentity",
}


@dataclass(frozen=True)
class SqsEventSource:
    queue_arn: str
    queue_url: str
    batch_size: int
    reports_batch_item_failures: bool


@dataclass(frozen=True)
class ScheduleSpec:
    """An EventBridge Scheduler schedule (SAM ``ScheduleV2``) that targets a function."""

    name: str
    expression: str
    timezone: str
    input_template: str


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    code_dir: Path
    handler: str
    timeout_seconds: int
    memory_mb: int
    environment: Mapping[str, str]
    sqs_sources: tuple[SqsEventSource, ...]
    schedules: tuple[ScheduleSpec, ...] = ()
    async_retry_attempts: int = 2
    """Lambda retries a failed asynchronous invocation (a schedule's) this many times..."""
    dead_letter_queue_url: str | None = None
    """...and then puts the event here."""
    function_url: str | None = None
    policy_statements: tuple[dict[str, Any], ...] = ()
    """The function's IAM policy statements, resolved: what it may call on AWS."""


@dataclass
class LocalStack:
    """What was built: physical names by logical id, and the functions to run."""

    region: str
    parameters: dict[str, str]
    names: dict[str, str] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    secret_arns: dict[str, str] = field(default_factory=dict)
    schedule_groups: dict[str, str] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each created resource's properties as resolved: what a rebuild must match to reuse it."""
    types: dict[str, str] = field(default_factory=dict)
    """Each created resource's type, by logical id."""

    def queue_url(self, logical_id: str) -> str:
        return self.queue_urls[logical_id]

    def queue_url_of_arn(self, arn: str) -> str:
        (logical_id,) = (logical for logical, known in self.arns.items() if known == arn)
        return self.queue_urls[logical_id]

    def of_type(self, kind: str) -> list[str]:
        """The logical ids of the created resources of one type."""
        return [logical_id for logical_id, known in self.types.items() if known == kind]

    def dead_letter_queues(self) -> dict[str, str]:
        return {logical: url for logical, url in self.queue_urls.items() if logical.endswith("DLQ")}


def powertools_environment(template_path: Path = TEMPLATE_PATH) -> dict[str, str]:
    """The POWERTOOLS_* and PYDANTIC_* variables every function gets (Globals), with the local
    stack's parameters.

    Powertools and pydantic read them at import and on a model's first use; in Lambda the environment
    is set before the import, and a process that imports the layer early (pytest) must do the same.
    """
    template = load_template(template_path)
    variables = _global_function_properties(template).get("Environment", {}).get("Variables", {})
    resolver = Resolver(parameters=local_parameter_values(template), pseudo={})
    return {
        name: str(resolver.resolve(value))
        for name, value in variables.items()
        if name.startswith(("POWERTOOLS_", "PYDANTIC_"))
    }


def local_parameter_values(
    template: Mapping[str, Any], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The template's parameters as the local stack sets them: the overrides, else the example
    shop's values (LOCAL_PARAMETERS), else the template's defaults."""
    return parameter_values(template, {**LOCAL_PARAMETERS, **(overrides or {})})


def _global_function_properties(template: Mapping[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = template.get("Globals", {}).get("Function", {})
    return properties


class ResourcesDifferError(RuntimeError):
    """A rebuild's parameters change a resource itself, not only the functions: build anew."""


def build_stack(
    *,
    stack_name: str = "nudge-local",
    region: str = "us-east-1",
    parameter_overrides: Mapping[str, str] | None = None,
    template_path: Path = TEMPLATE_PATH,
    reuse: LocalStack | None = None,
) -> LocalStack:
    """Create the template's resources, or with ``reuse``, take that stack's resources as they are
    (they must resolve to the same properties under these parameters) and describe the functions
    anew: a test that changes a function's setting needs no new tables and queues."""
    template = load_template(template_path)
    resources: dict[str, dict[str, Any]] = template["Resources"]
    stack = LocalStack(region=region, parameters=local_parameter_values(template, parameter_overrides))
    resolver = _resolver(template, stack, stack_name)
    _name_resources(stack_name, region, resources, resolver, stack)
    if reuse is not None:
        if reuse.names != stack.names or reuse.region != region:
            raise ResourcesDifferError("another stack name or region: other physical resources")
        # Updated in place: the resolver's refs are bound to these very dicts.
        stack.queue_urls.update(reuse.queue_urls)
        stack.secret_arns.update(reuse.secret_arns)
        stack.schedule_groups.update(reuse.schedule_groups)
        stack.rules.update(reuse.rules)

    for logical_id, resource in _in_creation_order(resources):
        kind = resource["Type"]
        if kind == "AWS::Serverless::Function" or kind in _NOT_EMULATED:
            continue
        properties = resolver.resolve(resource.get("Properties", {}))
        if reuse is not None and reuse.resources.get(logical_id) != properties:
            raise ResourcesDifferError(f"{logical_id} differs under these parameters")
        stack.resources[logical_id] = properties
        stack.types[logical_id] = kind
        if reuse is not None:
            continue
        if kind == "AWS::DynamoDB::Table":
            _create_table(region, stack.names[logical_id], properties)
        elif kind == "AWS::SQS::Queue":
            url = _create_queue(region, stack.names[logical_id], properties)
            stack.queue_urls[logical_id] = url
        elif kind == "AWS::Events::EventBus":
            clients.events(region).create_event_bus(Name=stack.names[logical_id])
        elif kind == "AWS::Events::Rule":
            _create_rule(region, stack.names[logical_id], properties)
            stack.rules[logical_id] = properties
        elif kind == "AWS::SES::ConfigurationSet":
            clients.sesv2(region).create_configuration_set(ConfigurationSetName=stack.names[logical_id])
        elif kind == "AWS::SecretsManager::Secret":
            stack.secret_arns[logical_id] = _create_secret(region, stack.names[logical_id], properties)
        elif kind == "AWS::Scheduler::ScheduleGroup":
            clients.scheduler(region).create_schedule_group(Name=stack.names[logical_id])
            stack.schedule_groups[logical_id] = stack.names[logical_id]
        else:
            raise UnsupportedTemplateFeatureError(f"{logical_id}: {kind} is not supported by the local stack")

    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            stack.functions[logical_id] = _describe_function(
                logical_id, resource, template, resources, resolver, stack
            )
    return stack


def function_environment(
    logical_id: str,
    *,
    stack_name: str = "nudge-local",
    region: str = "us-east-1",
    parameter_overrides: Mapping[str, str] | None = None,
    template_path: Path = TEMPLATE_PATH,
) -> dict[str, str]:
    """One function's environment as ``build_stack`` describes it, without creating anything (no
    moto needed): a queue's URL and a secret's ARN, which exist only once created, are stand-ins of
    their shape."""
    template = load_template(template_path)
    resources: dict[str, dict[str, Any]] = template["Resources"]
    stack = LocalStack(region=region, parameters=local_parameter_values(template, parameter_overrides))
    resolver = _resolver(template, stack, stack_name)
    _name_resources(stack_name, region, resources, resolver, stack)
    for logical, resource in resources.items():
        name = stack.names[logical]
        if resource["Type"] == "AWS::SQS::Queue":
            stack.queue_urls[logical] = f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{name}"
        elif resource["Type"] == "AWS::SecretsManager::Secret":
            stack.secret_arns[logical] = f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{name}"
    spec = _describe_function(logical_id, resources[logical_id], template, resources, resolver, stack)
    return dict(spec.environment)


def _resolver(template: Mapping[str, Any], stack: LocalStack, stack_name: str) -> Resolver:
    return Resolver(
        parameters=stack.parameters,
        pseudo={
            "AWS::Region": stack.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        },
        conditions=template.get("Conditions", {}),
    )


def _name_resources(
    stack_name: str,
    region: str,
    resources: Mapping[str, dict[str, Any]],
    resolver: Resolver,
    stack: LocalStack,
) -> None:
    """Physical names and ARNs as CloudFormation would report them, known before anything exists."""
    name_property = {
        "AWS::DynamoDB::Table": "TableName",
        "AWS::SQS::Queue": "QueueName",
        "AWS::Events::EventBus": "Name",
        "AWS::Events::Rule": "Name",
        "AWS::SES::ConfigurationSet": "Name",
        "AWS::Serverless::Function": "FunctionName",
        "AWS::Scheduler::ScheduleGroup": "Name",
        "AWS::IAM::Role": "RoleName",
    }
    prefix = f"arn:aws:{{service}}:{region}:{ACCOUNT_ID}:"
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        explicit = properties.get(name_property.get(kind, ""), None)
        name = str(resolver.resolve(explicit)) if explicit is not None else f"{stack_name}-{logical_id}"
        stack.names[logical_id] = name
        arn = {
            "AWS::DynamoDB::Table": prefix.format(service="dynamodb") + f"table/{name}",
            "AWS::SQS::Queue": prefix.format(service="sqs") + name,
            "AWS::Events::EventBus": prefix.format(service="events") + f"event-bus/{name}",
            "AWS::Serverless::Function": prefix.format(service="lambda") + f"function:{name}",
            "AWS::Serverless::LayerVersion": prefix.format(service="lambda") + f"layer:{name}:1",
            "AWS::Scheduler::ScheduleGroup": prefix.format(service="scheduler") + f"schedule-group/{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
            "AWS::IAM::ManagedPolicy": f"arn:aws:iam::{ACCOUNT_ID}:policy/{name}",
        }.get(kind)
        if kind == "AWS::Events::Rule":
            bus = resolver.resolve(properties.get("EventBusName", "default"))
            arn = prefix.format(service="events") + f"rule/{bus}/{name}"
        if arn:
            stack.arns[logical_id] = arn
            resolver.attributes[(logical_id, "Arn")] = _constant(arn)
        if kind == "AWS::SQS::Queue":
            # A queue's Ref is its URL, which only exists once the queue does.
            resolver.refs[logical_id] = partial(stack.queue_url, logical_id)
            resolver.attributes[(logical_id, "QueueName")] = _constant(name)
        elif kind == "AWS::SecretsManager::Secret":
            # A secret's Ref is its ARN, whose random suffix only exists once the secret does.
            resolver.refs[logical_id] = partial(stack.secret_arns.__getitem__, logical_id)
        else:
            # A layer version's and a managed policy's Ref is their ARN.
            ref_is_arn = kind in {"AWS::Serverless::LayerVersion", "AWS::IAM::ManagedPolicy"}
            resolver.refs[logical_id] = _constant(arn if ref_is_arn else name)
        if kind == "AWS::Events::EventBus":
            resolver.attributes[(logical_id, "Name")] = _constant(name)
        if kind == "AWS::Serverless::Function" and "FunctionUrlConfig" in properties:
            # SAM's generated <Function>Url resource; the host stands in for the URL id Lambda assigns.
            resolver.attributes[(f"{logical_id}Url", "FunctionUrl")] = _constant(
                local_function_url(name, region)
            )


def local_function_url(function_name: str, region: str) -> str:
    """As long as the URL Lambda assigns (a 32-character id), so headers built from it are too."""
    url_id = hashlib.sha256(function_name.encode()).hexdigest()[:32]
    return f"https://{url_id}.lambda-url.{region}.on.aws/"


def _create_secret(region: str, name: str, properties: Mapping[str, Any]) -> str:
    generate = properties.get("GenerateSecretString")
    if "SecretString" in properties:
        value = str(properties["SecretString"])
    elif generate is not None and set(generate) <= {"PasswordLength", "ExcludePunctuation"}:
        value = secrets.token_hex(int(generate.get("PasswordLength", 32)) // 2 + 1)[
            : generate.get("PasswordLength", 32)
        ]
    else:
        raise UnsupportedTemplateFeatureError(f"{name}: only SecretString or a plain GenerateSecretString")
    return str(clients.client("secretsmanager", region).create_secret(Name=name, SecretString=value)["ARN"])


def _constant(value: str | None) -> Callable[[], str]:
    return lambda: str(value)


def _in_creation_order(resources: Mapping[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Dead-letter queues before the queues that redrive into them; buses before their rules."""

    def rank(item: tuple[str, dict[str, Any]]) -> int:
        kind = item[1]["Type"]
        if kind == "AWS::SQS::Queue":
            return 1 if "RedrivePolicy" in item[1].get("Properties", {}) else 0
        return {"AWS::Events::EventBus": 2, "AWS::Events::Rule": 3}.get(kind, 0)

    return sorted(resources.items(), key=rank)


def _create_table(region: str, name: str, properties: Mapping[str, Any]) -> None:
    client = clients.dynamodb(region)
    arguments: dict[str, Any] = {
        "TableName": name,
        "KeySchema": properties["KeySchema"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    for optional in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
        if optional in properties:
            arguments[optional] = properties[optional]
    client.create_table(**arguments)
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)


def _create_queue(region: str, name: str, properties: Mapping[str, Any]) -> str:
    attributes: dict[Any, str] = {}
    for key in (
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds",
    ):
        if key in properties:
            attributes[key] = str(properties[key])
    if "RedrivePolicy" in properties:
        attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
    if properties.get("FifoQueue"):
        attributes["FifoQueue"] = "true"
    return str(clients.sqs(region).create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def _create_rule(region: str, name: str, properties: Mapping[str, Any]) -> None:
    client = clients.events(region)
    bus = properties.get("EventBusName", "default")
    arguments: dict[str, Any] = {
        "Name": name,
        "EventBusName": bus,
        "State": properties.get("State", "ENABLED"),
    }
    if "EventPattern" in properties:
        arguments["EventPattern"] = json.dumps(properties["EventPattern"])
    if "ScheduleExpression" in properties:
        arguments["ScheduleExpression"] = properties["ScheduleExpression"]
    client.put_rule(**arguments)
    targets = properties.get("Targets", [])
    if targets:
        client.put_targets(Rule=name, EventBusName=bus, Targets=targets)


def _describe_function(
    logical_id: str,
    resource: Mapping[str, Any],
    template: Mapping[str, Any],
    resources: Mapping[str, dict[str, Any]],
    resolver: Resolver,
    stack: LocalStack,
) -> FunctionSpec:
    global_props = _global_function_properties(template)
    props: dict[str, Any] = {**global_props, **resource.get("Properties", {})}
    environment = {
        **global_props.get("Environment", {}).get("Variables", {}),
        **resource.get("Properties", {}).get("Environment", {}).get("Variables", {}),
    }
    resolved_env = {key: str(value) for key, value in resolver.resolve(environment).items()}
    opt_dir = _data_layer_dir(props.get("Layers", []), resources)
    if opt_dir is not None:
        # Lambda mounts layers at /opt; locally the data-only layer is its ContentUri folder.
        resolved_env = {
            key: str(opt_dir) + value[len("/opt") :]
            if value == "/opt" or value.startswith("/opt/")
            else value
            for key, value in resolved_env.items()
        }
    sources = []
    schedules = []
    for event_name, event in props.get("Events", {}).items():
        if event["Type"] == "ScheduleV2":
            event_props = resolver.resolve(event["Properties"])
            schedules.append(
                ScheduleSpec(
                    name=f"{stack.names[logical_id]}-{event_name}",
                    expression=str(event_props["ScheduleExpression"]),
                    timezone=str(event_props.get("ScheduleExpressionTimezone", "UTC")),
                    input_template=str(event_props.get("Input", "{}")),
                )
            )
            continue
        if event["Type"] != "SQS":
            raise UnsupportedTemplateFeatureError(f"{logical_id}: event type {event['Type']}")
        event_props = event["Properties"]
        queue_logical = event_props["Queue"]["Fn::GetAtt"][0]
        sources.append(
            SqsEventSource(
                queue_arn=stack.arns[queue_logical],
                queue_url=stack.queue_urls[queue_logical],
                batch_size=int(event_props.get("BatchSize", 10)),
                reports_batch_item_failures="ReportBatchItemFailures"
                in event_props.get("FunctionResponseTypes", []),
            )
        )
    statements: list[dict[str, Any]] = []
    for policy in props.get("Policies", []):
        if isinstance(policy, dict) and set(policy) == {"Ref"}:
            # One of the template's own managed policies: its statements are the function's too.
            managed = resources[policy["Ref"]]
            if managed["Type"] != "AWS::IAM::ManagedPolicy":
                raise UnsupportedTemplateFeatureError(f"{logical_id}: {policy['Ref']} is no managed policy")
            statements += resolver.resolve(managed["Properties"]["PolicyDocument"]["Statement"])
            continue
        if not isinstance(policy, dict) or set(policy) != {"Statement"}:
            # A SAM policy template grants a list of actions the least-privilege test cannot see.
            raise UnsupportedTemplateFeatureError(f"{logical_id}: write policies as statements, not {policy}")
        statements += resolver.resolve(policy["Statement"])
    dead_letter_url = None
    if "DeadLetterQueue" in props:
        target_arn = resolver.resolve(props["DeadLetterQueue"]["TargetArn"])
        dead_letter_url = stack.queue_url_of_arn(target_arn)
    return FunctionSpec(
        logical_id=logical_id,
        name=stack.names[logical_id],
        code_dir=REPO_ROOT / props["CodeUri"],
        handler=props["Handler"],
        timeout_seconds=int(resolver.resolve(props.get("Timeout", 3))),
        memory_mb=int(resolver.resolve(props.get("MemorySize", 128))),
        environment=resolved_env,
        sqs_sources=tuple(sources),
        schedules=tuple(schedules),
        async_retry_attempts=int(props.get("EventInvokeConfig", {}).get("MaximumRetryAttempts", 2)),
        dead_letter_queue_url=dead_letter_url,
        function_url=local_function_url(stack.names[logical_id], stack.region)
        if "FunctionUrlConfig" in props
        else None,
        policy_statements=tuple(statements),
    )


def _data_layer_dir(layers: list[Any], resources: Mapping[str, dict[str, Any]]) -> Path | None:
    """The folder of the layer Lambda would mount at /opt as files (the templates), built as `sam
    build` builds it (its catalogs compiled); a layer with a requirements.txt is the code layer,
    which is on the local stack's import path instead."""
    folders: list[Path] = [
        REPO_ROOT / resources[layer["Ref"]]["Properties"]["ContentUri"]
        for layer in layers
        if isinstance(layer, dict) and "Ref" in layer
    ]
    data_layers = [folder for folder in folders if not (folder / "requirements.txt").exists()]
    if len(data_layers) > 1:
        raise UnsupportedTemplateFeatureError("more than one data-only layer would share /opt")
    if not data_layers:
        return None
    compile_catalogs(data_layers[0])
    return data_layers[0]
