"""Every link of a rendered email, and which store links lack the UTM parameters."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

from nudge.rendering import RenderedEmail
from nudge.settings import Settings

_TEXT_URL = re.compile(r"https?://[^\s<>\"']+")
REQUIRED = ("utm_source", "utm_medium", "utm_campaign", "utm_content")


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value for name, value in attrs if name == "href" and value]

    def handle_comment(self, data: str) -> None:
        # Outlook's VML button lives in a conditional comment; its href is a link too.
        self.hrefs += [html.unescape(href) for href in re.findall(r'href="([^"]+)"', data)]


def links(email: RenderedEmail) -> list[str]:
    parser = _Hrefs()
    parser.feed(email.html)
    text_urls = [url.rstrip(".,;:!?)") for url in _TEXT_URL.findall(email.text)]
    return [*parser.hrefs, *text_urls]


def untracked_store_links(email: RenderedEmail, settings: Settings) -> list[str]:
    """Links to the store's own domains without every UTM parameter."""
    untracked = []
    for url in links(email):
        host = (urlsplit(url).hostname or "").lower()
        if not any(host == d or host.endswith("." + d) for d in settings.store_domains):
            continue
        query = parse_qs(urlsplit(url).query)
        if any(key not in query for key in REQUIRED) or query["utm_medium"] != ["email"]:
            untracked.append(url)
    return untracked
