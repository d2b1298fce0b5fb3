"""The agent world's CloudFront distribution: the assets bucket and ``/api/*`` to the REST API.

The assets bucket is read through an origin access control and admits only this
distribution; HTTPS only (TLS 1.2 2021 with a custom domain: ``dns.cdn_host``, whose
certificate and A/AAAA aliases the stack creates, or ``agent_world.domain_names`` with a
certificate brought); a response-headers policy (HSTS, nosniff, frame and referrer
policies) on every behaviour; with ``security.waf`` a CLOUDFRONT-scope web ACL; standard
logs (v2) to a log group in prod. CloudFront takes certificates and web ACLs from
us-east-1 only, so those are created through an explicit us-east-1 provider whatever the
stack's region. Each function creates children of the stack (``parent=stack``) under the
logical names they always had, so their URNs do not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.blocks.certificates import AliasTarget, DnsCertificate, DnsCertificateArgs
from components.blocks.waf import WebAcl, WebAclArgs
from components.lib import names
from components.lib.agent_world_roles import STAGE
from components.lib.policies import Condition, Principal, Statement

if TYPE_CHECKING:
    from components.stacks.agent_world.stack import AgentWorldArgs, AgentWorldStack

# CloudFront's managed cache and origin request policies (fixed IDs published by AWS).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
CLOUDFRONT_REGION = "us-east-1"
"""Where CloudFront's certificates and web ACLs must be (ACM and WAF CLOUDFRONT scope)."""
HSTS_MAX_AGE = 63072000
"""Two years: the max-age the HSTS preload list asks for."""


@dataclass(frozen=True)
class Edge:
    """What the distribution takes from us-east-1, each when configured."""

    host: DnsCertificate | None = None
    """The certificate (and aliases) of ``dns.cdn_host``."""
    web_acl: WebAcl | None = None
    """The CLOUDFRONT web ACL of ``security.waf``."""


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
    edge = _edge(stack, name, args)
    headers = _response_headers(name, args, child)
    stack.distribution = _distribution(stack, name, args, oac, edge, headers)
    if edge.host is not None:
        edge.host.alias(
            AliasTarget(
                dns_name=stack.distribution.domain_name,
                zone_id=stack.distribution.hosted_zone_id,
                ipv6=True,
            )
        )
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


def _edge(stack: AgentWorldStack, name: str, args: AgentWorldArgs) -> Edge:
    """The us-east-1 provider, and through it the host's certificate (``dns.cdn_host``) and
    the CLOUDFRONT web ACL (``security.waf``), each only when configured."""
    dns, security, common = args.dns, args.security, args.common
    certify = bool(dns.cdn_host and dns.zone_id)
    if not (certify or security.waf):
        return Edge()
    provider = aws.Provider(
        f"{name}-{CLOUDFRONT_REGION}",
        region=CLOUDFRONT_REGION,
        opts=pulumi.ResourceOptions(parent=stack),
    )
    child = pulumi.ResourceOptions(parent=stack)
    host = None
    if certify:
        host = DnsCertificate(
            f"{name}-cdn-host",
            DnsCertificateArgs(
                host=dns.cdn_host, zone_id=dns.zone_id, provider=provider, tags=dict(common.tags)
            ),
            opts=child,
        )
    web_acl = None
    if security.waf:
        # The stack's logs key (until one is shared, its own key) serves its own region
        # only; elsewhere the ACL brings one.
        local = common.region == CLOUDFRONT_REGION
        key = common.log_key_arn or stack.data.key.arn
        web_acl = WebAcl(
            f"{name}-cdn-waf",
            WebAclArgs(
                name=names.web_acl(common.name_prefix, "cdn"),
                scope="CLOUDFRONT",
                rate_limit=security.waf_rate_limit,
                # /api/* takes documents up to 64 KB; the service limits bodies itself.
                large_bodies=True,
                count_rules=security.waf_count_rule_groups,
                region=CLOUDFRONT_REGION,
                provider=provider,
                log_retention_days=common.log_retention_days,
                log_key_arn=key if local else None,
                own_log_key=not local,
                tags=dict(common.tags),
            ),
            opts=child,
        )
    return Edge(host, web_acl)


def _response_headers(
    name: str, args: AgentWorldArgs, child: pulumi.ResourceOptions
) -> aws.cloudfront.ResponseHeadersPolicy:
    """HSTS (preload-ready), nosniff, frame-options DENY and a strict referrer policy on
    every answer, overriding what an origin sends."""
    return aws.cloudfront.ResponseHeadersPolicy(
        f"{name}-cdn-headers",
        name=names.response_headers_policy(args.common.name_prefix),
        comment="HSTS, nosniff, frame-options and referrer policy",
        security_headers_config={
            "strict_transport_security": {
                "access_control_max_age_sec": HSTS_MAX_AGE,
                "include_subdomains": True,
                "preload": True,
                "override": True,
            },
            "content_type_options": {"override": True},
            "frame_options": {"frame_option": "DENY", "override": True},
            "referrer_policy": {
                "referrer_policy": "strict-origin-when-cross-origin",
                "override": True,
            },
        },
        opts=child,
    )


def _viewer_certificate(args: AgentWorldArgs, edge: Edge) -> tuple[list, dict]:
    """The distribution's aliases and viewer certificate: the host's (created), the
    domain names' (brought), or CloudFront's default (dev only)."""
    a = args.agent_world
    tls = {"ssl_support_method": "sni-only", "minimum_protocol_version": "TLSv1.2_2021"}
    if edge.host is not None:
        return [args.dns.cdn_host], {"acm_certificate_arn": edge.host.arn, **tls}
    if a.domain_names:
        return list(a.domain_names), {"acm_certificate_arn": a.cdn_certificate_arn, **tls}
    return [], {"cloudfront_default_certificate": True}


def _distribution(
    stack: AgentWorldStack,
    name: str,
    args: AgentWorldArgs,
    oac: aws.cloudfront.OriginAccessControl,
    edge: Edge,
    headers: aws.cloudfront.ResponseHeadersPolicy,
) -> aws.cloudfront.Distribution:
    a = args.agent_world
    region = args.common.region
    api_domain = stack.rest_api.id.apply(lambda i: f"{i}.execute-api.{region}.amazonaws.com")
    aliases, certificate = _viewer_certificate(args, edge)
    return aws.cloudfront.Distribution(
        f"{name}-cdn",
        comment=f"{args.common.name_prefix} agent world",
        enabled=True,
        is_ipv6_enabled=True,
        http_version="http2and3",
        price_class=a.price_class,
        aliases=aliases,
        web_acl_id=edge.web_acl.arn if edge.web_acl is not None else None,
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
            "response_headers_policy_id": headers.id,
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
                "response_headers_policy_id": headers.id,
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
