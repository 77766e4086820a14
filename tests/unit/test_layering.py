"""The layer's arrows point one way: AWS is called only from dal/ (DynamoDB) and adapters/ (the rest);
what they import sits below them (derived from the imports, not from a list of modules); and SES
feedback does not depend on the email pipeline."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from local_stack.emulator.stack import REPO_ROOT

PACKAGE_ROOT = REPO_ROOT / "layers" / "nudge"
# The data layer: every call to AWS goes through it.
DATA_LAYER = ("nudge.dal", "nudge.adapters")
AWS_SDK = ("boto3", "botocore")
# Where AWS may be called: the data-access modules (DynamoDB), including the run's checkpoints, which
# live next to the run they record, and the adapters (everything else).
CALLS_AWS = ("nudge.dal", "nudge.adapters", "nudge.reengagement.checkpoints")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache  # each test reads the same files: parsed once a session
def _imports(path: Path) -> frozenset[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return frozenset(found)


def import_graph(root: Path = PACKAGE_ROOT / "nudge") -> dict[str, set[str]]:
    """What each module of the package imports (modules and imported names, fully qualified)."""
    return {_module_name(path): set(_imports(path)) for path in root.rglob("*.py")}


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in prefixes)


def layering_problems(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, imported in sorted(graph.items()):
        calls_aws = _within(module, CALLS_AWS)
        for name in sorted(imported):
            if _within(name, AWS_SDK) and not calls_aws:
                problems.append(f"{module} imports {name}: AWS is called from nudge.dal or nudge.adapters")
            if _within(name, ("nudge.adapters.clients",)) and not calls_aws:
                problems.append(f"{module} uses a client: call a nudge.dal or nudge.adapters function")
    return problems + arrows_back_up(graph)


def arrows_back_up(graph: dict[str, set[str]]) -> list[str]:
    """What the data layer imports of the package must sit below it: a module that reaches no
    data-layer module itself, in a package none of whose modules does. A value type in a room above
    (``nudge.catalog`` holds functions that write through the data layer) is an arrow back up:
    such types live in a module of their own."""
    modules = set(graph)

    def module_of(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    def uses_data_layer(module: str) -> bool:
        return any(_within(module_of(other), DATA_LAYER) for other in reachable(graph, module) - {module})

    def room(module: str) -> str:
        return ".".join(module.split(".")[:2])

    rooms_above = {room(m) for m in modules if not _within(m, DATA_LAYER) and uses_data_layer(m)}
    problems = []
    for module, imported in sorted(graph.items()):
        if not _within(module, DATA_LAYER):
            continue
        for target in sorted({module_of(name) for name in imported} - {""}):
            if _within(target, DATA_LAYER) or not _within(target, ("nudge",)):
                continue
            if uses_data_layer(target) or room(target) in rooms_above:
                problems.append(f"{module} imports {target}: an arrow back up")
    return problems


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo += [name for name in graph.get(module, set()) if name in graph]
    return seen


def test_aws_is_called_only_from_dal_and_adapters_and_they_import_nothing_above_them() -> None:
    assert layering_problems(import_graph()) == []


def test_ses_feedback_does_not_depend_on_the_email_pipeline() -> None:
    assert not reachable(import_graph(), "nudge.feedback") & {
        "nudge.pipeline",
        "nudge.sending.protocol",
        "nudge.trigger_handler",
        "nudge.triggers",
    }


def test_an_arrow_back_up_or_a_client_outside_the_adapters_is_named() -> None:
    graph = {
        # a value type in a room whose other module writes through the data layer
        "nudge.dal.runs": {"nudge.reengagement.models", "nudge.reengagement.models.Run", "nudge.profiles"},
        "nudge.reengagement.models": set(),
        "nudge.reengagement.worker": {"nudge.dal.runs"},
        "nudge.profiles": set(),
        # a module that itself reaches the data layer
        "nudge.dal.engagement": {"nudge.message_tags"},
        "nudge.message_tags": {"nudge.dal.deliveries"},
        "nudge.dal.deliveries": set(),
        "nudge.deferral": {"nudge.adapters.clients", "botocore.exceptions"},
        "nudge.adapters.ses": {"botocore.exceptions", "nudge.adapters.clients"},
        "nudge.adapters.clients": set(),
    }
    assert layering_problems(graph) == [
        "nudge.deferral imports botocore.exceptions: AWS is called from nudge.dal or nudge.adapters",
        "nudge.deferral uses a client: call a nudge.dal or nudge.adapters function",
        "nudge.dal.engagement imports nudge.message_tags: an arrow back up",
        "nudge.dal.runs imports nudge.reengagement.models: an arrow back up",
    ]


def test_both_ses_event_functions_share_one_check_of_the_configuration_set() -> None:
    # Engagement and feedback ignore another configuration set's events through one function, so a
    # fix to it (or to its metric) reaches both
    graph = import_graph()
    for module in ("nudge.engagement.apply", "nudge.feedback"):
        assert "nudge.ses_origin.from_our_configuration_set" in graph[module], module
    counting = sorted(
        _module_name(path)
        for path in (PACKAGE_ROOT / "nudge").rglob("*.py")
        if '"ForeignSesEvent"' in path.read_text(encoding="utf-8")
    )
    assert counting == ["nudge.ses_origin"]
