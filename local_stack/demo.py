"""`make demo`: every sample event through the whole pipeline on the local embedded stack.

moto on 127.0.0.1 stands in for AWS; tables, queues, the bus and its rules come from template.yaml;
the real handlers run in-process. Each sent email is written to out/outbox/ as .eml and .html.
Exit code 0 only if every event did what events/expectations.json says.
"""

from __future__ import annotations

import sys
import time

from local_stack.capture import stdout_to
from local_stack.lambda_runtime import EventSourceMappings
from local_stack.moto_endpoint import running_moto
from local_stack.outbox import write_outbox
from local_stack.run import EventResult, run_samples
from local_stack.scenario import load_sample_events
from local_stack.seed import seed_sample_data, verify_sender_identity
from local_stack.stack import REPO_ROOT, build_stack
from nudge.outcome import Decision

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
        written = write_outbox(OUT_DIR / "outbox", sent, raw)

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
        f"demo finished in {time.perf_counter() - started:.1f} s: "
        + (
            "all events did what events/expectations.json says"
            if not unexpected and duplicates_ok
            else f"{len(unexpected)} events did not do what was expected"
        )
    )
    return 0 if not unexpected and duplicates_ok else 1


if __name__ == "__main__":
    sys.exit(main())
