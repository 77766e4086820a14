"""SES's Send event is the only word that an email went out. A send whose invocation died unanswered
is sent again once ``UnconfirmedSendGraceSeconds`` have passed without it, so the engagement function
must record a Send event within the grace even when its writes are throttled again and again:
otherwise a late Send event means the same email twice."""

from __future__ import annotations

import pytest

from local_stack.emulator.cfn import load_template
from local_stack.emulator.stack import TEMPLATE_PATH
from nudge.engagement.settings import SEND_EVENT_RECEIVES, EngagementSettings
from nudge.sqs_batches import BACKOFF_JITTER, backoff_seconds

ENVIRONMENT = {
    "CUSTOMERS_TABLE": "customers",
    "DELIVERIES_TABLE": "deliveries",
    "SES_CONFIGURATION_SET": "marketing",
}


def template() -> dict[str, object]:
    return load_template(TEMPLATE_PATH)


def test_the_engagement_queue_gives_a_send_event_the_receives_the_function_plans_for() -> None:
    resources = template()["Resources"]
    assert isinstance(resources, dict)
    policy = resources["EngagementQueue"]["Properties"]["RedrivePolicy"]
    assert policy["maxReceiveCount"] == SEND_EVENT_RECEIVES


@pytest.mark.parametrize("grace", [60, 300, 600, 3600, 21600])
def test_a_send_event_failing_on_every_receive_but_the_last_is_recorded_within_the_grace(grace: int) -> None:
    settings = EngagementSettings.from_environment(
        {**ENVIRONMENT, "UNCONFIRMED_SEND_GRACE_SECONDS": str(grace)}
    )
    # The longest a Send event can wait between its first receive and its last: every backoff at
    # the top of its jitter
    waits = [
        backoff_seconds(receives, cap=settings.retry_backoff_cap_seconds) * BACKOFF_JITTER
        for receives in range(1, SEND_EVENT_RECEIVES)
    ]
    assert sum(waits) < grace


def test_the_default_grace_is_the_templates() -> None:
    parameters = template()["Parameters"]
    assert isinstance(parameters, dict)
    assert EngagementSettings.from_environment(ENVIRONMENT).unconfirmed_send_grace_seconds == int(
        parameters["UnconfirmedSendGraceSeconds"]["Default"]
    )
