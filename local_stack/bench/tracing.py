"""What tracing adds to each AWS call on AWS: X-Ray's botocore patch, as the Tracer applies it.

The handler CPU row of `make bench` runs with the Tracer off, as the local stack does. Here two
fresh interpreters with Lambda's environment (a sampled trace header, the X-Ray variables) make the
same DynamoDB PutItem 2,000 times, answered inside botocore's send (no socket), one with X-Ray's
patch of botocore and one without; rounds alternate, and the medians are compared.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from local_stack.bench.cold_start import LAMBDA_MARKERS

ROUNDS = 5
_PROBE = """
import json, sys, time
import boto3
from botocore.awsrequest import AWSResponse
if sys.argv[1] == "1":
    from aws_xray_sdk.core import patch
    patch(["botocore"])
client = boto3.session.Session().client("dynamodb", region_name="us-east-1")

class Body:
    def stream(self, **_):
        yield b"{}"

def answer(request, **_):
    return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, Body())

client.meta.events.register("before-send.dynamodb.*", answer)
item = {"customer_id": {"S": "c"}, "delivery_key": {"S": "k"}, "decision": {"S": "sent"}}
for _ in range(50):
    client.put_item(TableName="t", Item=item)
calls = 2000
start = time.process_time()
for _ in range(calls):
    client.put_item(TableName="t", Item=item)
print(json.dumps((time.process_time() - start) / calls))
"""
_ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    **LAMBDA_MARKERS,
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


def per_call_ms(rounds: int = ROUNDS) -> dict[str, float]:
    """CPU ms per call, untraced and traced (medians of alternating fresh interpreters)."""
    samples: dict[str, list[float]] = {"untraced": [], "traced": []}
    for _ in range(rounds):
        for label, flag in (("untraced", "0"), ("traced", "1")):
            done = subprocess.run(  # noqa: S603 - our own interpreter running our own probe
                [sys.executable, "-c", _PROBE, flag],
                capture_output=True,
                text=True,
                env=_ENVIRONMENT,
                check=True,
            )
            samples[label].append(float(json.loads(done.stdout)) * 1000)
    return {label: statistics.median(values) for label, values in samples.items()}


def main() -> None:
    figures = per_call_ms()
    print(
        f"a DynamoDB call, CPU: untraced {figures['untraced']:.3f} ms, with X-Ray's botocore patch "
        f"{figures['traced']:.3f} ms (+{figures['traced'] - figures['untraced']:.3f} ms a call)"
    )


if __name__ == "__main__":
    main()
