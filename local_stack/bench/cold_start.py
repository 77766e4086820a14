"""Cold start, as `make bench` reports it: each function's handler import against a bare
``import boto3``, and the first invocation's extra CPU over the second; and one handler's import from
the code as shipped (the layer and the function built as `sam build` builds them, for this
interpreter, read-only as on Lambda: local_stack/bench/layer.py), without bytecode and with it.

The first figures import the layer's source (layers/nudge) and the development environment's
packages, which have bytecode cached for this interpreter; only the shipped copies show what a cold
start costs when nothing can be cached.

Every figure comes from fresh interpreters, as a cold start has one: the variants of a round run one
after another, round after round (interleaved, so a busy machine slows each alike), and the table
shows medians. The environment is what Lambda gives the function: the template's variables with
their defaults and Lambda's own markers (``LAMBDA_TASK_ROOT``), so Powertools' Tracer is enabled and
patches as it would in AWS; the local stack's POWERTOOLS_TRACE_DISABLED would hide that cost.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_stack.bench.layer import bytecode_files, sdk_packages, shipped_code, without_write_override
from local_stack.emulator.cfn import load_template
from local_stack.emulator.moto_endpoint import FAKE_AWS_ENVIRONMENT, running_moto
from local_stack.emulator.scenario import SAMPLE_DAY_CLOCK, load_sample_events
from local_stack.emulator.seed import put_shopper, seed_sample_data, verify_sender_identity
from local_stack.emulator.sqs_records import sqs_event
from local_stack.emulator.stack import REPO_ROOT, TEMPLATE_PATH, build_stack, powertools_environment

ROUNDS = 7
# The import as shipped is measured against a target it is near, on a machine whose speed drifts
# between runs: more rounds, and the middle half of the rounds' ratios beside their median.
SHIPPED_ROUNDS = 15
BOTO3 = "import boto3"
LAYER_DIR = REPO_ROOT / "layers" / "nudge"
# What Lambda sets in every function's environment (besides the template's variables): the X-Ray
# SDK and Powertools' Tracer read these to decide that they run in Lambda.
LAMBDA_MARKERS = {
    # The runtime API's address: the layer's package stops the garbage collector for the import when
    # it sees it (nudge.function_import).
    "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
    "LAMBDA_TASK_ROOT": "/var/task",
    "AWS_LAMBDA_FUNCTION_NAME": "nudge-cold-start",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    # Segments go to a daemon on loopback that is not there: UDP, so nothing waits for it.
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}

# One fresh interpreter: import one module (the handler, as Lambda does: its code directory, then the
# layer, on the path) and report the wall and CPU seconds of that import alone.
_IMPORT_SCRIPT = """
import json, sys, time
sys.path[:0] = sys.argv[2:]
wall, cpu = time.perf_counter(), time.process_time()
__import__(sys.argv[1])
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}))
"""

# One fresh interpreter: import the handler, then invoke it twice with two events that do the same
# work for different customers. The first invocation pays for what the import left for later (clients,
# service models, compiled templates, lazy imports); the second is what a warm function spends.
_INVOKE_SCRIPT = """
import json, os, sys, time, uuid
import time_machine  # before the clock starts: the sample day's clock, not the handler's cost

events = json.load(open(sys.argv[1]))
sys.path[:0] = sys.argv[2:]
time_machine.travel(events["clock"], tick=True).start()


class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    function_version = "$LATEST"
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "cold-start"

    def __init__(self):
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self):
        return int((self._deadline - time.monotonic()) * 1000)


cpu = time.process_time()
import app
figures = {"import_cpu": time.process_time() - cpu, "invocations": []}
for number, event in enumerate(events["events"]):
    # Lambda sets a new trace header (sampled, as Tracing: Active samples the first request) per call.
    root, parent = uuid.uuid4().hex, uuid.uuid4().hex
    os.environ["_X_AMZN_TRACE_ID"] = f"Root=1-{number:08x}-{root[:24]};Parent={parent[:16]};Sampled=1"
    cpu = time.process_time()
    response = app.lambda_handler(event, Context())
    figures["invocations"].append(time.process_time() - cpu)
    if response and response.get("batchItemFailures"):
        raise SystemExit(f"invocation {number} failed: {response}")
print("COLD-START " + json.dumps(figures))
"""


@dataclass(frozen=True)
class Row:
    """One line of the table: a bare ``import boto3`` (function is None) or one function's figures."""

    name: str
    import_ms: float
    import_cpu_ms: float
    ratio: float | None = None
    """Handler import wall time over a bare ``import boto3``'s (the target is at most 1.5)."""
    cpu_ratio: float | None = None
    """The same for CPU time: steadier than wall time on a machine that is busy with other work."""
    first_invocation_extra_cpu_s: float | None = None
    """CPU seconds of the first invocation minus the second's (the target is at most 0.3)."""


def template_functions() -> dict[str, Path]:
    """Each function's code directory, by its folder name, in template order."""
    resources = load_template(TEMPLATE_PATH)["Resources"]
    dirs = [
        REPO_ROOT / str(resource["Properties"]["CodeUri"])
        for resource in resources.values()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    return {path.name: path for path in dirs}


def _lambda_environment(variables: dict[str, str]) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")
    base = {key: value for key, value in os.environ.items() if key in keep}
    return {**base, **variables, **LAMBDA_MARKERS}


def _run(
    script: str,
    args: list[str],
    environment: dict[str, str],
    *,
    cwd: Path = REPO_ROOT,
    read_only: bool = False,
) -> str:
    """Our interpreter running ``script`` fresh; ``read_only``: unable to write where the write bits
    say no, even as root (layer.without_write_override), as on Lambda's read-only code."""
    command = [sys.executable, "-c", script, *args]
    done = subprocess.run(  # noqa: S603 - our own interpreter running our own script
        without_write_override(command) if read_only else command,
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold-start child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def bench_imports(rounds: int = ROUNDS) -> dict[str, dict[str, float]]:
    """Median wall and CPU seconds of ``import boto3`` and of each handler's import, fresh each time,
    and the median of each round's ratio to that round's ``import boto3`` (paired, so a round on a
    busy machine compares like with like)."""
    environment = _lambda_environment(powertools_environment())
    variants = {BOTO3: ["boto3"]} | {
        name: ["app", str(code_dir), str(LAYER_DIR)] for name, code_dir in template_functions().items()
    }
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for _ in range(rounds):
        measured = {
            name: json.loads(_run(_IMPORT_SCRIPT, args, environment)) for name, args in variants.items()
        }
        for name, figures in measured.items():
            samples[name].append(
                figures | {f"{key}_ratio": figures[key] / measured[BOTO3][key] for key in ("wall", "cpu")}
            )
    return {
        name: {key: statistics.median(s[key] for s in measured) for key in measured[0]}
        for name, measured in samples.items()
    }


# The function whose import is measured as shipped: an email function, whose import is the heaviest.
SHIPPED_FUNCTION = "cart_abandoned"
# What botocore imports when it is installed beside it (its CA bundle; without it, botocore's own).
BOTOCORE_OPTIONAL = ("certifi",)
SHIPPED_VARIANTS = {"source": "no bytecode (as shipped before)", "bytecode": "with bytecode (as shipped now)"}

# One fresh interpreter, once per copy and outside the timed rounds: the import again, counting the
# modules compiled from source (every call of importlib's source_to_code) and naming any module found
# outside the function's code and the layer that the Lambda runtime would not provide (the stdlib and
# the SDK are the runtime's; anything else there means the copy is not what Lambda would import).
_SHIPPED_PROBE = """
import json, sys, sysconfig
import importlib._bootstrap_external as external
compiled = []
original = external.SourceLoader.source_to_code
def counted(self, data, path, *, _optimize=-1):
    compiled.append(path)
    return original(self, data, path, _optimize=_optimize)
external.SourceLoader.source_to_code = counted
runtime = json.loads(sys.argv[2])
shipped = sys.argv[3:]
sys.path[:0] = shipped
before = set(sys.modules)
__import__(sys.argv[1])
stdlib = sysconfig.get_paths()["stdlib"]
elsewhere = sorted(
    name for name, module in list(sys.modules.items())
    if name not in before and getattr(module, "__file__", None)
    and not module.__file__.startswith((*shipped, stdlib))
    and name.partition(".")[0] not in runtime
)
print(json.dumps({"compiled": len(compiled), "elsewhere": elsewhere}))
"""


@dataclass(frozen=True)
class Shipped:
    """A handler's import from the code as shipped, before and now, against a bare ``import boto3``."""

    function: str
    boto3_cpu_ms: float
    cpu_ms: dict[str, float]
    """Median CPU milliseconds of the import, by copy ("source", "bytecode")."""
    cpu_ratio: dict[str, float]
    """Median of each round's CPU time over that round's ``import boto3``, by copy."""
    wall_ratio: dict[str, float]
    cpu_ratio_middle_half: tuple[float, float]
    """The lower and upper quartile of the rounds' CPU ratios, with bytecode (as shipped now)."""
    compiled_modules: dict[str, int]
    """Modules compiled from source during the import, by copy: what every cold start repeats."""


def bench_shipped_imports(function: str = SHIPPED_FUNCTION, rounds: int = SHIPPED_ROUNDS) -> Shipped:
    """``function``'s import from the layer and code as `sam build` ships them, built for this
    interpreter (local_stack/bench/layer.py), read-only: without bytecode (as shipped before) and with
    it (now), each round against a bare ``import boto3``, all fresh and unable to write the code."""
    environment = _lambda_environment(powertools_environment())
    runtime = json.dumps([*sdk_packages(), *BOTOCORE_OPTIONAL])
    compiled: dict[str, int] = {}
    with shipped_code({function: template_functions()[function]}) as copies:
        for variant, copy in copies.items():
            probe = json.loads(
                _run(_SHIPPED_PROBE, ["app", runtime, *copy.path_of(function)], environment, read_only=True)
            )
            if probe["elsewhere"]:
                raise RuntimeError(f"{function} imports from outside the shipped code: {probe['elsewhere']}")
            compiled[variant] = probe["compiled"]
        samples: dict[str, list[dict[str, float]]] = {BOTO3: [], **{variant: [] for variant in copies}}
        for round_number in range(rounds):
            # A bare import boto3 before and after the copies (in turn first and last), their mean the
            # round's yardstick: a machine whose speed drifts within the round slows both sides alike.
            before = _timed_import(["boto3"], environment, REPO_ROOT)
            order = list(copies.items()) if round_number % 2 == 0 else list(copies.items())[::-1]
            measured = {
                variant: _timed_import(
                    ["app", *copy.path_of(function)], environment, copy.functions / function
                )
                for variant, copy in order
            }
            after = _timed_import(["boto3"], environment, REPO_ROOT)
            measured[BOTO3] = {key: (before[key] + after[key]) / 2 for key in before}
            for name, figures in measured.items():
                samples[name].append(
                    figures | {f"{key}_ratio": figures[key] / measured[BOTO3][key] for key in ("wall", "cpu")}
                )
        written = bytecode_files(copies["source"].layer.parent)
        if written:
            raise RuntimeError(f"the read-only copy was written to: {written} .pyc appeared")
    medians = {
        name: {key: statistics.median(s[key] for s in measured) for key in measured[0]}
        for name, measured in samples.items()
    }
    return Shipped(
        function,
        medians[BOTO3]["cpu"] * 1000,
        {variant: medians[variant]["cpu"] * 1000 for variant in SHIPPED_VARIANTS},
        {variant: medians[variant]["cpu_ratio"] for variant in SHIPPED_VARIANTS},
        {variant: medians[variant]["wall_ratio"] for variant in SHIPPED_VARIANTS},
        _middle_half([s["cpu_ratio"] for s in samples["bytecode"]]),
        compiled,
    )


def _middle_half(values: list[float]) -> tuple[float, float]:
    lower, _, upper = statistics.quantiles(values, n=4)
    return lower, upper


def _timed_import(args: list[str], environment: dict[str, str], cwd: Path) -> dict[str, float]:
    """One fresh import, unable to write the code; in the function's code directory, as Lambda runs
    it (/var/task), for a handler."""
    return dict(json.loads(_run(_IMPORT_SCRIPT, args, environment, cwd=cwd, read_only=True)))


# The functions whose first invocation is measured, by folder name and logical id, with the sample
# event whose two variants each invocation gets (for two seeded customers, so neither is a duplicate
# or held back by the frequency cap).
_INVOKED = {
    "cart_abandoned": ("CartAbandonedFunction", "cart_abandoned/vip_ada.json"),
    "order_placed": ("OrderPlacedFunction", "order_placed/first_order_priya.json"),
    "customer_lapsed": ("CustomerLapsedFunction", "customer_lapsed/at_risk_sam.json"),
    "catalog": ("CatalogFunction", "product_updated/knit_hat.json"),
}


def _two_events(sample_name: str, customers: list[str]) -> list[dict[str, Any]]:
    sample = next(s for s in load_sample_events() if s.name == sample_name)
    events = []
    for customer in customers:
        if sample.is_product:
            varied = sample.varied(customer, sku=f"SKU-{customer}")
        else:
            ids = {"cart_id": f"cart_{customer}", "order_id": f"ord_{customer}"}
            fields = {key: value for key, value in ids.items() if key in sample.event["detail"]}
            varied = sample.varied(customer, customer_id=customer, **fields)
        events.append(sqs_event(varied.event, message_ids=[f"msg-{customer}"]))
    return events


def bench_first_invocations(rounds: int = ROUNDS) -> dict[str, dict[str, float]]:
    """Median CPU seconds of each measured function's first and second invocation in a fresh
    interpreter, against the local stack (moto in its own process, so its CPU is not counted)."""
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in _INVOKED}
    with running_moto(own_process=True) as moto, tempfile.TemporaryDirectory() as scratch:
        stack = build_stack()
        verify_sender_identity(stack)
        seed_sample_data(stack)
        for round_number in range(rounds):
            for name, (logical_id, sample_name) in _INVOKED.items():
                # New customers for every run: no event is a duplicate of an earlier one, and no email
                # is held back by the frequency cap.
                customers = [f"cus_cold_{name}_{round_number}_{number}" for number in (1, 2)]
                for customer_id in customers:
                    put_shopper(stack, customer_id)
                spec = stack.functions[logical_id]
                events_file = Path(scratch) / f"{name}.json"
                events_file.write_text(
                    json.dumps(
                        {"clock": SAMPLE_DAY_CLOCK.isoformat(), "events": _two_events(sample_name, customers)}
                    )
                )
                credentials = {
                    k: v for k, v in FAKE_AWS_ENVIRONMENT.items() if k != "POWERTOOLS_TRACE_DISABLED"
                }
                environment = _lambda_environment(
                    {**spec.environment, **credentials, "AWS_ENDPOINT_URL": moto.url}
                )
                environment["AWS_LAMBDA_FUNCTION_NAME"] = spec.name
                out = _run(
                    _INVOKE_SCRIPT, [str(events_file), str(spec.code_dir), str(LAYER_DIR)], environment
                )
                line = next(line for line in out.splitlines() if line.startswith("COLD-START "))
                samples[name].append(json.loads(line.removeprefix("COLD-START ")))
    figures = {}
    for name, measured in samples.items():
        first = statistics.median(m["invocations"][0] for m in measured)
        second = statistics.median(m["invocations"][1] for m in measured)
        figures[name] = {
            "first_cpu": first,
            "second_cpu": second,
            "extra_cpu": statistics.median(m["invocations"][0] - m["invocations"][1] for m in measured),
        }
    return figures


def cold_start_rows(rounds: int = ROUNDS, *, invocations: bool = True) -> list[Row]:
    """The table's rows: bare ``import boto3`` first, then each function (template order)."""
    imports = bench_imports(rounds)
    invoked = bench_first_invocations(rounds) if invocations else {}
    rows = [Row(BOTO3, imports[BOTO3]["wall"] * 1000, imports[BOTO3]["cpu"] * 1000)]
    for name in template_functions():
        rows.append(
            Row(
                name,
                imports[name]["wall"] * 1000,
                imports[name]["cpu"] * 1000,
                ratio=imports[name]["wall_ratio"],
                cpu_ratio=imports[name]["cpu_ratio"],
                first_invocation_extra_cpu_s=invoked[name]["extra_cpu"] if name in invoked else None,
            )
        )
    return rows


def main() -> None:
    rows = cold_start_rows()
    print(
        f"cold start, fresh interpreters, Lambda's environment (tracing on), medians of {ROUNDS} "
        "interleaved rounds (targets: import <= 1.5x boto3, first invocation's extra CPU <= 0.3 s):"
    )
    print(
        f"  {'':<22} {'import ms':>9} {'x boto3':>8} {'CPU ms':>7} {'x boto3':>8} {'1st call extra CPU':>19}"
    )
    for row in rows:
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else ""
        cpu_ratio = f"{row.cpu_ratio:.2f}x" if row.cpu_ratio is not None else ""
        extra = row.first_invocation_extra_cpu_s
        extra_text = f"{extra:.3f} s" if extra is not None else ""
        print(
            f"  {row.name:<22} {row.import_ms:>9.0f} {ratio:>8} {row.import_cpu_ms:>7.0f} {cpu_ratio:>8} "
            f"{extra_text:>19}"
        )
    shipped = bench_shipped_imports()
    print(
        f"{shipped.function}'s import as shipped: the layer and its code built for this Python "
        f"(local_stack/bench/layer.py), read-only, medians of {ROUNDS} interleaved rounds against "
        f"import boto3 ({shipped.boto3_cpu_ms:.0f} ms CPU; target: <= 2x, nothing compiled):"
    )
    for variant, label in SHIPPED_VARIANTS.items():
        print(
            f"  {label:<32} {shipped.cpu_ms[variant]:>5.0f} ms CPU {shipped.cpu_ratio[variant]:>5.2f}x "
            f"(wall {shipped.wall_ratio[variant]:.2f}x), {shipped.compiled_modules[variant]} modules compiled"
        )


if __name__ == "__main__":
    main()
