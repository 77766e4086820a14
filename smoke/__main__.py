"""python -m smoke --stack NAME [--region R] [--to ADDRESS]: the smoke test of a deployed stack (see
smoke.check). Exits 0 when the test email was sent, 1 otherwise."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from smoke import aws
from smoke.check import SIMULATOR_SUCCESS, run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smoke", description=__doc__)
    parser.add_argument("--stack", required=True, help="the deployed stack's name")
    parser.add_argument("--region", help="the stack's region (default: the AWS configuration's)")
    parser.add_argument(
        "--to",
        default=SIMULATOR_SUCCESS,
        help=f"the test customer's address (default: {SIMULATOR_SUCCESS}, SES's mailbox simulator; "
        "in the SES sandbox another address must be verified first)",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each step")
    args = parser.parse_args(argv)
    try:
        target, calls = aws.deployed(args.stack, args.region)
        print(f"smoke test of stack {args.stack}: bus {target.event_bus}, source {target.event_source}")
        result = run(
            target,
            calls,
            to=args.to,
            sleep=time.sleep,
            report=lambda line: print(f"  {line}", flush=True),
            timeout_seconds=args.timeout,
        )
    except (BotoCoreError, ClientError, aws.IncompleteStackError) as error:
        parser.exit(1, f"{parser.prog}: {error}\n")
    print("passed: the email was sent" if result.passed else "FAILED: no email was sent")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
