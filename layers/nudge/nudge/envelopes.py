"""The EventBridge event and SQS record envelopes every function parses, as Powertools' parser models
define them (``aws_lambda_powertools.utilities.parser.models``: the same fields, aliases and types).

Ours because importing any one of Powertools' models imports the package, which builds every model
it has (API Gateway, Kinesis, S3, Cognito and a hundred more): about 30 ms of each cold start for
two models. tests/tools/test_cold_start.py checks no handler imports that package, and that these
stay the same as Powertools' own (field names, aliases and requiredness).

Powertools' batch package imports that package too when pydantic is already loaded: only the
re-engagement worker imports it (the other queue-fed functions run ``nudge.sqs_batches``), after
nothing that imports pydantic.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class EventBridgeModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any] | type[BaseModel] | BaseModel
    replay_name: str | None = Field(None, alias="replay-name")


class SqsAttributesModel(BaseModel):
    model_config = ConfigDict(defer_build=True)

    ApproximateReceiveCount: str
    ApproximateFirstReceiveTimestamp: datetime
    MessageDeduplicationId: str | None = None
    MessageGroupId: str | None = None
    SenderId: str
    SentTimestamp: datetime
    SequenceNumber: str | None = None
    AWSTraceHeader: str | None = None
    DeadLetterQueueSourceArn: str | None = None


class SqsMsgAttributeModel(BaseModel):
    model_config = ConfigDict(defer_build=True)

    stringValue: str | None = None
    binaryValue: str | None = None
    stringListValues: list[str] = []
    binaryListValues: list[str] = []
    dataType: str


class SqsRecordModel(BaseModel):
    model_config = ConfigDict(defer_build=True)

    messageId: str
    receiptHandle: str
    body: str | type[BaseModel] | BaseModel
    attributes: SqsAttributesModel
    messageAttributes: dict[str, SqsMsgAttributeModel]
    md5OfBody: str
    md5OfMessageAttributes: str | None = None
    eventSource: Literal["aws:sqs"]
    eventSourceARN: str
    awsRegion: str
