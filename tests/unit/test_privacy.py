"""Side doors personal data could leave by: logs, the SDK's debug output, traces."""

from __future__ import annotations

import logging

from local_stack.emulator.cfn import load_template
from local_stack.emulator.stack import TEMPLATE_PATH
from nudge.observability import log_safe_id


def test_a_customer_id_that_is_an_email_address_is_logged_as_a_stable_pseudonym() -> None:
    logged = log_safe_id("ada.lovelace@example.com")
    assert "@" not in logged and "ada" not in logged
    assert logged == log_safe_id("ada.lovelace@example.com") != log_safe_id("grace@example.com")
    assert logged.startswith("sha256:") and len(logged) == len("sha256:") + 16


def test_other_customer_ids_are_logged_as_they_are() -> None:
    assert log_safe_id("cus_vip_ada") == "cus_vip_ada"


def test_the_sdks_debug_logging_stays_off_whatever_the_log_level() -> None:
    # Given LogLevel=DEBUG reaches every logger that has no level of its own
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    try:
        # Then botocore, which logs request and response bodies at DEBUG, still says nothing below WARNING
        for name in ("botocore", "botocore.endpoint", "botocore.parsers", "boto3", "urllib3"):
            assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
    finally:
        root.setLevel(previous)


def test_traces_keep_no_responses_or_error_messages() -> None:
    variables = load_template(TEMPLATE_PATH)["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert variables["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"
