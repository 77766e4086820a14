"""Customer profiles: lookups and the atomic updates triggers make to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from botocore.exceptions import ClientError
from pydantic import ValidationError

from nudge.adapters import clients
from nudge.dal.items import from_item, is_condition_failure, to_item
from nudge.profiles import Customer, CustomerFacts
from nudge.timeutil import stored_moment, to_epoch_ms_text, to_epoch_seconds, to_stored

# Enough history for any frequency window a segment uses, small enough to keep profiles tiny.
MAX_RECENT_ORDER_DATES = 50
# What recommendations start from and never offer again; a short list keeps the profile small.
MAX_RECENT_SKUS = 20


class UnknownCustomerError(LookupError):
    """The event names a customer id that has no profile."""


def get_customer(table: str, customer_id: str) -> Customer | None:
    response = clients.dynamodb().get_item(
        TableName=table, Key=to_item({"customer_id": customer_id}), ConsistentRead=True
    )
    item = response.get("Item")
    return Customer.model_validate(from_item(item)) if item else None


def put_customer(table: str, customer: Customer) -> None:
    """Create or replace a profile (seeding, imports and tests; triggers only update)."""
    clients.dynamodb().put_item(TableName=table, Item=to_item(stored_record(customer)))


# Kept as DynamoDB string sets (an event twice is one element), which cannot be empty.
_ENGAGEMENT_SETS = ("recent_open_dates", "recent_click_dates")


def stored_record(customer: Customer) -> dict[str, object]:
    """The profile's attributes as ``put_customer`` stores them (histories in their compact forms)."""
    record = {name: _stored(value) for name, value in customer.model_dump(mode="python").items()}
    for name in _ENGAGEMENT_SETS:
        moments = getattr(customer, name)
        record[name] = {to_epoch_ms_text(moment) for moment in moments} if moments else None
    record["recent_order_dates"] = [to_epoch_seconds(moment) for moment in customer.recent_order_dates]
    return record


def _stored(value: object) -> object:
    if isinstance(value, datetime):
        return to_stored(value)
    if isinstance(value, tuple | list):
        return [_stored(element) for element in value]
    return value


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
        before = _item_before(error)
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
            already_counted = _item_before(second) if is_condition_failure(second) else None
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


def _item_before(error: ClientError) -> Customer | None:
    """The profile as it was when a conditional write failed (ReturnValuesOnConditionCheckFailure)."""
    item = cast(dict[str, Any], error.response).get("Item")
    return Customer.model_validate(from_item(item)) if item else None


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


def record_cart(table: str, customer_id: str, cart_id: str, abandoned_at: datetime) -> Customer | None:
    """Note the cart as the customer's newest unless a newer one is noted; the profile after it (one
    call: the update returns the profile, or on a failed condition the profile as it stands).
    None for an unknown customer. Repeating it changes nothing."""
    try:
        response = clients.dynamodb().update_item(
            TableName=table,
            Key=to_item({"customer_id": customer_id}),
            UpdateExpression="SET latest_cart_id = :cart, latest_cart_at = :at",
            ConditionExpression=(
                "attribute_exists(customer_id) AND "
                "(attribute_not_exists(latest_cart_at) OR latest_cart_at < :at)"
            ),
            ExpressionAttributeValues=to_item({":cart": cart_id, ":at": to_stored(abandoned_at)}),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise
        return _item_before(error)
    return Customer.model_validate(from_item(response["Attributes"]))


def set_segment(table: str, seen: CustomerFacts, segment_id: str, at: datetime) -> bool:
    """Move the customer to ``segment_id``, unless their segment or orders changed since ``seen`` was
    read (a concurrent order re-evaluated them from fresher facts). Returns whether it was written.
    """
    values: dict[str, object] = {":segment": segment_id, ":at": to_stored(at), ":orders": seen.order_count}
    conditions = ["(order_count = :orders OR attribute_not_exists(order_count))"]
    if seen.segment_id is None:
        conditions.append("attribute_exists(customer_id) AND attribute_not_exists(segment_id)")
    else:
        conditions.append("segment_id = :expected")
        values[":expected"] = seen.segment_id
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=to_item({"customer_id": seen.customer_id}),
            UpdateExpression="SET segment_id = :segment, segment_updated_at = :at",
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeValues=to_item(values),
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def record_unsubscribe(table: str, customer_id: str, at: datetime, source: str) -> datetime | None:
    """Mark the profile unsubscribed; the first unsubscribe's time and source are kept. Returns the
    time the profile is unsubscribed since (``at``, or an earlier unsubscribe's), or None when there
    is no such profile (the caller must not reveal that)."""
    kept = _set_once(table, customer_id, {"unsubscribed_at": to_stored(at), "unsubscribe_source": source})
    if kept is None:
        return None
    if "unsubscribed_at" not in kept:
        # DynamoDB returns a value that if_not_exists kept; moto leaves it out. Read it then: that
        # attribute only (the unsubscribe URL's role may read nothing else of a profile).
        item = (
            clients.dynamodb()
            .get_item(
                TableName=table,
                Key=to_item({"customer_id": customer_id}),
                ProjectionExpression="unsubscribed_at",
                ConsistentRead=True,
            )
            .get("Item")
        )
        kept = from_item(item) if item else {}
    stored = kept.get("unsubscribed_at")
    return datetime.fromisoformat(str(stored)) if stored is not None else at


def suppress(table: str, customer_id: str, reason: str, at: datetime) -> bool:
    """Suppress the profile for good; the first reason and time are kept. False if no such profile."""
    values: dict[str, object] = {"suppressed_reason": reason, "suppressed_at": to_stored(at)}
    return _set_once(table, customer_id, values) is not None


def _set_once(table: str, customer_id: str, values: dict[str, object]) -> dict[str, Any] | None:
    """Set each attribute unless it already has a value, on an existing profile only; the values
    the profile holds afterwards, or None when there is no such profile."""
    try:
        response = clients.dynamodb().update_item(
            TableName=table,
            Key=to_item({"customer_id": customer_id}),
            UpdateExpression="SET "
            + ", ".join(f"{name} = if_not_exists({name}, :{name})" for name in values),
            ConditionExpression="attribute_exists(customer_id)",
            ExpressionAttributeValues=to_item({f":{name}": value for name, value in values.items()}),
            ReturnValues="UPDATED_NEW",
        )
    except ClientError as error:
        if is_condition_failure(error):
            return None
        raise
    return from_item(response.get("Attributes", {}))


# Only what segmentation and selection read: no contact details leave the table during a run.
_FACT_NAMES = tuple(CustomerFacts.model_fields)


@dataclass(frozen=True)
class FactsPage:
    profiles: list[CustomerFacts]
    unreadable: list[str]
    """Ids of rows that do not validate: counted and logged by the caller, never fatal to the run."""
    last_evaluated_key: dict[str, Any] | None
    """Where the next page starts; None at the end of the shard."""


def scan_facts(
    table: str,
    *,
    shard: int,
    total_shards: int,
    start_key: dict[str, Any] | None,
    page_size: int,
) -> FactsPage:
    """One page of one shard: DynamoDB's parallel-scan ``Segment`` (the word "segment" is kept for
    marketing segments everywhere else).

    Eventually consistent: half the read cost of a strong read, and a profile changed during the run
    is re-evaluated by the change (an order) itself.
    """
    arguments: dict[str, Any] = {
        "TableName": table,
        "Segment": shard,
        "TotalSegments": total_shards,
        "Limit": page_size,
        # Said, not implied by the projection: IAM reads a Scan without Select as ALL_ATTRIBUTES, and
        # the worker may read only these attributes (its grant lists them).
        "Select": "SPECIFIC_ATTRIBUTES",
        "ProjectionExpression": ", ".join(f"#f{index}" for index in range(len(_FACT_NAMES))),
        "ExpressionAttributeNames": {f"#f{index}": name for index, name in enumerate(_FACT_NAMES)},
    }
    if start_key:
        arguments["ExclusiveStartKey"] = start_key
    response = clients.dynamodb().scan(**arguments)
    profiles: list[CustomerFacts] = []
    unreadable: list[str] = []
    for item in response.get("Items", []):
        row = from_item(item)
        try:
            profiles.append(CustomerFacts.model_validate(row))
        except ValidationError:
            unreadable.append(str(row.get("customer_id")))
    return FactsPage(profiles, unreadable, response.get("LastEvaluatedKey"))


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


# ---------------------------------------------------------------- the store's own profile changes
# (nudge.customers.updates decides what changes; these write it)


def get_profile_item(table: str, customer_id: str) -> dict[str, Any] | None:
    """The stored profile as plain values, whatever it holds (strongly consistent)."""
    item = (
        clients.dynamodb()
        .get_item(TableName=table, Key=to_item({"customer_id": customer_id}), ConsistentRead=True)
        .get("Item")
    )
    return from_item(item) if item else None


def create_profile(table: str, attributes: dict[str, Any]) -> bool:
    """Write a new profile; False when one exists already (created meanwhile)."""
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item=to_item(attributes),
            ConditionExpression="attribute_not_exists(customer_id)",
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def update_profile(
    table: str,
    customer_id: str,
    *,
    set_values: dict[str, Any],
    remove: list[str],
    older_than: dict[str, str],
) -> bool:
    """Set and remove attributes of an existing profile in one write, if each stamp attribute in
    ``older_than`` is absent or older than its value (no newer change was written meanwhile) and no
    erasure has begun. False when that no longer holds: the caller reads again and decides anew."""
    names = {f"#a{index}": name for index, name in enumerate([*set_values, *remove])}
    alias = {name: key for key, name in names.items()}
    values: dict[str, Any] = {f":v{index}": value for index, value in enumerate(set_values.values())}
    clauses = []
    if set_values:
        clauses.append("SET " + ", ".join(f"{alias[name]} = :v{i}" for i, name in enumerate(set_values)))
    if remove:
        clauses.append("REMOVE " + ", ".join(alias[name] for name in remove))
    conditions = ["attribute_exists(customer_id)", "attribute_not_exists(erasure_requested_at)"]
    for index, (stamp, moment) in enumerate(older_than.items()):
        names[f"#s{index}"] = stamp
        values[f":s{index}"] = moment
        conditions.append(f"(attribute_not_exists(#s{index}) OR #s{index} < :s{index})")
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=to_item({"customer_id": customer_id}),
            UpdateExpression=" ".join(clauses),
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def mark_erasure(table: str, customer_id: str, requested_at: str) -> dict[str, Any] | None:
    """Mark the profile as being erased (sends stop at once: it reads as unknown); the profile after
    it, or None when there is no profile. Repeatable: an earlier mark stays."""
    try:
        response = clients.dynamodb().update_item(
            TableName=table,
            Key=to_item({"customer_id": customer_id}),
            UpdateExpression="SET erasure_requested_at = if_not_exists(erasure_requested_at, :at)",
            ConditionExpression="attribute_exists(customer_id)",
            ExpressionAttributeValues=to_item({":at": requested_at}),
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if is_condition_failure(error):
            return None
        raise
    return from_item(response["Attributes"])


def delete_profile(table: str, customer_id: str) -> bool:
    """Delete a profile marked for erasure; False when there is none (deleted before: a retry)."""
    try:
        clients.dynamodb().delete_item(
            TableName=table,
            Key=to_item({"customer_id": customer_id}),
            ConditionExpression="attribute_exists(erasure_requested_at)",
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True
