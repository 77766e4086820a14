"""`make demo`: every sample event through the whole pipeline on the local embedded stack.

moto on 127.0.0.1 stands in for AWS; tables, queues, the bus and its rules come from template.yaml;
the real handlers run in-process. Each sent email is written to out/outbox/ as .eml and .html.
Exit code 0 only if every event did what events/expectations.json says, and every email recommends
only products with a price in its currency, shown at that price and named in its language.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from functools import cache

import time_machine

from local_stack.cli import measurement_day, shown_products
from local_stack.emulator.capture import stdout_to
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import running_moto
from local_stack.emulator.one_time_schedules import OneTimeSchedule, deliver_deferred
from local_stack.emulator.outbox import write_outbox
from local_stack.emulator.reengagement import SAMPLE_RUN, run_schedule, sample_scheduled_time
from local_stack.emulator.reengagement import describe as describe_run
from local_stack.emulator.rows import get_outcome
from local_stack.emulator.run import (
    EventResult,
    put_events,
    recorded_outcome,
    run_in_order,
    run_samples,
    stored_profile,
)
from local_stack.emulator.scenario import (
    SAMPLE_DAY_CLOCK,
    SampleEvent,
    load_customer_events,
    load_follow_ups,
    load_sample_events,
    load_sample_rows,
)
from local_stack.emulator.seed import create_sample_customers, seed_segments, verify_sender_identity
from local_stack.emulator.stack import REPO_ROOT, LocalStack, build_stack
from nudge.dal import consent_history, partitions
from nudge.dal.customers import get_customer
from nudge.formatting import resolve_timezone
from nudge.outcome import Decision, Outcome, SkipReason
from nudge.reengagement.selection import winback_detail
from nudge.timeutil import to_stored, utc_now
from nudge.triggers import CART_ABANDONED, CUSTOMER_LAPSED

OUT_DIR = REPO_ROOT / "out"
SERIES_EXPECTATIONS = REPO_ROOT / "events" / "series" / "expectations.json"


def _row(trigger: str, customer: str, segment: str, decision: str, detail: str) -> str:
    return f"{trigger:<16} {customer:<22} {segment:<15} {decision:<26} {detail}"


def describe(result: EventResult) -> str:
    """trigger, customer, segment, decision (sent, skipped and why, or deferred), subject."""
    sample, outcome = result.sample, result.outcome
    trigger = sample.detail_type.lower().replace(" ", "_")
    if sample.is_invalid:
        rejected = sample.expectation["rejected"]
        where = f"-> {result.dead_letter_queue}" if result.dead_letter_queue else "-> NOT dead-lettered"
        reason = f"rejected: {rejected['field']} {rejected['error']}"
        return _row(trigger, "(invalid event)", "-", reason, f"{where}  ({sample.name})")
    if sample.is_product:
        product = result.product
        stored = f"{product.price} {product.currency}" if product else "no catalog row"
        what = "written" if sample.expectation.get("catalog") == "written" else "kept the newer row"
        return _row(trigger, str(sample.event["detail"]["sku"]), "-", what, f"{stored}  ({sample.name})")
    if sample.is_customer_event:
        return _row(trigger, str(sample.event["detail"]["customer_id"]), "-", *_profile_change(result))
    if outcome is None:
        return _row(trigger, "?", "-", "no delivery record", sample.name)
    return _row(outcome.trigger, outcome.customer_id, outcome.segment_id or "-", *_decision(outcome))


def _profile_change(result: EventResult) -> tuple[str, str]:
    """What a Customer Updated or Customer Deleted did to the profile, in the demo's columns."""
    detail, profile = result.sample.event["detail"], result.profile
    if result.sample.detail_type == "Customer Deleted":
        return ("erased" if profile is None else "NOT ERASED"), f"({result.sample.name})"
    if profile is None:
        return "no profile", f"({result.sample.name})"
    named = [name for name in detail if name not in ("customer_id", "updated_at")]
    if detail.get("marketing_consent") is False:
        what = f"consent withdrawn ({detail.get('consent_source', 'no source')})"
    elif "email" in named and profile.get("suppressed_reason"):
        what = f"suppressed: {profile['suppressed_reason']} (the address's)"
    else:
        what = ("created" if result.sample.expectation.get("profile") == "created" else "updated") + (
            ": " + ", ".join(f"{n}=null" if detail[n] is None else n for n in named)
        )
    return what, f"({result.sample.name})"


def customer_events_step(stack: LocalStack, mappings: EventSourceMappings) -> tuple[bool, list[str]]:
    """The store's customer events (events/customers/), one after another: a sign-up, a changed
    address, a cleared name, an erasure (what it leaves), a sign-up with the erased customer's
    suppressed address, and invalid events dead-lettered naming the field."""
    lines = ["\nthe store's customer events (events/customers/), each handled before the next"]
    erased_id = "cus_suppressed_olga"
    held_before = _rows_about(stack, erased_id)
    results = run_in_order(stack, mappings, load_customer_events())
    for result in results:
        lines.append(("  " if result.as_expected else "X ") + describe(result))
    held_after = _rows_about(stack, erased_id)
    lines.append(
        f"  erasing {erased_id} deleted her profile, {held_before['deliveries']} delivery records and "
        f"{held_before['consent']} consent statement(s); left: {sum(held_after.values())} rows that name "
        "her, her address only as a keyed hash on the suppression list"
    )
    cart = next(s for s in load_sample_events() if s.name == "cart_abandoned/vip_ada.json")
    after = cart.varied("a cart after the erasure", customer_id=erased_id, cart_id="cart_after_erasure")
    put_events(stack, [after])
    mappings.drain()
    outcome = recorded_outcome(stack, after)
    unknown = outcome is not None and outcome.reason is SkipReason.UNKNOWN_CUSTOMER
    lines.append(
        "  " + _row("cart_abandoned", erased_id, "-", *_decision(outcome)) if outcome else "X no decision"
    )
    ok = all(r.as_expected for r in results) and unknown and sum(held_after.values()) == 0
    return ok, lines


def _rows_about(stack: LocalStack, customer_id: str) -> dict[str, int]:
    """How many rows hold the customer: profile, delivery records, consent statements."""
    return {
        "profile": int(get_customer(stack.names["CustomersTable"], customer_id) is not None),
        "deliveries": len(partitions.rows(stack.names["DeliveriesTable"], "customer_id", customer_id)),
        "consent": len(consent_history.history(stack.names["ConsentHistoryTable"], customer_id)),
    }


def main() -> int:
    started = time.perf_counter()
    samples = load_sample_events()
    duplicate = [next(s for s in samples if s.expectation.get("decision") == "sent")]
    with time_machine.travel(SAMPLE_DAY_CLOCK, tick=True) as clock, running_moto() as moto:
        stack = build_stack()
        verify_sender_identity(stack)
        with stdout_to(OUT_DIR / "logs" / "lambda.jsonl"):
            mappings = EventSourceMappings(stack, clock)
            segments = seed_segments(stack)
            customers = create_sample_customers(stack, mappings)
        print(
            f"local stack on {moto.url}: {len(stack.functions)} functions, {len(stack.queue_urls)} queues, "
            f"{len(stack.rules)} rules from template.yaml; seeded {segments} segments; {customers} customers "
            "created by Customer Updated events (consent from an import), their order history imported"
        )
        print(f"clock set to the sample day, {SAMPLE_DAY_CLOCK:%Y-%m-%d %H:%M} UTC, and ticking")
        print("the store's catalog (events/product_updated/) goes on the bus first")
        with stdout_to(OUT_DIR / "logs" / "lambda.jsonl", append=True):
            # The store's catalog is there before the day starts, so the first emails already
            # recommend products (the day's own events put the same products again: no change).
            catalog = [s for s in samples if s.is_product and not s.is_invalid]
            put_events(stack, catalog)
            mappings.drain()
            results, report = run_samples(stack, mappings, samples, repeat=duplicate)
            sent = [r.outcome for r in results if r.outcome and r.outcome.decision is Decision.SENT]
            raw = moto.sent_raw_emails()
            follow_ups_ok, follow_up_lines, follow_up_emails = follow_ups_step(stack, mappings, clock.move_to)
            run_ok, run_lines, winbacks = scheduled_run_step(stack, mappings)
            morning_ok, morning_lines, mornings = days_pass_step(stack, mappings, clock.move_to)
            day = measurement_day.simulate(
                stack, mappings, clock.move_to, customers=measurement_day.DEMO_CUSTOMERS
            )
            privacy_ok, privacy_lines = customer_events_step(stack, mappings)
        emails = [*sent, *follow_up_emails, *winbacks, *mornings]
        written = write_outbox(OUT_DIR / "outbox", emails, moto.sent_raw_emails())
        shown_ok, shown_lines = shown_products.check(
            stack, emails, moto.sent_raw_emails(), [*samples, *load_follow_ups()]
        )

    print(
        f"{len(samples) + len(duplicate)} events put on the bus ({duplicate[0].name} twice); "
        f"{report.invocations} invocations, {report.records} records, "
        f"{report.failed_records} failed and retried"
    )
    for result in results:
        print(("  " if result.as_expected else "X ") + describe(result))
    unexpected = [r for r in results if not r.as_expected]
    duplicates_ok = len(raw) == len(sent)
    print(
        f"{len(raw)} emails sent by SES for {len(sent)} sendable events "
        f"({'no duplicates' if duplicates_ok else 'DUPLICATE SENDS'}); "
        f"{len(written)} written to out/outbox/ as .eml + .html; handler logs in out/logs/lambda.jsonl"
    )
    print(
        "\n".join(
            [
                *follow_up_lines,
                *run_lines,
                *morning_lines,
                *shown_lines,
                *measurement_day.describe(day),
                *privacy_lines,
            ]
        )
    )
    measured_ok = not day.differences()
    ok = (
        not unexpected
        and duplicates_ok
        and follow_ups_ok
        and run_ok
        and morning_ok
        and measured_ok
        and privacy_ok
        and shown_ok
    )
    print(
        f"demo finished in {time.perf_counter() - started:.1f} s: "
        + (
            "every event, follow-up, the scheduled run, the deferred emails, the cart series and the "
            "customer events did what events/ expects, every recommendation is in its email's currency, "
            "and the report equals the hand count"
            if ok
            else f"{len(unexpected)} events did not do what was expected"
            + ("" if follow_ups_ok else "; a follow-up did not do what events/follow_ups/ expects")
            + ("" if run_ok else "; the scheduled run did not do what was expected")
            + ("" if morning_ok else "; a deferred email or a cart's series did not do what events/ expects")
            + ("" if measured_ok else "; the report differs from the hand count of the simulated day")
            + ("" if privacy_ok else "; a customer event did not do what events/customers/ expects")
            + ("" if shown_ok else "; an email recommends a product not in its currency or language")
        )
    )
    return 0 if ok else 1


def follow_ups_step(
    stack: LocalStack, mappings: EventSourceMappings, move_clock_to: Callable[[datetime], None]
) -> tuple[bool, list[str], list[Outcome]]:
    """What sample customers do next, one event at a time (events/follow_ups/): Ada, who already had
    her cart reminder today, abandons a second cart and the cap (one email per 24 hours by default)
    skips it; then she buys from the reminder, and her thank-you goes out, as the cap exempts it."""
    cap = f"{stack.parameters['FrequencyCapEmails']} per {stack.parameters['FrequencyCapHours']} h"
    exempt = stack.parameters["FrequencyCapExemptTriggers"] or "none"
    lines = [f"\nwhat customers do next (frequency cap {cap}; exempt: {exempt})"]
    ok = True
    sent: list[Outcome] = []
    for follow_up in load_follow_ups():
        happened_at = datetime.fromisoformat(follow_up.event["time"])
        if happened_at > utc_now():
            move_clock_to(happened_at)
        put_events(stack, [follow_up])
        mappings.drain()
        result = (
            EventResult(follow_up, None, None, profile=stored_profile(stack, follow_up))
            if follow_up.is_customer_event
            else EventResult(follow_up, recorded_outcome(stack, follow_up), None)
        )
        ok = ok and result.as_expected
        lines.append(("  " if result.as_expected else "X ") + describe(result))
        if result.outcome and result.outcome.decision is Decision.SENT:
            sent.append(result.outcome)
    return ok, lines, sent


def scheduled_run_step(
    stack: LocalStack, mappings: EventSourceMappings
) -> tuple[bool, list[str], list[Outcome]]:
    """Fire the daily schedule once, as EventBridge Scheduler would, then once more the same day.

    Returns whether the run re-segmented, won back and deferred whom
    events/scheduled/expectations.json says, the lines to print about it, and its win-back emails.
    """
    expected = json.loads((SAMPLE_RUN.parent / "expectations.json").read_text())[SAMPLE_RUN.name]
    scheduled_time = sample_scheduled_time()
    customers_table = stack.names["CustomersTable"]
    customer_ids = [row["customer_id"] for row in load_sample_rows("customers")]
    before = {cid: _segment_of(customers_table, cid) for cid in customer_ids}
    lines: list[str] = []
    say = lines.append
    fired_at = f"{scheduled_time:%Y-%m-%dT%H:%MZ}"
    say(f"\nscheduled re-engagement run, fired as EventBridge Scheduler would at {fired_at}")
    report = run_schedule(stack, mappings, scheduled_time)
    say("  " + describe_run(report))
    after = {cid: _segment_of(customers_table, cid) for cid in customer_ids}
    moved = {cid: after[cid] for cid in customer_ids if after[cid] != before[cid]}
    for cid, segment in moved.items():
        say(f"  {'re-segmented':<16} {cid:<26} {before[cid] or '-'} -> {segment}")
    decided = _winbacks(stack, report.run_id, customer_ids)
    winbacks = [o for o in decided if o.decision is Decision.SENT]
    held_back = [o for o in decided if o.decision is Decision.DEFERRED]
    for outcome in [*winbacks, *held_back]:
        say("  " + _row("win-back", outcome.customer_id, outcome.segment_id or "-", *_decision(outcome)))
    rerun = run_schedule(stack, mappings, scheduled_time.replace(hour=15))
    say(
        f"  fired again the same day: {rerun.planned['enqueued']} shards enqueued, "
        f"{rerun.planned['already_started']} already done; no win-back twice"
    )
    deferred = {o.customer_id: to_stored(o.deferred_until) for o in held_back if o.deferred_until}
    ok = (
        report.finished
        and report.run_id == expected["run_id"]
        and moved == expected["resegmented"]
        and deferred == expected["deferred_until"]
        and {o.customer_id: o.segment_id for o in [*winbacks, *held_back]} == expected["winback"]
        and rerun.planned["enqueued"] == 0
    )
    if not ok:
        say("X the scheduled run did not do what events/scheduled/expectations.json says")
    return ok, lines, winbacks


def days_pass_step(
    stack: LocalStack, mappings: EventSourceMappings, move_clock_to: Callable[[datetime], None]
) -> tuple[bool, list[str], list[Outcome]]:
    """Let the days pass: the clock moves to each one-time schedule in turn (a deferred email's
    morning, a cart's next reminder), the schedule puts its event back on its queue, and the trigger
    function decides it again from scratch.

    Returns whether every returning event got a decision and each cart's series ended as
    events/series/expectations.json says, the lines to print, and the emails sent.
    """
    hours = stack.parameters["CartReminderHours"]
    lines = [
        "\nthe days pass: deferred emails go at 08:00 on their customer's clock, and each cart's "
        f"later reminders come due (CartReminderHours {hours})"
    ]
    sent: list[Outcome] = []
    decided: list[bool] = []

    def report(schedule: OneTimeSchedule) -> None:
        returned = SampleEvent(schedule.name, json.loads(schedule.payload), {})
        outcome = recorded_outcome(stack, returned)
        step = returned.event["detail"].get("step")
        trigger = f"{returned.trigger.name} #{step}" if step else returned.trigger.name
        decided.append(outcome is not None and outcome.decision is not Decision.SENDING)
        if outcome is None:
            lines.append(f"X {trigger} event {schedule.name} got no decision")
            return
        if outcome.decision is Decision.SENT:
            sent.append(outcome)
        decision, detail = _decision(outcome)
        if outcome.decision is not Decision.DEFERRED:
            decision = f"{decision} at {_local_time(outcome.customer_id, schedule.due)}"
        lines.append("  " + _row(trigger, outcome.customer_id, outcome.segment_id or "-", decision, detail))

    deliver_deferred(stack, mappings, move_clock_to, on_delivered=report)
    ok = all(decided)
    series_ok, series_lines = _series_outcomes(stack)
    return ok and series_ok, lines + series_lines, sent


def _series_outcomes(stack: LocalStack) -> tuple[bool, list[str]]:
    """Each sample cart's whole series, step by step, against events/series/expectations.json."""
    expected: dict[str, list[str]] = json.loads((SERIES_EXPECTATIONS).read_text())
    carts = {s.name: s for s in [*load_sample_events(), *load_follow_ups()]}
    lines = ["  each cart's series, as the delivery log has it:"]
    ok = True
    for name, steps in expected.items():
        cart = CART_ABANDONED.parse(carts[name].event)
        decided = []
        for step in range(1, len(steps) + 1):
            at_step = cart.model_copy(update={"step": step})
            outcome = get_outcome(
                stack.names["DeliveriesTable"], cart.customer_id, CART_ABANDONED.name, at_step.reminder_id
            )
            decided.append(_step_decision(outcome))
        matches = decided == steps
        ok = ok and matches
        lines.append(
            ("    " if matches else "X   ")
            + f"{cart.cart_id:<18} {cart.customer_id:<22} "
            + " | ".join(f"{n}: {d}" for n, d in enumerate(decided, start=1))
        )
    return ok, lines


def _step_decision(outcome: Outcome | None) -> str:
    if outcome is None:
        return "-"
    return "sent" if outcome.decision is Decision.SENT else f"{outcome.decision}: {outcome.reason}"


def _segment_of(table: str, customer_id: str) -> str | None:
    customer = get_customer(table, customer_id)
    return customer.segment_id if customer else None


@cache
def _timezones() -> dict[str, str | None]:
    return {row["customer_id"]: row.get("timezone") for row in load_sample_rows("customers")}


def _local_time(customer_id: str, moment: datetime | None) -> str:
    """``08:00 Australia/Sydney``: a moment on the customer's own clock."""
    zone = resolve_timezone(_timezones().get(customer_id))
    return f"{moment.astimezone(zone):%H:%M} {zone}" if moment else "?"


def _decision(outcome: Outcome) -> tuple[str, str]:
    """The decision column (sent, skipped with the reason, deferred to when) and the detail column."""
    if outcome.decision is Decision.DEFERRED:
        return f"deferred to {_local_time(outcome.customer_id, outcome.deferred_until)}", "(quiet hours)"
    subject = f'"{outcome.subject}"' if outcome.subject else ""
    return ("sent" if outcome.decision is Decision.SENT else f"skipped: {outcome.reason}"), subject


def _winbacks(stack: LocalStack, run_id: str, customer_ids: list[str]) -> list[Outcome]:
    """The decisions on the run's win-backs, from the delivery log."""
    outcomes = []
    for customer_id in customer_ids:
        customer = get_customer(stack.names["CustomersTable"], customer_id)
        if customer is None or customer.last_order_at is None:
            continue
        lapse = winback_detail(customer, sample_scheduled_time(), run_id)
        outcome = get_outcome(
            stack.names["DeliveriesTable"],
            customer_id,
            CUSTOMER_LAPSED.name,
            CUSTOMER_LAPSED.business_id(lapse),
        )
        if outcome:
            outcomes.append(outcome)
    return outcomes


if __name__ == "__main__":
    sys.exit(main())
