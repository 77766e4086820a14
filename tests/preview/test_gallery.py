"""The preview gallery: every combination rendered through the pipeline's own functions, with no AWS,
listed in the index; a template error fails it, naming the file, the line and the combinations."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from itertools import product
from pathlib import Path
from typing import Any

import pytest

from local_stack.emulator.cfn import load_template
from local_stack.emulator.patches import observing_api_calls
from local_stack.emulator.scenario import SAMPLE_DATA_DIR, load_sample_rows
from local_stack.emulator.stack import REPO_ROOT, TEMPLATE_PATH
from nudge.sending.case import EmailCase
from nudge.sending.compose import email_currency
from nudge.triggers import TRIGGERS
from preview.__main__ import main
from preview.emails import Combination, PreviewEmail
from preview.gallery import (
    DEFAULT_VARIANT,
    INDEX,
    MANIFEST,
    GalleryError,
    build,
    render_gallery,
)
from preview.samples import SampleDataError, load_samples

TEMPLATES_DIR = REPO_ROOT / "templates"


def _expected_combinations() -> set[Combination]:
    """What the gallery must hold, counted from the sources themselves, not from the gallery's code."""
    segments = [row["segment_id"] for row in load_sample_rows("segments")]
    languages = sorted(path.name for path in (TEMPLATES_DIR / "locale").iterdir() if path.is_dir())
    hours = load_template(TEMPLATE_PATH)["Parameters"]["CartReminderHours"]["Default"]
    steps = range(1, len(hours.split(",")) + 1)
    (experiment,) = load_sample_rows("experiments")
    # A draft's variants are shown too: a marketer looks at them before the experiment starts.
    assert experiment["trigger"] == "cart_abandoned" and experiment["status"] in ("running", "draft")
    cart_variants = [
        DEFAULT_VARIANT,
        *(f"{experiment['experiment_id']}.{v['variant_id']}" for v in experiment["variants"]),
    ]
    cart = {
        Combination("cart_abandoned", segment, language, step, variant)
        for segment, language, step, variant in product(segments, languages, steps, cart_variants)
    }
    others = {
        Combination(trigger, segment, language, None, DEFAULT_VARIANT)
        for trigger, segment, language in product(["order_placed", "customer_lapsed"], segments, languages)
    }
    return cart | others


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[PreviewEmail]]:
    """The gallery of the repository's templates, built while every AWS call raises."""

    def no_aws(*_: Any, **__: Any) -> Any:
        raise AssertionError("the preview called AWS")

    out = tmp_path_factory.mktemp("preview")
    with observing_api_calls(no_aws):
        emails = build(TEMPLATES_DIR, out)
    return out, emails


def _email(emails: list[PreviewEmail], **wanted: Any) -> PreviewEmail:
    (found,) = [e for e in emails if all(getattr(e.combination, k) == v for k, v in wanted.items())]
    return found


def test_every_combination_is_rendered_without_aws(gallery: tuple[Path, list[PreviewEmail]]) -> None:
    out, emails = gallery
    expected = _expected_combinations()
    assert len(expected) == 8 * 4 * (3 * 3) + 2 * 8 * 4  # 352 with today's sample data and template.yaml
    assert {email.combination for email in emails} == expected
    assert len(emails) == len(expected)
    for email in emails:
        html_file = out / f"{email.combination.path}.html"
        assert html_file.read_text(encoding="utf-8") == email.html
        assert (out / f"{email.combination.path}.txt").read_text(encoding="utf-8") == email.text
        assert f'<html lang="{email.combination.language}"' in email.html
        assert email.subject and email.preheader and email.preheader != email.subject


def test_the_manifest_and_the_index_list_every_email(gallery: tuple[Path, list[PreviewEmail]]) -> None:
    out, emails = gallery
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert [entry["html"] for entry in manifest] == [f"{e.combination.path}.html" for e in emails]
    index = (out / INDEX).read_text(encoding="utf-8")
    # Self-contained: nothing in it reaches the network.
    assert not re.search(r'(src|href)="(https?:)?//', index)
    for email in emails:
        path = email.combination.path
        assert f'<article id="{path}">' in index
        for width in (600, 375):
            assert f'data-src="{path}.html" width="{width}"' in index
    # Grouped: trigger, then segment, then language, in the gallery's order.
    sections = re.findall(r'<section id="([^"]+)">', index)
    assert sections == ["cart_abandoned", "order_placed", "customer_lapsed"]
    segments = re.findall(r'<details id="cart_abandoned\.([^"]+)">', index)
    assert segments[0] == "vip" and segments[-1] == "default" and len(segments) == 8
    # Each experiment shown says what it is.
    (experiment,) = load_sample_rows("experiments")
    assert f"experiment <code>cart-subject-dec</code>, {experiment['status']}: " in index


def test_it_renders_as_a_send_does(gallery: tuple[Path, list[PreviewEmail]]) -> None:
    _, emails = gallery
    first = {"trigger": "cart_abandoned", "segment": "vip", "language": "en", "step": 1}
    default = _email(emails, **first, variant="default")
    control = _email(emails, **first, variant="cart-subject-dec.a")
    variant = _email(emails, **first, variant="cart-subject-dec.b")
    # The experiment's own subject for b; a keeps the template's; each arm's links say which it is.
    assert variant.subject == "Ada, we kept your cart for you"
    assert control.subject == default.subject == "Ada, your VIP cart is saved for you"
    assert "utm_term" not in default.html
    assert "utm_term=cart-subject-dec.b" in variant.html and "utm_term=cart-subject-dec.b" in variant.text
    assert "utm_campaign=cart_abandoned-1" in default.html
    # The unsubscribe link holds a placeholder token, and is never tagged.
    assert re.search(r'href="https://[^"]+\?token=PREVIEW"', default.html)
    # Recommendations come from the sample catalog, never a product in the cart; none where the
    # segment turns them off.
    recommended = re.findall(r'href="([^"]*utm_content=recommendation[^"]*)"', default.html)
    assert recommended
    assert not [url for url in recommended if "SKU-CASHMERE-01" in url or "SKU-GLOVES-02" in url]
    unengaged = _email(emails, trigger="order_placed", segment="unengaged", language="en")
    assert "utm_content=recommendation" not in unengaged.html
    # The last reminder carries the segment's offer; the first does not.
    last = _email(emails, trigger="cart_abandoned", segment="vip", language="de", step=3, variant="default")
    assert "VIP15" in last.html and "VIP15" not in default.html
    # A new customer's order is their first (Order Placed counts it before the email renders).
    welcome = _email(emails, trigger="order_placed", segment="new_customer", language="en")
    assert "Welcome" in welcome.html


def test_every_email_with_recommendations_shows_a_full_block_in_its_currency(
    gallery: tuple[Path, list[PreviewEmail]],
) -> None:
    # The sample catalog prices some products in one currency only: picking before filtering by the
    # email's currency left a euro order's thank-you with one product where a send shows three.
    _, emails = gallery
    samples = load_samples(TEMPLATES_DIR)
    shown = 0
    for email in emails:
        if email.combination.segment == "unengaged":  # its row turns recommendations off
            continue
        skus = set(re.findall(r'href="[^"]*/p/(SKU-[A-Z0-9-]+)[^"]*utm_content=recommendation', email.html))
        assert len(skus) == 3, email.combination
        trigger = next(t for t in TRIGGERS if t.name == email.combination.trigger)
        segment = next(s for s in samples.segments if s.segment_id == email.combination.segment)
        customer = samples.customer(segment, email.combination.language)
        settings = samples.settings_for(trigger)
        currency = email_currency(EmailCase(trigger, samples.detail(trigger, customer), settings), customer)
        products = [samples.catalog.products[sku] for sku in skus]
        assert all(p.in_stock and p.price_in(currency) is not None for p in products), email.combination
        shown += len(skus)
    assert shown


def test_the_vip_perks_are_listed_in_each_language_the_sample_row_writes_them_in(
    gallery: tuple[Path, list[PreviewEmail]],
) -> None:
    _, emails = gallery
    (vip,) = [row for row in load_sample_rows("segments") if row["segment_id"] == "vip"]
    for language, perks in {"en": vip["perks"], **vip["perks_by_language"]}.items():
        email = _email(emails, trigger="order_placed", segment="vip", language=language)
        assert all(perk in email.text for perk in perks), language


def _copy_templates(tmp_path: Path) -> Path:
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, copy, ignore=shutil.ignore_patterns("*.mo"))
    return copy


def test_an_undefined_name_fails_naming_the_template_line_and_combinations(tmp_path: Path) -> None:
    # Given a template that uses an undefined name in the middle reminder's heading only
    templates = _copy_templates(tmp_path)
    body = templates / "cart_abandoned" / "body.html.j2"
    source = body.read_text(encoding="utf-8")
    heading = "{% trans %}Your cart is still waiting, {{ name }}{% endtrans %}"
    assert heading in source
    body.write_text(source.replace(heading, "{{ cart.reminder_headline }}" + heading), encoding="utf-8")
    line = next(n for n, text in enumerate(body.read_text().splitlines(), 1) if "reminder_headline" in text)

    # When the gallery is built
    with pytest.raises(GalleryError) as raised:
        build(templates, tmp_path / "out")

    # Then every step-2 email of the cart fails, and only those, each named with the file and line
    problems = raised.value.problems
    assert {p.combination.step for p in problems} == {2}
    assert {p.combination.trigger for p in problems} == {"cart_abandoned"}
    assert len(problems) == 8 * 4 * 3
    assert {p.where for p in problems} == {f"templates/cart_abandoned/body.html.j2, line {line}"}
    assert all("reminder_headline" in p.error for p in problems)
    report = str(raised.value)
    assert "trigger cart_abandoned, segment vip, language de, step 2, variant cart-subject-dec.b" in report
    assert f"templates/cart_abandoned/body.html.j2, line {line}: UndefinedError" in report
    assert not (tmp_path / "out").exists()


def test_the_command_fails_on_a_syntax_error_naming_the_template_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = _copy_templates(tmp_path)
    subject = templates / "order_placed" / "subject.txt.j2"
    subject.write_text(subject.read_text(encoding="utf-8") + "{% if %}\n", encoding="utf-8")
    line = len(subject.read_text().splitlines())

    assert main(["--templates", str(templates), "--out", str(tmp_path / "out")]) == 1

    err = capsys.readouterr().err
    assert err.startswith("preview failed: 32 email(s) did not render:\n")
    assert f"templates/order_placed/subject.txt.j2, line {line}: TemplateSyntaxError: " in err
    assert "  in trigger order_placed, segment default, language es, variant default\n" in err
    assert "cart_abandoned" not in err and "customer_lapsed" not in err
    assert not (tmp_path / "out").exists()


def _sample_data_with(tmp_path: Path, experiments: list[dict[str, Any]]) -> Path:
    copy = tmp_path / "sample_data"
    shutil.copytree(SAMPLE_DATA_DIR, copy)
    (copy / "experiments.json").write_text(json.dumps(experiments), encoding="utf-8")
    return copy


def test_a_variant_subject_that_fails_names_the_experiment(tmp_path: Path) -> None:
    (experiment,) = load_sample_rows("experiments")
    experiment["variants"][1]["subject"] = "{{ customer.nickname }}, your cart"
    samples = load_samples(TEMPLATES_DIR, _sample_data_with(tmp_path, [experiment]))

    with pytest.raises(GalleryError) as raised:
        render_gallery(replace(samples, segments=samples.segments[:1]))

    problems = raised.value.problems
    assert {p.combination.variant for p in problems} == {"cart-subject-dec.b"}
    assert len(problems) == 4 * 3  # each language, each step
    where = "the subject of variant cart-subject-dec.b in sample_data/experiments.json"
    assert {p.where for p in problems} == {where}


def test_an_invalid_experiment_row_fails_naming_the_field(tmp_path: Path) -> None:
    (experiment,) = load_sample_rows("experiments")
    experiment["variants"][0]["weight"] = 60  # 60 + 50

    with pytest.raises(SampleDataError, match=r"experiments.json row 0: .*the weights add up to 110"):
        load_samples(TEMPLATES_DIR, _sample_data_with(tmp_path, [experiment]))
