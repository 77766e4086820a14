"""The alarms in template.yaml cover what can break: every dead-letter queue, every queue a function
reads, every trigger's failures, the daily run's deadline; and they all notify someone."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from local_stack.emulator.cfn import load_template
from local_stack.emulator.stack import REPO_ROOT, TEMPLATE_PATH
from nudge.triggers import TRIGGER_NAMES

TEMPLATE = load_template(TEMPLATE_PATH)
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
ALARM_TOPIC = {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}
# CloudWatch's us-east-1 list price of a standard-resolution alarm, per metric it reads and month.
ALARM_METRIC_MONTH_USD = 0.10


def alarms(resources: Mapping[str, dict[str, Any]] = RESOURCES) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def queue_named_by(value: Any, resources: Mapping[str, dict[str, Any]]) -> str | None:
    """The logical id of the template's queue that an ARN or URL value names (``!GetAtt Q.Arn``,
    ``!Ref Q``), or None."""
    if not isinstance(value, dict):
        return None
    if "Fn::GetAtt" in value:
        logical_id = value["Fn::GetAtt"][0]
    elif "Ref" in value:
        logical_id = value["Ref"]
    else:
        return None
    return logical_id if resources.get(logical_id, {}).get("Type") == "AWS::SQS::Queue" else None


def dead_letter_queues(template: Mapping[str, Any]) -> dict[str, str]:
    """Every queue used as a dead-letter queue, with where it is used as one: a queue's redrive target,
    a rule target's or a schedule's DeadLetterConfig, a function's DeadLetterQueue or OnFailure
    destination, a queue a function is told to dead-letter to (``*DEAD_LETTER*`` or ``*DLQ*``
    variables), or the queue SAM creates for an event's ``DeadLetterConfig: {Type: SQS}``."""
    resources: Mapping[str, dict[str, Any]] = template["Resources"]
    function_globals = template.get("Globals", {}).get("Function", {})
    found: dict[str, str] = {}

    def add(value: Any, where: str) -> None:
        queue = queue_named_by(value, resources)
        if queue is not None:
            found.setdefault(queue, where)

    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in properties:
            add(properties["RedrivePolicy"].get("deadLetterTargetArn"), f"{logical_id} redrives into it")
        elif resource["Type"] == "AWS::Events::Rule":
            for target in properties.get("Targets", []):
                add(target.get("DeadLetterConfig", {}).get("Arn"), f"{logical_id} target {target['Id']}")
        elif resource["Type"] == "AWS::Scheduler::Schedule":
            add(properties.get("Target", {}).get("DeadLetterConfig", {}).get("Arn"), f"{logical_id}")
        elif resource["Type"] == "AWS::Serverless::Function":
            merged = {**function_globals, **properties}
            add(merged.get("DeadLetterQueue", {}).get("TargetArn"), f"{logical_id} DeadLetterQueue")
            on_failure = merged.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
            add(on_failure.get("Destination"), f"{logical_id} OnFailure destination")
            variables = {
                **function_globals.get("Environment", {}).get("Variables", {}),
                **properties.get("Environment", {}).get("Variables", {}),
            }
            for name, value in variables.items():
                if "DEAD_LETTER" in name or "DLQ" in name:
                    add(value, f"{logical_id} {name}")
            for event_name, event in merged.get("Events", {}).items():
                config = event.get("Properties", {}).get("DeadLetterConfig")
                if config is None:
                    continue
                if "Arn" in config:
                    add(config["Arn"], f"{logical_id} event {event_name}")
                else:
                    generated = config.get("QueueLogicalId", f"{logical_id}{event_name}Queue")
                    found.setdefault(generated, f"created by SAM for {logical_id} event {event_name}")
    return found


def alarms_by_queue(metric_name: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Queue logical id -> (alarm logical id, alarm properties) for the AWS/SQS alarms on this metric."""
    by_queue = {}
    for logical_id, properties in alarms().items():
        if (properties.get("Namespace"), properties.get("MetricName")) != ("AWS/SQS", metric_name):
            continue
        (dimension,) = properties["Dimensions"]
        assert dimension["Name"] == "QueueName", logical_id
        queue, attribute = dimension["Value"]["Fn::GetAtt"]
        assert attribute == "QueueName", logical_id
        by_queue[queue] = (logical_id, properties)
    return by_queue


def test_every_dead_letter_queue_has_an_alarm_on_its_first_message_named_after_it() -> None:
    # Given every queue the template uses as a dead-letter queue, however it is wired
    dead_letters = dead_letter_queues(TEMPLATE)
    assert {"RuleDeliveryDLQ", "CartAbandonedDLQ", "ReengagementPlannerDLQ"} <= set(dead_letters)
    # Then each has an alarm on its visible messages, named after the queue, raised by the first one
    with_alarm = alarms_by_queue("ApproximateNumberOfMessagesVisible")
    without = [
        f"{queue} ({where})" for queue, where in sorted(dead_letters.items()) if queue not in with_alarm
    ]
    assert without == [], f"dead-letter queues without an alarm: {', '.join(without)}"
    for queue in dead_letters:
        _, alarm = with_alarm[queue]
        assert alarm["AlarmName"] == {"Fn::Sub": f"${{AWS::StackName}}-{queue}"}
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
        assert alarm["TreatMissingData"] == "notBreaching"


def test_the_finder_knows_the_queue_sam_creates_for_an_event_dead_letter_config() -> None:
    # A schedule whose DeadLetterConfig is {Type: SQS} gets a queue the template does not declare
    function = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "Events": {"Daily": {"Type": "ScheduleV2", "Properties": {"DeadLetterConfig": {"Type": "SQS"}}}}
        },
    }
    found = dead_letter_queues({"Resources": {"Planner": function}})
    assert found == {"PlannerDailyQueue": "created by SAM for Planner event Daily"}


def test_every_queue_a_function_reads_has_an_alarm_on_its_oldest_message() -> None:
    sources = {
        event["Properties"]["Queue"]["Fn::GetAtt"][0]
        for resource in RESOURCES.values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    }
    assert {
        "CartAbandonedQueue",
        "OrderPlacedQueue",
        "CustomerLapsedQueue",
        "ReengagementWorkQueue",
    } <= sources
    with_alarm = alarms_by_queue("ApproximateAgeOfOldestMessage")
    assert sorted(sources - set(with_alarm)) == []
    for queue in sources:
        _, alarm = with_alarm[queue]
        assert alarm["Threshold"] == {"Ref": "QueueAgeAlarmSeconds"}
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_every_trigger_alarms_on_email_failed_in_periods_in_a_row() -> None:
    failed = {
        alarm["Dimensions"][1]["Value"]: alarm
        for alarm in alarms().values()
        if (alarm.get("Namespace"), alarm.get("MetricName")) == ("Nudge", "EmailFailed")
    }
    assert set(failed) == TRIGGER_NAMES
    for trigger, alarm in failed.items():
        assert alarm["Dimensions"] == [
            {"Name": "service", "Value": "nudge"},
            {"Name": "trigger", "Value": trigger},
        ]
        assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == {"Ref": "EmailFailedAlarmPeriods"}
        assert (alarm["Period"], alarm["Threshold"]) == (300, 0)


def test_every_alarm_notifies_the_alarm_topic_when_it_fires_and_when_it_clears() -> None:
    quiet = sorted(
        logical_id
        for logical_id, alarm in alarms().items()
        if alarm.get("AlarmActions") != [ALARM_TOPIC] or alarm.get("OKActions") != [ALARM_TOPIC]
    )
    assert quiet == []


def utc_offset(timezone: str) -> timedelta:
    match = re.fullmatch(r"UTC([+-])(\d\d):(\d\d)", timezone)
    assert match is not None, timezone
    sign = 1 if match.group(1) == "+" else -1
    return sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))


def test_the_run_deadline_alarm_s_day_ends_at_the_default_start_plus_each_allowed_deadline() -> None:
    # Given the default schedule the deadline table is made for: 09:00 UTC every day
    parameters = TEMPLATE["Parameters"]
    assert (parameters["ReengagementSchedule"]["Default"], parameters["ReengagementTimezone"]["Default"]) == (
        "cron(0 9 * * ? *)",
        "UTC",
    )
    start = timedelta(hours=9)
    windows = TEMPLATE["Mappings"]["ReengagementDeadlineWindows"]
    # Then every allowed deadline has a row, and its zone's midnight is at the start plus the deadline
    allowed = parameters["ReengagementDeadlineMinutes"]["AllowedValues"]
    assert sorted(int(minutes) for minutes in windows) == sorted(allowed)
    assert parameters["ReengagementDeadlineMinutes"]["Default"] in allowed
    for minutes, row in windows.items():
        midnight_in_utc = -utc_offset(row["WallClockTimezone"]) % timedelta(days=1)
        assert midnight_in_utc == start + timedelta(minutes=int(minutes)), minutes


def test_the_documented_alarm_count_and_monthly_cost_are_the_template_s() -> None:
    # CloudWatch bills an alarm per metric it reads (an expression's metrics each count)
    count = len(alarms())
    metrics_read = sum(
        1 if "MetricName" in alarm else sum("MetricStat" in query for query in alarm["Metrics"])
        for alarm in alarms().values()
    )
    doc = (REPO_ROOT / "docs" / "alarms-and-dashboard.md").read_text(encoding="utf-8")
    assert f"**{count} alarms**" in doc
    assert f"USD {metrics_read * ALARM_METRIC_MONTH_USD:.2f} a month" in doc
