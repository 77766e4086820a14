"""Opens every email of the gallery in headless Chromium, at desktop and mobile width, and checks what
a reader would see: nothing wider than the screen, every image described, the call to action on the
first mobile screen, no text too small to read, no errors in the console.

One browser and one page for the whole run: each email is loaded once at the desktop width and
checked, then the same page is narrowed to the mobile width (the email's media queries apply) and
checked again. The emails are files (``file://``); anything they ask of the network is answered here
and never leaves the machine: an image with a placeholder picture (the sample catalog's image URLs
do not exist), anything else with an empty response, recorded as a failure (an email loads no
scripts, styles or fonts).

Needs Playwright (requirements-dev.txt) and Debian's ``chromium`` (Playwright's own browser download
is not used).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preview.gallery import INDEX, MANIFEST
from preview.page import WIDTHS

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "chromium", "chromium-browser")
"""Where the system's Chromium is looked for; ``PREVIEW_CHROMIUM`` names another."""
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Playwright adds ``--headless`` and a fresh ``--user-data-dir`` of its own on every launch."""
FOLD_PX = 800
"""The call to action must end above this on the mobile screen."""
MIN_FONT_PX = 12.0
REPORT = "browser-check.txt"
"""Every failure of the last check, one a line, next to the gallery."""
SHOWN_FAILURES = 60

RULES = {
    "overflow": "no horizontal overflow",
    "img-alt": "every <img> has an alt",
    "cta": f"call to action above {FOLD_PX} px (mobile)",
    "font-size": f"no text under {MIN_FONT_PX:g} px",
    "console": "no console errors",
    "network": "no remote resource but images",
    "index": "the index lists every email",
}

# A 1x1 grey PNG: what every remote image shows as (the sample images do not exist).
_PLACEHOLDER_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGO4DgAA3ADbQ3qaRgAAAABJRU5ErkJggg=="
)

# Runs in the page: the failures of the email as laid out now, as [rule, detail] pairs.
_CHECKS = """
({mobile, fold, minFont}) => {
  const failures = [];
  const width = window.innerWidth;
  const describe = (element) => {
    const cls = element.getAttribute('class');
    const text = (element.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
    return `<${element.tagName.toLowerCase()}${cls ? ` class="${cls}"` : ''}>` + (text ? ` "${text}"` : '');
  };
  const scrollWidth = document.documentElement.scrollWidth;
  if (scrollWidth > width) {
    const wide = [...document.body.querySelectorAll('*')].filter((element) => {
      const box = element.getBoundingClientRect();
      return box.width > 0 && box.right > width + 0.5;
    });
    const innermost = wide.filter(
      (element) => !wide.some((other) => other !== element && element.contains(other)));
    failures.push(['overflow', `${scrollWidth} px wide in a ${width} px window: ` +
      innermost.slice(0, 3).map(describe).join(', ')]);
  }
  for (const image of document.images) {
    if (!image.hasAttribute('alt')) {
      failures.push(['img-alt', `<img src="${image.getAttribute('src')}"> has no alt`]);
    }
  }
  if (mobile) {
    const cta = document.querySelector('a.button');
    if (cta === null) {
      failures.push(['cta', 'no call to action (a link with class "button", _partials/button.html.j2)']);
    } else {
      const box = cta.getBoundingClientRect();
      const bottom = Math.round(box.bottom + window.scrollY);
      if (!cta.checkVisibility({opacityProperty: true, visibilityProperty: true}) || box.height === 0) {
        failures.push(['cta', `the call to action ${describe(cta)} is not visible`]);
      } else if (bottom > fold) {
        failures.push(['cta', `the call to action ${describe(cta)} ends ${bottom} px down`]);
      }
    }
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const element = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || element === null || seen.has(element)) continue;
    seen.add(element);
    if (!element.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
    const size = parseFloat(getComputedStyle(element).fontSize);
    if (size < minFont) failures.push(['font-size', `${size} px: ${describe(element)}`]);
  }
  return failures;
}
"""


@dataclass(frozen=True)
class Failure:
    email: str
    """The email's HTML file in the gallery."""
    width: int
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.email} at {self.width} px: {RULES[self.rule]}: {self.detail}"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("PREVIEW_CHROMIUM"), *CHROMIUM_CANDIDATES):
        found = shutil.which(candidate) if candidate else None
        if found:
            return found
    return None


def check_gallery(gallery: Path) -> int:
    """The check of ``make preview-check``: prints a summary table and each failure; 0 if none."""
    manifest = gallery / MANIFEST
    if not manifest.exists():
        print(f"no gallery in {gallery}: run make preview first", file=sys.stderr)
        return 1
    executable = chromium_path()
    if executable is None:
        print(
            "headless Chromium not found: install Debian's chromium (apt-get install chromium), "
            "or set PREVIEW_CHROMIUM to a Chromium binary",
            file=sys.stderr,
        )
        return 1
    entries: list[dict[str, Any]] = json.loads(manifest.read_text(encoding="utf-8"))
    started = time.perf_counter()
    failures, version = check_emails(gallery, [entry["html"] for entry in entries], executable)
    seconds = time.perf_counter() - started
    print(summary(failures, len(entries), version, seconds))
    (gallery / REPORT).write_text("".join(f"{failure}\n" for failure in failures), encoding="utf-8")
    for failure in failures[:SHOWN_FAILURES]:
        print(f"  {failure}")
    if len(failures) > SHOWN_FAILURES:
        print(f"  ... and {len(failures) - SHOWN_FAILURES} more: {gallery / REPORT}")
    return 1 if failures else 0


def check_emails(gallery: Path, emails: list[str], executable: str) -> tuple[list[Failure], str]:
    """Every email at every width, then the index (it lists each email, opens a section's emails, and
    does so without errors); the failures, and the browser's version."""
    from playwright.sync_api import sync_playwright

    failures: list[Failure] = []
    current: dict[str, Any] = {"email": INDEX, "width": WIDTHS["desktop"]}

    def fail(rule: str, detail: str) -> None:
        failures.append(Failure(current["email"], current["width"], rule, detail))

    def answer(route: Route) -> None:
        request = route.request
        if request.resource_type == "image":
            route.fulfill(status=200, content_type="image/png", body=_PLACEHOLDER_PNG)
            return
        fail("network", f"loads {request.resource_type} {request.url}")
        route.fulfill(status=204, body=b"")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_FLAGS))
        try:
            page = browser.new_page(viewport={"width": WIDTHS["desktop"], "height": FOLD_PX})
            page.route(re.compile(r"^(?!file:)"), answer)
            page.on(
                "console", lambda message: fail("console", message.text) if message.type == "error" else None
            )
            page.on("pageerror", lambda error: fail("console", str(error)))
            # Desktop then mobile, then mobile then desktop for the next email: one resize an email.
            widths = list(WIDTHS.items())
            for email in emails:
                current["email"] = email
                _check_email(page, (gallery / email).read_text(encoding="utf-8"), widths, current, fail)
                widths.reverse()
            current.update(email=INDEX, width=WIDTHS["desktop"])
            _check_index(page, gallery / INDEX, len(emails), fail)
            return failures, browser.version
        finally:
            browser.close()


def _check_email(
    page: Page,
    html: str,
    widths: list[tuple[str, int]],
    current: dict[str, Any],
    fail: Callable[[str, str], None],
) -> None:
    """Loaded once (as the document's content: no navigation, so no new renderer process per email)
    at the first of ``widths``, the page's width now, and checked; then resized to the next and
    checked again."""
    for position, (label, width) in enumerate(widths):
        current["width"] = width
        if position == 0:
            page.set_content(html, wait_until="load")
        else:
            page.set_viewport_size({"width": width, "height": FOLD_PX})
        arguments = {"mobile": label == "mobile", "fold": FOLD_PX, "minFont": MIN_FONT_PX}
        for rule, detail in page.evaluate(_CHECKS, arguments):
            fail(rule, detail)


_OPENED_FRAMES = "main details[open] iframe[src]"
FRAMES_WAIT_MS = 10_000
"""How long the index may take to load an opened section's frames."""


def _check_index(page: Page, index: Path, emails: int, fail: Callable[[str, str], None]) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    page.set_viewport_size({"width": 1400, "height": FOLD_PX})
    page.goto(index.resolve().as_uri())
    listed = page.locator("article").count()
    if listed != emails:
        fail("index", f"lists {listed} emails, the gallery has {emails}")
    page.locator("main details > summary").first.click()
    expected = page.locator("main details[open] details[open] article").count() * len(WIDTHS)
    # The toggle event that loads the frames fires after the click returns (later on a loaded
    # machine), so the count is awaited, not read at once.
    try:
        page.wait_for_function(
            "([selector, n]) => n > 0 && document.querySelectorAll(selector).length === n",
            arg=[_OPENED_FRAMES, expected],
            timeout=FRAMES_WAIT_MS,
        )
    except PlaywrightTimeoutError:
        opened = page.locator(_OPENED_FRAMES).count()
        fail("index", f"opening a segment loads {opened} email frames, not {expected}")
    page.wait_for_load_state("load")


def summary(failures: list[Failure], emails: int, version: str, seconds: float) -> str:
    """The table: each rule's failures at each width."""
    counts = Counter((failure.rule, failure.width) for failure in failures)
    failed = len({failure.email for failure in failures})
    widths = list(WIDTHS.items())
    rule_width = max(len(text) for text in RULES.values())
    header = f"{'rule':<{rule_width}}" + "".join(f"  {f'{label} {px} px':>14}" for label, px in widths)
    lines = [
        f"browser check: {emails} emails at {' and '.join(f'{px} px' for _, px in widths)} in headless "
        f"Chromium {version}, {seconds:.1f} s",
        header,
    ]
    for rule, text in RULES.items():
        cells = "".join(
            f"  {'-' if rule == 'cta' and label != 'mobile' else counts[(rule, px)]:>14}"
            for label, px in widths
        )
        lines.append(f"{text:<{rule_width}}{cells}")
    verdict = f"{failed} of {emails} emails failed" if failures else f"all {emails} emails pass"
    lines.append(f"{verdict}" + (f" ({len(failures)} failures)" if failures else ""))
    return "\n".join(lines)
