"""HttpApiFrontDoor: an API Gateway HTTP API as the public HTTPS entry of an internal ALB."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.lib.agent_world_roles import SERVICE_HEADER
from components.parts import security_groups

MAX_TIMEOUT_SECONDS = 30
"""An HTTP API's longest integration timeout: botocore apigatewayv2 ``CreateIntegration``
``TimeoutInMillis`` is ``IntegerWithLengthBetween50And30000``."""
STAGE = "$default"
"""The stage served at the API's root, without a stage name in the path (a named stage's
name would reach the load balancer's path rules: "Create private integrations for HTTP
APIs", https://docs.aws.amazon.com/apigateway/latest/developerguide/
http-api-develop-integrations-private.html)."""
ROUTE = "$default"
"""The route of every method and path the others do not match: all of them."""
REMOVED_HEADERS = (SERVICE_HEADER,)
"""Request headers the front door drops before the load balancer: listener rules trust them
from inside the VPC only (the agent world's ``X-Agent-World-Service``, which its REST API
sets), and the front door's VPC link is inside the VPC. Parameter mapping
``remove:header.<name>`` ("Transform API requests and responses for HTTP APIs",
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html)."""
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "path": "$context.path",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationError": "$context.integrationErrorMessage",
    "userAgent": "$context.identity.userAgent",
}
"""One JSON line per request, of HTTP API access-log variables ("Customize HTTP API access
logs", https://docs.aws.amazon.com/apigateway/latest/developerguide/
http-api-logging-variables.html); at most 1024 characters (``AccessLogSettings.Format``)."""


@dataclass(frozen=True)
class HttpApiFrontDoorArgs:
    """Inputs of :class:`HttpApiFrontDoor`."""

    name: str
    """Name of the API, its VPC link and (under ``/aws/apigateway/``) its access-log group.
    Required."""
    vpc_id: pulumi.Input[str]
    """VPC of the load balancer. Required."""
    subnet_ids: pulumi.Input[Sequence[str]]
    """Subnets of the VPC link's network interfaces (the private ones). Required."""
    listener_arn: pulumi.Input[str]
    """The load balancer listener every request goes to. Required."""
    listener_port: int
    """Its port, the only one the VPC link may reach. Required."""
    load_balancer_security_group_id: pulumi.Input[str]
    """The load balancer's security group, which admits the VPC link. Required."""
    timeout_seconds: int = MAX_TIMEOUT_SECONDS
    """Seconds the API waits for the load balancer (1-30). Default 30."""
    throttling_rate_limit: float = 100
    """Steady requests per second the stage admits (the account's regional limit is
    10,000). Default 100."""
    throttling_burst_limit: int = 200
    """Requests the stage admits in a burst. Default 200."""
    log_retention_days: int = 365
    """Days access logs are kept. Default 365."""
    log_key_arn: pulumi.Input[str] | None = None
    """KMS key of the access-log group (the platform's logs key). Default: CloudWatch
    Logs' own encryption."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every taggable child. Default none."""


def timeout_error(seconds: int) -> str | None:
    """Why ``seconds`` cannot be the integration timeout, or None."""
    if 1 <= seconds <= MAX_TIMEOUT_SECONDS:
        return None
    return f"an integration timeout of 1-{MAX_TIMEOUT_SECONDS} s (got {seconds})"


class HttpApiFrontDoor(pulumi.ComponentResource):
    """The internet's way in to an internal application load balancer.

    Creates an HTTP API (HTTPS on ``https://<api id>.execute-api.<region>.amazonaws.com``
    with API Gateway's certificate; no idle charge, billed per request); a VPC link in the
    given subnets with a security group of its own whose only egress is the listener port of
    the load balancer's group, and that group's ingress rule admitting it; one HTTP_PROXY
    integration through the VPC link to the listener (payload 1.0, the timeout, the headers
    of :data:`REMOVED_HEADERS` dropped); the ``$default`` route to it; and the ``$default``
    stage, deployed on every change, throttled, with JSON access logs to a log group with
    retention and the logs key. HTTP APIs write access logs through CloudWatch Logs' log
    delivery, not through API Gateway's account role ("Configure logging for HTTP APIs",
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging.html).
    """

    TYPE = "mlplatform:ingress:HttpApiFrontDoor"

    api: aws.apigatewayv2.Api
    """The HTTP API."""
    vpc_link: aws.apigatewayv2.VpcLink
    """The VPC link to the load balancer."""
    security_group: aws.ec2.SecurityGroup
    """The VPC link's security group."""
    stage: aws.apigatewayv2.Stage
    """The ``$default`` stage."""
    access_logs: aws.cloudwatch.LogGroup
    """The stage's access-log group."""
    url: pulumi.Output[str]
    """``https://<api id>.execute-api.<region>.amazonaws.com``, no trailing slash."""
    host: pulumi.Output[str]
    """The API's host name, the ``Host`` its clients send."""

    def __init__(
        self, name: str, args: HttpApiFrontDoorArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(self.TYPE, name, None, opts)
        if error := timeout_error(args.timeout_seconds):
            raise ValueError(f"HttpApiFrontDoor {name}: expected {error}")
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"{args.name}: API Gateway VPC link, out to the load balancer only",
            tags={**tags, "Name": f"{args.name}-vpc-link"},
            opts=child,
        )
        security_groups.egress_to(
            f"{name}-to-lb",
            group_id=self.security_group.id,
            target_id=args.load_balancer_security_group_id,
            ports=args.listener_port,
            description="To the load balancer listener",
            opts=child,
        )
        security_groups.ingress_from(
            f"{name}-lb-from-link",
            group_id=args.load_balancer_security_group_id,
            source_id=self.security_group.id,
            ports=args.listener_port,
            description="From the HTTP API front door (API Gateway VPC link)",
            opts=child,
        )
        self.vpc_link = aws.apigatewayv2.VpcLink(
            f"{name}-vpc-link",
            name=args.name,
            subnet_ids=args.subnet_ids,
            security_group_ids=[self.security_group.id],
            tags=tags,
            opts=child,
        )
        self.api = aws.apigatewayv2.Api(
            f"{name}-api",
            name=args.name,
            description="Public HTTPS entry of the internal load balancer",
            protocol_type="HTTP",
            tags=tags,
            opts=child,
        )
        integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=self.api.id,
            description="Every request to the load balancer listener",
            integration_type="HTTP_PROXY",
            integration_method="ANY",
            integration_uri=args.listener_arn,
            connection_type="VPC_LINK",
            connection_id=self.vpc_link.id,
            payload_format_version="1.0",
            timeout_milliseconds=args.timeout_seconds * 1000,
            request_parameters={f"remove:header.{h.lower()}": "''" for h in REMOVED_HEADERS},
            opts=child,
        )
        route = aws.apigatewayv2.Route(
            f"{name}-route",
            api_id=self.api.id,
            route_key=ROUTE,
            target=integration.id.apply(lambda i: f"integrations/{i}"),
            opts=child,
        )
        self.access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/{args.name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_key_arn,
            tags=tags,
            opts=child,
        )
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=self.api.id,
            name=STAGE,
            auto_deploy=True,
            access_log_settings={
                "destination_arn": self.access_logs.arn,
                "format": pulumi.Output.json_dumps(ACCESS_LOG_FORMAT),
            },
            default_route_settings={
                "throttling_rate_limit": args.throttling_rate_limit,
                "throttling_burst_limit": args.throttling_burst_limit,
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[route]),
        )
        self.url = self.api.api_endpoint
        self.host = self.api.api_endpoint.apply(lambda u: u.split("://", 1)[-1].rstrip("/"))
        self.register_outputs({"url": self.url})
