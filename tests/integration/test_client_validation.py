"""Our clients run without the SDK's parameter validation (``nudge.adapters.clients``): a malformed
request must still fail loudly, before it is sent or at the service (the stack's own table on moto)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from local_stack.emulator.stack import LocalStack
from nudge.adapters import clients
from nudge.dal.items import to_item


def test_without_the_sdks_parameter_validation_a_malformed_request_still_fails_loudly(
    stack: LocalStack,
) -> None:
    """The SDK does not check our requests' shapes (``clients._config``): each is built by the dal
    from typed values, and anything else is refused before it is sent or by the service."""
    table = stack.names["CustomersTable"]
    dynamodb = clients.dynamodb()
    # Items and expression values are built by to_item, which refuses what DynamoDB cannot store.
    with pytest.raises(TypeError):
        to_item({"customer_id": "a", "price": 1.5})
    # A request of the wrong shape reaches the service (the SDK's check would have raised
    # ParamValidationError, not a ClientError, before sending), which refuses it.
    with pytest.raises(ClientError) as missing_key:
        dynamodb.put_item(TableName=table, Item=to_item({"other": "a"}))
    assert missing_key.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as mistyped_key:
        dynamodb.put_item(TableName=table, Item={"customer_id": {"N": "1"}})  # the key is a string
    assert mistyped_key.value.response["Error"]["Code"] == "ValidationException"
    # And the well-formed request of the same call succeeds.
    dynamodb.put_item(TableName=table, Item=to_item({"customer_id": "c_validation"}))
