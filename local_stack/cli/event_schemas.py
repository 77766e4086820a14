"""`make schemas`: a JSON Schema (draft 2020-12) of every store event Nudge consumes, in events/schemas/.

A store's developers can check the events they send (in their own tests, in any language) against
the contract Nudge validates them with: each schema is generated from the pydantic model the
function parses the event with, and describes the whole EventBridge event as EventBridge delivers it
(version, id, source, time, ..., detail), with its ``detail-type`` pinned.

Where pydantic's schema says less than the model checks and a schema keyword can say it, the
generator adds it: a decimal amount sent as a string gets a pattern (no minus, at most the model's
decimal places), an http(s) URL its scheme, a map with patterned keys (Product Updated's ``prices``
and ``names``) no other keys, and the Customer Updated fields that cannot be cleared lose their
``null``. What only Python code checks (ISO 4217's list, IANA time zone names, ...) is
listed in events/schemas/README.md.

``--check`` writes nothing and exits 1 naming the stale files, as tests/contract/ does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from local_stack.emulator.stack import REPO_ROOT
from nudge.catalog.events import ProductUpdatedEvent
from nudge.customers.events import CLEARABLE, CustomerDeletedEvent, CustomerUpdated, CustomerUpdatedEvent
from nudge.events import CartAbandonedEvent, CustomerLapsedEvent, OrderPlacedEvent

SCHEMAS_DIR = REPO_ROOT / "events" / "schemas"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# pydantic's decimal pattern takes any sign; an amount bounded at 0 or more never has a minus.
_SIGNED_DECIMAL_START = "^[+-]?"
_UNSIGNED_DECIMAL_START = r"^\+?"


@dataclass(frozen=True)
class StoreEvent:
    model: type[BaseModel]
    """The EventBridge model the consuming function validates the event with."""
    summary: str
    """What the store tells Nudge with it, for the schema's description."""
    never_null: tuple[str, ...] = ()
    """Optional detail fields a before-validator refuses as ``null``: pydantic's schema allows it."""

    @property
    def detail_type(self) -> str:
        (pinned,) = get_args(self.model.model_fields["detail_type"].annotation)
        return str(pinned)

    @property
    def file_name(self) -> str:
        return self.detail_type.lower().replace(" ", "-") + ".json"

    @property
    def detail_model(self) -> type[BaseModel]:
        detail = self.model.model_fields["detail"].annotation
        assert isinstance(detail, type) and issubclass(detail, BaseModel), detail
        return detail


STORE_EVENTS = (
    StoreEvent(CartAbandonedEvent, "A shopper left items in a cart: Nudge sends the cart's reminders."),
    StoreEvent(
        OrderPlacedEvent,
        "An order: Nudge sends the thank-you email, ends the cart's reminders and learns the products.",
    ),
    StoreEvent(
        CustomerLapsedEvent,
        "A customer who has not ordered for a while: Nudge sends a win-back email "
        "(its own scheduled run sends these too).",
    ),
    StoreEvent(
        ProductUpdatedEvent,
        "A product created or changed in the store's catalog: no email; the catalog emails recommend from.",
    ),
    StoreEvent(
        CustomerUpdatedEvent,
        "A customer created or changed: the fields present change, a clearable field sent as null "
        "is cleared, the others stay.",
        never_null=tuple(
            name
            for name, field in CustomerUpdated.model_fields.items()
            if not field.is_required() and name not in CLEARABLE
        ),
    ),
    StoreEvent(CustomerDeletedEvent, "The store asks Nudge to forget a customer (the right to erasure)."),
)


class _StoreSchemaGenerator(GenerateJsonSchema):
    """pydantic's draft 2020-12 generator, saying three checks its default schema leaves out."""

    def get_decimal_pattern(self, schema: core_schema.DecimalSchema) -> str | None:
        # By default a decimal sent as a string is any string ("twelve euros" would pass); pydantic's
        # opt-in pattern keeps the decimal places, and a non-negative bound drops the minus.
        pattern = self.build_decimal_pattern(schema)
        lowest = schema.get("ge", schema.get("gt"))
        if lowest is not None and lowest >= 0:
            if not pattern.startswith(_SIGNED_DECIMAL_START):
                raise RuntimeError(f"pydantic's decimal pattern changed ({pattern}): review the generator")
            pattern = _UNSIGNED_DECIMAL_START + pattern.removeprefix(_SIGNED_DECIMAL_START)
        return pattern

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        # A map whose keys have a pattern (Product Updated's prices and names) says it with
        # patternProperties, which let any other key through: Nudge refuses those keys.
        json_schema = super().dict_schema(schema)
        if "patternProperties" in json_schema:
            json_schema["additionalProperties"] = False
        return json_schema

    def url_schema(self, schema: core_schema.UrlSchema) -> JsonSchemaValue:
        # "format": "uri" takes any scheme (ftp:, mailto:); HttpUrl takes http and https only.
        json_schema = super().url_schema(schema)
        schemes = schema.get("allowed_schemes")
        if schemes:
            json_schema["pattern"] = f"^(?:{'|'.join(sorted(schemes))})://"
        return json_schema


def event_schema(event: StoreEvent) -> dict[str, Any]:
    schema = event.model.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_StoreSchemaGenerator
    )
    detail = schema["$defs"][event.detail_model.__name__]
    for name in event.never_null:
        detail["properties"][name] = _without_null(detail["properties"][name])
    model = f"{event.model.__module__}.{event.model.__qualname__}"
    schema |= {
        "$schema": DRAFT_2020_12,
        # The model's class name would change with a refactoring; this stays as long as the file.
        "title": f"nudge/{event.file_name.removesuffix('.json')}",
        "description": (
            f"{event.summary} The whole EventBridge event as it is delivered: what the store puts with "
            "PutEvents (source, detail-type, time, resources, detail) in the envelope EventBridge "
            f"completes (version, id, account, region). Generated by `make schemas` from {model}: "
            "edit the model, not this file."
        ),
    }
    quoted: dict[str, Any] = _markdown_quotes(schema)
    return quoted


def _without_null(property_schema: dict[str, Any]) -> dict[str, Any]:
    """``{"anyOf": [X, {"type": "null"}], "default": null, ...}`` as X with the rest of its keys."""
    (value,) = [branch for branch in property_schema["anyOf"] if branch != {"type": "null"}]
    rest = {key: v for key, v in property_schema.items() if key not in {"anyOf", "default"}}
    merged: dict[str, Any] = rest | value
    return merged


def _markdown_quotes(node: Any) -> Any:
    """Docstrings quote names in double backticks, as reStructuredText does; a schema reader's tools
    render Markdown, which takes one."""
    if isinstance(node, dict):
        # A detail field named "description" would be a schema (a dict), not text: it is recursed into.
        return {
            key: value.replace("``", "`")
            if isinstance(value, str) and key == "description"
            else _markdown_quotes(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_markdown_quotes(item) for item in node]
    return node


def rendered(schema: dict[str, Any]) -> str:
    """Sorted keys, two-space indent, a final newline: the same text for the same schema, every run."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def generated() -> dict[str, str]:
    """Each schema file's name and its text as the models say it now."""
    return {event.file_name: rendered(event_schema(event)) for event in STORE_EVENTS}


def stale_files(directory: Path = SCHEMAS_DIR) -> list[str]:
    """The schema files that differ from what the models generate, are missing, or are no longer
    generated (a detail-type renamed or dropped)."""
    expected = generated()
    present = {path.name for path in directory.glob("*.json")}
    differing = [
        name
        for name, text in expected.items()
        if not (directory / name).is_file() or (directory / name).read_text() != text
    ]
    return sorted([*differing, *(present - set(expected))])


def write(directory: Path = SCHEMAS_DIR) -> list[str]:
    """Writes every schema and removes those no longer generated; returns the files it changed."""
    changed = stale_files(directory)
    expected = generated()
    directory.mkdir(parents=True, exist_ok=True)
    for name in changed:
        if name in expected:
            (directory / name).write_text(expected[name])
        else:
            (directory / name).unlink()
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a schema is stale")
    args = parser.parse_args(argv)
    where = SCHEMAS_DIR.relative_to(REPO_ROOT)
    if args.check:
        stale = stale_files()
        for name in stale:
            print(f"stale: {where}/{name}")
        if stale:
            print("run `make schemas` and commit the result")
        return 1 if stale else 0
    changed = write()
    print(f"{where}: {', '.join(changed) + ' written' if changed else 'every schema up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
