"""Every target a person runs is listed by `make help` (the Makefile's own help text, read as text:
make is not run)."""

from __future__ import annotations

import re

from local_stack.emulator.stack import REPO_ROOT

# The steps `make test` runs one by one, and the help and clean-up targets themselves.
NOT_LISTED = frozenset({"help", "lint", "typecheck", "template-lint", "pytest", "clean"})


def phony_targets(makefile: str) -> set[str]:
    return {
        target
        for line in makefile.splitlines()
        if line.startswith(".PHONY:")
        for target in line.removeprefix(".PHONY:").split()
    }


def help_text(makefile: str) -> str:
    recipe = makefile.split("\nhelp:\n", 1)[1].split("\n\n", 1)[0]
    return "\n".join(re.findall(r'@echo "(.*)"', recipe))


def test_every_target_is_in_make_help() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    listed = set(re.findall(r"\bmake ([a-z0-9-]+)", help_text(makefile)))
    assert sorted(phony_targets(makefile) - NOT_LISTED - listed) == []
    assert {
        "send-test",
        "segments-validate",
        "segments-load",
        "experiments-validate",
        "experiments-load",
    } <= listed
