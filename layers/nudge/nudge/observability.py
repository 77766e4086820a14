"""Powertools Logger, Metrics and Tracer shared by every function of the service.

Building these objects creates no AWS client, so they are safe at import time; the service name and
namespace come from ``POWERTOOLS_SERVICE_NAME`` and ``POWERTOOLS_METRICS_NAMESPACE``.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer()
