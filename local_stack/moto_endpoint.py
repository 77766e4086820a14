"""moto's server on 127.0.0.1, standing in for every AWS endpoint the handlers call."""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.server import ThreadedMotoServer

# No real credentials may ever be used: these are placeholders moto accepts.
FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}


class MotoEndpoint:
    def __init__(self, url: str) -> None:
        self.url = url

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"))  # noqa: S310

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/moto-api/data.json") as response:  # noqa: S310
            return dict(json.load(response))

    def sent_raw_emails(self) -> dict[str, str]:
        """Every raw message SES accepted, by SES message id."""
        return {message["id"]: message["raw_data"] for message in self.state()["ses"].get("RawMessage", [])}


@contextmanager
def running_moto() -> Iterator[MotoEndpoint]:
    """Start moto on a free port of 127.0.0.1 and point every boto3 client of this process at it."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    previous = {key: os.environ.get(key) for key in [*FAKE_AWS_ENVIRONMENT, "AWS_ENDPOINT_URL"]}
    os.environ.update(FAKE_AWS_ENVIRONMENT)
    os.environ["AWS_ENDPOINT_URL"] = url
    try:
        yield MotoEndpoint(url)
    finally:
        server.stop()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
