"""python -m marketing COMMAND: a marketer's tools for segments, experiments and test emails.

  send-test --to ADDRESS --trigger T --segment S --locale L [--step N] [--variant V [--experiment E]]
            [--stack NAME [--region R]]
      one test email ("[TEST] " subject) from sample data: with --stack, with that stack's settings,
      segment and experiment rows, sent through SES; without, the local stack's, into out/outbox/
  segments-validate [--file F]      check a segments file; which sample customers each segment takes
  segments-load --file F --stack NAME [--region R] [--apply] [--prune]
  experiments-validate [--file F]   check an experiments file; every variant's subject rendered
  experiments-load --file F --stack NAME [--region R] [--apply] [--prune]
      the file against the stack's table: added, changed, removed; written only with --apply; rows
      only in the table are deleted only with --prune

Exit status: 0 done (a load without --apply: the difference printed, nothing written); 1 a file or row
that does not validate, or AWS refused; 2 an argument that names nothing (the message lists the valid
values).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from local_stack.emulator import rows as table_rows
from local_stack.emulator.catalogs import compile_catalogs
from local_stack.emulator.scenario import SAMPLE_DATA_DIR, SAMPLE_DAY_CLOCK
from local_stack.emulator.stack import REPO_ROOT
from marketing import stack as deployed
from marketing.experiments import CheckedExperiments, check_experiments
from marketing.load import Diff, Table, apply, diff, diff_lines
from marketing.rows import Problem, RowsFileError, read_rows, validation_problems
from marketing.samples import local_settings, sample_customers, trigger_function
from marketing.segments import (
    CheckedSegments,
    check_segments,
    membership_lines,
    sample_membership,
    with_rule_facts,
)
from marketing.send_test import (
    ArgumentError,
    SendTestRequest,
    Source,
    find_trigger,
    prepare,
    send,
    write_outbox,
)
from nudge.adapters.ses import SendRefusedError, SendResultUnknownError
from nudge.experiments.models import Experiment
from nudge.profiles import Segment
from nudge.settings import Settings
from nudge.timeutil import utc_now
from nudge.triggers import TRIGGER_NAMES
from nudge.unsubscribe.keys import signing_key

SEGMENTS_FILE = SAMPLE_DATA_DIR / "segments.json"
EXPERIMENTS_FILE = SAMPLE_DATA_DIR / "experiments.json"
CUSTOMERS_FILE = SAMPLE_DATA_DIR / "customers.json"
OUTBOX = REPO_ROOT / "out" / "outbox"
TEMPLATES_DIR = REPO_ROOT / "templates"
LOCAL_SIGNING_KEY = b"nudge-local-send-test-signing-key"
"""Without a stack the unsubscribe link leads nowhere: any key will do."""
_AWS_FAILURES = (BotoCoreError, ClientError, deployed.IncompleteStackError)

Say = Callable[[str], None]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "region", None) and not getattr(args, "stack", None):
        parser.error("--region is the deployed stack's: give --stack too")
    try:
        command: Callable[[argparse.Namespace, Say], int] = args.run
        return command(args, print)
    except ArgumentError as error:
        parser.exit(2, f"{parser.prog} {args.command}: {error}\n")
    except RowsFileError as error:
        parser.exit(1, f"{parser.prog} {args.command}: {error}\n")
    except (SendRefusedError, SendResultUnknownError) as error:
        cause = f" ({error.__cause__})" if error.__cause__ else ""
        parser.exit(1, f"{parser.prog} {args.command}: SES did not send the test email: {error}{cause}\n")
    except _AWS_FAILURES as error:
        parser.exit(1, f"{parser.prog} {args.command}: {error}\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m marketing", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    test = commands.add_parser("send-test", help="one test email, from sample data, to an address")
    test.add_argument("--to", required=True, help="the address it goes to")
    test.add_argument("--trigger", required=True, help=f"one of {', '.join(sorted(TRIGGER_NAMES))}")
    test.add_argument("--segment", required=True, help="a segment id of the stack's Segments table")
    test.add_argument("--locale", required=True, help="the customer's locale, e.g. de-DE")
    test.add_argument("--step", type=int, help="the cart reminder series' step (default 1)")
    test.add_argument("--variant", help="an experiment variant to send")
    test.add_argument("--experiment", help="the variant's experiment (default: the trigger's running one)")
    _stack_arguments(test, "default: the local stack, the email written to out/outbox/")
    test.set_defaults(run=_send_test)

    for kind, default in (("segments", SEGMENTS_FILE), ("experiments", EXPERIMENTS_FILE)):
        validate = commands.add_parser(f"{kind}-validate", help=f"check a {kind} file")
        validate.add_argument("--file", type=Path, default=default, help=f"default {_shown(default)}")
        validate.set_defaults(run=_validate_segments if kind == "segments" else _validate_experiments)
        load = commands.add_parser(f"{kind}-load", help=f"a {kind} file against a stack's table")
        load.add_argument("--file", type=Path, required=True)
        _stack_arguments(load, None)
        load.add_argument("--apply", action="store_true", help="write the changes (default: only print them)")
        load.add_argument("--prune", action="store_true", help="delete rows that are not in the file")
        load.set_defaults(run=_load, kind=kind[:-1])
    return parser


def _stack_arguments(command: argparse.ArgumentParser, default: str | None) -> None:
    command.add_argument(
        "--stack",
        required=default is None,
        help="a deployed stack's name" + (f" ({default})" if default else ""),
    )
    command.add_argument("--region", help="the stack's region (default: the AWS configuration's)")


# ------------------------------------------------------------------------------------------- send-test


def _send_test(args: argparse.Namespace, say: Say) -> int:
    request = SendTestRequest(
        to=args.to,
        trigger=args.trigger,
        segment=args.segment,
        locale=args.locale,
        step=args.step,
        variant=args.variant,
        experiment=args.experiment,
    )
    find_trigger(request.trigger)  # named before anything is read
    if args.stack:
        deployed.use_region(args.region)
        session = deployed.session(args.region)
        environment = deployed.function_environment(
            session.client("cloudformation"),
            session.client("lambda"),
            args.stack,
            trigger_function(request.trigger),
        )
        source = deployed_source(environment, f"stack {args.stack}")
    else:
        source = local_source(request.trigger)
    email = prepare(request, source, now=utc_now())
    for line in email.summary:
        say(line)
    if args.stack:
        message_id = send(email, source.settings)
        say(
            f"sent through SES (configuration set {source.settings.configuration_set}) to {request.to}: "
            f"SES message id {message_id}"
        )
    else:
        path = write_outbox(email, OUTBOX)
        say(f"written to {_shown(path)} (and its HTML part, {_shown(path.with_suffix('.html'))})")
    return 0


def deployed_source(environment: dict[str, str], description: str) -> Source:
    """A deployed trigger function's settings (its environment), rendering this checkout's templates;
    the rows of its tables; its signing key."""
    compile_catalogs(TEMPLATES_DIR)
    settings = Settings.from_environment({**environment, "TEMPLATES_DIR": str(TEMPLATES_DIR)})
    experiments_table = settings.experiments_table
    return Source(
        settings=settings,
        segment_rows=table_rows.segment_rows(settings.segments_table),
        experiment_rows=table_rows.experiment_rows(experiments_table) if experiments_table else [],
        signing_key=lambda: signing_key(settings.unsubscribe_key_secret),
        description=description,
    )


def local_source(trigger: str) -> Source:
    """The local stack's settings (the example shop) and sample rows; nothing is read from AWS."""
    return Source(
        settings=local_settings(trigger),
        segment_rows=read_rows(SEGMENTS_FILE, "segment"),
        experiment_rows=read_rows(EXPERIMENTS_FILE, "experiment"),
        signing_key=lambda: LOCAL_SIGNING_KEY,
        description=f"the local stack ({_shown(SAMPLE_DATA_DIR)}/)",
    )


# ------------------------------------------------------------------------------------------- validate


def _validate_segments(args: argparse.Namespace, say: Say) -> int:
    checked = _checked_segments(args.file, say)
    if checked is None:
        return 1
    customers = sample_customers()
    say(
        f"{_shown(args.file)}: {_count(len(checked.segments), 'segment')}, valid. The sample customers "
        f"({_shown(CUSTOMERS_FILE)}) as of {SAMPLE_DAY_CLOCK:%Y-%m-%d %H:%M} UTC, the sample day, each in "
        "the first segment by priority whose rules it meets:"
    )
    for line in membership_lines(
        sample_membership(list(checked.segments.values()), customers, SAMPLE_DAY_CLOCK)
    ):
        say(line)
    return 0


def _checked_segments(path: Path, say: Say) -> CheckedSegments | None:
    checked = check_segments(read_rows(path, "segment"))
    if checked.problems:
        _problems(path, checked.problems, say)
        return None
    return checked


def _validate_experiments(args: argparse.Namespace, say: Say) -> int:
    checked = _checked_experiments(args.file, say)
    if checked is None:
        return 1
    say(
        f"{_shown(args.file)}: {_count(len(checked.experiments), 'experiment')}, valid; every variant's "
        "subject renders in the metered sandbox for every sample email of its trigger:"
    )
    for experiment in checked.experiments.values():
        say(f"  {_experiment_line(experiment)}")
    return 0


def _checked_experiments(path: Path, say: Say) -> CheckedExperiments | None:
    checked = check_experiments(read_rows(path, "experiment"))
    for warning in checked.warnings:
        say(f"warning: {warning}")
    if checked.problems:
        _problems(path, checked.problems, say)
        return None
    return checked


def _experiment_line(experiment: Experiment) -> str:
    variants = ", ".join(
        f"{v.variant_id} {v.weight}%" + (" (own subject)" if v.subject is not None else "")
        for v in experiment.variants
    )
    return (
        f"{experiment.experiment_id}: {experiment.trigger}, {experiment.status}, "
        f"holdout {experiment.holdout_percent}%, variants {variants}"
    )


def _problems(path: Path, problems: Sequence[Problem], say: Say) -> None:
    say(f"{_shown(path)}: {_count(len(problems), 'problem')}; nothing is written:")
    for problem in problems:
        say(f"  {problem}")


# ------------------------------------------------------------------------------------------- load


def _load(args: argparse.Namespace, say: Say) -> int:
    kind: str = args.kind
    if kind == "segment":
        segments = _checked_segments(args.file, say)
        if segments is None:
            return 1
        rows = segments.rows
    else:
        experiments = _checked_experiments(args.file, say)
        if experiments is None:
            return 1
        rows = experiments.rows
    deployed.use_region(args.region)
    session = deployed.session(args.region)
    table = table_for(kind, deployed.table_of(session.client("cloudformation"), args.stack, kind))
    return load(table, rows, args, say)


def table_for(kind: str, name: str) -> Table:
    if kind == "segment":
        return Table(
            kind="segment",
            key="segment_id",
            name=name,
            read=lambda: table_rows.segment_rows(name),
            put=lambda row: table_rows.put_segment_row(name, row),
            delete=lambda row_id: table_rows.delete_segment(name, row_id),
            model=Segment.model_validate,
        )
    return Table(
        kind="experiment",
        key="experiment_id",
        name=name,
        read=lambda: table_rows.experiment_rows(name),
        put=lambda row: table_rows.put_experiment(name, row),
        delete=lambda row_id: table_rows.delete_experiment(name, row_id),
        model=_experiment_model,
    )


def _experiment_model(row: Any) -> Experiment:
    return Experiment.model_validate(row, context={"triggers": TRIGGER_NAMES})


def load(table: Table, rows: dict[str, dict[str, Any]], args: argparse.Namespace, say: Say) -> int:
    """The difference, then, with --apply, the writes; nothing is written when the result would not
    work (two experiments running on one trigger)."""
    result = diff(table, rows, prune=args.prune)
    say(f"{table.kind}s of table {table.name} (stack {args.stack}) against {_shown(args.file)}:")
    for line in diff_lines(table, result, prune=args.prune):
        say(line)
    refused = _after_load_problems(table, rows, result)
    for warning in _kept_warnings(table, result):
        say(f"warning: {warning}")
    if refused:
        _problems(args.file, refused, say)
        return 1
    if not result.writes:
        return 0
    if not args.apply:
        again = f"make {table.kind}s-load FILE={args.file} STACK={args.stack}"
        again += f" REGION={args.region}" if args.region else ""
        again += " PRUNE=1" if args.prune else ""
        say(f"nothing written (a dry run). To write these changes: {again} APPLY=1")
        return 0
    say(apply(table, rows, result))
    return 0


def _kept_rows(table: Table, result: Diff) -> dict[str, dict[str, Any]]:
    return {change.row_id: result.stored[change.row_id] for change in result.kept}


def _kept_warnings(table: Table, result: Diff) -> list[str]:
    """The rows the table keeps that the functions cannot read."""
    consequence = (
        "re-segmentation pauses while any row is invalid (InvalidSegmentDefinitions)"
        if table.kind == "segment"
        else "the functions ignore it (InvalidExperiment)"
    )
    problems: list[Problem] = []
    for row_id, row in _kept_rows(table, result).items():
        try:
            table.model(row)
        except ValidationError as error:
            problems += [with_rule_facts(p) for p in validation_problems(f"{table.kind} {row_id}", error)]
    return [f"{problem}: kept in the table, and {consequence}; PRUNE=1 deletes it" for problem in problems]


def _after_load_problems(table: Table, rows: dict[str, dict[str, Any]], result: Diff) -> list[Problem]:
    """Experiments running side by side once the file is loaded, with the rows the table keeps."""
    if table.kind != "experiment":
        return []
    running: dict[str, list[str]] = {}
    for row_id, row in [*rows.items(), *_kept_rows(table, result).items()]:
        try:
            experiment = _experiment_model(row)
        except ValidationError:  # an invalid kept row is warned about, and never runs
            continue
        if experiment.status == "running":
            running.setdefault(experiment.trigger, []).append(row_id)
    return [
        Problem(
            f"experiment {ids[0]}",
            "status",
            f"would run on {trigger} beside {', '.join(ids[1:])} (kept in the table): the functions run "
            "none of them until one is stopped; stop it in the file, or PRUNE=1",
        )
        for trigger, ids in sorted(running.items())
        if len(ids) > 1
    ]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
