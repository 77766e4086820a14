"""A batch's records run at once, each customer's one after another in the batch's order."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import ValidationError, field_validator

from local_stack.emulator.sqs_records import sqs_event
from local_stack.faults.shapes import deeply_nested
from nudge.sqs_batches import (
    MAX_CONCURRENT_RECORDS,
    AllRecordsFailedError,
    SqsBatchProcessor,
    process_queue_batch,
)


class _Context:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "request"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _event(customer_id: str, n: int) -> dict[str, Any]:
    return {"detail-type": "Cart Abandoned", "detail": {"customer_id": customer_id, "n": n}}


def _run(events: Sequence[dict[str, Any] | str], handle: Any) -> dict[str, Any]:
    return dict(
        process_queue_batch(
            sqs_event(*events),
            _Context(),  # type: ignore[arg-type]
            dimension=("trigger", "test"),
            model=SqsRecordModel,
            queue_url=None,
            dead_letter_queue_url=None,
            max_clock_skew=timedelta(days=1),
            handle_record=handle,
        )
    )


def test_the_records_of_ten_customers_run_at_the_same_time() -> None:
    # Every record waits until all ten are running: one after another, the first would time out.
    everyone = threading.Barrier(MAX_CONCURRENT_RECORDS, timeout=10)
    response = _run(
        [_event(f"cus_{n}", n) for n in range(MAX_CONCURRENT_RECORDS)], lambda record: everyone.wait()
    )
    assert response == {"batchItemFailures": []}


def test_one_customers_records_run_one_after_another_in_the_batch_order() -> None:
    running: set[str] = set()
    order: list[int] = []
    lock = threading.Lock()
    overlaps: list[str] = []
    others_started = threading.Barrier(2, timeout=10)

    def handle(record: Any) -> None:

        detail = json.loads(record.body)["detail"]
        customer = detail["customer_id"]
        with lock:
            if customer in running:
                overlaps.append(customer)
            running.add(customer)
        if customer == "cus_other":
            others_started.wait()
        elif detail["n"] == 0:
            others_started.wait()  # cus_other runs alongside cus_ada's first record
        with lock:
            running.discard(customer)
            if customer == "cus_ada":
                order.append(detail["n"])

    events = [_event("cus_ada", 0), _event("cus_other", 9), _event("cus_ada", 1), _event("cus_ada", 2)]
    assert _run(events, handle) == {"batchItemFailures": []}
    assert overlaps == []
    assert order == [0, 1, 2]


def test_a_failed_record_is_reported_and_the_others_of_its_customer_still_run() -> None:
    seen: list[int] = []

    def handle(record: Any) -> None:

        n = json.loads(record.body)["detail"]["n"]
        seen.append(n)
        if n == 1:
            raise RuntimeError("throttled")

    response = _run([_event("cus_ada", 0), _event("cus_ada", 1), _event("cus_ada", 2)], handle)
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert seen == [0, 1, 2]


@pytest.mark.parametrize("body", ["not json", "[]", '{"detail": "text"}'])
def test_a_record_without_a_customer_runs_on_its_own(body: str) -> None:
    from nudge.sqs_batches import _serial_key

    assert _serial_key({"body": body}, 3) == "record:3"


def test_a_record_too_deeply_nested_to_read_runs_on_its_own_and_the_batch_goes_on() -> None:
    # Given a batch whose second record's detail is nested deeper than json reads
    seen: list[str] = []
    events: list[dict[str, Any] | str] = [
        _event("cus_ada", 0),
        deeply_nested(_event("cus_deep", 1)),
        _event("cus_bo", 2),
    ]
    # When the records are put in lanes by customer, the deep one cannot be read for its customer
    response = _run(events, lambda record: seen.append(record.messageId))
    # Then it runs on its own, and every record ran
    assert response == {"batchItemFailures": []}
    assert sorted(seen) == ["msg-0", "msg-1", "msg-2"]


def test_whatever_a_record_handler_raises_is_that_records_failure() -> None:
    def handle(record: Any) -> None:
        json.loads(record.body)  # a RecursionError for the deep one

    events: list[dict[str, Any] | str] = [_event("cus_ada", 0), deeply_nested(_event("cus_deep", 1))]
    assert _run(events, handle) == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}


def test_a_model_that_recurses_too_deep_to_read_a_record_refuses_it_as_too_deeply_nested() -> None:
    # Given a model whose own parsing runs out of stack on a deep body (pydantic's JSON parser stops
    # at its own limit; a validator in Python may not)
    class ReadsTheBody(SqsRecordModel):
        @field_validator("body")
        @classmethod
        def _read(cls, body: Any) -> Any:
            json.loads(str(body))
            return body

    record = sqs_event(deeply_nested(_event("cus_deep", 1)))["Records"][0]
    processor = SqsBatchProcessor(model=ReadsTheBody, raw_records=[record])
    # Then the record fails validation naming the body, which dead-letters it at once
    with pytest.raises(ValidationError) as raised:
        processor.parse(record)
    assert raised.value.title == "ReadsTheBody"
    assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [(("body",), "too_deeply_nested")]


def test_a_batch_whose_every_record_fails_fails_as_a_whole_without_naming_any_data() -> None:
    # Ten customers, so the records fail on ten threads at once; each failure is logged by itself.
    everyone = threading.Barrier(MAX_CONCURRENT_RECORDS, timeout=10)

    def fail(record: Any) -> None:
        everyone.wait()
        raise RuntimeError(f"secret {record.body}")

    with pytest.raises(AllRecordsFailedError) as raised:
        _run([_event(f"cus_{n}", n) for n in range(MAX_CONCURRENT_RECORDS)], fail)
    assert str(raised.value) == f"all {MAX_CONCURRENT_RECORDS} records of the batch failed"


def test_a_batch_with_one_record_left_to_succeed_reports_only_the_failed_ones() -> None:
    def fail_all_but_cus_0(record: Any) -> None:
        if json.loads(record.body)["detail"]["customer_id"] != "cus_0":
            raise RuntimeError("failed")

    response = _run([_event(f"cus_{n}", n) for n in range(3)], fail_all_but_cus_0)
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}, {"itemIdentifier": "msg-2"}]}
