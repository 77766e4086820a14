"""The layer's arrows point one way: AWS is called only from dal/ (DynamoDB) and adapters/ (the rest),
neither of which knows the pipeline, and SES feedback does not depend on the email pipeline."""

from __future__ import annotations

import ast
from pathlib import Path

from local_stack.stack import REPO_ROOT

PACKAGE_ROOT = REPO_ROOT / "layers" / "nudge"
# The modules that do the work above the data: nothing below them may import them.
UPPER = (
    "nudge.pipeline",
    "nudge.sending",
    "nudge.batch",
    "nudge.triggers",
    "nudge.feedback",
    "nudge.reengagement",
)
AWS_SDK = ("boto3", "botocore")
# Where AWS may be called: the data-access modules (DynamoDB), including the run's checkpoints, which
# live next to the run they record, and the adapters (everything else).
CALLS_AWS = ("nudge.dal", "nudge.adapters", "nudge.reengagement.checkpoints")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def import_graph(root: Path = PACKAGE_ROOT / "nudge") -> dict[str, set[str]]:
    """What each module of the package imports (modules and imported names, fully qualified)."""
    return {_module_name(path): _imports(path) for path in root.rglob("*.py")}


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in prefixes)


def layering_problems(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, imported in sorted(graph.items()):
        lower = _within(module, ("nudge.dal", "nudge.adapters"))
        calls_aws = _within(module, CALLS_AWS)
        for name in sorted(imported):
            if _within(name, AWS_SDK) and not calls_aws:
                problems.append(f"{module} imports {name}: AWS is called from nudge.dal or nudge.adapters")
            if _within(name, ("nudge.adapters.clients",)) and not calls_aws:
                problems.append(f"{module} uses a client: call a nudge.dal or nudge.adapters function")
            if lower and _within(name, UPPER):
                problems.append(f"{module} imports {name}: an arrow back up")
    return problems


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
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
        "nudge.batch",
        "nudge.triggers",
    }


def test_an_arrow_back_up_or_a_client_outside_the_adapters_is_named() -> None:
    graph = {
        "nudge.dal.runs": {"nudge.reengagement.models"},
        "nudge.deferral": {"nudge.adapters.clients", "botocore.exceptions"},
        "nudge.adapters.ses": {"botocore.exceptions", "nudge.adapters.clients"},
    }
    assert layering_problems(graph) == [
        "nudge.dal.runs imports nudge.reengagement.models: an arrow back up",
        "nudge.deferral imports botocore.exceptions: AWS is called from nudge.dal or nudge.adapters",
        "nudge.deferral uses a client: call a nudge.dal or nudge.adapters function",
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
