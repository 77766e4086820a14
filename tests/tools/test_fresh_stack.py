"""The stack each test gets is whole whatever ran before it in the same process: a test's own
``mock_aws`` resets every moto backend of the process on exit, the shared moto server's too."""

from __future__ import annotations

from moto import mock_aws

from local_stack.emulator import clients
from local_stack.emulator.fresh import fresh_stack
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.stack import LocalStack


def test_a_stack_wiped_by_another_tests_mock_aws_is_built_anew_with_its_sample_data(
    moto: MotoEndpoint, stack: LocalStack
) -> None:
    with mock_aws():
        pass  # on exit moto resets its backends: the stack's tables, queues and identity are gone

    again = fresh_stack(moto)

    customers = again.names["CustomersTable"]
    items = clients.dynamodb(again.region).scan(TableName=customers, Select="COUNT")
    assert items["Count"] > 0, "the sample customers are seeded again"
