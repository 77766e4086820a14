"""The delivery log: one record per trigger event and customer, saying what was decided and why.

The record is also what makes every email at most once. A send is *claimed* on it with a conditional
write before SES is called, and the claim is replaced by the result after SES answers. A retry
(a crash, a timeout, a throttled write after the send, a replay months later) finds either the
result, which it returns, or a claim without a result, which it never sends again. Records outlive
any replay window we accept (``DELIVERY_RECORD_TTL_DAYS``, 400 days by default).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from botocore.exceptions import ClientError

from nudge.adapters import clients
from nudge.dal.items import from_item, is_condition_failure, to_item
from nudge.outcome import Decision, Outcome, delivery_key
from nudge.timeutil import to_stored

# A deferral is not final: the event comes back in the morning and is decided again over it.
_OPEN = "attribute_not_exists(delivery_key) OR decision = :deferred"


class Claim(NamedTuple):
    """A send claimed and not yet answered: who claimed it, and until when that invocation may live."""

    token: str
    lease_expires_at: datetime


def _item(outcome: Outcome, decided_at: datetime, retention: timedelta, **extra: Any) -> dict[str, Any]:
    return to_item(
        {
            **outcome.model_dump(mode="json"),
            "delivery_key": delivery_key(outcome.trigger, outcome.business_id),
            "decided_at": to_stored(decided_at),
            "expires_at": int((decided_at + retention).timestamp()),
            **extra,
        }
    )


def _key(customer_id: str, trigger: str, business_id: str) -> dict[str, Any]:
    return to_item({"customer_id": customer_id, "delivery_key": delivery_key(trigger, business_id)})


def record_decision(
    table: str, outcome: Outcome, decided_at: datetime, retention: timedelta
) -> Delivery | None:
    """Write a skip or a deferral unless the event already has a final record or a claim.

    None once written; else the stored record that holds the event (a twin decided or claimed first).
    """
    return _put_if_open(table, _item(outcome, decided_at, retention))


def claim_send(
    table: str, claimed: Outcome, claim: Claim, decided_at: datetime, retention: timedelta
) -> Delivery | None:
    """Claim the one send this event may make. None once claimed; else the stored record that holds
    the event (another delivery of it decided or claimed first)."""
    item = _item(
        claimed,
        decided_at,
        retention,
        claim_token=claim.token,
        lease_expires_at=to_stored(claim.lease_expires_at),
    )
    return _put_if_open(table, item)


def complete_send(
    table: str, outcome: Outcome, claim: Claim, decided_at: datetime, retention: timedelta
) -> bool:
    """Replace our own claim with the result; False if the claim is no longer ours.

    An update, not a put: SES may already have reported the email delivered (or opened) on this
    record while the write was being retried, and those fields must stay."""
    item = _item(outcome, decided_at, retention)
    keys = ("customer_id", "delivery_key")
    fields = {name: value for name, value in item.items() if name not in keys}
    names = {f"#f{index}": name for index, name in enumerate(fields)}
    values = {f":v{index}": value for index, value in enumerate(fields.values())}
    # Outcome fields the result leaves unset (None, so not in the item) are removed, as the put this
    # replaces removed them: the record says what the result says, besides SES's engagement fields.
    cleared = [name for name in Outcome.model_fields if name not in fields and name not in keys]
    names.update({f"#c{index}": name for index, name in enumerate(cleared)})
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=_key(outcome.customer_id, outcome.trigger, outcome.business_id),
            UpdateExpression="SET "
            + ", ".join(f"#f{index} = :v{index}" for index in range(len(fields)))
            + " REMOVE claim_token, lease_expires_at"
            + "".join(f", #c{index}" for index in range(len(cleared))),
            ConditionExpression="claim_token = :token",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**values, **to_item({":token": claim.token})},
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def _put_if_open(table: str, item: dict[str, Any]) -> Delivery | None:
    """Put the item unless the event's stored record is final or a claim (a deferral is open).

    There is no read first: the write is the check, and when it fails DynamoDB returns the record
    that stood in the way (``ReturnValuesOnConditionCheckFailure``), so deciding costs one call.
    """
    for _ in range(2):
        try:
            clients.dynamodb().put_item(
                TableName=table,
                Item=item,
                ConditionExpression=_OPEN,
                ExpressionAttributeValues=to_item({":deferred": Decision.DEFERRED.value}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            stored = cast(dict[str, Any], error.response).get("Item")
            if stored is not None:
                return _delivery(from_item(stored))
            # Deleted between the check and the answer (a refused send's claim released): try again.
            continue
        return None
    raise RuntimeError("the delivery record kept changing; the event comes back and decides again")


def release_claim(table: str, claimed: Outcome, claim: Claim) -> None:
    """SES refused the send, so nothing went out: remove our claim, and a retry may send."""
    try:
        clients.dynamodb().delete_item(
            TableName=table,
            Key=_key(claimed.customer_id, claimed.trigger, claimed.business_id),
            ConditionExpression="claim_token = :token",
            ExpressionAttributeValues=to_item({":token": claim.token}),
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise


def release_unaccepted_claim(table: str, claimed: Outcome, token: str) -> bool:
    """Remove a dead invocation's claim that SES never reported accepting, so the event is sent
    again; False if the claim was completed, closed or accepted meanwhile."""
    try:
        clients.dynamodb().delete_item(
            TableName=table,
            Key=_key(claimed.customer_id, claimed.trigger, claimed.business_id),
            ConditionExpression="claim_token = :token AND attribute_not_exists(accepted_message_id)",
            ExpressionAttributeValues=to_item({":token": token}),
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def close_as_sent(table: str, claimed: Outcome, token: str, message_id: str) -> bool:
    """Close a dead invocation's claim as sent, from SES's own record of the email (its Send event).
    False if that claim was completed or closed meanwhile."""
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=_key(claimed.customer_id, claimed.trigger, claimed.business_id),
            UpdateExpression="SET decision = :sent, message_id = :id REMOVE claim_token, lease_expires_at",
            ConditionExpression="claim_token = :token AND decision = :sending",
            ExpressionAttributeValues=to_item(
                {
                    ":sent": Decision.SENT.value,
                    ":id": message_id,
                    ":sending": Decision.SENDING.value,
                    ":token": token,
                }
            ),
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def mark_unconfirmed(table: str, claimed: Outcome, token: str) -> bool:
    """Close a claim whose invocation died before it recorded SES's answer: it may have been sent,
    so it is never sent again. False if that claim was completed or closed meanwhile."""
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=_key(claimed.customer_id, claimed.trigger, claimed.business_id),
            UpdateExpression="SET decision = :unconfirmed REMOVE claim_token, lease_expires_at",
            ConditionExpression="claim_token = :token AND decision = :sending",
            ExpressionAttributeValues=to_item(
                {
                    ":unconfirmed": Decision.SEND_UNCONFIRMED.value,
                    ":sending": Decision.SENDING.value,
                    ":token": token,
                }
            ),
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


class Delivery(NamedTuple):
    """A stored record: the outcome, and the claim if it is a send in flight."""

    outcome: Outcome
    claim: Claim | None
    accepted_message_id: str | None = None
    """The message id of SES's ``Send`` event for this delivery, once the engagement function has
    recorded it: SES accepted an email, whatever the invocation that sent it recorded."""


def get_delivery(table: str, customer_id: str, trigger: str, business_id: str) -> Delivery | None:
    values = get_record(table, customer_id, trigger, business_id)
    return _delivery(values) if values is not None else None


def _delivery(values: dict[str, Any]) -> Delivery:
    claim = None
    if "claim_token" in values:
        claim = Claim(
            token=str(values["claim_token"]),
            lease_expires_at=datetime.fromisoformat(str(values["lease_expires_at"])),
        )
    accepted = values.get("accepted_message_id")
    return Delivery(Outcome.model_validate(values), claim, str(accepted) if accepted else None)


def get_record(table: str, customer_id: str, trigger: str, business_id: str) -> dict[str, Any] | None:
    """The whole stored record as plain values: the decision with engagement and conversion fields."""
    item = (
        clients.dynamodb()
        .get_item(TableName=table, Key=_key(customer_id, trigger, business_id), ConsistentRead=True)
        .get("Item")
    )
    return from_item(item) if item else None
