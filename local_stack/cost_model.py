"""What 1,000 sent emails cost in AWS besides SES, computed from what a benchmark measured.

Prices are us-east-1 list prices, on demand, without free tiers (checked 2026-12; change them here
if yours differ). Each line names what it assumes, so a real bill can be set against it.
"""

from __future__ import annotations

from dataclasses import dataclass

DYNAMODB_PER_MILLION_WRU = 0.625
DYNAMODB_PER_MILLION_RRU = 0.125
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334
LAMBDA_PER_MILLION_REQUESTS = 0.20
SQS_PER_MILLION_REQUESTS = 0.40
EVENTBRIDGE_PER_MILLION_EVENTS = 1.00
SCHEDULER_PER_MILLION_INVOCATIONS = 1.00
LOGS_PER_GB_INGESTED = 0.50
SES_PER_THOUSAND = 0.10

FUNCTION_MEMORY_GB = 0.5  # template.yaml Globals MemorySize 512
RECORDS_PER_BATCH = 10
# Per email: EventBridge's SendMessage to the queue, and the poller's receive and batch delete
# shared by the batch's ten records. Idle long polling is a fixed cost per queue, not per email.
SQS_REQUESTS_PER_EMAIL = 1 + 2 / RECORDS_PER_BATCH


@dataclass(frozen=True)
class CostLine:
    item: str
    dollars_per_thousand: float
    assumes: str


def per_thousand_emails(
    *,
    write_units: float,
    read_units: float,
    lambda_ms: float,
    log_bytes: float,
    schedules: float,
) -> list[CostLine]:
    """``write_units``/``read_units``/``log_bytes``/``schedules`` per email; ``lambda_ms`` billed per
    email (a batch's duration over its records)."""
    thousand = 1000
    return [
        CostLine(
            "DynamoDB",
            thousand * (write_units * DYNAMODB_PER_MILLION_WRU + read_units * DYNAMODB_PER_MILLION_RRU) / 1e6,
            f"{write_units:g} WRU + {read_units:g} RRU an email (measured), on-demand",
        ),
        CostLine(
            "Lambda",
            thousand * lambda_ms / 1000 * FUNCTION_MEMORY_GB * LAMBDA_ARM_PER_GB_SECOND
            + thousand / RECORDS_PER_BATCH * LAMBDA_PER_MILLION_REQUESTS / 1e6,
            f"{lambda_ms:.1f} ms an email at 512 MB arm64 (measured at SES 50 ms), 1 invocation per 10",
        ),
        CostLine(
            "SQS",
            thousand * SQS_REQUESTS_PER_EMAIL * SQS_PER_MILLION_REQUESTS / 1e6,
            f"{SQS_REQUESTS_PER_EMAIL:g} requests an email (send; receive and delete per batch of 10)",
        ),
        CostLine(
            "EventBridge",
            thousand * EVENTBRIDGE_PER_MILLION_EVENTS / 1e6,
            "the store's event on a custom bus (SES's events on the default bus are free)",
        ),
        CostLine(
            "EventBridge Scheduler",
            thousand * schedules * SCHEDULER_PER_MILLION_INVOCATIONS / 1e6,
            f"{schedules:g} one-time schedule an email (the next reminder of a series)",
        ),
        CostLine(
            "CloudWatch Logs",
            thousand * log_bytes / 1e9 * LOGS_PER_GB_INGESTED,
            f"{log_bytes:.0f} bytes of logs and metrics an email (measured)",
        ),
    ]
