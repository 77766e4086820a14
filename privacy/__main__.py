"""python -m privacy export-customer --id CUSTOMER_ID [--stack NAME [--region R]]: everything Nudge
stores about one customer, as JSON on stdout (a subject access request).

With --stack, from that deployed stack's tables (their names from its Outputs). Without, from the
local stack on moto after the sample day: the sample data seeded and every sample event handled, on
the sample day's clock; the handlers' logs go to out/logs/export-customer.jsonl, not stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from nudge.adapters import clients
from privacy import stack_tables
from privacy.export import HASH_KEY_LOGICAL_ID, ExportTables, export_customer


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m privacy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser(
        "export-customer", help="print everything stored about one customer as JSON (subject access)"
    )
    export.add_argument("--id", required=True, dest="customer_id", help="the store's customer id")
    export.add_argument(
        "--stack", help="a deployed stack's name (default: the local stack, after the sample day)"
    )
    export.add_argument("--region", help="the deployed stack's region (default: the AWS configuration's)")
    args = parser.parse_args(argv)
    if args.region and not args.stack:
        parser.error("--region is the deployed stack's: give --stack too")
    if args.stack:
        try:
            exported = _from_deployed_stack(args.stack, args.region, args.customer_id)
        except (BotoCoreError, ClientError, stack_tables.IncompleteStackError) as error:
            parser.exit(1, f"{parser.prog}: {error}\n")
    else:
        exported = _from_local_stack(args.customer_id)
    print(json.dumps(exported, indent=2, ensure_ascii=False))
    return 0


def _from_deployed_stack(stack_name: str, region: str | None, customer_id: str) -> dict[str, Any]:
    if region:
        # The layer's DAL reads through one Session made from the environment (nudge.adapters.clients).
        os.environ["AWS_DEFAULT_REGION"] = region
        clients.forget()
    deployed = stack_tables.resolve(stack_name, region)
    if deployed.hash_key is None:
        print(
            f"{HASH_KEY_LOGICAL_ID} could not be read, the suppression list is not looked up: "
            f"{deployed.hash_key_unreadable}",
            file=sys.stderr,
        )
    return export_customer(deployed.tables, customer_id, deployed.hash_key)


def _from_local_stack(customer_id: str) -> dict[str, Any]:
    # Imported here: an export from a deployed stack needs neither moto nor the local stack.
    import time_machine

    from local_stack.emulator.capture import stdout_to
    from local_stack.emulator.lambda_runtime import EventSourceMappings
    from local_stack.emulator.moto_endpoint import running_moto
    from local_stack.emulator.run import put_events
    from local_stack.emulator.scenario import SAMPLE_DAY_CLOCK, load_sample_events
    from local_stack.emulator.seed import seed_sample_data, verify_sender_identity
    from local_stack.emulator.stack import REPO_ROOT, build_stack
    from nudge.customers.hashing import hash_key

    with (
        time_machine.travel(SAMPLE_DAY_CLOCK, tick=True) as clock,
        running_moto(),
        stdout_to(REPO_ROOT / "out" / "logs" / "export-customer.jsonl"),
    ):
        stack = build_stack()
        verify_sender_identity(stack)
        seed_sample_data(stack)
        mappings = EventSourceMappings(stack, clock)
        put_events(stack, load_sample_events())
        mappings.drain()
        tables = ExportTables(
            customers=stack.names["CustomersTable"],
            deliveries=stack.names["DeliveriesTable"],
            consent_history=stack.names["ConsentHistoryTable"],
            suppression_list=stack.names["SuppressionListTable"],
        )
        return export_customer(tables, customer_id, hash_key(stack.secret_arns[HASH_KEY_LOGICAL_ID]))


if __name__ == "__main__":
    sys.exit(main())
