"""Order Placed -> the email that earned it (``nudge.attribution.rules``), recorded once.

Store bus -> this stack's attribution rule -> SQS -> the attribution function: a route of its own, so a
slow or failing attribution never delays the thank-you email, and the thank-you never waits for it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from nudge.attribution.rules import Windows, attributed_email
from nudge.attribution.settings import AttributionSettings
from nudge.dal.attribution import Conversion, customer_deliveries, record_conversion
from nudge.delivery_facts import DeliveryFacts
from nudge.events import OrderPlaced, OrderPlacedRecord
from nudge.observability import log_safe_id, logger, metrics
from nudge.sqs_batches import PartialItemFailureResponse, process_queue_batch

NO_VARIANT = "none"
# Each attempt re-reads the records: another order took the chosen email meanwhile (rare).
MAX_CHOICES = 3


def attribute_order(order: OrderPlaced, settings: AttributionSettings) -> DeliveryFacts | None:
    """The email this order converted (recorded now or by an earlier attempt), or None."""
    windows = Windows(click=settings.click_window, delivery=settings.delivery_window)
    where = {"order_id": order.order_id, "customer_id": log_safe_id(order.customer_id)}
    for _ in range(MAX_CHOICES):
        deliveries = customer_deliveries(settings.deliveries_table, order.customer_id)
        already = next((d for d in deliveries if d.converted_order_id == order.order_id), None)
        if already is not None:
            return already
        email = attributed_email(
            deliveries,
            order_id=order.order_id,
            cart_id=order.cart_id,
            placed_at=order.placed_at,
            windows=windows,
        )
        if email is None:
            metrics.add_metric(name="OrderNotAttributed", unit=MetricUnit.Count, value=1)
            logger.info("order attributed to no email", extra=where)
            return None
        conversion = Conversion(order.order_id, order.placed_at, order.total, order.currency)
        result = record_conversion(
            settings.deliveries_table, order.customer_id, email, conversion, settings.guard_retention
        )
        if result == "converted":
            _count(email, order)
            logger.info(
                "order attributed",
                extra={**where, "trigger": email.trigger, "variant_id": email.variant_id},
            )
            return email
        if result == "already":
            return None  # attributed by an earlier delivery of this order to an email since read
    raise RuntimeError("the chosen emails kept converting other orders; the record is retried")


def _count(email: DeliveryFacts, order: OrderPlaced) -> None:
    for name, unit, value, currency in (
        ("OrderAttributed", MetricUnit.Count, 1.0, None),
        ("AttributedRevenue", MetricUnit.NoUnit, float(order.total), order.currency),
    ):
        with single_metric(
            name=name, unit=unit, value=value, default_dimensions=metrics.default_dimensions
        ) as metric:
            metric.add_dimension(name="trigger", value=email.trigger)
            metric.add_dimension(name="variant", value=email.variant_id or NO_VARIANT)
            if currency is not None:
                # Revenue in two currencies never adds up: one series per currency.
                metric.add_dimension(name="currency", value=currency)


def process_attribution_batch(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = AttributionSettings.from_environment()

    def handle_record(record: OrderPlacedRecord) -> None:
        attribute_order(record.body.detail, settings)

    return process_queue_batch(
        event,
        context,
        dimension=("function", "attribution"),
        model=OrderPlacedRecord,
        queue_url=settings.queue_url,
        dead_letter_queue_url=settings.dead_letter_queue_url,
        max_clock_skew=settings.max_clock_skew,
        handle_record=handle_record,
    )
