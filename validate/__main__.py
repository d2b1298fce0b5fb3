"""``python -m validate STACK [--outputs FILE]``: check a deployed stack, one line per check.

Exit 0 when every check passes or is skipped, 1 when one fails, 2 with one line on bad
usage (a malformed flag, an unknown stack, outputs that cannot be read or parsed).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from validate import checks, endpoints, outputs
from validate.checks import FAIL, OK, SKIP, Context, Result
from validate.outputs import UsageError

AWS_CONFIG = Config(
    connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"}
)
"""Every AWS call gives up after seconds, not botocore's default minute per attempt."""
CHECKS: tuple[Callable[[Context], Iterator[Result]], ...] = (
    checks.check_ecs,  # first: the HTTP checks skip a service scaled to zero
    checks.check_database,
    checks.check_buckets,
    checks.check_queues,
    endpoints.check_endpoints,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(f"{message} (usage: ./tasks validate STACK [--outputs FILE])")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="./tasks validate", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="the stack (Pulumi.<STACK>.yaml)")
    parser.add_argument(
        "--outputs",
        metavar="FILE",
        help="the outputs as JSON (`pulumi stack output --json`); default: ask the Pulumi CLI",
    )
    return parser.parse_args(argv)


def region_of(found: dict[str, Any]) -> str:
    region = (
        checks.text(found, "aws_region")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
    )
    if not region:
        raise UsageError("no aws_region output and AWS_REGION is not set")
    return region


def run(found: dict[str, Any], allow_http: bool) -> list[Result]:
    """Every check of the outputs ``found``; a check that breaks is a failed check."""
    checks.check_shapes(found)
    try:
        session = boto3.session.Session(region_name=region_of(found))
    except BotoCoreError as error:  # AWS_PROFILE naming no profile, say
        raise UsageError(f"AWS configuration: {error}") from None
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(service, config=AWS_CONFIG)
        return clients[service]

    ctx = Context(outputs=found, client=client, allow_http=allow_http, desired={})
    results: list[Result] = []
    for check in CHECKS:
        try:
            for result in check(ctx):
                print(result.line(), flush=True)
                results.append(result)
        except Exception as error:  # a crashed check fails; the others still run
            result = Result(FAIL, check.__name__.removeprefix("check_"),
                            f"unexpected {type(error).__name__}: {error}")  # fmt: skip
            print(result.line(), flush=True)
            results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
        allow_http = outputs.stack_allows_http(args.stack)
        found = outputs.from_file(args.outputs) if args.outputs else outputs.from_pulumi(args.stack)
        results = run(found, allow_http)
    except UsageError as error:
        print(f"validate: {error}", file=sys.stderr)
        return 2
    count = {s: sum(r.state == s for r in results) for s in (OK, FAIL, SKIP)}
    verdict = "FAILED" if count[FAIL] else "passed"
    print(f"validate {args.stack}: {verdict}: {count[OK]} ok, {count[FAIL]} failed, "
          f"{count[SKIP]} skipped")  # fmt: skip
    return 1 if count[FAIL] else 0


if __name__ == "__main__":
    sys.exit(main())
