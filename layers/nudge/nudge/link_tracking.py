"""UTM parameters on every link to the store, added once to the rendered email (HTML and text).

Templates never write UTM parameters: they may mark a link with the block it belongs to,
``data-utm-content="cta"``, and this pass, run on every rendered email, tags each link to one of the
store's domains with ``utm_source``, ``utm_medium=email``, ``utm_campaign`` (the trigger, with the
series step, e.g. ``cart_abandoned-2``) and ``utm_content`` (the block; ``link`` when unmarked), and
drops the marker. The text part has no attributes: a URL there takes the block of the same URL in
the HTML part. The original query string is kept byte for byte (only earlier ``utm_*`` values we set
are replaced) and so is the fragment. Links to other domains and the unsubscribe link are left alone.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

DEFAULT_BLOCK = "link"
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")

# A start tag with a link or a block marker (no other tag changes); attributes as an HTML serializer
# writes them (css-inline normalises the markup first).
_TAG = re.compile(r"<[a-zA-Z][\w:-]*(?=\s)[^>]*?\s(?:href|data-utm-content)=[^>]*>")
_HREF = re.compile(r"""(?P<before>\shref=)(?P<quote>["'])(?P<value>.*?)(?P=quote)""", re.DOTALL)
_BLOCK = re.compile(r"""\sdata-utm-content=(?P<quote>["'])(?P<value>.*?)(?P=quote)""", re.DOTALL)
_TEXT_URL = re.compile(r"https?://[^\s<>\"']+")
# Sentence punctuation after a URL in running text is not part of it.
_TRAILING = ".,;:!?)]}"


class LinkTracking(NamedTuple):
    source: str
    campaign: str
    domains: frozenset[str]
    """The store's hosts; subdomains count (``www.shop.example`` for ``shop.example``)."""
    untracked: frozenset[str] = frozenset()
    """Exact URLs never tagged (the unsubscribe link)."""
    term: str | None = None

    def tracks(self, url: str) -> bool:
        return url not in self.untracked and _on_domains(url, self.domains)

    def tagged(self, url: str, block: str) -> str:
        return _tagged(url, _utm_query(self.source, self.campaign, block, self.term))


# An email links to the same few store pages as every other (products, the store, preferences): a
# warm function splits and tags each once rather than a dozen times per email.
@lru_cache(maxsize=4096)
def _on_domains(url: str, domains: frozenset[str]) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower()
    return any(host == domain or host.endswith("." + domain) for domain in domains)


@lru_cache(maxsize=256)
def _utm_query(source: str, campaign: str, block: str, term: str | None) -> str:
    ours = {"utm_source": source, "utm_medium": "email", "utm_campaign": campaign, "utm_content": block}
    if term:
        ours["utm_term"] = term
    return urlencode(ours)


@lru_cache(maxsize=4096)
def _tagged(url: str, utm_query: str) -> str:
    parts = urlsplit(url)
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and unquote_plus(piece.split("=", 1)[0]) not in UTM_KEYS
    ]
    query = "&".join([*kept, utm_query])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def track_email(html_body: str, text_body: str, tracking: LinkTracking) -> tuple[str, str]:
    """Both parts with every store link tagged; the block markers are removed from the HTML."""
    blocks: dict[str, str] = {}
    tracked_html = _TAG.sub(lambda tag: _track_tag(tag.group(0), tracking, blocks), html_body)
    return tracked_html, track_text(text_body, tracking, blocks)


def _track_tag(tag: str, tracking: LinkTracking, blocks: dict[str, str]) -> str:
    marker = _BLOCK.search(tag)
    block = html.unescape(marker["value"]) if marker else DEFAULT_BLOCK
    if marker:
        tag = tag[: marker.start()] + tag[marker.end() :]

    def tag_href(href: re.Match[str]) -> str:
        url = html.unescape(href["value"])
        if not tracking.tracks(url):
            return href.group(0)
        blocks.setdefault(url, block)
        value = html.escape(tracking.tagged(url, block), quote=True)
        return f"{href['before']}{href['quote']}{value}{href['quote']}"

    return _HREF.sub(tag_href, tag)


def track_text(text: str, tracking: LinkTracking, blocks: Mapping[str, str]) -> str:
    def tag_url(found: re.Match[str]) -> str:
        candidate = found.group(0)
        url = candidate.rstrip(_TRAILING)
        tail = candidate[len(url) :]
        if not tracking.tracks(url):
            return candidate
        return tracking.tagged(url, blocks.get(url, DEFAULT_BLOCK)) + tail

    return _TEXT_URL.sub(tag_url, text)


def without_markers(html_body: str) -> str:
    """The HTML with the block markers removed and nothing tagged (link tracking turned off)."""
    return _TAG.sub(lambda tag: _BLOCK.sub("", tag.group(0)), html_body)
