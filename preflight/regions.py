"""The stack's region exists, and offers every service the program uses there.

From botocore's endpoint data (``botocore/data/endpoints.json``): the regions of each
partition and the regions where each service has an endpoint.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from preflight.model import ERROR, Context, Finding, Resource

SOURCE = "botocore endpoints.json"
# Pulumi module -> the botocore endpoint prefix of the service it calls.
SERVICES = {
    "apigateway": "apigateway", "apigatewayv2": "apigateway", "appautoscaling":
    "application-autoscaling", "autoscaling": "autoscaling", "cloudwatch": "monitoring",
    "dynamodb": "dynamodb", "ec2": "ec2", "ecr": "api.ecr", "ecs": "ecs",
    "elasticache": "elasticache", "iam": "iam", "kms": "kms", "lb": "elasticloadbalancing",
    "rds": "rds", "s3": "s3", "secretsmanager": "secretsmanager", "sns": "sns", "sqs": "sqs",
    "vpc": "ec2", "servicequotas": "servicequotas",
}  # fmt: skip
GLOBAL = frozenset({"iam", "cloudfront"})


@functools.cache
def _endpoints() -> dict:
    import botocore.loaders

    return botocore.loaders.create_loader().load_data("endpoints")


def partition_regions() -> dict[str, set[str]]:
    return {p["partition"]: set(p["regions"]) for p in _endpoints()["partitions"]}


def service_regions(prefix: str) -> set[str]:
    regions: set[str] = set()
    for p in _endpoints()["partitions"]:
        for name in p["services"].get(prefix, {}).get("endpoints", {}):
            regions.add(name)
    return regions


def check(resources: list[Resource], context: Context) -> Iterator[Finding]:
    known = partition_regions().get(context.partition, set())
    if context.region not in known:
        yield Finding(
            "regions/unknown", ERROR, "aws:region", "config", "aws:region", context.region,
            f"not a region of the {context.partition} partition", SOURCE,
        )  # fmt: skip
        return
    reported: set[str] = set()
    for r in resources:
        if not r.type.startswith("aws:"):
            continue
        module = r.type.split(":")[1].split("/")[0]
        prefix = SERVICES.get(module)
        if prefix is None or module in GLOBAL or prefix in reported:
            continue
        if context.region not in service_regions(prefix):
            reported.add(prefix)
            yield Finding(
                "regions/service", ERROR, r.name, r.type, "", context.region,
                f"{prefix} has no endpoint in {context.region}", SOURCE,
            )  # fmt: skip
