"""What a handler's import may cost on a cold start: no Powertools parser models package (ours are
in nudge.envelopes) and no Powertools Parameters, no X-Ray patching of libraries we do not use, no
rendering stack where nothing renders, never scipy, no AWS Session or client (the import stays free
of side effects), and no garbage collection while it runs (nudge.function_import)."""

from __future__ import annotations
import __future__

import importlib
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from aws_lambda_powertools.utilities.parser import models as powertools_models
from pydantic import BaseModel

import nudge
from local_stack.bench.cold_start import LAMBDA_MARKERS, LAYER_DIR, template_functions
from local_stack.emulator.stack import REPO_ROOT, powertools_environment
from nudge import envelopes

RENDERING = ("jinja2", "css_inline", "nudge.rendering", "nudge.mime")
SENDS_EMAIL = {"cart_abandoned", "order_placed", "customer_lapsed"}
# Nothing that sends email is async; X-Ray's wrapt would import asyncio from 2.2 on (its pin in
# layers/nudge/requirements.txt). Powertools' event handler and batch packages import it themselves.
NOT_WHERE_EMAIL_IS_SENT = ("asyncio",)
# Powertools' Parameters imports a provider for every store (SSM, AppConfig, DynamoDB); the one secret
# is read through nudge.adapters.secrets.
NEVER = (
    "aws_lambda_powertools.utilities.parser.models",
    "aws_lambda_powertools.utilities.parameters",
    "scipy",
    "requests",
    "sqlite3",
)

_PROBE = """
import gc, json, sys
collections = []
# A collection, and whether the layer's package was imported by then (what app.py imports from the
# standard library before it, Lambda's runtime has mostly imported already).
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append("nudge" in sys.modules))
sys.path[:0] = sys.argv[1:]
import app
during_import = list(collections)
from nudge.adapters import clients
print(json.dumps({
    "modules": sorted(sys.modules),
    "sessions": clients.session.cache_info().currsize,
    "collections_during_import": during_import,
    "collects_after_import": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
}))
"""


def _shape(model: type[BaseModel]) -> dict[str, tuple[str | None, bool]]:
    return {name: (field.alias, field.is_required()) for name, field in model.model_fields.items()}


@pytest.mark.parametrize(
    "name", ["EventBridgeModel", "SqsRecordModel", "SqsAttributesModel", "SqsMsgAttributeModel"]
)
def test_our_envelopes_have_the_fields_of_powertools_own(name: str) -> None:
    assert _shape(getattr(envelopes, name)) == _shape(getattr(powertools_models, name))


@pytest.mark.slow
@pytest.mark.parametrize("function", sorted(template_functions()))
def test_a_handler_import_loads_only_what_its_function_needs(function: str) -> None:
    # Lambda's environment, so the Tracer is enabled and patches as it does in AWS.
    environment = {"PATH": "/usr/bin:/bin", **powertools_environment(), **LAMBDA_MARKERS}
    code_dir = template_functions()[function]
    done = subprocess.run(  # noqa: S603 - our own interpreter importing our own handler
        [sys.executable, "-c", _PROBE, str(code_dir), str(LAYER_DIR)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO_ROOT,
        check=True,
    )
    probe = json.loads(done.stdout)
    modules = set(probe["modules"])
    assert probe["sessions"] == 0
    # The collector stopped for the import, and runs after it, the import's objects left out of it.
    assert True not in probe["collections_during_import"]
    assert probe["collects_after_import"]
    assert probe["frozen"] > 10_000
    assert not modules & set(NEVER)
    if function not in SENDS_EMAIL:
        assert not modules & set(RENDERING)
    else:
        assert not modules & set(NOT_WHERE_EMAIL_IS_SENT)


def _subclasses(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    for subclass in model.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)


def test_every_model_of_the_package_is_built_on_first_use() -> None:
    # A function builds the validators of what it validates, not of every model its imports define:
    # the cart function's import defines 44 and its emails validate 9 (the rest are other functions',
    # or nested in those 9, whose schemas include them).
    for module in pkgutil.walk_packages(nudge.__path__, "nudge."):
        importlib.import_module(module.name)
    eager = sorted(
        f"{model.__module__}.{model.__qualname__}"
        for model in _subclasses(BaseModel)
        if model.__module__.startswith("nudge.") and not model.model_config.get("defer_build")
    )
    assert eager == []


def test_no_module_of_the_package_that_defines_a_model_postpones_its_annotations() -> None:
    # Postponed annotations are strings that pydantic compiles and evaluates, one by one, when it
    # collects a model's fields: about a third of what defining a model costs at import.
    for module in pkgutil.walk_packages(nudge.__path__, "nudge."):
        importlib.import_module(module.name)
    postponed = sorted(
        {
            model.__module__
            for model in _subclasses(BaseModel)
            if model.__module__.startswith("nudge.")
            and vars(sys.modules[model.__module__]).get("annotations") is __future__.annotations
        }
    )
    assert postponed == []
