"""The browser check itself, on a gallery of two made-up emails: a good one passes, and a bad one
fails every rule, named with the email and the width.

The real gallery's check is `make preview-check` (CI runs it); these need headless Chromium (Debian's
`chromium`, which CI installs before `make test`) and are skipped without it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from preview.browser import check_emails, check_gallery, chromium_path
from preview.emails import Combination, PreviewEmail
from preview.gallery import write_gallery

CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or importlib.util.find_spec("playwright") is None,
    reason="needs Playwright and Debian's chromium",
)

GOOD = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="margin: 0; font-size: 16px">
<div class="preheader" style="display: none; font-size: 1px">Hidden text may be small</div>
<table role="presentation" width="100%" style="max-width: 600px"><tr><td>
<p>Hello <img src="https://shop.example/img/a.jpg" alt="A" width="56" height="56"></p>
<a class="button" href="https://shop.example/">Go</a>
<p style="font-size: 12px">The footer's 12 px is the smallest allowed.</p>
</td></tr></table></body></html>"""

BAD = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="https://fonts.example/font.css"></head>
<body style="margin: 0">
<table role="presentation" width="450"><tr><td class="wide">Fixed at 450 px</td></tr></table>
<img src="https://shop.example/img/b.jpg" width="56" height="56">
<p style="font-size: 10px">Too small to read</p>
<div style="height: 900px"></div>
<a class="button" href="https://shop.example/">Buy</a>
<script>throw new Error("boom");</script>
</body></html>"""


def _gallery(tmp_path: Path) -> Path:
    emails = [
        PreviewEmail(Combination("order_placed", "vip", "en", None, "default"), "S", "P", GOOD, "text"),
        PreviewEmail(Combination("order_placed", "default", "en", None, "default"), "S", "P", BAD, "text"),
    ]
    write_gallery(emails, tmp_path / "preview")
    return tmp_path / "preview"


def test_a_good_email_passes_and_a_bad_one_fails_every_rule(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    gallery = _gallery(tmp_path)
    good, bad = "order_placed/vip/en/default.html", "order_placed/default/en/default.html"

    failures, version = check_emails(gallery, [good, bad], CHROMIUM)

    assert version
    assert not [failure for failure in failures if failure.email != bad], failures
    # Asked for and thrown while loading, at whichever width the email was loaded
    assert {failure.rule for failure in failures if failure.rule in ("network", "console")} == {
        "network",  # the stylesheet
        "console",  # the script's error
    }
    found = {(f.rule, f.width) for f in failures if f.rule not in ("network", "console")}
    assert found == {
        ("overflow", 375),  # 450 px fits in 600, not in 375
        ("img-alt", 600),
        ("img-alt", 375),
        ("font-size", 600),
        ("font-size", 375),
        ("cta", 375),  # checked on the mobile screen only
    }
    messages = {failure.rule: str(failure) for failure in failures if failure.width == 375}
    assert messages["overflow"].startswith(f"{bad} at 375 px: no horizontal overflow: 450 px wide")
    assert '<td class="wide">' in messages["overflow"]
    assert "ends 1" in messages["cta"] and '"Buy"' in messages["cta"]
    assert '10 px: <p> "Too small to read"' in messages["font-size"]


def test_the_command_prints_the_table_and_fails_naming_the_email_and_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gallery = _gallery(tmp_path)

    assert check_gallery(gallery) == 1

    out = capsys.readouterr().out
    assert "browser check: 2 emails at 600 px and 375 px in headless Chromium" in out
    assert "1 of 2 emails failed" in out
    assert "order_placed/default/en/default.html at 375 px: call to action above 800 px (mobile)" in out
    assert (gallery / "browser-check.txt").read_text().count("\n") == 8


def test_an_index_that_loads_its_frames_a_moment_after_the_click_passes(tmp_path: Path) -> None:
    # The browser fires the toggle event that loads a section's frames after the click returns, later
    # still on a loaded machine: the check waits for the frames rather than counting them at once.
    gallery = _gallery(tmp_path)
    index = gallery / "index.html"
    page = index.read_text(encoding="utf-8")
    late = page.replace(
        "frame.src = frame.dataset.src;", "setTimeout(() => { frame.src = frame.dataset.src; }, 300);"
    )
    assert late != page
    index.write_text(late, encoding="utf-8")
    assert CHROMIUM is not None

    emails = ["order_placed/vip/en/default.html", "order_placed/default/en/default.html"]
    failures, _ = check_emails(gallery, emails, CHROMIUM)

    assert not [failure for failure in failures if failure.email == "index.html"], failures
