"""The profile's histories: orders (counted once, with their dates and SKUs) and opens and clicks,
each bounded so the profile stays small."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from botocore.exceptions import ClientError

from nudge.adapters import clients
from nudge.dal.customers import UnknownCustomerError, item_before
from nudge.dal.items import from_item, is_condition_failure, to_item
from nudge.profiles import Customer
from nudge.timeutil import stored_moment, to_epoch_ms_text, to_epoch_seconds, to_stored

# Enough history for any frequency window a segment uses, small enough to keep profiles tiny.
MAX_RECENT_ORDER_DATES = 50
# What recommendations start from and never offer again; a short list keeps the profile small.
MAX_RECENT_SKUS = 20


def record_order(
    table: str,
    customer_id: str,
    order_id: str,
    total: Decimal,
    placed_at: datetime,
    skus: tuple[str, ...] = (),
    currency: str | None = None,
) -> Customer:
    """Count one order on the profile, at most once per order id, and return the profile after it.

    The order id is remembered on the profile (``counted_order_ids``, the last
    ``MAX_RECENT_ORDER_DATES``) and the count is conditional on it being absent, in the same write:
    a retry, a duplicate or a replay within the window finds the order counted and changes nothing.
    There is no separate guard that a failure could delete.

    ``last_order_at`` only moves forward: an order delivered late still counts, but does not make the
    customer look less recent than they are; ``last_order_currency`` moves with it (a win-back's
    currency). The order's date joins ``recent_order_dates``, the history that frequency rules
    ("3 orders in 180 days") count. Its SKUs go to the front of
    ``recent_skus`` in the same write, so they too are recorded exactly once.
    """
    values = to_item(
        {
            ":one": 1,
            ":total": total,
            ":placed_at": to_stored(placed_at),
            ":placed_list": [to_epoch_seconds(placed_at)],
            ":order_id": order_id,
            ":order_list": [order_id],
            ":skus": list(skus[:MAX_RECENT_SKUS]),
            ":empty": [],
        }
    )
    key = to_item({"customer_id": customer_id})
    counted = (
        "ADD order_count :one, total_spent :total "
        "SET recent_order_dates = list_append(if_not_exists(recent_order_dates, :empty), :placed_list), "
        "counted_order_ids = list_append(if_not_exists(counted_order_ids, :empty), :order_list), "
        "recent_skus = list_append(:skus, if_not_exists(recent_skus, :empty))"
    )
    not_counted = "attribute_exists(customer_id) AND NOT contains(counted_order_ids, :order_id)"
    newest = "last_order_at = :placed_at"
    if currency is not None:
        values |= to_item({":currency": currency})
        newest += ", last_order_currency = :currency"
    client = clients.dynamodb()
    try:
        response = client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression=f"{counted}, {newest}",
            ConditionExpression=(
                f"{not_counted} AND (attribute_not_exists(last_order_at) OR last_order_at < :placed_at)"
            ),
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise
        before = item_before(error)
        if before is None:
            raise UnknownCustomerError(customer_id) from error
        if order_id in before.counted_order_ids:
            return before
        # A newer order is already recorded: count this one without moving last_order_at back.
        del values[":placed_at"]
        values.pop(":currency", None)
        try:
            response = client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression=counted,
                ConditionExpression=not_counted,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as second:
            already_counted = item_before(second) if is_condition_failure(second) else None
            if already_counted is None:
                raise
            return already_counted
    customer = Customer.model_validate(from_item(response["Attributes"]))
    if (
        len(customer.recent_order_dates) > MAX_RECENT_ORDER_DATES
        # Trimmed in bulk: one extra write every few orders, not on every order of a frequent buyer.
        or len(customer.recent_skus) > 2 * MAX_RECENT_SKUS
    ):
        customer = _trim_order_history(table, customer)
    return customer


def _trim_order_history(table: str, customer: Customer) -> Customer:
    """Drop the oldest dates and order ids; conditional, so two concurrent trims cannot remove too
    much."""
    excess = max(0, len(customer.recent_order_dates) - MAX_RECENT_ORDER_DATES)
    excess_ids = max(0, len(customer.counted_order_ids) - MAX_RECENT_ORDER_DATES)
    removed = [f"recent_order_dates[{i}]" for i in range(excess)]
    removed += [f"counted_order_ids[{i}]" for i in range(excess_ids)]
    # Newest SKUs are first: the oldest, at the end, go.
    removed += [f"recent_skus[{i}]" for i in range(MAX_RECENT_SKUS, len(customer.recent_skus))]
    try:
        response = clients.dynamodb().update_item(
            TableName=table,
            Key=to_item({"customer_id": customer.customer_id}),
            UpdateExpression="REMOVE " + ", ".join(removed),
            ConditionExpression="size(recent_order_dates) = :seen AND size(recent_skus) = :skus",
            ExpressionAttributeValues=to_item(
                {":seen": len(customer.recent_order_dates), ":skus": len(customer.recent_skus)}
            ),
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if is_condition_failure(error):
            return customer  # another order changed the list; the next order trims it
        raise
    return Customer.model_validate(from_item(response["Attributes"]))


# Opens and clicks the segment rules count ("2 clicks in 30 days"): the newest, bounded.
MAX_RECENT_ENGAGEMENTS = 50
ENGAGEMENT_TRIM_SLACK = 10


def record_engagement(table: str, customer_id: str, kind: str, at: datetime) -> bool:
    """An open or a click on the profile: ``last_<kind>_at`` moves forward only, and the event's time
    joins ``recent_<kind>_dates`` (a set: the same event twice is one element). Repeating it changes
    nothing. ``kind`` is ``opened`` or ``clicked``. False when there is no such profile.

    The engagement function may name only these attributes of a profile (its IAM grant lists them),
    so no write here asks for more back than what it updated: no ``ALL_OLD`` on a failed condition.
    """
    last, dates = f"last_{kind}_at", f"recent_{kind.removesuffix('ed')}_dates"
    key = to_item({"customer_id": customer_id})
    values = to_item({":at": to_stored(at), ":stamps": {to_epoch_ms_text(at)}})
    client = clients.dynamodb()
    try:
        response = client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression=f"ADD {dates} :stamps SET {last} = :at",
            ConditionExpression=(
                f"attribute_exists(customer_id) AND (attribute_not_exists({last}) OR {last} < :at)"
            ),
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW",
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise
        # A later event is already the last one (or there is no profile): only the history gains
        # this one.
        del values[":at"]
        try:
            response = client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression=f"ADD {dates} :stamps",
                ConditionExpression="attribute_exists(customer_id)",
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as second:
            if is_condition_failure(second):
                return False  # no such profile
            raise
    recorded = from_item(response["Attributes"]).get(dates, set())
    if len(recorded) > MAX_RECENT_ENGAGEMENTS + ENGAGEMENT_TRIM_SLACK:
        # Trimmed a few at a time, so the profile stays small (each element is paid for on every
        # write of it); deleting set elements is itself repeatable. Oldest by time, whichever form
        # (ISO or epoch digits) an element was stored in.
        by_time = sorted(recorded, key=stored_moment)
        oldest = by_time[: len(recorded) - MAX_RECENT_ENGAGEMENTS]
        client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression=f"DELETE {dates} :oldest",
            ExpressionAttributeValues=to_item({":oldest": set(oldest)}),
        )
    return True
