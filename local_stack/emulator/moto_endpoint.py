"""moto's server on 127.0.0.1, standing in for every AWS endpoint the handlers call."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local_stack.emulator import moto_message_moves
from local_stack.emulator.patches import SerialMotoServer
from nudge import ttl_cache
from nudge.adapters import clients as layer_clients

if TYPE_CHECKING:
    from local_stack.emulator.stack import LocalStack

# No real credentials may ever be used: these are placeholders moto accepts.
FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
    # AWS allows one PurgeQueue a minute; only the reset between tests purges (local_stack.emulator.fresh),
    # and it does so far more often. No handler purges a queue.
    "MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR": "false",
    # moto answers in seconds on a loaded machine, DynamoDB in milliseconds: no test may depend on
    # CPU speed (nudge.adapters.clients). Timeouts and lost answers are injected by
    # local_stack.emulator.failures.
    "NUDGE_LOCAL_READ_TIMEOUT_SECONDS": "60",
}


class MotoEndpoint:
    def __init__(self, url: str, *, in_process: bool) -> None:
        self.url = url
        self.in_process = in_process
        """moto runs in this process (a thread), so its state can be read and trimmed directly."""
        self.stack: LocalStack | None = None
        """The stack last built on this endpoint, while nothing else has been reset."""

    def reset(self) -> None:
        """Forget everything: every resource and every item, message and email."""
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"))  # noqa: S310
        self.stack = None

    def forget_sent_emails(self) -> None:
        """Empty SES's record of sent emails (and moto's tracked models, which data.json reads)."""
        if not self.in_process:
            raise RuntimeError("moto's state can be trimmed only when it runs in this process")
        # moto's own state, read and trimmed directly (patches.PRIVATE names what this touches).
        from moto.core.model_instances import reset_model_data
        from moto.ses.models import ses_backends

        for account in ses_backends.values():
            for backend in account.values():
                backend.sent_messages.clear()
        reset_model_data()

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/moto-api/data.json") as response:  # noqa: S310
            return dict(json.load(response))

    def sent_raw_emails(self) -> dict[str, str]:
        """Every raw message SES accepted, by SES message id."""
        return {message["id"]: message["raw_data"] for message in self.state()["ses"].get("RawMessage", [])}


@contextmanager
def running_moto(*, own_process: bool = False) -> Iterator[MotoEndpoint]:
    """Start moto on a free port of 127.0.0.1 and point every boto3 client of this process at it.

    In a thread by default (fast to start). ``own_process`` runs it as a separate process, so a
    benchmark's CPU time and memory are the handlers' alone, as they would be in Lambda.
    """
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # SQS's dead-letter redrive, which moto lacks (the own-process server installs it itself).
    moto_message_moves.install()
    with _server_process() if own_process else _server_thread() as url:
        previous = {key: os.environ.get(key) for key in [*FAKE_AWS_ENVIRONMENT, "AWS_ENDPOINT_URL"]}
        os.environ.update(FAKE_AWS_ENVIRONMENT)
        os.environ["AWS_ENDPOINT_URL"] = url
        # Clients the layer cached for an earlier server would still call it, and rows it cached
        # from that server's tables are not this one's.
        layer_clients.forget()
        ttl_cache.forget_all()
        endpoint = MotoEndpoint(url, in_process=not own_process)
        if not own_process:
            # moto's backends are the process's: a server started after another would find its data.
            endpoint.reset()
        try:
            yield endpoint
        finally:
            layer_clients.forget()
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@contextmanager
def _server_thread() -> Iterator[str]:
    server = SerialMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextmanager
def _server_process(startup_seconds: float = 30) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603 - our own interpreter running moto's server module
        [sys.executable, "-m", "local_stack.emulator.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[2],  # where local_stack is importable
    )
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1).close()  # noqa: S310
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()  # werkzeug may hold a keep-alive connection open past SIGTERM
            server.wait()


def seconds_until_visible(queue_url: str, region: str, account_id: str = "123456789012") -> float | None:
    """When the soonest message in flight (or delayed) on this queue can be received, in seconds from now,
    read from moto's own state (a function may have set each message's visibility itself, so the
    queue's VisibilityTimeout is not enough). None when moto runs in another process or nothing is
    in flight (patches.PRIVATE names what this reads of moto's)."""
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import sqs_backends

    try:
        queue = sqs_backends[account_id][region].get_queue(queue_url.rstrip("/").rsplit("/", 1)[-1])
    except Exception:
        return None
    now = unix_time_millis()
    # A message is received once it is both visible again and past its delivery delay (DelaySeconds).
    pending = [
        max(message.visible_at, message.delayed_until)
        for message in queue._messages
        if message.visible_at > now or message.delayed_until > now
    ]
    return (min(pending) - now) / 1000 + 0.001 if pending else None
