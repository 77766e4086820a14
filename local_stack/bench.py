"""`make bench`: rendering cost per email and end-to-end throughput on the local stack.

Local throughput is bounded by moto (one Python process answering every AWS call), not by AWS:
read the end-to-end figure as a regression check and compare it with the AWS-call count per email.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

import time_machine

from local_stack.capture import stdout_to
from local_stack.faults import recording_calls
from local_stack.lambda_runtime import EventSourceMappings
from local_stack.moto_endpoint import running_moto
from local_stack.run import put_events
from local_stack.scenario import SAMPLE_DAY_CLOCK, SampleEvent, load_sample_events
from local_stack.seed import seed_sample_data, verify_sender_identity
from local_stack.stack import REPO_ROOT, build_stack
from nudge.catalog.models import Product
from nudge.dal.customers import put_customer
from nudge.events import TriggerDetail
from nudge.mime import build_message
from nudge.pipeline import render_for, template_context
from nudge.profiles import Customer, Segment
from nudge.rendering import RenderedEmail, render_email
from nudge.settings import Settings
from nudge.timeutil import utc_now
from nudge.triggers import CART_ABANDONED

RENDERS = 2_000
END_TO_END_EVENTS = 200


def _cart_sample() -> SampleEvent:
    return next(s for s in load_sample_events() if s.name == "cart_abandoned/vip_ada.json")


# Three products, as RecommendationsPerEmail (default 3) puts in each email.
BENCH_PRODUCTS = [
    Product(
        sku=f"SKU-BENCH-{n}",
        name=f"Merino beanie {n}",
        product_url=f"https://shop.example/p/SKU-BENCH-{n}",
        image_url=f"https://shop.example/img/SKU-BENCH-{n}.jpg",
        price=Decimal("39.00"),
        currency="GBP",
        in_stock=True,
        updated_at=SAMPLE_DAY_CLOCK,
    )
    for n in range(3)
]


def bench_rendering(settings: Settings) -> dict[str, dict[str, float]]:
    """Render + MIME per email, three variants measured round-robin in one run (so a busy machine
    slows each alike): as before this issue (English, no recommendations, links untagged), and as
    the pipeline renders now (three recommendations, every link tagged) in English and in German."""
    detail = cast(TriggerDetail, CART_ABANDONED.parse(_cart_sample().event))
    segment = Segment(
        segment_id="vip", name="VIP", discount_percent=15, coupon_code="VIP15", perks=("a", "b")
    )
    unsubscribe_url = f"{settings.unsubscribe_url}?token=v1.Yw.bench"

    def customer(locale: str) -> Customer:
        return Customer(
            customer_id="c", email="a@example.com", first_name="Ada", locale=locale, marketing_consent=True
        )

    def plain() -> RenderedEmail:
        context = template_context(
            CART_ABANDONED, detail, customer("en-GB"), segment, settings, unsubscribe_url
        )
        return render_email(settings.templates_dir, CART_ABANDONED.name, context)

    def personal(locale: str) -> Callable[[], RenderedEmail]:
        return lambda: render_for(
            CART_ABANDONED, detail, customer(locale), segment, settings, unsubscribe_url, BENCH_PRODUCTS
        )

    variants: dict[str, Callable[[], RenderedEmail]] = {
        "before (en, no recommendations, untagged)": plain,
        "now, en: 3 recommendations, tagged links": personal("en-GB"),
        "now, de: 3 recommendations, tagged links": personal("de-DE"),
    }
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for render in variants.values():
        render()  # compile once, as a warm Lambda has
    for _ in range(RENDERS):
        for name, render in variants.items():
            started = time.perf_counter()
            email = render()
            build_message(
                sender=settings.sender,
                recipient_name="Ada",
                recipient_email="a@example.com",
                email=email,
                sent_at=utc_now(),
                unsubscribe_url=unsubscribe_url,
            )
            timings[name].append(time.perf_counter() - started)
    figures = {}
    for name, measured in timings.items():
        measured.sort()
        figures[name] = {
            "median_us": statistics.median(measured) * 1e6,
            "p95_us": measured[int(len(measured) * 0.95)] * 1e6,
        }
    return figures


def bench_end_to_end() -> tuple[dict[str, Any], Settings]:
    """Throughput figures, and the settings the stack's functions ran with (for the render benchmark)."""
    # Daytime for every customer (they have no timezone: DefaultTimezone, UTC), so quiet hours defer
    # nothing and every event is an email.
    with time_machine.travel(SAMPLE_DAY_CLOCK, tick=True), running_moto() as moto:
        stack = build_stack()
        verify_sender_identity(stack)
        seed_sample_data(stack)
        cart = _cart_sample()
        samples = []
        for number in range(END_TO_END_EVENTS):
            customer_id = f"cus_bench_{number:05d}"
            put_customer(
                stack.names["CustomersTable"],
                Customer(
                    customer_id=customer_id,
                    email=f"shopper{number}@example.com",
                    first_name="Sam",
                    marketing_consent=True,
                    segment_id="vip",
                    total_spent=Decimal(0),
                ),
            )
            samples.append(
                cart.varied(customer_id, customer_id=customer_id, cart_id=f"cart_bench_{number:05d}")
            )
        with stdout_to(REPO_ROOT / "out" / "logs" / "bench.jsonl"):
            mappings = EventSourceMappings(stack)
            # The sample catalog first, so each email makes both recommendation reads.
            put_events(stack, [s for s in load_sample_events() if s.is_product and not s.is_invalid])
            mappings.drain()
            started = time.perf_counter()
            with recording_calls() as calls:
                put_events(stack, samples)
                report = mappings.drain()
            elapsed = time.perf_counter() - started
        sent = len(moto.sent_raw_emails())
        settings = Settings.from_environment(stack.functions["CartAbandonedFunction"].environment)
    figures = {
        "events": END_TO_END_EVENTS,
        "seconds": elapsed,
        "emails_per_second": END_TO_END_EVENTS / elapsed,
        "invocations": report.invocations,
        "failed_records": report.failed_records,
        "emails_sent": sent,
        "calls": Counter(f"{service}.{operation}" for service, operation in calls),
    }
    return figures, settings


# What a trigger function's first invocation creates: each in a fresh interpreter, as on a cold start.
_FIRST_CLIENTS = ("dynamodb", "sesv2", "scheduler", "secretsmanager", "sqs")
_CLIENTS_SCRIPT = """
import os, time, boto3
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
shared = {shared}
start = time.process_time()
session = boto3.session.Session()
for name in {names!r}:
    (session if shared else boto3.session.Session()).client(name)
print(time.process_time() - start)
"""
CLIENT_ROUNDS = 5


def bench_client_creation() -> dict[str, float]:
    """CPU seconds to create the first invocation's clients, one Session for all vs a Session each:
    each round two fresh interpreters, alternating, so both see the same machine state."""
    import subprocess
    import sys

    samples: dict[str, list[float]] = {"one Session": [], "a Session each": []}
    for _ in range(CLIENT_ROUNDS):
        for label, shared in (("one Session", True), ("a Session each", False)):
            script = _CLIENTS_SCRIPT.format(shared=shared, names=_FIRST_CLIENTS)
            out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)  # noqa: S603
            samples[label].append(float(out.stdout.strip()))
    return {label: statistics.median(values) for label, values in samples.items()}


def main() -> None:
    end_to_end, settings = bench_end_to_end()
    rendering = bench_rendering(settings)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"render + MIME, cart_abandoned, compiled templates ({RENDERS} renders each, round-robin):")
    baseline = next(iter(rendering.values()))["median_us"]
    for name, figures in rendering.items():
        print(
            f"  {name:<44} median {figures['median_us']:>5.0f} µs, p95 {figures['p95_us']:>5.0f} µs, "
            f"{figures['median_us'] / baseline:.2f}x before"
        )
    sent = end_to_end["emails_sent"] or 1
    calls: Counter[str] = end_to_end["calls"]
    print(
        f"end to end on the local stack: {end_to_end['events']} Cart Abandoned events "
        f"in {end_to_end['seconds']:.1f} s "
        f"= {end_to_end['emails_per_second']:.0f} emails/s, {end_to_end['invocations']} invocations, "
        f"{end_to_end['failed_records']} failed records, {end_to_end['emails_sent']} emails sent "
        "(bounded by moto)"
    )
    print(
        "AWS calls per sent email (the handlers' calls, counted with botocore hooks): "
        f"{calls.total() / sent:.1f}"
    )
    for operation, count in sorted(calls.items(), key=lambda item: -item[1]):
        print(f"  {operation:<34} {count / sent:.2f}")
    print(f"peak memory of the benchmark process: {peak_mb:.0f} MiB")
    clients = bench_client_creation()
    each, one = clients["a Session each"], clients["one Session"]
    print(
        f"first invocation's {len(_FIRST_CLIENTS)} AWS clients, CPU in a fresh interpreter (median of "
        f"{CLIENT_ROUNDS}, alternating): a Session each {each * 1000:.0f} ms, one shared Session "
        f"{one * 1000:.0f} ms ({each / one:.1f}x)"
    )


if __name__ == "__main__":
    main()
