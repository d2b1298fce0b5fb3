"""PublicLoadBalancer: the public entry services attach routes to, an internet-facing ALB or
an internal one behind an HTTP API front door."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.blocks.bucket import SecureBucket, SecureBucketArgs
from components.blocks.certificates import AliasTarget, DnsCertificate, DnsCertificateArgs
from components.blocks.front_door import MAX_TIMEOUT_SECONDS, HttpApiFrontDoor, HttpApiFrontDoorArgs
from components.lib import names
from components.lib.policies import Principal, Statement

# TLS 1.3 with TLS 1.2 for older clients: AWS's recommended policy for HTTPS listeners.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
ACCESS_LOG_PREFIX = "alb"
HSTS = "max-age=63072000; includeSubDomains; preload"
"""Strict-Transport-Security the ALB adds to every answer of its HTTPS listener (header
modification, listener attribute ``routing.http.response.strict_transport_security.
header_value``: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/
header-modification.html): two years, the max-age the HSTS preload list asks for. Set on
HTTPS listeners only: a host must not send HSTS over plain HTTP (RFC 6797, 7.2), where
the listener only redirects."""
NOT_FOUND = {
    "content_type": "application/json",
    "message_body": '{"detail": "Not Found"}',
    "status_code": "404",
}


def http_health_check(path: str) -> dict:
    """A service target group's health check: ``path`` answers 200 within 5 s, checked every
    15 s; healthy after 2 passes, unhealthy after 3 failures."""
    return {
        "path": path,
        "matcher": "200",
        "interval": 15,
        "timeout": 5,
        "healthy_threshold": 2,
        "unhealthy_threshold": 3,
    }


@dataclass(frozen=True)
class PublicLoadBalancerArgs:
    """Inputs of :class:`PublicLoadBalancer`."""

    name_prefix: str
    """Prefix of physical names, e.g. ``mlplatform-dev``. Required."""
    lb_name: str
    """Name of the load balancer (at most 32 characters). Required."""
    vpc_id: pulumi.Input[str]
    """VPC of the load balancer. Required."""
    subnet_ids: pulumi.Input[Sequence[str]]
    """Public subnets, one per AZ. Required."""
    front_door: bool = False
    """An :class:`HttpApiFrontDoor` is the public entry (``ingress.front_door`` http_api):
    the ALB is internal, in ``private_subnet_ids``, and admits only the front door's VPC
    link (and what the caller adds); ``url`` is the HTTP API's. Refuses a certificate, a
    host and a web ACL. Default false: the ALB is internet-facing."""
    private_subnet_ids: pulumi.Input[Sequence[str]] | None = None
    """Private subnets of the internal ALB and the VPC link, with ``front_door``. Default
    none."""
    log_key_arn: pulumi.Input[str] | None = None
    """KMS key of the front door's access-log group. Default: CloudWatch Logs' own."""
    allowed_cidr_blocks: Sequence[str] = ("0.0.0.0/0",)
    """IPv4 ranges admitted on the listener ports. Default anyone."""
    certificate_arn: str = ""
    """ACM certificate brought by the operator: HTTPS on 443 and HTTP redirected to it.
    Empty: the certificate of ``host``, else plain HTTP (dev)."""
    host: str = ""
    """Host name the load balancer serves, in ``zone_id``: a DNS-validated certificate of
    its own (used before ``certificate_arn``) and A alias records. Default none."""
    zone_id: str = ""
    """Route 53 hosted zone of ``host``. Default none."""
    web_acl_arn: pulumi.Input[str] | None = None
    """Regional AWS WAF web ACL to associate with the load balancer. Default none."""
    deletion_protection: bool = True
    """AWS-side deletion protection of the load balancer. Default true."""
    idle_timeout: int = 60
    """Seconds a connection may be idle (``idle_timeout.timeout_seconds``, 1-4000), which
    bounds how long a target may take to answer. Default 60, AWS's default."""
    access_logs: bool = True
    """Access logs to a bucket of their own. Default true."""
    log_retention_days: int = 365
    """Days access logs are kept. Default 365."""
    access_log_bucket: pulumi.Input[str] | None = None
    """Name of the bucket the log bucket's own S3 requests are logged to (server access
    logs, ``StackCommon.access_log_bucket``). Default none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every taggable child. Default none."""

    def front_door_error(self) -> str | None:
        """Why these arguments cannot have a front door, or None."""
        if not self.front_door:
            return None
        refused = [n for n, v in (("certificate_arn", self.certificate_arn), ("host", self.host),
                                  ("web_acl_arn", self.web_acl_arn is not None)) if v]  # fmt: skip
        if refused:
            return f"no {', '.join(refused)} with front_door (the HTTP API serves HTTPS)"
        if self.private_subnet_ids is None:
            return "private_subnet_ids with front_door (the internal ALB's subnets)"
        return None

    @property
    def certified_host(self) -> bool:
        """The load balancer's host gets a certificate and alias records of its own."""
        return bool(self.host and self.zone_id)

    @property
    def https(self) -> bool:
        return bool(self.certificate_arn) or self.certified_host


class PublicLoadBalancer(pulumi.ComponentResource):
    """An application load balancer in public subnets, ready for path or host rules.

    Creates a security group admitting the listener ports from ``allowed_cidr_blocks``
    only (one rule per range; no egress until a service adds a rule to its targets); the
    ALB, dropping invalid header fields (FSBP ELB.4), with deletion protection and access
    logs when asked (to a :class:`SecureBucket` with SSE-S3, which log delivery requires,
    writable only by this region's load-balancing service under ``alb/``); with a
    certificate (brought, or a :class:`DnsCertificate` of ``host`` with its A alias), an
    HTTPS listener with a TLS 1.3 policy that adds HSTS to every answer, and an HTTP
    listener that redirects to it, else a plain HTTP listener; the AWS WAF association when
    given a web ACL. The forwarding listener answers 404 to anything no rule matches.
    Services add ``aws.lb.ListenerRule`` on :attr:`listener` and egress rules from
    :attr:`security_group` to their targets.
    """

    TYPE = "mlplatform:ingress:PublicLoadBalancer"

    security_group: aws.ec2.SecurityGroup
    """The load balancer's security group."""
    load_balancer: aws.lb.LoadBalancer
    """The ALB."""
    listener: aws.lb.Listener
    """The listener that forwards: HTTPS with a certificate, else HTTP."""
    url: pulumi.Output[str]
    """``https://<dns name>`` or ``http://<dns name>``."""
    https: bool
    """The listener is HTTPS on 443 (else HTTP on 80, dev without a certificate)."""
    front_door: HttpApiFrontDoor | None
    """The HTTP API in front of the internal ALB, with ``front_door``."""
    hosts: list[pulumi.Output[str]]
    """The ``Host`` values clients reach the services with: the ALB's DNS name, and the
    front door's host name when there is one."""
    access_log_bucket: SecureBucket | None
    """The access log bucket, when access logs are on."""
    host: DnsCertificate | None
    """The host name's certificate and alias records, with ``host`` and ``zone_id``."""

    def __init__(
        self, name: str, args: PublicLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(self.TYPE, name, None, opts)
        if error := args.front_door_error():
            raise ValueError(f"PublicLoadBalancer {name}: expected {error}")
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        self._security_group(name, args, tags, child)
        self.access_log_bucket = None
        access_logs = self._access_logs(name, args, tags, child) if args.access_logs else None
        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-alb",
            name=args.lb_name,
            load_balancer_type="application",
            # Behind a front door, reached through its VPC link: no public address.
            internal=args.front_door,
            subnets=args.private_subnet_ids if args.front_door else args.subnet_ids,
            security_groups=[self.security_group.id],
            drop_invalid_header_fields=True,
            idle_timeout=args.idle_timeout,
            enable_deletion_protection=args.deletion_protection,
            access_logs=access_logs,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                # The bucket policy must exist before the ALB tests its log delivery.
                depends_on=[self.access_log_bucket.policy] if self.access_log_bucket else [],
            ),
        )

        self.host = None
        certificate_arn: pulumi.Input[str] = args.certificate_arn
        if args.certified_host:
            self.host = DnsCertificate(
                f"{name}-host",
                DnsCertificateArgs(host=args.host, zone_id=args.zone_id, tags=tags),
                opts=child,
            )
            certificate_arn = self.host.arn
            self.host.alias(
                AliasTarget(
                    dns_name=self.load_balancer.dns_name, zone_id=self.load_balancer.zone_id
                )
            )
        scheme = self._listeners(name, args, certificate_arn, tags, child)
        self.https = scheme == "https"
        self.hosts = [self.load_balancer.dns_name]
        self.front_door = None
        if args.front_door:
            self.front_door = HttpApiFrontDoor(
                f"{name}-front-door",
                HttpApiFrontDoorArgs(
                    name=names.front_door(args.lb_name),
                    vpc_id=args.vpc_id,
                    subnet_ids=args.private_subnet_ids,
                    listener_arn=self.listener.arn,
                    listener_port=80,
                    load_balancer_security_group_id=self.security_group.id,
                    timeout_seconds=min(args.idle_timeout, MAX_TIMEOUT_SECONDS),
                    log_retention_days=args.log_retention_days,
                    log_key_arn=args.log_key_arn,
                    tags=tags,
                ),
                opts=child,
            )
            self.url = self.front_door.url
            self.hosts.append(self.front_door.host)
        elif args.certified_host:
            self.url = pulumi.Output.from_input(f"{scheme}://{args.host}")
        else:
            self.url = self.load_balancer.dns_name.apply(lambda dns: f"{scheme}://{dns}")
        if args.web_acl_arn is not None:
            aws.wafv2.WebAclAssociation(
                f"{name}-waf",
                resource_arn=self.load_balancer.arn,
                web_acl_arn=args.web_acl_arn,
                opts=child,
            )

        self.register_outputs({"url": self.url})

    def _security_group(self, name, args: PublicLoadBalancerArgs, tags, child) -> None:
        """The group admitting the listener ports from the allowed ranges only (behind a
        front door: from its VPC link, the rule the front door adds)."""
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"{args.lb_name}: listener ports from the allowed ranges",
            tags={**tags, "Name": args.lb_name},
            opts=child,
        )
        if args.front_door:
            return
        ports = (80, 443) if args.https else (80,)
        for port in ports:
            for i, cidr in enumerate(args.allowed_cidr_blocks):
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-in-{port}-{i}",
                    security_group_id=self.security_group.id,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_ipv4=cidr,
                    description=f"{'HTTPS' if port == 443 else 'HTTP'} from {cidr}",
                    opts=child,
                )

    def _access_logs(
        self, name, args: PublicLoadBalancerArgs, tags, child
    ) -> aws.lb.LoadBalancerAccessLogsArgs:
        """The access log bucket (written by ELB's log delivery only) and the ALB's log settings."""
        elb_account = aws.elb.get_service_account_output()
        self.access_log_bucket = SecureBucket(
            f"{name}-logs",
            SecureBucketArgs(
                bucket_prefix=f"{args.name_prefix}-alb-logs-",
                retain=args.deletion_protection,
                sse_algorithm="AES256",
                noncurrent_version_days=1,
                lifecycle_rules=[
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id="expire-access-logs",
                        status="Enabled",
                        filter={"prefix": f"{ACCESS_LOG_PREFIX}/"},
                        expiration={"days": args.log_retention_days},
                    )
                ],
                access_log_bucket=args.access_log_bucket,
                access_log_name=f"{args.lb_name}-logs",
                policy_statements=lambda arn: [
                    Statement(
                        sid="LoadBalancerLogDelivery",
                        principals=[Principal(type="AWS", identifiers=[elb_account.arn])],
                        actions=["s3:PutObject"],
                        resources=[arn.apply(lambda a: f"{a}/{ACCESS_LOG_PREFIX}/AWSLogs/*")],
                    )
                ],
                tags=tags,
            ),
            opts=child,
        )
        return aws.lb.LoadBalancerAccessLogsArgs(
            bucket=self.access_log_bucket.bucket_name,
            prefix=ACCESS_LOG_PREFIX,
            enabled=True,
        )

    def _listeners(
        self, name, args: PublicLoadBalancerArgs, certificate_arn: pulumi.Input[str], tags, child
    ) -> str:
        """HTTPS with a redirect from HTTP, or HTTP alone (dev); returns the URL scheme."""
        if args.https:
            self.listener = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=self.load_balancer.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=certificate_arn,
                routing_http_response_strict_transport_security_header_value=HSTS,
                default_actions=[{"type": "fixed-response", "fixed_response": NOT_FOUND}],
                tags=tags,
                opts=child,
            )
            self.redirect_listener = aws.lb.Listener(
                f"{name}-http-redirect",
                load_balancer_arn=self.load_balancer.arn,
                port=80,
                protocol="HTTP",
                default_actions=[
                    {
                        "type": "redirect",
                        "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"},
                    }
                ],
                tags=tags,
                opts=child,
            )
            scheme = "https"
        else:
            self.listener = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=self.load_balancer.arn,
                port=80,
                protocol="HTTP",
                default_actions=[{"type": "fixed-response", "fixed_response": NOT_FOUND}],
                tags=tags,
                opts=child,
            )
            scheme = "http"
        return scheme
