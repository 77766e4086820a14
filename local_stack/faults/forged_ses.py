"""Forged SES events: SES events that are not about an email we sent through our configuration set,
as anyone allowed to send to the engagement or feedback queue could write them (or another stack's
configuration set would publish them).

Bounces, complaints, opens, clicks, deliveries and sends naming another configuration set, or none;
delivery tags naming a delivery that never was, or another customer's real one; the readable
customer_id tag alone (``FORGERIES``). They go straight to the functions, in batches with SES's
events of emails on record. No forged event may change a profile or a delivery record, raise, be
retried or be dead-lettered (it is well-formed: there is no field to name), and every valid event
beside it must still be applied.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from local_stack.emulator.failures import recording_requests
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.run import put_events, recorded_outcome
from local_stack.emulator.scenario import SampleEvent, load_sample_events
from local_stack.emulator.ses_events import engagement_event, feedback_event, mail_object
from local_stack.emulator.sqs_records import sqs_event
from local_stack.emulator.stack import LocalStack
from local_stack.faults.shapes import IDENTITY_FIELD, clone_customer
from nudge.dal.customers import get_customer
from nudge.dal.deliveries import get_record, record_decision
from nudge.message_tags import DELIVERY_TAG, DeliveryRef, delivery_tags
from nudge.observability import logger
from nudge.outcome import Decision, Outcome, delivery_key
from nudge.profiles import Customer
from nudge.timeutil import utc_now

FORGED_FUNCTIONS = {
    "Send": "EngagementFunction",
    "Delivery": "EngagementFunction",
    "Open": "EngagementFunction",
    "Click": "EngagementFunction",
    "Bounce": "SesFeedbackFunction",
    "Complaint": "SesFeedbackFunction",
}
VICTIM_SAMPLES = (
    "cart_abandoned/vip_ada.json",
    "order_placed/repeat_order_maria.json",
    "customer_lapsed/at_risk_sam.json",
)
"""Forged events name real emails of fresh copies of these samples' customers, emailed for real."""
FOREIGN_CONFIGURATION_SETS = ("another-stack-transactional", "{ours}-2", "{OURS}", None)
"""Another stack's set, ours with a suffix, ours in capitals, and no configuration-set tag at all."""
_FEEDBACK = ("Bounce", "Complaint")


@dataclass(frozen=True)
class Forgery:
    """One way to forge an SES event about a victim's real email."""

    name: str
    event_types: tuple[str, ...]
    foreign: bool
    """Names another configuration set than ours, or none."""
    names: str
    """What its tags name: ``real``, the victim's real delivery with its SES message id;
    ``real_other_id``, that delivery with a message id SES never gave it; ``nothing``, a delivery
    that never was; ``customer``, the customer_id tag alone with the real message id;
    ``unknown_id``, the customer_id tag alone with a message id never sent."""


FORGERIES = (
    Forgery("another configuration set, a real delivery", tuple(FORGED_FUNCTIONS), True, "real"),
    Forgery("another configuration set, a delivery that never was", tuple(FORGED_FUNCTIONS), True, "nothing"),
    Forgery("another configuration set, customer_id tag only", tuple(FORGED_FUNCTIONS), True, "customer"),
    Forgery("our configuration set, a delivery that never was", tuple(FORGED_FUNCTIONS), False, "nothing"),
    Forgery(
        "our configuration set, customer_id tag, unknown message",
        tuple(FORGED_FUNCTIONS),
        False,
        "unknown_id",
    ),
    # Engagement trusts a delivery record that exists (an open is harmless, and may come before the
    # message id is recorded); a suppression is for good, so feedback also checks the message id.
    Forgery("our configuration set, a real delivery, another message id", _FEEDBACK, False, "real_other_id"),
)


@dataclass
class ForgedTally:
    batches: int = 0
    forged: int = 0
    changed: int = 0
    """Forged events after which the profile or delivery record they name had changed: each a bug."""
    retried: int = 0
    """Forged records reported for a retry: each a bug (retrying cannot make an event ours)."""
    dead_lettered: int = 0
    """Forged records dead-lettered: each a bug (they are well-formed; there is no field to name)."""
    valid: int = 0
    """SES's events of emails on record, in the same batches."""
    stopped: int = 0
    """Of those, failed, dead-lettered or not applied: each a bug."""
    unhandled_errors: int = 0
    ignored_as_foreign: int = 0
    """Events a function ignored as another configuration set's (its ForeignSesEvent metric)."""
    ignored_as_not_ours: int = 0
    """Events a function ignored as about no email we sent (EngagementWithoutDelivery,
    FeedbackWithoutDelivery)."""
    kinds: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Email:
    """An email on record: its customer, its delivery record's key, the ``mail`` object SES reports."""

    customer_id: str
    trigger: str
    business_id: str
    mail: dict[str, Any]


@dataclass(frozen=True)
class _Batch:
    forged: list[tuple[str, _Email]]
    """Each forged record's body, with the email it names."""
    valid: list[tuple[str, str, _Email]]
    """Each valid record's body, its event type and its email."""


def forged_ses_run(
    stack: LocalStack, mappings: EventSourceMappings, *, batches: int, seed: int = 7
) -> ForgedTally:
    """``batches`` batches, one invocation each, of one to three forged SES events (``FORGERIES``)
    and one to four valid ones, straight to the engagement or the feedback function."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible mix, not security)
    tally = ForgedTally()
    victims = _emailed_victims(stack, mappings)
    before = {victim.customer_id: _state(stack, victim) for victim in victims}
    with _counting_ignored_ses_events(tally):
        for number in range(batches):
            function = rng.choice(["EngagementFunction", "SesFeedbackFunction"])
            batch = _forged_batch(stack, rng, function, victims, number, tally)
            # A record is its body and either the victim a forged one names or a valid one's (type, email).
            records: list[tuple[str, _Email | None, tuple[str, _Email] | None]] = [
                *((body, victim, None) for body, victim in batch.forged),
                *((body, None, (event_type, owner)) for body, event_type, owner in batch.valid),
            ]
            rng.shuffle(records)
            ids = [f"forged-{number}-{index}" for index in range(len(records))]
            event = sqs_event(*(body for body, _, _ in records), message_ids=ids)
            with recording_requests() as requests:
                try:
                    response = mappings.function(function).invoke(event) or {}
                except Exception as error:
                    tally.unhandled_errors += 1
                    tally.problems.append(f"{function}: {type(error).__name__} from a batch")
                    response = {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}
            tally.batches += 1
            dead_letter_queue = stack.functions[function].environment.get("DEAD_LETTER_QUEUE_URL")
            dead = {
                p["MessageBody"]
                for s, o, p in requests
                if (s, o) == ("sqs", "SendMessage") and p["QueueUrl"] == dead_letter_queue
            }
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
            for message_id, (body, victim, valid) in zip(ids, records, strict=True):
                if victim is not None:
                    tally.forged += 1
                    tally.retried += int(message_id in failed)
                    tally.dead_lettered += int(body in dead)
                    if message_id in failed or body in dead:
                        tally.problems.append(f"{function}: a forged event was retried or dead-lettered")
                    now = _state(stack, victim)
                    if now != before[victim.customer_id]:
                        tally.changed += 1
                        tally.problems.append(f"{function}: a forged event changed {victim.customer_id}")
                        before[victim.customer_id] = now
                elif valid is not None:
                    event_type, owner = valid
                    tally.valid += 1
                    if message_id in failed or body in dead or not _applied(stack, owner, event_type):
                        tally.stopped += 1
                        tally.problems.append(
                            f"{function}: a valid {event_type} beside forged ones not applied"
                        )
    return tally


def _forged_batch(
    stack: LocalStack,
    rng: random.Random,
    function: str,
    victims: list[_Email],
    number: int,
    tally: ForgedTally,
) -> _Batch:
    types = [event_type for event_type, f in FORGED_FUNCTIONS.items() if f == function]
    at = utc_now() - timedelta(minutes=30) + timedelta(seconds=number)
    forged = []
    for _ in range(rng.randint(1, 3)):
        forgery = rng.choice([f for f in FORGERIES if set(f.event_types) & set(types)])
        event_type = rng.choice([t for t in forgery.event_types if t in types])
        victim = rng.choice(victims)
        event = _forge(stack, _ses_event(stack, victim, event_type, at), forgery, victim, rng)
        tally.kinds[f"{event_type}: {forgery.name}"] += 1
        forged.append((json.dumps(event), victim))
    valid = []
    for index in range(rng.randint(1, 4)):
        event_type = rng.choice([t for t in types if t != "Send"])
        owner = _email_on_record(stack, f"fz{number}x{index}")
        valid.append((json.dumps(_ses_event(stack, owner, event_type, at)), event_type, owner))
    return _Batch(forged, valid)


def _ses_event(stack: LocalStack, email: _Email, event_type: str, at: datetime) -> dict[str, Any]:
    """SES's own event of ``email``, as its configuration set publishes it."""
    if event_type in _FEEDBACK:
        return feedback_event(stack, json.loads(json.dumps(email.mail)), event_type, at)
    link = "https://shop.example/cart?utm_source=nudge&utm_content=cta"
    return engagement_event(stack, json.loads(json.dumps(email.mail)), event_type, at, link)


def _forge(
    stack: LocalStack, event: dict[str, Any], forgery: Forgery, victim: _Email, rng: random.Random
) -> dict[str, Any]:
    """``event`` (SES's own, of ``victim``'s real email) rewritten as ``forgery`` says."""
    ours = stack.names["MarketingConfigurationSet"]
    mail = event["detail"]["mail"]
    tags = {name: values for name, values in mail["tags"].items() if not name.startswith(DELIVERY_TAG)}
    if forgery.foreign:
        foreign = rng.choice(FOREIGN_CONFIGURATION_SETS)
        del tags["ses:configuration-set"]
        if foreign is not None:
            name = foreign.format(ours=ours, OURS=ours.upper())
            tags["ses:configuration-set"] = [name]
            event["resources"] = [event["resources"][0].rsplit("/", 1)[0] + "/" + name]
    named = {
        "real": victim.business_id,
        "real_other_id": victim.business_id,
        "nothing": f"never_{rng.randrange(10**6)}",
    }.get(forgery.names)
    if named is not None:
        ref = DeliveryRef(victim.customer_id, delivery_key(victim.trigger, named))
        tags |= {name: [value] for name, value in delivery_tags(ref).items()}
    if forgery.names in ("real_other_id", "nothing", "unknown_id"):
        mail["messageId"] = f"0100019a7c{rng.randrange(16**8):08x}-forged-000000"
    mail["tags"] = tags
    return event


def _emailed_victims(stack: LocalStack, mappings: EventSourceMappings) -> list[_Email]:
    """Two fresh copies of each victim sample's customer, each emailed for real: through its trigger,
    SES, and SES's Send event on the delivery record."""
    by_name = {sample.name: sample for sample in load_sample_events()}
    sent: list[tuple[Customer, SampleEvent]] = []
    for copy in ("victim1", "victim2"):
        for name in VICTIM_SAMPLES:
            sample = by_name[name]
            customer = clone_customer(stack, str(sample.event["detail"]["customer_id"]), copy)
            detail: dict[str, Any] = {"customer_id": customer.customer_id}
            identity = IDENTITY_FIELD[sample.detail_type]
            if identity:
                detail[identity] = f"{sample.event['detail'][identity]}_{copy}"
            sent.append((customer, sample.varied(f"{name}#{copy}", **detail)))
    put_events(stack, [event for _, event in sent])
    mappings.drain()
    victims = []
    for customer, event in sent:
        outcome = recorded_outcome(stack, event)
        assert outcome is not None and outcome.decision is Decision.SENT, f"{event.name}: {outcome}"
        mail = mail_object(stack, outcome, customer.email, utc_now() - timedelta(hours=1))
        victims.append(_Email(customer.customer_id, outcome.trigger, outcome.business_id, mail))
    return victims


def _email_on_record(stack: LocalStack, suffix: str) -> _Email:
    """A fresh customer (a copy of Ada) with the delivery record of a cart reminder sent to them."""
    customer = clone_customer(stack, "cus_vip_ada", suffix)
    outcome = Outcome(
        trigger="cart_abandoned",
        customer_id=customer.customer_id,
        business_id=f"cart_{suffix}",
        decision=Decision.SENT,
        message_id=f"0100019a7c-{suffix}-000000",
        subject="Your cart is waiting",
    )
    assert record_decision(stack.names["DeliveriesTable"], outcome, utc_now(), timedelta(days=400)) is None
    mail = mail_object(stack, outcome, customer.email, utc_now() - timedelta(hours=1))
    return _Email(customer.customer_id, outcome.trigger, outcome.business_id, mail)


def _state(stack: LocalStack, email: _Email) -> tuple[Any, Any]:
    """The customer's whole profile and the email's whole delivery record, as stored."""
    customer = get_customer(stack.names["CustomersTable"], email.customer_id)
    record = get_record(stack.names["DeliveriesTable"], email.customer_id, email.trigger, email.business_id)
    return (customer.model_dump() if customer else None, record)


def _applied(stack: LocalStack, email: _Email, event_type: str) -> bool:
    """Whether a valid event did what it should: a bounce or complaint suppressed the customer; a
    delivery, open or click reached the delivery record, and an open or click the profile."""
    customer = get_customer(stack.names["CustomersTable"], email.customer_id)
    record = get_record(stack.names["DeliveriesTable"], email.customer_id, email.trigger, email.business_id)
    if customer is None or record is None:
        return False
    if event_type in _FEEDBACK:
        return customer.suppressed_reason == ("permanent_bounce" if event_type == "Bounce" else "complaint")
    if event_type == "Delivery":
        return "delivered_at" in record
    if event_type == "Open":
        return bool(record.get("opens")) and customer.last_opened_at is not None
    return bool(record.get("clicks")) and customer.last_clicked_at is not None


_IGNORED_AS_FOREIGN = frozenset({"SES event of another configuration set ignored"})
_IGNORED_AS_NOT_OURS = frozenset(
    {
        "bounce or complaint of no email we sent: nobody suppressed",
        "engagement event for no delivery record we know: nothing to update",
        "engagement for a delivery record that does not exist",
        "SES accepted an email whose delivery record does not exist",
    }
)


@contextmanager
def _counting_ignored_ses_events(tally: ForgedTally) -> Iterator[None]:
    """Counts the functions' log lines for the SES events they ignored, by why."""

    class Counting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            tally.ignored_as_foreign += int(message in _IGNORED_AS_FOREIGN)
            tally.ignored_as_not_ours += int(message in _IGNORED_AS_NOT_OURS)

    handler = Counting()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)  # type: ignore[attr-defined]
