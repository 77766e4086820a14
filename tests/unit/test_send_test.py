"""make send-test without a stack: the email written to out/outbox/ as a .eml a mail client opens, and
every argument checked before anything is rendered, a wrong one named with the values it may take."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

import marketing.__main__ as cli
from local_stack.emulator.scenario import load_sample_rows
from marketing.samples import TEST_CUSTOMER_ID
from nudge.unsubscribe import tokens


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cli, "OUTBOX", tmp_path / "outbox")
    return tmp_path / "outbox"


def send_test(*arguments: str) -> int:
    return cli.main(["send-test", "--to", "me@shop.example", *arguments])


def written(outbox: Path) -> EmailMessage:
    (path,) = outbox.glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_without_a_stack_the_email_is_written_to_the_outbox_as_a_mail_client_reads_it(
    outbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert send_test("--trigger", "order_placed", "--segment", "new_customer", "--locale", "es-ES") == 0

    printed = capsys.readouterr().out.splitlines()
    (path,) = outbox.glob("*.eml")
    assert printed[-1].startswith(f"written to {path} (and its HTML part, {path.with_suffix('.html')})")
    assert printed[0] == "order_placed, segment new_customer, locale es-ES (copy in es)"
    message = written(outbox)
    assert message["Subject"].startswith("[TEST] ")
    assert message["To"].addresses[0].addr_spec == "me@shop.example"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    assert "WELCOME10" in text.get_content() and "WELCOME10" in html.get_content()
    assert path.with_suffix(".html").read_text() == html.get_content().replace("\r\n", "\n")
    # The unsubscribe link names the test customer, never a sample one
    token = str(message["List-Unsubscribe"]).strip("<>").split("token=")[1]
    assert tokens.verify(cli.LOCAL_SIGNING_KEY, token) == TEST_CUSTOMER_ID


def test_a_variant_of_the_sample_experiment_and_the_last_step_carry_its_subject_and_the_offer(
    outbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        send_test(
            *("--trigger", "cart_abandoned", "--segment", "vip", "--locale", "de-DE"),
            *("--step", "3", "--variant", "b"),
        )
        == 0
    )

    message = written(outbox)
    assert message["Subject"] == "[TEST] Ada, we kept your cart for you"
    html = message.get_body(("html",))
    assert html is not None and "VIP15" in html.get_content()
    assert "utm_term=cart-subject-dec.b" in html.get_content()
    assert "variant b of experiment cart-subject-dec" in capsys.readouterr().out


def test_a_segment_without_a_sample_customer_takes_one_of_the_language(outbox: Path) -> None:
    assert send_test("--trigger", "customer_lapsed", "--segment", "unengaged", "--locale", "fr-FR") == 0

    message = written(outbox)
    assert message["Subject"].startswith("[TEST] ")
    assert message["To"].addresses[0].display_name.split()[0] in {"Léa", "Chloé"}


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (
            ("--trigger", "cart", "--segment", "vip", "--locale", "en-GB"),
            "TRIGGER=cart: not a trigger; one of cart_abandoned, customer_lapsed, order_placed",
        ),
        (
            ("--trigger", "order_placed", "--segment", "gold", "--locale", "en-GB"),
            "SEGMENT=gold: not a segment of the local stack (sample_data/); one of at_risk, "
            "default, engaged_non_purchasers, frequent_buyer, lapsed, new_customer, unengaged, vip",
        ),
        (
            ("--trigger", "order_placed", "--segment", "vip", "--locale", "xx-QQ"),
            "LOCALE=xx-QQ: not a locale; a language and region such as en-US, en-GB, de-DE, fr-FR, es-ES",
        ),
        (
            ("--trigger", "order_placed", "--segment", "vip", "--locale", "en-GB", "--step", "2"),
            "STEP=2: order_placed has no steps; only cart_abandoned has",
        ),
        (
            ("--trigger", "cart_abandoned", "--segment", "vip", "--locale", "en-GB", "--step", "4"),
            "STEP=4: not a step of the series; one of 1, 2, 3",
        ),
        (
            ("--trigger", "cart_abandoned", "--segment", "vip", "--locale", "en-GB", "--variant", "c"),
            "VARIANT=c: not a variant of experiment cart-subject-dec; one of a, b",
        ),
        (
            ("--trigger", "cart_abandoned", "--segment", "vip", "--locale", "en-GB", "--variant", "holdout"),
            "VARIANT=holdout: the holdout is sent nothing; one of a, b",
        ),
        (
            ("--trigger", "order_placed", "--segment", "vip", "--locale", "en-GB", "--variant", "b"),
            "VARIANT=b: order_placed has no valid experiment in the local stack (sample_data/)",
        ),
        (
            ("--trigger", "cart_abandoned", "--segment", "vip", "--locale", "en-GB", "--experiment", "x"),
            "EXPERIMENT=x: give VARIANT too: which variant to send",
        ),
        (
            (
                *("--trigger", "cart_abandoned", "--segment", "vip", "--locale", "en-GB"),
                *("--variant", "b", "--experiment", "cart-subject-nov"),
            ),
            "EXPERIMENT=cart-subject-nov: not a valid experiment of cart_abandoned; one of "
            "cart-subject-dec (draft)",
        ),
    ],
    ids=[
        "trigger",
        "segment",
        "locale",
        "step of no series",
        "step past the series",
        "variant",
        "holdout",
        "no experiment",
        "experiment without variant",
        "experiment",
    ],
)
def test_an_argument_that_names_nothing_is_named_with_the_values_it_may_take(
    arguments: tuple[str, ...], error: str, outbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        send_test(*arguments)

    assert exited.value.code == 2
    assert capsys.readouterr().err == f"python -m marketing send-test: {error}\n"
    assert not outbox.exists()


def test_an_address_that_is_no_address_is_named(outbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(
            [
                "send-test",
                "--to",
                "me at shop",
                "--trigger",
                "order_placed",
                "--segment",
                "vip",
                "--locale",
                "en",
            ]
        )
    assert "TO=me at shop: not an email address (name@example.com)" in capsys.readouterr().err


def test_a_subject_that_does_not_render_names_the_variant(
    outbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    experiments = load_sample_rows("experiments")
    experiments[0]["variants"][1]["subject"] = "{{ customer.firstname }}, your cart"
    path = tmp_path / "experiments.json"
    path.write_text(json.dumps(experiments))
    monkeypatch.setattr(cli, "EXPERIMENTS_FILE", path)

    with pytest.raises(SystemExit):
        send_test("--trigger", "cart_abandoned", "--segment", "vip", "--locale", "en-GB", "--variant", "b")

    error = capsys.readouterr().err
    assert "VARIANT=b: its subject does not render for this email (UndefinedError: " in error
    assert "the functions would ignore the experiment" in error
    assert not outbox.exists()
