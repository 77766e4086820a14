"""The scheduled re-engagement run against moto: planner, work queue, workers, bus, rule, handler.

Each test fires the schedule the way EventBridge Scheduler would and lets the local event source
mappings run the real handlers; expectations are computed independently from the seeded profiles.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from local_stack.emulator import clients
from local_stack.emulator.emf import emitted_metrics
from local_stack.emulator.fresh import fresh_stack
from local_stack.emulator.lambda_runtime import EventSourceMappings, LocalScheduler
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.one_time_schedules import deliver_deferred
from local_stack.emulator.reengagement import PLANNER, run_schedule, sample_scheduled_time
from local_stack.emulator.rows import put_segment
from local_stack.emulator.run import put_events
from local_stack.emulator.scenario import load_sample_rows
from local_stack.emulator.seed import put_shopper, seed_customers
from local_stack.emulator.stack import LocalStack
from nudge.adapters import clients as handler_clients
from nudge.dal.customers import get_customer
from nudge.dal.items import from_item
from nudge.dal.segments import list_definitions
from nudge.dal.send_state import get_send_marks
from nudge.profiles import Customer, Segment
from nudge.reengagement.selection import due_winback
from nudge.segmentation import assign_segment
from nudge.send_state import FACT_MARKS
from nudge.timeutil import utc_now
from tests.conftest import sent_emails

AS_OF = sample_scheduled_time()
SEGMENTS = [Segment.model_validate(row) for row in load_sample_rows("segments")]
SAMPLE_CUSTOMERS = len(load_sample_rows("customers"))


def build_run_stack(moto: MotoEndpoint, synthetic_customers: int) -> LocalStack:
    """The template with 3 scan shards of 25-customer pages, so even a few dozen customers make
    several pages per shard; seeded with the sample data and synthetic customers."""
    local = fresh_stack(moto, ReengagementParallelism="3", ScanPageSize="25")
    seed_customers(local, synthetic_customers, AS_OF)
    return local


@pytest.fixture
def run_stack(moto: MotoEndpoint) -> LocalStack:
    return build_run_stack(moto, synthetic_customers=100)


@pytest.fixture
def run_mappings(run_stack: LocalStack, clock: time_machine.Traveller) -> EventSourceMappings:
    return EventSourceMappings(run_stack, clock)


def all_customers(stack: LocalStack) -> dict[str, Customer]:
    client = clients.dynamodb(stack.region)
    pages = client.get_paginator("scan").paginate(
        TableName=stack.names["CustomersTable"], ConsistentRead=True
    )
    customers = (Customer.model_validate(from_item(item)) for page in pages for item in page["Items"])
    return {customer.customer_id: customer for customer in customers}


def recipients(moto: MotoEndpoint) -> list[str]:
    return [str(email["To"].addresses[0].addr_spec) for email in sent_emails(moto)]


@pytest.fixture
def worker_killed_mid_segment() -> Iterator[None]:
    """Kills the first worker that asks for its second page, once, as a crash or timeout would."""
    killed = False

    def crash(params: dict[str, Any], **_: Any) -> None:
        nonlocal killed
        if "ExclusiveStartKey" in params and not killed:
            killed = True
            raise RuntimeError("worker killed mid-shard")

    events = handler_clients.dynamodb().meta.events
    events.register("provide-client-params.dynamodb.Scan", crash, unique_id="kill-worker")
    yield
    events.unregister("provide-client-params.dynamodb.Scan", unique_id="kill-worker")


def test_a_run_resegments_everyone_and_wins_back_exactly_the_due_customers(
    moto: MotoEndpoint, clock: time_machine.Traveller
) -> None:
    # Given a few hundred customers, and what the rules say of each as of the run
    run_stack = build_run_stack(moto, synthetic_customers=300)
    run_mappings = EventSourceMappings(run_stack, clock)
    before = all_customers(run_stack)
    expected_segment = {cid: assign_segment(c.facts(AS_OF), SEGMENTS) for cid, c in before.items()}
    due = {c.email for c in before.values() if due_winback(c, AS_OF, timedelta(days=90), timedelta(days=30))}
    assert len(due) > 50  # the data exercises selection, not just the empty case

    # When the schedule fires and every work item and win-back is processed, and the customers for
    # whom it was night have had their morning
    report = run_schedule(run_stack, run_mappings, AS_OF)
    deferred = deliver_deferred(run_stack, run_mappings, clock.move_to)
    assert deferred  # customers around the world: quiet hours held some win-backs back

    # Then every customer was scanned once, across all shards, and the run finished
    assert report.finished and len(report.checkpoints) == 3
    assert report.tally.scanned == len(before)
    # And each customer now holds the segment the rules give, written only where it changed
    after = all_customers(run_stack)
    assert {cid: c.segment_id for cid, c in after.items()} == expected_segment
    changed = {cid for cid in before if before[cid].segment_id != expected_segment[cid]}
    assert report.tally.resegmented == len(changed)
    assert {
        cid for cid, c in after.items() if c.segment_updated_at != before[cid].segment_updated_at
    } == changed
    # And exactly the due customers got one win-back each, through the Customer Lapsed handler
    assert report.tally.selected == report.tally.published == len(due)
    assert sorted(recipients(moto)) == sorted(due)
    # And the win-back is marked on each one's send state (the profile is not rewritten by a send)
    won_back = [cid for cid, c in before.items() if c.email in due]
    marks = get_send_marks(run_stack.names["DeliveriesTable"], won_back, FACT_MARKS)
    assert all(marks[cid].last_winback_at is not None for cid in won_back)
    assert all(after[cid].last_winback_at == before[cid].last_winback_at for cid in won_back)


def test_a_winback_carries_the_offer_of_the_segment_the_run_just_assigned(
    run_stack: LocalStack,
    run_mappings: EventSourceMappings,
    moto: MotoEndpoint,
    clock: time_machine.Traveller,
) -> None:
    # Given Kenji, stored as a VIP, whose last order is now 206 days old
    run_schedule(run_stack, run_mappings, AS_OF)
    deliver_deferred(run_stack, run_mappings, clock.move_to)  # it is night in Tokyo
    (email,) = [e for e in sent_emails(moto) if e["To"].addresses[0].addr_spec == "kenji.sato@example.jp"]
    html = email.get_body(preferencelist=("html",))
    # Then his win-back speaks to a lapsed customer, not a VIP
    assert html is not None and "WELCOMEBACK25" in html.get_content() and "VIP15" not in html.get_content()


def test_a_rerun_on_the_same_day_sends_nobody_a_second_winback(
    run_stack: LocalStack, run_mappings: EventSourceMappings, moto: MotoEndpoint
) -> None:
    first = run_schedule(run_stack, run_mappings, AS_OF)
    sent = len(recipients(moto))
    # When the schedule fires again the same day (a retry, or someone invoking it by hand)
    second = run_schedule(run_stack, run_mappings, AS_OF + timedelta(hours=8))
    # Then it is the same run: nothing is enqueued and nobody is emailed again
    assert second.run_id == first.run_id
    assert second.planned["enqueued"] == 0
    assert len(recipients(moto)) == sent


def test_the_next_days_run_leaves_the_customers_it_won_back_alone(
    run_stack: LocalStack,
    run_mappings: EventSourceMappings,
    moto: MotoEndpoint,
    clock: time_machine.Traveller,
) -> None:
    run_schedule(run_stack, run_mappings, AS_OF)
    deliver_deferred(run_stack, run_mappings, clock.move_to)
    won_back = recipients(moto)
    assert won_back
    # When the next day's run (a new run, not the same one) scans the same customers, whose
    # win-backs are marked only on their send states
    clock.move_to(AS_OF + timedelta(days=1))
    second = run_schedule(run_stack, run_mappings, AS_OF + timedelta(days=1))
    deliver_deferred(run_stack, run_mappings, clock.move_to)
    # Then the cooldown holds every one of them back
    assert second.planned["enqueued"] > 0
    again = recipients(moto)[len(won_back) :]
    assert not set(again) & set(won_back)


def test_a_republished_winback_of_the_same_run_is_not_sent_twice(
    run_stack: LocalStack, run_mappings: EventSourceMappings, moto: MotoEndpoint
) -> None:
    # Given a run that sent Noah his win-back
    report = run_schedule(run_stack, run_mappings, AS_OF)
    noah = get_customer(run_stack.names["CustomersTable"], "cus_lapsed_noah")
    assert noah is not None and noah.last_order_at is not None
    sent = len(recipients(moto))
    # When the same event reaches the bus again (a worker that died after PutEvents, before its checkpoint)
    detail = {
        "customer_id": "cus_lapsed_noah",
        "last_order_at": noah.last_order_at.isoformat(),
        "days_since_last_order": 258,
        "run_id": report.run_id,
    }
    clients.events(run_stack.region).put_events(
        Entries=[
            {
                "Source": "nudge.reengagement",
                "DetailType": "Customer Lapsed",
                "Detail": json.dumps(detail),
                "EventBusName": run_stack.names["StoreEventBus"],
            }
        ]
    )
    run_mappings.drain()
    # Then the win-back's identity, which includes the run date, finds its delivery record: no second email
    assert len(recipients(moto)) == sent


def test_a_worker_that_dies_mid_segment_resumes_from_its_checkpoint(
    run_stack: LocalStack,
    run_mappings: EventSourceMappings,
    moto: MotoEndpoint,
    worker_killed_mid_segment: None,
    service_logs: io.StringIO,
    clock: time_machine.Traveller,
) -> None:
    before = all_customers(run_stack)
    due = {c.email for c in before.values() if due_winback(c, AS_OF, timedelta(days=90), timedelta(days=30))}
    # When a worker is killed mid-shard and SQS redelivers its work item
    report = run_schedule(run_stack, run_mappings, AS_OF)
    deliver_deferred(run_stack, run_mappings, clock.move_to)
    # Then the redelivered message resumed after the last checkpointed page, not from the start
    resumed = [json.loads(line) for line in service_logs.getvalue().splitlines() if "resuming shard" in line]
    assert len(resumed) == 1 and resumed[0]["pages_done"] >= 1
    # And the run still covered every customer exactly once and won back each due customer once
    assert report.finished and report.tally.scanned == len(before)
    assert sorted(recipients(moto)) == sorted(due)


def test_a_worker_short_of_time_hands_its_segment_to_a_continuation(
    run_stack: LocalStack,
    run_mappings: EventSourceMappings,
    moto: MotoEndpoint,
    monkeypatch: pytest.MonkeyPatch,
    service_logs: io.StringIO,
) -> None:
    # Given workers that always believe too little time is left for another page
    monkeypatch.setenv("WORKER_TIME_RESERVE_MS", str(10**9))
    report = run_schedule(run_stack, run_mappings, AS_OF, send_emails=False)
    # Then every page after a shard's first ran in a fresh invocation, and the totals are whole
    handovers = service_logs.getvalue().count("shard handed over to a fresh invocation")
    assert handovers == report.pages - len(report.checkpoints) > 0
    assert report.finished and report.tally.scanned == 100 + SAMPLE_CUSTOMERS


def test_a_duplicate_work_item_for_a_finished_segment_does_nothing(
    run_stack: LocalStack, run_mappings: EventSourceMappings, service_logs: io.StringIO
) -> None:
    report = run_schedule(run_stack, run_mappings, AS_OF, send_emails=False)
    work_item = {"run_id": report.run_id, "as_of": AS_OF.isoformat(), "shard": 1, "total_shards": 3}
    clients.sqs(run_stack.region).send_message(
        QueueUrl=run_stack.queue_url("ReengagementWorkQueue"), MessageBody=json.dumps(work_item)
    )
    run_mappings.drain(only=("ReengagementWorkerFunction",))
    assert "duplicate work item dropped" in service_logs.getvalue()
    again = run_schedule(run_stack, run_mappings, AS_OF, send_emails=False)
    assert again.tally == report.tally


def run_finished_metrics(printed: str) -> list[tuple[tuple[tuple[str, str], ...], tuple[float, ...]]]:
    return [(m.dimensions, m.values) for m in emitted_metrics(printed) if m.name == "ReengagementRunFinished"]


def test_a_run_reports_its_finish_once_in_seconds_since_it_was_scheduled(
    run_stack: LocalStack, run_mappings: EventSourceMappings, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the schedule fires and every shard is worked through
    report = run_schedule(run_stack, run_mappings, AS_OF, send_emails=False)
    # Then the worker that finished the last shard said so, once, with the time since the schedule fired
    finished = run_finished_metrics(capsys.readouterr().out)
    assert report.finished
    assert [dimensions for dimensions, _ in finished] == [(("service", "nudge"),)]
    ((seconds,),) = [values for _, values in finished]
    assert 0 < seconds <= (utc_now() - AS_OF).total_seconds()
    # And a duplicate work item for a finished shard does not report the run a second time
    work_item = {"run_id": report.run_id, "as_of": AS_OF.isoformat(), "shard": 2, "total_shards": 3}
    clients.sqs(run_stack.region).send_message(
        QueueUrl=run_stack.queue_url("ReengagementWorkQueue"), MessageBody=json.dumps(work_item)
    )
    run_mappings.drain(only=("ReengagementWorkerFunction",))
    assert run_finished_metrics(capsys.readouterr().out) == []


@pytest.fixture
def counting_a_finished_shard_fails_once_per_shard() -> Iterator[set[int]]:
    """The write that counts a done shard among its run's finished shards fails once for each shard,
    as a write still throttled after the SDK's retries would: the shard's row already says done."""
    failed: set[int] = set()

    def fail(params: dict[str, Any], **_: Any) -> None:
        if not str(params.get("UpdateExpression", "")).startswith("ADD finished_shards"):
            return
        (shard,) = from_item(params["ExpressionAttributeValues"])[":shard"]
        if shard not in failed:
            failed.add(int(shard))
            raise RuntimeError("finished shard not counted")

    events = handler_clients.dynamodb().meta.events
    events.register("provide-client-params.dynamodb.UpdateItem", fail, unique_id="fail-count")
    yield failed
    events.unregister("provide-client-params.dynamodb.UpdateItem", unique_id="fail-count")


def test_a_run_whose_last_shard_was_not_counted_still_reports_its_finish_once(
    run_stack: LocalStack,
    run_mappings: EventSourceMappings,
    capsys: pytest.CaptureFixture[str],
    counting_a_finished_shard_fails_once_per_shard: set[int],
) -> None:
    # When every shard's worker fails between finishing its shard and counting it, and SQS redelivers
    report = run_schedule(run_stack, run_mappings, AS_OF, send_emails=False)
    # Then the redelivered work items, refused their done shards, counted them: the run finished once
    assert len(counting_a_finished_shard_fails_once_per_shard) == 3
    assert report.finished
    assert len(run_finished_metrics(capsys.readouterr().out)) == 1


def test_invalid_segment_definitions_pause_resegmentation_but_not_the_winbacks(
    run_stack: LocalStack,
    run_mappings: EventSourceMappings,
    moto: MotoEndpoint,
    service_logs: io.StringIO,
    clock: time_machine.Traveller,
) -> None:
    # Given a marketer's typo in one segment's rules
    broken = {"segment_id": "big_spenders", "name": "Big spenders", "rules": {"total_spend": {"gte": 500}}}
    client = clients.dynamodb(run_stack.region)
    client.put_item(
        TableName=run_stack.names["SegmentsTable"],
        Item={
            "segment_id": {"S": broken["segment_id"]},
            "name": {"S": "Big spenders"},
            "rules": {"M": {"total_spend": {"M": {"gte": {"N": "500"}}}}},
        },
    )
    before = all_customers(run_stack)
    report = run_schedule(run_stack, run_mappings, AS_OF)
    deliver_deferred(run_stack, run_mappings, clock.move_to)
    # Then nobody is moved by a half-valid rule set, the problem is named, and win-backs still go out
    assert report.tally.resegmented == 0
    assert {cid: c.segment_id for cid, c in all_customers(run_stack).items()} == {
        cid: c.segment_id for cid, c in before.items()
    }
    assert "big_spenders: rules.total_spend (extra_forbidden)" in service_logs.getvalue()
    assert report.tally.published > 0 and len(recipients(moto)) == report.tally.published


def test_a_planner_event_it_cannot_read_ends_in_its_dead_letter_queue(
    run_stack: LocalStack, run_mappings: EventSourceMappings
) -> None:
    assert LocalScheduler(run_mappings).invoke_async(PLANNER, {"scheduled_time": "tomorrow-ish"}) is None
    sqs = clients.sqs(run_stack.region)
    messages = sqs.receive_message(QueueUrl=run_stack.queue_url("ReengagementPlannerDLQ")).get("Messages", [])
    assert [json.loads(m["Body"]) for m in messages] == [{"scheduled_time": "tomorrow-ish"}]


def test_order_placed_writes_the_segment_only_when_it_changes(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, Any]
) -> None:
    # Given Priya (new customer, first order) and Maria (frequent buyer, a big order)
    put_events(
        stack,
        [samples["order_placed/first_order_priya.json"], samples["order_placed/repeat_order_maria.json"]],
    )
    mappings.drain()
    priya = get_customer(stack.names["CustomersTable"], "cus_new_priya")
    maria = get_customer(stack.names["CustomersTable"], "cus_frequent_maria")
    # Then Priya's segment is unchanged and untouched; Maria's order made her a VIP, with the time of it
    assert priya is not None and priya.segment_id == "new_customer" and priya.segment_updated_at is None
    assert maria is not None and maria.segment_id == "vip" and maria.segment_updated_at is not None
    assert len(maria.recent_order_dates) == 4


def test_order_placed_reads_the_send_marks_a_segment_rule_needs(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, Any]
) -> None:
    # Given a segment for customers emailed within the last day, first in priority
    put_segment(
        stack.names["SegmentsTable"],
        Segment.model_validate(
            {
                "segment_id": "just_emailed",
                "name": "Just emailed",
                "priority": 0,
                "rules": {"days_since_last_email": {"lte": 1}},
            }
        ),
    )
    # And a shopper whose cart reminder went out (marked on the send state, not the profile)
    shopper = put_shopper(stack, "cus_marks")
    cart = samples["cart_abandoned/vip_ada.json"]
    put_events(stack, [cart.varied("marks", customer_id=shopper, cart_id="cart_marks")])
    mappings.drain()
    # When the shopper orders
    order = samples["order_placed/first_order_priya.json"]
    put_events(stack, [order.varied("marks", customer_id=shopper, order_id="ord_marks")])
    mappings.drain()
    # Then the order's re-segmentation saw the email
    customer = get_customer(stack.names["CustomersTable"], shopper)
    assert customer is not None and customer.segment_id == "just_emailed"


def test_segments_rows_round_trip_with_their_rules(stack: LocalStack) -> None:
    segment = Segment.model_validate(
        {
            "segment_id": "x",
            "name": "X",
            "priority": 5,
            "rules": {"orders_in_last_days": {"days": 30, "gte": 2}},
        }
    )
    put_segment(stack.names["SegmentsTable"], segment)
    (stored,) = [d for d in list_definitions(stack.names["SegmentsTable"]) if d.segment_id == "x"]
    assert stored.rules == segment.rules and stored.priority == 5


def test_make_reengagement_accounts_for_every_due_customer_on_the_sample_days_clock() -> None:
    # Given the command a new user runs (`make reengagement CUSTOMERS=n`), on a small population: its
    # own process, as it starts its own moto in another (this session's clients point at this one's)
    repo = Path(__file__).resolve().parents[2]
    environment = {**os.environ, "PYTHONPATH": str(repo / "layers" / "nudge")}
    environment.pop("AWS_ENDPOINT_URL", None)

    # When it runs
    finished = subprocess.run(
        [sys.executable, "-m", "local_stack.cli.reengagement", "--customers", "150"],
        cwd=repo,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # Then every customer due a win-back was decided by the Customer Lapsed function: customers for
    # whom it was night on the sample day's clock were deferred, then decided in their morning
    assert finished.returncode == 0, finished.stdout + finished.stderr
    summary = finished.stdout
    counts = re.search(r"win-backs: (\d+) customers due, (\d+) published, (\d+) decided", summary)
    assert counts is not None, summary
    due, published, decided = (int(n) for n in counts.groups())
    assert due == published == decided > 30
    assert "(every one accounted for)" in summary
    assert re.search(r"of them \d+ were deferred by quiet hours", summary)
