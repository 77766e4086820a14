"""Powertools Logger, Metrics and Tracer shared by every function of the service.

Building these objects creates no AWS client, so they are safe at import time; the service name and
namespace come from ``POWERTOOLS_SERVICE_NAME`` and ``POWERTOOLS_METRICS_NAMESPACE``.
"""

import hashlib
import logging
import threading
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer


class _ThreadSafeMetrics(Metrics):
    """A batch's records run on threads (nudge.sqs_batches), and Powertools' ``add_metric`` reads,
    changes and writes back a shared dict: two threads adding the same metric at once would lose one
    count. The lock keeps every count."""

    _lock = threading.Lock()

    def add_metric(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            super().add_metric(*args, **kwargs)


logger = Logger()
metrics: Metrics = _ThreadSafeMetrics()
# Every call the service makes leaves through botocore (AWS is its only dependency over the network).
# Tracer() alone runs X-Ray's patch_all, which imports requests, sqlite3, pynamodb and the rest to patch
# them: about 20 ms of every cold start, for libraries no function calls.
tracer = Tracer(patch_modules=("botocore",))

# At DEBUG the SDK logs every request and response body: email addresses, names, whole emails.
# LogLevel=DEBUG is for our own logs; the SDK's stay at WARNING whatever it says.
for _sdk in ("boto3", "botocore", "urllib3", "s3transfer"):
    logging.getLogger(_sdk).setLevel(logging.WARNING)


def log_safe_id(customer_id: str) -> str:
    """A customer id as it may appear in logs: stores that key customers by email address get a
    stable pseudonym (``sha256:<16 hex>``) instead of the address; other ids are logged as they are."""
    if "@" not in customer_id:
        return customer_id
    return "sha256:" + hashlib.sha256(customer_id.encode()).hexdigest()[:16]
