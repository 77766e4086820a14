"""Every email the templates can make, rendered as a send renders it, into a folder with an index.

Each combination of trigger, segment, language, cart series step (cart reminders only) and variant of
a running or draft experiment (plus ``default``, the email of everyone outside the experiment) goes
through the pipeline's own ``recommendations_for`` and ``render_for``: the same templates,
translations, inlined CSS, link tagging and strict undefined variables as a send. Any error fails the
whole gallery, naming the template file and line and every combination it broke.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError

from local_stack.emulator.catalogs import compile_catalogs
from nudge.experiments.models import Arm, Experiment
from nudge.profiles import Segment
from nudge.rendering import SOURCE_LANGUAGE, shipped_languages
from nudge.sending.case import EmailCase, Recipient
from nudge.sending.compose import recommendations_for, render_for
from nudge.triggers import TRIGGERS, Trigger
from preview.emails import Combination, PreviewEmail
from preview.page import index_page
from preview.samples import Samples, as_rendered, load_samples, unsubscribe_url

DEFAULT_VARIANT = "default"
"""The variant label of the email everyone outside a running experiment gets."""
MANIFEST = "manifest.json"
INDEX = "index.html"
_PREHEADER = re.compile(r'<div class="preheader"[^>]*>(.*?)</div>', re.S)


@dataclass(frozen=True)
class Problem:
    combination: Combination
    where: str
    """The template file and line (or the experiment's subject) that failed."""
    error: str


class GalleryError(Exception):
    """One or more combinations did not render."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(self.report())

    def report(self) -> str:
        """One paragraph per distinct failure: where, what, and each combination it broke."""
        grouped: dict[tuple[str, str], list[Combination]] = {}
        for problem in self.problems:
            grouped.setdefault((problem.where, problem.error), []).append(problem.combination)
        lines = [f"{len(self.problems)} email(s) did not render:"]
        for (where, error), combinations in grouped.items():
            lines.append(f"{where}: {error}")
            lines += [f"  in {combination}" for combination in combinations]
        return "\n".join(lines)


def languages(templates_dir: Path) -> list[str]:
    """The shipped languages, the templates' own first (catalogs must be compiled)."""
    others = sorted(shipped_languages(str(templates_dir)) - {SOURCE_LANGUAGE})
    return [SOURCE_LANGUAGE, *others]


def arms(samples: Samples, trigger: Trigger[Any]) -> list[Arm | None]:
    """No arm (the default email), then one arm per variant of each of the trigger's running or
    draft experiments. The holdout is sent nothing, so it has no email to show."""
    experiments = samples.experiments_of(trigger)
    return [None, *(Arm(experiment=e, variant=variant) for e in experiments for variant in e.variants)]


def _steps(samples: Samples, trigger: Trigger[Any]) -> list[int | None]:
    if trigger.series is None:
        return [None]
    return list(range(1, len(trigger.series.hours(samples.settings_for(trigger))) + 1))


def combinations(samples: Samples) -> Iterator[tuple[Combination, Trigger[Any], Segment, Arm | None]]:
    """Trigger, then segment (by priority), language, step and variant: the gallery's order."""
    segments = sorted(samples.segments, key=lambda segment: segment.priority)
    for trigger in TRIGGERS:
        for segment in segments:
            for language in languages(samples.templates_dir):
                for step in _steps(samples, trigger):
                    for arm in arms(samples, trigger):
                        variant = arm.utm_term if arm is not None else DEFAULT_VARIANT
                        combination = Combination(trigger.name, segment.segment_id, language, step, variant)
                        yield combination, trigger, segment, arm


def render_combination(
    samples: Samples, combination: Combination, trigger: Trigger[Any], segment: Segment, arm: Arm | None
) -> PreviewEmail:
    """One email, from the sample event to the finished bodies, through the pipeline's functions."""
    settings = samples.settings_for(trigger)
    customer = samples.customer(segment, combination.language)
    detail = samples.detail(trigger, customer)
    if trigger.series is not None and combination.step is not None:
        detail = trigger.series.with_step(detail, combination.step)
    customer = as_rendered(detail, customer)
    recommender = samples.catalog.recommender(settings)
    case = EmailCase(trigger, detail, settings)
    recommendations = recommendations_for(case, customer, segment, recommender)
    recipient = Recipient(customer, segment, unsubscribe_url(settings))
    email = render_for(case, recipient, recommendations, arm)
    if email.language != combination.language:
        raise LookupError(
            f"rendered in {email.language!r}: is the {combination.language!r} catalog compiled?"
        )
    found = _PREHEADER.search(email.html)
    preheader = " ".join(html.unescape(found.group(1)).split()) if found else ""
    return PreviewEmail(combination, email.subject, preheader, email.html, email.text)


def render_gallery(samples: Samples) -> list[PreviewEmail]:
    """Every combination's email; GalleryError naming each failure if any did not render."""
    emails, problems = [], []
    for combination, trigger, segment, arm in combinations(samples):
        try:
            emails.append(render_combination(samples, combination, trigger, segment, arm))
        except Exception as error:
            where = _where(error, samples.templates_dir, combination, samples.experiments_file)
            problems.append(Problem(combination, where, f"{type(error).__name__}: {error}"))
    if problems:
        raise GalleryError(problems)
    return emails


def _where(error: Exception, templates_dir: Path, combination: Combination, experiments_file: str) -> str:
    """The template file and line an error was raised in, as Jinja's rewritten traceback tells it."""
    if isinstance(error, TemplateSyntaxError) and error.filename:
        return f"{_shown(error.filename, templates_dir)}, line {error.lineno}"
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename.endswith(".j2") or frame.filename == "<template>"
    ]
    if not frames:
        return "the sample data"
    frame = frames[-1]
    if frame.filename == "<template>":
        return f"the subject of variant {combination.variant} in {experiments_file}"
    return f"{_shown(frame.filename, templates_dir)}, line {frame.lineno}"


def _shown(filename: str, templates_dir: Path) -> str:
    path = Path(filename)
    try:
        return f"{templates_dir.name}/{path.relative_to(templates_dir).as_posix()}"
    except ValueError:
        return filename


def write_gallery(emails: list[PreviewEmail], out_dir: Path, experiments: Sequence[Experiment] = ()) -> None:
    """Each email's HTML and text part, ``manifest.json`` (what the browser check reads) and
    ``index.html``; whatever the folder held before is removed first."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    entries = []
    for email in emails:
        html_file, text_file = f"{email.combination.path}.html", f"{email.combination.path}.txt"
        (out_dir / html_file).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / html_file).write_text(email.html, encoding="utf-8")
        (out_dir / text_file).write_text(email.text, encoding="utf-8")
        entries.append(
            {
                **asdict(email.combination),
                "subject": email.subject,
                "preheader": email.preheader,
                "html": html_file,
                "text": text_file,
            }
        )
    (out_dir / MANIFEST).write_text(json.dumps(entries, indent=1, ensure_ascii=False), encoding="utf-8")
    (out_dir / INDEX).write_text(index_page(emails, experiments), encoding="utf-8")


def build(templates_dir: Path, out_dir: Path) -> list[PreviewEmail]:
    """Compile the catalogs (as ``sam build`` does), render every combination, write the gallery."""
    compile_catalogs(templates_dir)
    samples = load_samples(templates_dir)
    emails = render_gallery(samples)
    write_gallery(emails, out_dir, [e for t in TRIGGERS for e in samples.experiments_of(t)])
    return emails
