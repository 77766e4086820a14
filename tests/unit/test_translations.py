"""The shipped catalogs: complete, not fuzzy, in step with the templates, and well-formed."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from local_stack.emulator.stack import REPO_ROOT

TEMPLATES = REPO_ROOT / "templates"
CATALOGS = sorted(TEMPLATES.glob("locale/*/LC_MESSAGES/messages.po"))
SHIPPED = {"en", "de", "fr", "es"}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
FORMAT_TOKEN = re.compile(r"%%|%\(\w+\)s")


def read(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po)


@cache  # the templates do not change during a run: extracted once, not once per language
def template_messages() -> frozenset[str]:
    """What pybabel extracts from the templates now, as `make i18n-extract` does (babel.cfg)."""
    options = {
        "extensions": "jinja2.ext.i18n",
        "trimmed": "true",
        "trim_blocks": "true",
        "lstrip_blocks": "true",
    }
    found = extract_from_dir(
        str(TEMPLATES),
        method_map=[("**.j2", "jinja2")],
        options_map={"**.j2": options},
        directory_filter=lambda _: True,
    )
    return frozenset(message if isinstance(message, str) else message[0] for _, _, message, _, _ in found)


def test_every_shipped_language_has_a_catalog() -> None:
    assert {path.parts[-3] for path in CATALOGS} == SHIPPED


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.parts[-3])
def test_a_catalog_has_every_message_of_the_templates_translated_and_none_fuzzy(path: Path) -> None:
    catalog = read(path)
    ids = {message.id if isinstance(message.id, str) else message.id[0] for message in catalog if message.id}
    assert template_messages() - ids == set(), "run make i18n-update and translate the new messages"
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, f"{path.parts[-3]}: fuzzy {message.id!r}"
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"{path.parts[-3]}: untranslated {message.id!r}"


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.parts[-3])
def test_a_translation_keeps_the_placeholders_and_escapes_its_percent_signs(path: Path) -> None:
    for message in read(path):
        if not message.id:
            continue
        ids = tuple(message.id) if isinstance(message.id, tuple | list) else (str(message.id),)
        raw = message.string
        strings = tuple(str(s) for s in raw) if isinstance(raw, tuple | list) else (str(raw or ""),)
        expected = set(PLACEHOLDER.findall(ids[-1]))
        for form, string in enumerate(strings):
            found = set(PLACEHOLDER.findall(string))
            # A singular may leave the count out ("one item"), as English does.
            allowed = expected - {"count"} if len(ids) > 1 and form == 0 else expected
            assert allowed <= found <= expected, f"{path.parts[-3]}: {message.id!r} -> {string!r}"
            assert "%" not in FORMAT_TOKEN.sub("", string), f"{path.parts[-3]}: lone % in {string!r}"


def test_the_build_compiles_catalogs_with_the_runtimes_babel() -> None:
    pinned = re.search(r"^babel==(\S+)$", (REPO_ROOT / "layers/nudge/requirements.txt").read_text(), re.M)
    assert pinned is not None
    assert f"BABEL_VERSION := {pinned[1]}" in (TEMPLATES / "Makefile").read_text()
