"""Segments and experiments are read once a minute per warm function, not once an email: a marketer's
change reaches the emails within SEGMENT_CACHE_SECONDS / EXPERIMENT_CACHE_SECONDS, and meanwhile the
send path makes two calls fewer. On a cold function the threads of a batch that need the same secret
or row wait for one read of it instead of each making their own."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
import time_machine

from local_stack.faults import recording_calls
from local_stack.fresh import fresh_stack
from local_stack.lambda_runtime import EventSourceMappings
from local_stack.moto_endpoint import MotoEndpoint
from local_stack.run import put_events
from local_stack.scenario import SampleEvent
from local_stack.seed import put_shopper
from local_stack.stack import LocalStack
from nudge import ttl_cache
from nudge.adapters import clients as layer_clients
from nudge.dal.segments import SEGMENT_CACHE_SECONDS, get_segment, put_segment
from nudge.unsubscribe.keys import signing_key
from tests.conftest import sent_emails

THREADS = 10
HANG_SECONDS = 10  # only a guard against a hang


def test_a_changed_offer_reaches_the_emails_within_a_minute_and_is_read_once_meanwhile(
    moto: MotoEndpoint, samples: dict[str, SampleEvent], clock: time_machine.Traveller
) -> None:
    stack = fresh_stack(moto, FrequencyCapEmails="0")
    mappings = EventSourceMappings(stack, clock)
    lapse = samples["customer_lapsed/at_risk_sam.json"]

    def winback(run_id: str) -> str:
        put_events(stack, [lapse.varied(run_id, run_id=run_id)])
        mappings.drain()
        return str(sent_emails(moto)[-1].get_body(("plain",)).get_content())  # type: ignore[union-attr]

    with recording_calls() as cold:
        assert "COMEBACK20" in winback("2026-11-23")
    # Given marketing changes the at-risk coupon
    table = stack.names["SegmentsTable"]
    at_risk = get_segment(table, "at_risk")
    put_segment(table, at_risk.model_copy(update={"coupon_code": "COMEBACK25"}))
    # Then an email within the minute still reads the cached row, without a Segments read
    with recording_calls() as warm:
        assert "COMEBACK20" in winback("2026-11-24")
    # The Segments GetItem and the Experiments Scan of the first email are not made again
    assert warm.count(("dynamodb", "GetItem")) == cold.count(("dynamodb", "GetItem")) - 1
    assert ("dynamodb", "Scan") in cold and ("dynamodb", "Scan") not in warm
    # ...and once the minute has passed, the new coupon
    clock.shift(SEGMENT_CACHE_SECONDS + 1)
    assert "COMEBACK25" in winback("2026-11-25")


def test_a_cold_batch_of_ten_cart_emails_reads_the_secret_once_and_each_recommendation_row_once(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given a catalog, and ten shoppers who left the same cart
    put_events(stack, [s for s in samples.values() if s.is_product and not s.is_invalid])
    mappings.drain()
    cart = samples["cart_abandoned/vip_ada.json"]
    carts = [
        cart.varied(customer_id, customer_id=customer_id, cart_id=f"cart_{customer_id}")
        for customer_id in (put_shopper(stack, f"cus_cold_{number}") for number in range(10))
    ]
    # When their records arrive in one batch on a cold function (no client, nothing cached)
    layer_clients.forget()
    ttl_cache.forget_all()
    with recording_calls() as calls:
        put_events(stack, carts)
        report = mappings.drain(only=["CartAbandonedFunction"])
    # Then ten emails, and every record that needed the secret or a row waited for one read of it
    assert (report.invocations, report.records, len(sent_emails(moto))) == (1, 10, 10)
    counted = Counter(operation for _, operation in calls)
    assert counted["GetSecretValue"] == 1
    # the recommendation model's rows and the catalog's, for the same cart
    assert counted["BatchGetItem"] == 2


def test_threads_reading_the_secret_on_a_cold_function_make_one_call(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a cold function: no client, no cached value
    secret_id = stack.functions["CartAbandonedFunction"].environment["UNSUBSCRIBE_KEY_SECRET"]
    layer_clients.forget()
    asked_for_client: set[int] = set()
    came = threading.Condition()
    client_of = layer_clients.secretsmanager

    def secretsmanager() -> Any:
        with came:
            asked_for_client.add(threading.get_ident())
            came.notify_all()
        return client_of()

    monkeypatch.setattr(layer_clients, "secretsmanager", secretsmanager)
    calls: list[int] = []

    def first_call_waits(**_: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            # ...until every thread is past the point where it could still find the value cached
            with came:
                assert came.wait_for(lambda: len(asked_for_client) == THREADS, HANG_SECONDS)

    hook = "before-call.secrets-manager.GetSecretValue"
    layer_clients.session().events.register(hook, first_call_waits)
    try:
        # When ten records' threads read it at once
        start = threading.Barrier(THREADS)
        keys: list[bytes] = []

        def read() -> None:
            start.wait()
            keys.append(signing_key(secret_id))

        threads = [threading.Thread(target=read) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(HANG_SECONDS)
    finally:
        layer_clients.session().events.unregister(hook, first_call_waits)
    # Then one GetSecretValue, and every thread has the key
    assert len(calls) == 1
    assert len(keys) == THREADS and len(set(keys)) == 1
