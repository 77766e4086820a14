"""python -m reporting --deliveries-table NAME --experiments-table NAME [--region R]
[--endpoint-url URL] [--since ISO]: the report of the deployed tables (or of any endpoint's)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime

import boto3

from reporting.records import parse_time, read_tables
from reporting.render import render
from reporting.report import build_report


def _instant(value: str) -> datetime:
    parsed = parse_time(value)
    if parsed is None:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 date or time: {value!r}")
    return parsed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m reporting", description=__doc__)
    parser.add_argument("--deliveries-table", required=True, help="the Deliveries table's name")
    parser.add_argument("--experiments-table", required=True, help="the Experiments table's name")
    parser.add_argument("--region", help="the tables' region (default: the AWS configuration's)")
    parser.add_argument("--endpoint-url", help="another DynamoDB endpoint, e.g. the local stack's moto")
    parser.add_argument(
        "--since", type=_instant, help="only records decided at or after this (2026-11-01, or a UTC time)"
    )
    args = parser.parse_args(argv)
    client = boto3.client("dynamodb", region_name=args.region, endpoint_url=args.endpoint_url)
    deliveries, experiments = read_tables(client, args.deliveries_table, args.experiments_table)
    print(render(build_report(deliveries, experiments, since=args.since)), end="")


if __name__ == "__main__":
    main()
