"""Whether an SES event is about an email we sent: published through this stack's configuration set,
for a delivery record we hold.

SES publishes to the account's default bus, where every stack's configuration set publishes too, and
anyone allowed to send to the engagement or feedback queue can put any body there. The rules match
only our configuration set, and the queues take messages only from them (``template.yaml``), but the
functions check again: an event that reached a queue another way changes no delivery and no profile.
Both functions share these checks, so a fix to one is a fix to both.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools.metrics import MetricUnit

from nudge.dal.engagement import find_by_message_id, sent_message_ids
from nudge.message_tags import DeliveryRef, delivery_ref, first_tag
from nudge.observability import logger, metrics
from nudge.ses_events import Mail

CONFIGURATION_SET_TAG = "ses:configuration-set"
"""The tag SES adds to every event with the configuration set the email was sent through."""


def from_our_configuration_set(mail: Mail, configuration_set: str, where: Mapping[str, str]) -> bool:
    """True when SES sent ``mail`` through ``configuration_set``. Otherwise the event is another
    stack's or forged: it is counted (``ForeignSesEvent``) and logged with ``where`` alone (the SES
    message id and event type, never the tags, which name a customer), and changes nothing."""
    if first_tag(mail.tags, CONFIGURATION_SET_TAG) == configuration_set:
        return True
    metrics.add_metric(name="ForeignSesEvent", unit=MetricUnit.Count, value=1)
    logger.warning("SES event of another configuration set ignored", extra=dict(where))
    return False


def named_delivery(mail: Mail, deliveries_table: str) -> DeliveryRef | None:
    """The delivery record an event's tags name: its ``delivery`` tag; for an email sent before that
    tag existed, the record of its SES message id among the records of its ``customer_id`` tag. A
    ``delivery`` tag is not proof that the record exists: the writes that use it are conditional."""
    ref = delivery_ref(mail.tags)
    if ref is not None:
        return ref
    customer_id = first_tag(mail.tags, "customer_id")
    if customer_id is None:
        return None
    return find_by_message_id(deliveries_table, customer_id, mail.message_id)


def sent_delivery(mail: Mail, deliveries_table: str) -> DeliveryRef | None:
    """The delivery record of an email we sent that is this very SES message, or None.

    The record must exist and be of an email (sent, or claimed for sending; not a skip or a
    deferral), and once it knows the SES message ids its email went out as, ``mail`` must be one of
    them: a copy of a real email's tags with another message id is not that email. An email sent
    before the ``delivery`` tag is found by its message id, so the same holds. While a send is
    claimed and neither the sender nor SES's Send event has recorded an id yet, the record's
    existence is the evidence (a bounce can come seconds after SES accepts an email)."""
    ref = delivery_ref(mail.tags)
    if ref is None:
        return named_delivery(mail, deliveries_table)
    message_ids = sent_message_ids(deliveries_table, ref)
    if message_ids is None or (message_ids and mail.message_id not in message_ids):
        return None
    return ref
