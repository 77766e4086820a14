"""The private moto and botocore internals the local stack patches or reads (local_stack.emulator.patches)
are still there, as the patches were written for: each test names the attribute, what we do with it and
the versions the patches were written against. And nothing else in the repository patches moto or
botocore behind that module's back."""

from __future__ import annotations

import ast
import inspect
import re
from importlib.metadata import version
from typing import Any

import pytest
from botocore.endpoint import Endpoint
from botocore.hooks import HierarchicalEmitter
from moto.server import ThreadedMotoServer
from moto.ses.models import SESBackend
from moto.sqs.models import Message, Queue, SQSBackend

from local_stack.emulator import patches
from local_stack.emulator.patches import PRIVATE, WRITTEN_AGAINST, Private
from local_stack.emulator.stack import REPO_ROOT

REGION, ACCOUNT = "eu-west-1", "123456789012"
PROBES: dict[str, Any] = {
    # An instance of each owner of an ``instance`` attribute, made as moto and botocore make them.
    "botocore.endpoint.Endpoint": lambda: Endpoint(
        "https://dynamodb.invalid", "dynamodb", HierarchicalEmitter()
    ),
    "moto.sqs.models.SQSBackend": lambda: SQSBackend(REGION, ACCOUNT),
    "moto.sqs.models.Queue": lambda: Queue("probe", REGION, ACCOUNT),  # type: ignore[abstract]
    "moto.sqs.models.Message": lambda: Message("id", "body"),
    "moto.ses.models.SESBackend": lambda: SESBackend(REGION, ACCOUNT),
    "moto.server.ThreadedMotoServer": lambda: ThreadedMotoServer(
        ip_address="127.0.0.1", port=0, verbose=False
    ),
}


def _installed() -> str:
    return ", ".join(
        f"{name} {version(name)} (written against {WRITTEN_AGAINST[name]})" for name in WRITTEN_AGAINST
    )


def _problem(entry: Private) -> str | None:
    """What is wrong with this private thing in the installed packages, or None."""
    try:
        found = patches.original(entry)
    except (ImportError, AttributeError) as gone:
        return f"{entry.owner} is gone ({gone})"
    if entry.how == "added":
        return None if found is None else f"{entry.target} now exists in moto: use moto's and drop the patch"
    if entry.kind == "instance":
        return (
            None
            if hasattr(PROBES[entry.owner](), entry.name)
            else f"{entry.target} is no longer set on instances"
        )
    if found is None:
        return f"{entry.target} is gone"
    if entry.kind == "property":
        return None if isinstance(found, property) else f"{entry.target} is no longer a property"
    if entry.kind == "value":
        return None
    function = found.__func__ if isinstance(found, (staticmethod, classmethod)) else found
    if not callable(function):
        return f"{entry.target} is no longer callable"
    parameters = tuple(inspect.signature(function).parameters)
    expected = entry.parameters
    if parameters[: len(expected)] != expected or (entry.exact and parameters != expected):
        exactly = "exactly " if entry.exact else ""
        return f"{entry.target} takes {parameters}, the patch expects {exactly}{expected}"
    missing = [keyword for keyword in entry.keywords if keyword not in parameters]
    return f"{entry.target} has no parameter {missing}" if missing else None


@pytest.mark.parametrize("entry", PRIVATE, ids=lambda entry: entry.target)
def test_each_private_thing_the_local_stack_touches_is_still_there(entry: Private) -> None:
    problem = _problem(entry)
    assert problem is None, f"{problem}; it is {entry.how}: {entry.why}. Installed: {_installed()}"


def test_the_versions_the_patches_were_written_against_are_recorded_and_moto_is_pinned_to_it() -> None:
    # A new moto is a new pin in requirements-dev.txt: check the patches against it, then record it.
    assert {"moto", "botocore"} <= set(WRITTEN_AGAINST)
    pins = (REPO_ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    assert re.search(rf"^moto(\[[\w,]+\])?=={re.escape(WRITTEN_AGAINST['moto'])}$", pins, re.MULTILINE), (
        f"requirements-dev.txt pins another moto than the patches were written against: {_installed()}"
    )


def test_every_owner_of_an_instance_attribute_has_a_probe() -> None:
    assert {entry.owner for entry in PRIVATE if entry.kind == "instance"} <= set(PROBES)


def test_a_changed_signature_or_a_missing_attribute_is_named() -> None:
    send = Private(
        "botocore.endpoint.Endpoint", "_send", "wrapped", "probe", ("self", "request", "new"), exact=True
    )
    assert _problem(send) == (
        "botocore.endpoint.Endpoint._send takes ('self', 'request'), the patch expects exactly "
        "('self', 'request', 'new')"
    )
    gone = Private("moto.sqs.models.Queue", "_no_such_thing", "read", "probe", kind="instance")
    assert _problem(gone) == "moto.sqs.models.Queue._no_such_thing is no longer set on instances"
    assert _problem(Private("moto.no_such_module.Thing", "x", "read", "probe")) is not None


PATCHERS = {"setattr", "delattr"}
MOCK_PATCHERS = {"patch", "object"}


def _patches_of_moto_or_botocore(source: str) -> list[int]:
    """Lines that setattr, mock.patch or monkeypatch something of moto's or botocore's."""
    tree = ast.parse(source)
    theirs: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            theirs |= {
                (a.asname or a.name).split(".")[0]
                for a in node.names
                if a.name.split(".")[0] in {"moto", "botocore"}
            }
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in {"moto", "botocore"}:
            theirs |= {a.asname or a.name for a in node.names}
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if called not in PATCHERS | MOCK_PATCHERS:
            continue
        target = node.args[0]
        if isinstance(target, ast.Constant) and isinstance(target.value, str):
            if target.value.split(".")[0] in {"moto", "botocore"}:
                lines.append(node.lineno)
            continue
        while isinstance(target, ast.Attribute):
            target = target.value
        if isinstance(target, ast.Name) and target.id in theirs:
            lines.append(node.lineno)
    return lines


def test_nothing_else_patches_moto_or_botocore() -> None:
    allowed = {REPO_ROOT / "local_stack" / "emulator" / "patches.py"}
    found = []
    for folder in (
        "local_stack",
        "tests",
        "operations",
        "privacy",
        "marketing",
        "preview",
        "smoke",
        "reporting",
    ):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            if path not in allowed:
                source = path.read_text(encoding="utf-8")
                found += [
                    f"{path.relative_to(REPO_ROOT)}:{line}" for line in _patches_of_moto_or_botocore(source)
                ]
    assert found == [], "patch moto or botocore in local_stack/emulator/patches.py, naming it in PRIVATE"


def test_the_patch_finder_sees_a_patch() -> None:
    source = (
        "import botocore.client\nfrom moto.sqs.responses import SQSResponse\nfrom unittest import mock\n"
        "setattr(botocore.client.BaseClient, '_make_api_call', f)\n"
        "setattr(SQSResponse, 'x', f)\n"
        "mock.patch.object(botocore.client.BaseClient, '_make_api_call', f)\n"
        "mock.patch('botocore.endpoint.Endpoint._send', f)\n"
        "setattr(other, 'x', f)\n"
    )
    assert _patches_of_moto_or_botocore(source) == [4, 5, 6, 7]
