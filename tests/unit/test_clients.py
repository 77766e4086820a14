"""The process's AWS clients: one of each, however many of a batch's threads ask for it first."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import boto3
import pytest

from nudge.adapters import clients

THREADS = 10
HANG_SECONDS = 10  # only a guard against a hang


class CountingLock:
    """A lock that counts the threads that have come to it (holding it or waiting for it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._came = 0
        self._changed = threading.Condition()

    def __enter__(self) -> None:
        with self._changed:
            self._came += 1
            self._changed.notify_all()
        self._lock.acquire()

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._lock.release()

    def wait_for(self, threads: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self._came >= threads, HANG_SECONDS)


@pytest.fixture
def creation_lock(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingLock]:
    clients.forget()
    lock = CountingLock()
    monkeypatch.setattr(clients, "_lock", lock)
    yield lock
    clients.forget()  # the stand-in clients go; the next user creates real ones


def test_threads_that_ask_for_a_client_together_share_the_one_created(
    creation_lock: CountingLock, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[object] = []

    def client(session: boto3.session.Session, service: str, **_: Any) -> object:
        # The first creation lasts until every other thread has come to the lock behind it
        creation_lock.wait_for(THREADS)
        made.append(object())
        return made[-1]

    monkeypatch.setattr(boto3.session.Session, "client", client)
    start = threading.Barrier(THREADS)
    got: list[object] = []

    def ask() -> None:
        start.wait()
        got.append(clients.dynamodb())

    threads = [threading.Thread(target=ask) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_SECONDS)
    assert len(made) == 1
    assert got == made * THREADS


def test_the_clients_retry_as_documented() -> None:
    """Standard retries (no adaptive client-side rate limiting); SES's SendEmail tried once."""
    for config, attempts in ((clients._with_retries(), 4), (clients._one_attempt(), 1)):
        assert config.retries == {"mode": "standard", "max_attempts": attempts}  # type: ignore[attr-defined]
        assert config.parameter_validation is False  # type: ignore[attr-defined]
