"""The agent world's CloudFront distribution: the assets bucket and ``/api/*`` to the REST API.

The assets bucket is read through an origin access control and admits only this
distribution; HTTPS only (TLS 1.2 2021 with a custom domain); standard logs (v2) to a log
group in prod. Each function creates children of the stack (``parent=stack``) under the
logical names they always had, so their URNs do not change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.lib.agent_world_roles import STAGE
from components.lib.policies import Condition, Principal, Statement

if TYPE_CHECKING:
    from components.stacks.agent_world.stack import AgentWorldArgs, AgentWorldStack

# CloudFront's managed cache and origin request policies (fixed IDs published by AWS).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def create_cdn(stack: AgentWorldStack, name: str, args: AgentWorldArgs) -> None:
    """The distribution (``stack.distribution``, ``stack.cdn_domain``), the assets bucket's
    policy naming it, and (with deletion protection) its standard logs."""
    child = pulumi.ResourceOptions(parent=stack)
    assets = stack.data.assets
    oac = aws.cloudfront.OriginAccessControl(
        f"{name}-assets-oac",
        name=f"{args.common.name_prefix}-world-assets",
        description="CloudFront reads the agent world assets",
        origin_access_control_origin_type="s3",
        signing_behavior="always",
        signing_protocol="sigv4",
        opts=child,
    )
    stack.distribution = _distribution(stack, name, args, oac)
    assets.set_policy(
        [
            Statement(
                sid="CloudFrontReadsAssets",
                principals=[
                    Principal(type="Service", identifiers=["cloudfront.amazonaws.com"])
                ],
                actions=["s3:GetObject"],
                resources=[assets.arn.apply(lambda x: f"{x}/*")],
                conditions=[
                    Condition(test="StringEquals", variable="AWS:SourceArn",
                              values=[stack.distribution.arn])
                ],
            )
        ]
    )  # fmt: skip
    stack.cdn_domain = stack.distribution.domain_name
    if args.common.deletion_protection:
        _standard_logs(stack, name, args)


def _distribution(
    stack: AgentWorldStack,
    name: str,
    args: AgentWorldArgs,
    oac: aws.cloudfront.OriginAccessControl,
) -> aws.cloudfront.Distribution:
    a = args.agent_world
    region = args.common.region
    api_domain = stack.rest_api.id.apply(lambda i: f"{i}.execute-api.{region}.amazonaws.com")
    if a.domain_names:
        certificate = {
            "acm_certificate_arn": a.cdn_certificate_arn,
            "ssl_support_method": "sni-only",
            "minimum_protocol_version": "TLSv1.2_2021",
        }
    else:
        certificate = {"cloudfront_default_certificate": True}
    return aws.cloudfront.Distribution(
        f"{name}-cdn",
        comment=f"{args.common.name_prefix} agent world",
        enabled=True,
        is_ipv6_enabled=True,
        http_version="http2and3",
        price_class=a.price_class,
        aliases=list(a.domain_names),
        default_root_object="index.html",
        origins=[
            {
                "origin_id": "assets",
                "domain_name": stack.data.assets.bucket.bucket_regional_domain_name,
                "origin_access_control_id": oac.id,
            },
            {
                "origin_id": "api",
                "domain_name": api_domain,
                "origin_path": f"/{STAGE}",
                "custom_origin_config": {
                    "http_port": 80,
                    "https_port": 443,
                    "origin_protocol_policy": "https-only",
                    "origin_ssl_protocols": ["TLSv1.2"],
                },
            },
        ],
        default_cache_behavior={
            "target_origin_id": "assets",
            "viewer_protocol_policy": "redirect-to-https",
            "allowed_methods": ["GET", "HEAD"],
            "cached_methods": ["GET", "HEAD"],
            "cache_policy_id": CACHING_OPTIMIZED,
            "compress": True,
        },
        ordered_cache_behaviors=[
            {
                "path_pattern": "/api/*",
                "target_origin_id": "api",
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST",
                                    "DELETE"],
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": CACHING_DISABLED,
                "origin_request_policy_id": ALL_VIEWER_EXCEPT_HOST_HEADER,
                "compress": True,
            }
        ],
        restrictions={"geo_restriction": {"restriction_type": "none"}},
        viewer_certificate=certificate,
        tags=dict(args.common.tags),
        opts=pulumi.ResourceOptions(parent=stack),
    )  # fmt: skip


def _standard_logs(stack: AgentWorldStack, name: str, args: AgentWorldArgs) -> None:
    """Standard logging (v2) of the distribution to a log group (prod)."""
    child = pulumi.ResourceOptions(parent=stack)
    prefix = args.common.name_prefix
    logs = aws.cloudwatch.LogGroup(
        f"{name}-cdn-logs",
        name=f"/aws/cloudfront/{prefix}-agent-world",
        retention_in_days=args.common.log_retention_days,
        kms_key_id=args.common.log_key_arn,
        tags=dict(args.common.tags),
        opts=child,
    )
    source = aws.cloudwatch.LogDeliverySource(
        f"{name}-cdn-log-source",
        name=f"{prefix}-agent-world-cdn",
        log_type="ACCESS_LOGS",
        resource_arn=stack.distribution.arn,
        opts=child,
    )
    destination = aws.cloudwatch.LogDeliveryDestination(
        f"{name}-cdn-log-destination",
        name=f"{prefix}-agent-world-cdn",
        delivery_destination_configuration={"destination_resource_arn": logs.arn},
        opts=child,
    )
    aws.cloudwatch.LogDelivery(
        f"{name}-cdn-log-delivery",
        delivery_source_name=source.name,
        delivery_destination_arn=destination.arn,
        opts=child,
    )
