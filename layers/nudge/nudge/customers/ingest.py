"""The customer functions' SQS batches: ``Customer Updated`` and ``Customer Deleted`` records, each
idempotent, so SQS may deliver them any number of times after any failure.

What can never succeed (an invalid event, or one that would create a profile without an address) is
dead-lettered at once naming the field; anything else is retried with back-off
(``nudge.sqs_batches``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nudge.customers.erasure import erase
from nudge.customers.events import CustomerDeletedRecord, CustomerUpdatedRecord
from nudge.customers.settings import CustomerSettings
from nudge.customers.updates import apply_update
from nudge.observability import log_safe_id, logger
from nudge.sqs_batches import PartialItemFailureResponse, process_queue_batch
from nudge.timeutil import utc_now


def process_customer_updated_batch(
    event: dict[str, Any], context: LambdaContext
) -> PartialItemFailureResponse:
    settings = CustomerSettings.from_environment()

    def handle_record(record: CustomerUpdatedRecord) -> None:
        detail = record.body.detail
        result = apply_update(detail, settings, utc_now())
        fields = sorted(name for name in detail.model_fields_set if name not in ("customer_id", "updated_at"))
        # The names of the fields, never their values: an address or a name is personal data.
        logger.info(
            "customer updated",
            extra={"customer_id": log_safe_id(detail.customer_id), "result": result, "fields": fields},
        )

    return process_queue_batch(
        event,
        context,
        dimension=("function", "customer_updated"),
        model=CustomerUpdatedRecord,
        queue_url=settings.queue_url,
        dead_letter_queue_url=settings.dead_letter_queue_url,
        max_clock_skew=settings.max_clock_skew,
        handle_record=handle_record,
    )


def process_customer_deleted_batch(
    event: dict[str, Any], context: LambdaContext
) -> PartialItemFailureResponse:
    settings = CustomerSettings.from_environment()

    def handle_record(record: CustomerDeletedRecord) -> None:
        detail = record.body.detail
        erasure = erase(detail, settings, utc_now())
        logger.info(
            "customer erased",
            extra={"customer_id": log_safe_id(detail.customer_id), **erasure.__dict__},
        )

    return process_queue_batch(
        event,
        context,
        dimension=("function", "customer_deleted"),
        model=CustomerDeletedRecord,
        queue_url=settings.queue_url,
        dead_letter_queue_url=settings.dead_letter_queue_url,
        max_clock_skew=settings.max_clock_skew,
        handle_record=handle_record,
    )
