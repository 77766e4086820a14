"""Nudge's report: per trigger and per experiment arm, what was sent, delivered, opened, clicked and
converted, with 95 % intervals and each arm tested against its control.

A local tool (``python -m reporting``), not part of the Lambda layer::

    deliveries, experiments = read_tables(client, "nudge-deliveries", "nudge-experiments")
    print(render(build_report(deliveries, experiments)))
"""

from reporting.records import read_tables
from reporting.render import render
from reporting.report import Arm, Experiment, Group, Report, build_report

__all__ = ["Arm", "Experiment", "Group", "Report", "build_report", "read_tables", "render"]
