"""Reading the two tables (moto), and the command line that prints the report of them."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws
from mypy_boto3_dynamodb import DynamoDBClient
from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

from local_stack.emulator.cfn import load_template
from local_stack.emulator.stack import TEMPLATE_PATH
from reporting import build_report, read_tables
from reporting.__main__ import main

REGION = "eu-west-1"
DELIVERIES = "nudge-deliveries"
EXPERIMENTS = "nudge-experiments"

SENT_ITEM: dict[str, AttributeValueTypeDef] = {
    "customer_id": {"S": "cust_1"},
    "delivery_key": {"S": "cart_abandoned#cart_1"},
    "trigger": {"S": "cart_abandoned"},
    "business_id": {"S": "cart_1"},
    "decision": {"S": "sent"},
    "segment_id": {"S": "regulars"},
    "decided_at": {"S": "2026-11-20T10:00:00Z"},
    "experiment_id": {"S": "cart-subject-nov"},
    "variant_id": {"S": "b"},
    "delivered_at": {"S": "2026-11-20T10:00:05Z"},
    "first_opened_at": {"S": "2026-11-20T12:00:00Z"},
    "opens": {"N": "2"},
    "open_times": {"SS": ["2026-11-20T12:00:00Z", "2026-11-20T18:30:00Z"]},
    "converted_order_id": {"S": "ord_1"},
    "converted_at": {"S": "2026-11-21T09:00:00Z"},
    "revenue": {"N": "42.50"},
    "currency": {"S": "EUR"},
}
HOLDOUT_ITEM: dict[str, AttributeValueTypeDef] = {
    "customer_id": {"S": "cust_2"},
    "delivery_key": {"S": "cart_abandoned#cart_2"},
    "trigger": {"S": "cart_abandoned"},
    "decision": {"S": "skipped"},
    "reason": {"S": "holdout"},
    "decided_at": {"S": "2026-11-20T11:00:00Z"},
    "experiment_id": {"S": "cart-subject-nov"},
    "variant_id": {"S": "holdout"},
}
GUARD_ITEM: dict[str, AttributeValueTypeDef] = {
    "customer_id": {"S": "cust_1"},
    "delivery_key": {"S": "attribution#ord_1"},
}
EXPERIMENT_ITEM: dict[str, AttributeValueTypeDef] = {
    "experiment_id": {"S": "cart-subject-nov"},
    "trigger": {"S": "cart_abandoned"},
    "status": {"S": "running"},
    "holdout_percent": {"N": "10"},
    "variants": {
        "L": [
            {"M": {"variant_id": {"S": "a"}, "weight": {"N": "50"}, "subject": {"S": "Left something?"}}},
            {"M": {"variant_id": {"S": "b"}, "weight": {"N": "50"}, "subject": {"S": "Still there?"}}},
        ]
    },
}


@pytest.fixture
def dynamodb() -> Iterator[DynamoDBClient]:
    """The Deliveries table as template.yaml defines it, and the Experiments table (key experiment_id)."""
    deliveries = load_template(TEMPLATE_PATH)["Resources"]["DeliveriesTable"]["Properties"]
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=DELIVERIES,
            KeySchema=deliveries["KeySchema"],
            AttributeDefinitions=deliveries["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )
        client.create_table(
            TableName=EXPERIMENTS,
            KeySchema=[{"AttributeName": "experiment_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "experiment_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for item in (SENT_ITEM, HOLDOUT_ITEM, GUARD_ITEM):
            client.put_item(TableName=DELIVERIES, Item=item)
        client.put_item(TableName=EXPERIMENTS, Item=EXPERIMENT_ITEM)
        yield client


def test_both_tables_are_read_as_plain_python(dynamodb: DynamoDBClient) -> None:
    deliveries, experiments = read_tables(dynamodb, DELIVERIES, EXPERIMENTS)

    sent = next(item for item in deliveries if item["customer_id"] == "cust_1" and "decision" in item)
    assert len(deliveries) == 3
    assert sent["revenue"] == Decimal("42.50") and sent["opens"] == 2
    assert sent["open_times"] == ["2026-11-20T12:00:00Z", "2026-11-20T18:30:00Z"]
    assert experiments == [
        {
            "experiment_id": "cart-subject-nov",
            "trigger": "cart_abandoned",
            "status": "running",
            "holdout_percent": 10,
            "variants": [
                {"variant_id": "a", "weight": 50, "subject": "Left something?"},
                {"variant_id": "b", "weight": 50, "subject": "Still there?"},
            ],
        }
    ]
    arms = build_report(deliveries, experiments).experiments["cart-subject-nov"].arms
    assert (arms["b"].sent, arms["b"].converted, arms["b"].revenue) == (1, 1, Decimal("42.50"))
    assert (arms["holdout"].recipients, arms["holdout"].is_control) == (1, True)


def test_the_command_prints_the_report_of_the_named_tables(
    dynamodb: DynamoDBClient, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--deliveries-table", DELIVERIES, "--experiments-table", EXPERIMENTS, "--region", REGION])

    out = capsys.readouterr().out
    assert out.startswith("Nudge report: 2 delivery records\n")
    assert "Experiment cart-subject-nov: trigger cart_abandoned, status running, holdout 10 %" in out
    assert "42.50 EUR" in out and "b vs holdout: too few recipients to call" in out


def test_since_filters_and_a_bad_since_is_refused(
    dynamodb: DynamoDBClient, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = ["--deliveries-table", DELIVERIES, "--experiments-table", EXPERIMENTS, "--region", REGION]
    main([*tables, "--since", "2026-11-20T10:30:00Z"])
    assert capsys.readouterr().out.startswith(
        "Nudge report: 1 delivery record, decided since 2026-11-20T10:30:00Z\n"
    )

    with pytest.raises(SystemExit):
        main([*tables, "--since", "last tuesday"])
    assert "not an ISO-8601 date or time: 'last tuesday'" in capsys.readouterr().err
