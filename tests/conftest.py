"""Shared fixtures: moto's server on 127.0.0.1 and a stack built from template.yaml.

Only what every test needs is imported here (the environment Powertools reads at import, the compiled
catalogs): moto's server and the stack are imported by the fixtures that start them, so the unit
tests (``make test-fast``) never pay for the local stack.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from email.message import EmailMessage
from typing import TYPE_CHECKING

import pytest

from local_stack.emulator.stack import REPO_ROOT, powertools_environment

# As in Lambda, the environment is in place before the layer is imported (Powertools reads it then).
os.environ.update(powertools_environment())

from local_stack.emulator.catalogs import compile_catalogs
from nudge.observability import logger

if TYPE_CHECKING:
    from local_stack.emulator.moto_endpoint import MotoEndpoint
    from local_stack.emulator.scenario import SampleEvent
    from local_stack.emulator.stack import LocalStack

# The templates' .mo catalogs, compiled from their .po as `sam build` does for the layer, before any
# test module renders (or asks which languages are shipped).
compile_catalogs(REPO_ROOT / "templates")


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoEndpoint]:
    from local_stack.emulator.moto_endpoint import running_moto

    with running_moto() as endpoint:
        yield endpoint


@pytest.fixture
def stack(moto: MotoEndpoint) -> LocalStack:
    """The stack of template.yaml as the example shop (local_stack.emulator.stack.LOCAL_PARAMETERS, the rest
    defaults) with only the sample data (built once per session, emptied for each test:
    local_stack.emulator.fresh)."""
    from local_stack.emulator.fresh import fresh_stack

    return fresh_stack(moto)


@pytest.fixture
def service_logs() -> Iterator[io.StringIO]:
    """Everything the service logs, formatted exactly as Lambda would receive it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    yield stream
    # Powertools' Logger passes removeHandler through to its logging.Logger; its stubs do not say so.
    logger.removeHandler(handler)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def samples() -> dict[str, SampleEvent]:
    from local_stack.emulator.scenario import load_sample_events

    return {sample.name: sample for sample in load_sample_events()}


def sent_emails(moto: MotoEndpoint) -> list[EmailMessage]:
    """Every email SES accepted, parsed as a mail client would."""
    from local_stack.emulator.outbox import parse_email

    return [parse_email(raw) for raw in moto.sent_raw_emails().values()]
