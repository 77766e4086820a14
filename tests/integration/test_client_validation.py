"""Our clients run without the SDK's parameter validation (``nudge.adapters.clients``): a malformed
request must still fail loudly, before it is sent or at the service (moto in this process)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from nudge.adapters import clients
from nudge.dal.items import to_item


@pytest.fixture
def our_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Our DynamoDB client (the SDK's parameter validation off) against moto in this process."""
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    clients.forget()
    with mock_aws():
        client = clients.dynamodb()
        client.create_table(
            TableName="T",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client
    clients.forget()


def test_without_the_sdks_parameter_validation_a_malformed_request_still_fails_loudly(
    our_dynamodb: Any,
) -> None:
    """The SDK does not check our requests' shapes (``clients._config``): each is built by the dal
    from typed values, and anything else is refused before it is sent or by the service."""
    # Items and expression values are built by to_item, which refuses what DynamoDB cannot store.
    with pytest.raises(TypeError):
        to_item({"pk": "a", "price": 1.5})
    # A request of the wrong shape reaches the service (the SDK's check would have raised
    # ParamValidationError, not a ClientError, before sending), which refuses it.
    with pytest.raises(ClientError) as missing_key:
        our_dynamodb.put_item(TableName="T", Item=to_item({"other": "a"}))
    assert missing_key.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as mistyped_key:
        our_dynamodb.put_item(TableName="T", Item={"pk": {"N": "1"}})  # the key is a string
    assert mistyped_key.value.response["Error"]["Code"] == "ValidationException"
    # And the well-formed request of the same call succeeds.
    our_dynamodb.put_item(TableName="T", Item=to_item({"pk": "a"}))
