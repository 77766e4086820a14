"""local_stack's rooms, derived from the imports: the emulator is the bottom room and imports none of
the rooms built on it (bench, faults, cli); those rooms use the emulator and their own modules, not
each other's; and the project's other tools (operations, privacy, marketing, preview) use only the
emulator."""

from __future__ import annotations

import ast
from pathlib import Path

from local_stack.emulator.stack import REPO_ROOT

LOCAL_STACK = REPO_ROOT / "local_stack"
BOTTOM = "local_stack.emulator"
ROOMS_ABOVE = ("local_stack.bench", "local_stack.faults", "local_stack.cli")
TOOLS = ("operations", "privacy", "marketing", "preview")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every local_stack module or name imported anywhere in the file (inside functions and
    ``TYPE_CHECKING`` blocks too: an arrow is an arrow wherever it is drawn)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if _within(name, ("local_stack",))}


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in prefixes)


def _room(name: str) -> str | None:
    return next((room for room in (BOTTOM, *ROOMS_ABOVE) if _within(name, (room,))), None)


def import_graph(*roots: Path) -> dict[str, set[str]]:
    """What each module under these folders imports of local_stack (fully qualified)."""
    return {_module_name(path): _imports(path) for root in roots for path in sorted(root.rglob("*.py"))}


def room_problems(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, imported in sorted(graph.items()):
        own = _room(module)
        for name in sorted(imported):
            target = _room(name)
            if target is None or target == own:
                continue
            if own == BOTTOM:
                problems.append(f"{module} imports {name}: the emulator must not import the rooms above it")
            elif own is not None and target != BOTTOM:
                problems.append(f"{module} imports {name}: a room uses the emulator, not another room")
            elif own is None and _within(module, TOOLS) and target != BOTTOM:
                problems.append(f"{module} imports {name}: the project's tools use only the emulator")
    return problems


def test_the_emulator_imports_no_room_above_it_and_the_rooms_not_each_other() -> None:
    graph = import_graph(LOCAL_STACK, *(REPO_ROOT / tool for tool in TOOLS))
    assert any(_within(name, (BOTTOM,)) for imported in graph.values() for name in imported)
    assert room_problems(graph) == []


def test_every_module_of_local_stack_lives_in_a_room() -> None:
    loose = [
        module for module in import_graph(LOCAL_STACK) if module != "local_stack" and _room(module) is None
    ]
    assert loose == [], (
        "put each module in emulator/, bench/, faults/ or cli/ (each room's __init__.py says what it holds)"
    )


def test_each_room_says_what_it_holds() -> None:
    for room in (BOTTOM, *ROOMS_ABOVE):
        init = REPO_ROOT.joinpath(*room.split("."), "__init__.py")
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} has no docstring"


def test_an_arrow_back_up_or_across_is_found() -> None:
    graph = {
        "local_stack.emulator.lambda_runtime": {"local_stack.faults.runs", "local_stack.emulator.stack"},
        "local_stack.bench.handler": {"local_stack.cli.demo.main", "local_stack.emulator.run"},
        "operations.__main__": {"local_stack.bench.table"},
        "local_stack.faults.runs": {"local_stack.faults.fuzz", "local_stack.emulator.failures"},
    }
    assert room_problems(graph) == [
        "local_stack.bench.handler imports local_stack.cli.demo.main: "
        "a room uses the emulator, not another room",
        "local_stack.emulator.lambda_runtime imports local_stack.faults.runs: "
        "the emulator must not import the rooms above it",
        "operations.__main__ imports local_stack.bench.table: the project's tools use only the emulator",
    ]
