"""Shared fixtures: moto's server on 127.0.0.1 and a stack built from template.yaml."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from local_stack.stack import powertools_environment

# As in Lambda, the environment is in place before the layer is imported (Powertools reads it then).
os.environ.update(powertools_environment())

from local_stack.moto_endpoint import MotoEndpoint, running_moto
from local_stack.outbox import parse_email
from local_stack.scenario import SampleEvent, load_sample_events
from local_stack.seed import seed_sample_data, verify_sender_identity
from local_stack.stack import LocalStack, build_stack
from nudge.observability import logger


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoEndpoint]:
    with running_moto() as endpoint:
        yield endpoint


def fresh_stack(moto: MotoEndpoint, **parameters: str) -> LocalStack:
    """A fresh stack from template.yaml, with these parameter overrides, the sender identity, and
    the sample segments and customers."""
    moto.reset()
    local = build_stack(parameter_overrides=parameters)
    verify_sender_identity(local)
    seed_sample_data(local)
    return local


@pytest.fixture
def stack(moto: MotoEndpoint) -> LocalStack:
    """A fresh stack from template.yaml with its default parameters and the sample data."""
    return fresh_stack(moto)


@pytest.fixture
def service_logs() -> Iterator[io.StringIO]:
    """Everything the service logs, formatted exactly as Lambda would receive it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


@pytest.fixture(scope="session")
def samples() -> dict[str, SampleEvent]:
    return {sample.name: sample for sample in load_sample_events()}


def sent_emails(moto: MotoEndpoint) -> list[EmailMessage]:
    """Every email SES accepted, parsed as a mail client would."""
    return [parse_email(raw) for raw in moto.sent_raw_emails().values()]
