"""`make demo`: every sample event through the whole pipeline on the local embedded stack.

moto on 127.0.0.1 stands in for AWS; tables, queues, the bus and its rules come from template.yaml;
the real handlers run in-process. Each sent email is written to out/outbox/ as .eml and .html.
Exit code 0 only if every event did what events/expectations.json says.
"""

from __future__ import annotations

import json
import sys
import time

from local_stack.capture import stdout_to
from local_stack.lambda_runtime import EventSourceMappings
from local_stack.moto_endpoint import running_moto
from local_stack.outbox import write_outbox
from local_stack.reengagement import SAMPLE_RUN, run_schedule, sample_scheduled_time
from local_stack.reengagement import describe as describe_run
from local_stack.run import EventResult, run_samples
from local_stack.scenario import load_sample_events, load_sample_rows
from local_stack.seed import seed_sample_data, verify_sender_identity
from local_stack.stack import REPO_ROOT, LocalStack, build_stack
from nudge.dal.customers import get_customer
from nudge.dal.deliveries import get_outcome
from nudge.outcome import Decision, Outcome
from nudge.reengagement.selection import winback_detail
from nudge.triggers import CUSTOMER_LAPSED

OUT_DIR = REPO_ROOT / "out"


def _row(trigger: str, customer: str, segment: str, decision: str, detail: str) -> str:
    return f"{trigger:<16} {customer:<22} {segment:<15} {decision:<26} {detail}"


def describe(result: EventResult) -> str:
    """trigger, customer, segment, decision (sent, or skipped with the reason), subject."""
    sample, outcome = result.sample, result.outcome
    trigger = sample.detail_type.lower().replace(" ", "_")
    if sample.is_invalid:
        rejected = sample.expectation["rejected"]
        where = f"-> {result.dead_letter_queue}" if result.dead_letter_queue else "-> NOT dead-lettered"
        reason = f"rejected: {rejected['field']} {rejected['error']}"
        return _row(trigger, "(invalid event)", "-", reason, f"{where}  ({sample.name})")
    if outcome is None:
        return _row(trigger, "?", "-", "no delivery record", sample.name)
    decision = "sent" if outcome.decision is Decision.SENT else f"skipped: {outcome.reason}"
    subject = f'"{outcome.subject}"' if outcome.subject else ""
    return _row(outcome.trigger, outcome.customer_id, outcome.segment_id or "-", decision, subject)


def main() -> int:
    started = time.perf_counter()
    samples = load_sample_events()
    duplicate = [next(s for s in samples if s.expectation.get("decision") == "sent")]
    with running_moto() as moto:
        stack = build_stack()
        verify_sender_identity(stack)
        segments, customers = seed_sample_data(stack)
        print(
            f"local stack on {moto.url}: {len(stack.functions)} functions, {len(stack.queue_urls)} queues, "
            f"{len(stack.rules)} rules from template.yaml; seeded {segments} segments, {customers} customers"
        )
        with stdout_to(OUT_DIR / "logs" / "lambda.jsonl"):
            mappings = EventSourceMappings(stack)
            results, report = run_samples(stack, mappings, samples, repeat=duplicate)
            sent = [r.outcome for r in results if r.outcome and r.outcome.decision is Decision.SENT]
            raw = moto.sent_raw_emails()
            run_ok, run_lines, winbacks = scheduled_run_step(stack, mappings)
        written = write_outbox(OUT_DIR / "outbox", [*sent, *winbacks], moto.sent_raw_emails())

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
    print("\n".join(run_lines))
    ok = not unexpected and duplicates_ok and run_ok
    print(
        f"demo finished in {time.perf_counter() - started:.1f} s: "
        + (
            "all events and the scheduled run did what events/ expects"
            if ok
            else f"{len(unexpected)} events did not do what was expected"
            + ("" if run_ok else "; the scheduled run did not do what was expected")
        )
    )
    return 0 if ok else 1


def scheduled_run_step(
    stack: LocalStack, mappings: EventSourceMappings
) -> tuple[bool, list[str], list[Outcome]]:
    """Fire the daily schedule once, as EventBridge Scheduler would, then once more the same day.

    Returns whether the run re-segmented and won back whom events/scheduled/expectations.json says,
    the lines to print about it, and its win-back emails.
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
    winbacks = _winbacks(stack, report.run_id, customer_ids)
    for outcome in winbacks:
        say(f'  {"win-back sent":<16} {outcome.customer_id:<26} {outcome.segment_id:<15} "{outcome.subject}"')
    rerun = run_schedule(stack, mappings, scheduled_time.replace(hour=15))
    again = _winbacks(stack, rerun.run_id, customer_ids)
    say(
        f"  fired again the same day: {rerun.planned['enqueued']} segments enqueued, "
        f"{rerun.planned['already_started']} already done; still {len(again)} win-backs, none twice"
    )
    ok = (
        report.finished
        and report.run_id == expected["run_id"]
        and moved == expected["resegmented"]
        and {o.customer_id: o.segment_id for o in winbacks} == expected["winback"]
        and rerun.planned["enqueued"] == 0
        and len(again) == len(winbacks)
    )
    if not ok:
        say("X the scheduled run did not do what events/scheduled/expectations.json says")
    return ok, lines, winbacks


def _segment_of(table: str, customer_id: str) -> str | None:
    customer = get_customer(table, customer_id)
    return customer.segment_id if customer else None


def _winbacks(stack: LocalStack, run_id: str, customer_ids: list[str]) -> list[Outcome]:
    """The run's win-back emails, from the delivery log."""
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
        if outcome and outcome.decision is Decision.SENT:
            outcomes.append(outcome)
    return outcomes


if __name__ == "__main__":
    sys.exit(main())
