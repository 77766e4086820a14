"""The gallery's index.html: one self-contained page (its own CSS and script, nothing fetched from the
network) that shows every email grouped by trigger, segment and language, each at desktop and mobile
width beside its subject, preheader and text part.

The emails are iframes of their own files, so each renders exactly as its file does. An iframe is
given its file only when its section is opened (six lines of inline script; browsers load even
``loading="lazy"`` iframes of closed sections), so the page opens at once however many emails there
are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from html import escape
from itertools import groupby
from typing import TYPE_CHECKING

from nudge.triggers import TRIGGERS

if TYPE_CHECKING:
    from nudge.experiments.models import Experiment
    from preview.emails import PreviewEmail

WIDTHS = {"desktop": 600, "mobile": 375}
"""The widths every email is shown (and checked in a browser) at."""
FRAME_HEIGHT = 900

_STYLE = """
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  color: #18181b; background: #fafafa; }
header { padding: 24px 32px 8px; background: #fff; border-bottom: 1px solid #e4e4e7; }
h1 { margin: 0 0 4px; font-size: 24px; }
nav ul { list-style: none; margin: 8px 0; padding: 0; }
nav li { margin: 4px 0; }
nav a { color: #4338ca; margin-right: 12px; }
main { padding: 8px 32px 48px; }
h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 2px solid #4f46e5; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: 600; padding: 4px 0; }
details details { margin-left: 16px; }
.count { color: #52525b; font-weight: normal; }
article { background: #fff; border: 1px solid #e4e4e7; border-radius: 8px; margin: 12px 0;
  padding: 12px 16px; }
article h4 { margin: 0 0 8px; font-size: 15px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 12px; }
dt { color: #52525b; }
dd { margin: 0; }
.views { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure { margin: 0; }
figcaption { color: #52525b; font-size: 13px; margin-bottom: 4px; }
iframe { border: 1px solid #d4d4d8; background: #fff; display: block; }
pre { width: 420px; height: 860px; overflow: auto; margin: 0; padding: 8px; background: #f4f4f5;
  border: 1px solid #d4d4d8; white-space: pre-wrap;
  font: 13px/1.45 ui-monospace, Menlo, Consolas, monospace; }
a.file { font-size: 13px; color: #4338ca; }
"""

# An opened section's emails are loaded (those whose every enclosing section is open), once.
_SCRIPT = """
document.addEventListener("toggle", (event) => {
  if (!event.target.open) return;
  for (const frame of event.target.querySelectorAll("iframe[data-src]")) {
    if (frame.closest("details:not([open])")) continue;
    frame.src = frame.dataset.src;
    frame.removeAttribute("data-src");
  }
}, true);
"""


def index_page(emails: Sequence[PreviewEmail], experiments: Sequence[Experiment] = ()) -> str:
    names = {trigger.name: trigger.detail_type for trigger in TRIGGERS}
    body: list[str] = []
    nav: list[str] = []
    for trigger, of_trigger in _grouped(emails, lambda e: e.combination.trigger):
        section_id = trigger
        nav.append(
            f'<li><a href="#{section_id}">{escape(names.get(trigger, trigger))}</a>'
            f'<span class="count">{len(of_trigger)} emails:</span> '
            + " ".join(
                f'<a href="#{section_id}.{segment}">{escape(segment)}</a>'
                for segment, _ in _grouped(of_trigger, lambda e: e.combination.segment)
            )
            + "</li>"
        )
        body.append(
            f'<section id="{section_id}"><h2>{escape(names.get(trigger, trigger))} '
            f'<span class="count">({escape(trigger)}, {len(of_trigger)} emails)</span></h2>'
        )
        for segment, of_segment in _grouped(of_trigger, lambda e: e.combination.segment):
            body.append(
                f'<details id="{section_id}.{segment}"><summary>segment {escape(segment)} '
                f'<span class="count">{len(of_segment)} emails</span></summary>'
            )
            for position, (language, of_language) in enumerate(
                _grouped(of_segment, lambda e: e.combination.language)
            ):
                opened = " open" if position == 0 else ""
                body.append(
                    f"<details{opened}><summary>language {escape(language)} "
                    f'<span class="count">{len(of_language)} emails</span></summary>'
                )
                body += [_card(email) for email in of_language]
                body.append("</details>")
            body.append("</details>")
        body.append("</section>")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Nudge: every email, previewed</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>Every email, previewed</h1>
<p>{len(emails)} emails: each trigger for each segment, language, cart reminder step and experiment
variant (<code>default</code> is the email of everyone outside the experiment), rendered from the
sample data by the same code as a send. Each is shown at {WIDTHS["desktop"]} px (desktop) and
{WIDTHS["mobile"]} px (mobile) beside its text part. Links are tagged as sent; the unsubscribe link
holds a placeholder token.</p>
{_experiments(experiments)}
<nav><ul>{"".join(nav)}</ul></nav>
</header>
<main>
{"".join(body)}
</main>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def _experiments(experiments: Sequence[Experiment]) -> str:
    """What each experiment shown is: its status, each variant's weight and subject, the holdout."""
    items = []
    for experiment in experiments:
        variants = ", ".join(
            f"<code>{escape(experiment.experiment_id)}.{escape(v.variant_id)}</code> {v.weight} %"
            + (f" (subject <code>{escape(v.subject)}</code>)" if v.subject else " (the template's subject)")
            for v in experiment.variants
        )
        items.append(
            f"<li>{escape(experiment.trigger)}: experiment <code>{escape(experiment.experiment_id)}</code>, "
            f"{escape(experiment.status)}: {variants}; a holdout of {experiment.holdout_percent} % is sent "
            "nothing</li>"
        )
    return f"<ul>{''.join(items)}</ul>" if items else ""


def _grouped(
    emails: Iterable[PreviewEmail], key: Callable[[PreviewEmail], str]
) -> list[tuple[str, list[PreviewEmail]]]:
    """Consecutive runs with the same key (the gallery is already in trigger, segment, language order)."""
    return [(name, list(run)) for name, run in groupby(emails, key=key)]


def _card(email: PreviewEmail) -> str:
    combination = email.combination
    title = " · ".join(
        part
        for part in (
            f"step {combination.step}" if combination.step is not None else "",
            f"variant {combination.variant}",
        )
        if part
    )
    frames = "".join(
        f"<figure><figcaption>{label} · {width} px</figcaption>"
        f'<iframe data-src="{escape(combination.path)}.html" '
        f'width="{width}" height="{FRAME_HEIGHT}" sandbox '
        f'title="{escape(str(combination))}, {label}"></iframe></figure>'
        for label, width in WIDTHS.items()
    )
    return f"""<article id="{escape(combination.path)}">
<h4>{escape(title)}</h4>
<dl><dt>Subject</dt><dd>{escape(email.subject)}</dd><dt>Preheader</dt><dd>{escape(email.preheader)}</dd>
<dt>Files</dt><dd><a class="file" href="{escape(combination.path)}.html">HTML</a> ·
<a class="file" href="{escape(combination.path)}.txt">text</a></dd></dl>
<div class="views">{frames}
<figure><figcaption>Text part</figcaption><pre>{escape(email.text)}</pre></figure></div>
</article>"""
