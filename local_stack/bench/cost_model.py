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

FUNCTION_MEMORY_MB = 512  # template.yaml Globals MemorySize
MB_PER_VCPU = 1769
"""Lambda gives a function CPU in proportion to its memory: "at 1,769 MB, a function has the
equivalent of one vCPU" (AWS Lambda Developer Guide, Configuring function memory). 512 MB is
0.29 of one vCPU; the handlers are single-threaded Python (the GIL), so more than one vCPU adds no
speed to them."""


def vcpu_share(memory_mb: int) -> float:
    return min(memory_mb, MB_PER_VCPU) / MB_PER_VCPU


def billed_ms_per_email(
    cpu_ms: float, io_ms: float, records: int, memory_mb: int = FUNCTION_MEMORY_MB
) -> float:
    """Lambda's billed time per email: ``cpu_ms`` measured on a full core takes ``cpu_ms / share`` at
    ``memory_mb``; ``io_ms`` is one email's wait on AWS. A batch of one waits for all of it; a batch
    of ``records`` handled at once overlaps one record's waits with the others' CPU, so it lasts at
    least its records' CPU and at least one record's CPU and waits."""
    cpu = cpu_ms / vcpu_share(memory_mb)
    if records <= 1:
        return cpu + io_ms
    return max(cpu, (cpu + io_ms) / records)


RECORDS_PER_BATCH = 10
# SQS requests per email: EventBridge's SendMessage to the queue, and the poller's receive and batch
# delete shared by the batch's records. Idle long polling is a fixed cost per queue, not per email.


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
    memory_mb: int = FUNCTION_MEMORY_MB,
    records: int = RECORDS_PER_BATCH,
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
            thousand * lambda_ms / 1000 * memory_mb / 1024 * LAMBDA_ARM_PER_GB_SECOND
            + thousand / records * LAMBDA_PER_MILLION_REQUESTS / 1e6,
            f"{lambda_ms:.1f} ms an email at {memory_mb} MB arm64, 1 invocation per {records}",
        ),
        CostLine(
            "SQS",
            thousand * (1 + 2 / records) * SQS_PER_MILLION_REQUESTS / 1e6,
            f"{1 + 2 / records:g} requests an email (send; receive and delete per batch of {records})",
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
