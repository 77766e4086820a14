"""Store data written per language (a product's ``names``, a segment's perks and offer titles): the
entry an email in one language uses, the stored value being the caller's fallback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, TypeVar

from pydantic import Field

LanguageTag = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$", max_length=35)]
"""A BCP 47 language tag as stores write them: ``de``, ``pt-BR``, ``zh-Hant-TW``."""

MAX_LANGUAGES = 50
"""Languages one field may be written in: more than any store sells in, and rows that stay far
below DynamoDB's 400 KB item limit."""

Value = TypeVar("Value")


def for_language(entries: Mapping[str, Value], language: str) -> Value | None:
    """The entry for ``language`` (``de`` or ``pt-BR``): its own, else its base language's (``pt``),
    else the first regional variant of the base by tag (``de-AT`` before ``de-CH``); None when the
    store wrote none of these."""
    if language in entries:
        return entries[language]
    base = language.split("-", 1)[0]
    if base in entries:
        return entries[base]
    regional = sorted(tag for tag in entries if tag.split("-", 1)[0] == base)
    return entries[regional[0]] if regional else None
