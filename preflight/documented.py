"""Rules AWS documents but no machine-readable model carries, each written once with its
source. botocore's EC2 and API Gateway models declare these values as plain strings; the
services refuse them at deploy time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from preflight.model import ERROR, Context, Finding, Resource

SSE_CONFIGURATION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- EC2: security group and rule descriptions ----------------------------------------
# "Constraints: Up to 255 characters in length. Valid characters: a-z, A-Z, 0-9, spaces,
# and ._-:/()#,@[]+=&;{}!$*" (EC2 API Reference, CreateSecurityGroup GroupDescription and
# IpRange/UserIdGroupPair Description); the VPC security group rule resources send the
# same field through AuthorizeSecurityGroupIngress/Egress.
EC2_DESCRIPTION_SOURCE = (
    "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html"
)
EC2_DESCRIPTION = re.compile(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}")
EC2_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "aws:ec2/securityGroup:SecurityGroup": (
        "description",
        "ingress[].description",
        "egress[].description",
    ),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": (
        "ingress[].description",
        "egress[].description",
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("description",),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("description",),
    "aws:ec2/securityGroupRule:SecurityGroupRule": ("description",),
}

# --- API Gateway access-log variables ------------------------------------------------
# REST: "Variables for access logging for API Gateway"
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-variables-for-access-logging.html);
# WebSocket: "Configure logging for WebSocket APIs in API Gateway"
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-logging.html);
# HTTP: "Customize HTTP API access logs"
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html).
# A name ending in "." is a prefix (an authorizer's context keys, a client certificate's fields).
REST_LOG_SOURCE = (
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/"
    "api-gateway-variables-for-access-logging.html"
)
WEBSOCKET_LOG_SOURCE = (
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-logging.html"
)
HTTP_LOG_SOURCE = (
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html"
)
_SHARED_LOG_VARIABLES = _words(
    """
    apiId authorize.error authorize.latency authorize.status authorizer.
    authenticate.error authenticate.latency authenticate.status domainName error.message
    error.messageString error.responseType error.validationErrorString extendedRequestId
    identity.accountId identity.apiKey identity.apiKeyId identity.caller
    identity.cognitoAuthenticationProvider identity.cognitoAuthenticationType
    identity.cognitoIdentityId identity.cognitoIdentityPoolId identity.principalOrgId
    identity.sourceIp identity.user identity.userAgent identity.userArn integration.error
    integration.integrationStatus integration.latency integration.requestId
    integration.status integrationLatency integrationStatus requestId requestTime
    requestTimeEpoch stage status
    """
)
REST_LOG_VARIABLES = _SHARED_LOG_VARIABLES | _words(
    """
    accountId awsEndpointRequestId customDomain.basePathMatched deploymentId domainPrefix
    httpMethod identity.clientCert. identity.vpcId identity.vpceId isCanaryRequest path
    protocol resourceId resourcePath responseLatency responseLength wafResponseCode
    webaclArn waf.error waf.latency waf.status xrayTraceId
    """
)
WEBSOCKET_LOG_VARIABLES = _SHARED_LOG_VARIABLES | _words(
    "connectedAt connectionId eventType messageId routeKey"
)
HTTP_LOG_VARIABLES = _words(
    """
    accountId apiId authorizer.claims. authorizer.error authorizer. awsEndpointRequestId
    awsEndpointRequestId2 customDomain.basePathMatched dataProcessed domainName domainPrefix
    error.message error.messageString error.responseType extendedRequestId httpMethod
    identity.accountId identity.caller identity.cognitoAuthenticationProvider
    identity.cognitoAuthenticationType identity.cognitoIdentityId
    identity.cognitoIdentityPoolId identity.principalOrgId identity.clientCert.
    identity.sourceIp identity.user identity.userAgent identity.userArn integration.error
    integration.integrationStatus integration.latency integration.requestId
    integration.status integrationErrorMessage integrationLatency integrationStatus path
    protocol requestId requestTime requestTimeEpoch responseLatency responseLength routeKey
    stage status
    """
)
LOG_FORMATS: dict[str, tuple[frozenset[str], str]] = {
    "aws:apigateway/stage:Stage": (REST_LOG_VARIABLES, REST_LOG_SOURCE),
    "aws:apigatewayv2/stage:Stage": (WEBSOCKET_LOG_VARIABLES, WEBSOCKET_LOG_SOURCE),
}
_CONTEXT_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_.]*[A-Za-z0-9_])")

# --- VPC flow log record fields --------------------------------------------------------
# "Flow log records: available fields" (version 2-8)
# (https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html).
FLOW_LOG_SOURCE = "https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html"
FLOW_LOG_FIELDS = _words(
    """
    version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes
    start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr
    pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service
    pkt-dst-aws-service flow-direction traffic-path ecs-cluster-arn ecs-cluster-name
    ecs-container-instance-arn ecs-container-instance-id ecs-container-id
    ecs-second-container-id ecs-service-name ecs-task-definition-arn ecs-task-arn
    ecs-task-id reject-reason resource-id encryption-status
    """
)

# --- S3 buckets that receive load balancer access logs -------------------------------
# "The only server-side encryption option that's supported is Amazon S3-managed keys
# (SSE-S3)" (Elastic Load Balancing, "Enable access logs for your Application Load
# Balancer", bucket requirements).
ALB_LOG_BUCKET_SOURCE = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html"
)


def _values(props: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(concrete path, value) for a path whose ``[]`` parts walk every list item."""
    head, sep, rest = path.partition("[].")
    if not sep:
        if isinstance(props, dict) and path in props:
            yield path, props[path]
        return
    items = props.get(head) if isinstance(props, dict) else None
    for i, item in enumerate(items or []):
        for sub, value in _values(item, rest):
            yield f"{head}.{i}.{sub}", value


def ec2_descriptions(r: Resource) -> Iterator[Finding]:
    for path in EC2_DESCRIPTIONS.get(r.type, ()):
        for where, value in _values(r.props, path):
            if isinstance(value, str) and not EC2_DESCRIPTION.fullmatch(value):
                bad = sorted({c for c in value if not EC2_DESCRIPTION.fullmatch(c)})
                yield Finding(
                    "documented/ec2-description",
                    ERROR,
                    r.name,
                    r.type,
                    where,
                    value,
                    "EC2 accepts at most 255 of a-zA-Z0-9 ._-:/()#,@[]+=&;{}!$* here"
                    + (f"; refused: {''.join(bad)!r}" if bad else ""),
                    EC2_DESCRIPTION_SOURCE,
                )


def _v2_api_protocols(resources: list[Resource]) -> dict[str, str]:
    """The ``protocolType`` (HTTP or WEBSOCKET) of each API Gateway v2 API, by its ID."""
    return {
        r.id: r.props.get("protocolType", "")
        for r in resources
        if r.type == "aws:apigatewayv2/api:Api" and r.id
    }


def log_format_variables(r: Resource, protocols: dict[str, str] | None = None) -> Iterator[Finding]:
    known, source = LOG_FORMATS.get(r.type, (None, ""))
    kind = "REST" if r.type == "aws:apigateway/stage:Stage" else "WebSocket"
    if r.type == "aws:apigatewayv2/stage:Stage":
        # A v2 stage logs its API's variables: HTTP or WebSocket. Where the API is not
        # known (a preview, before its ID exists), either set's variables are taken.
        protocol = (protocols or {}).get(r.props.get("apiId"), "")
        if protocol == "HTTP":
            known, source, kind = HTTP_LOG_VARIABLES, HTTP_LOG_SOURCE, "HTTP"
        elif protocol != "WEBSOCKET":
            known, kind = WEBSOCKET_LOG_VARIABLES | HTTP_LOG_VARIABLES, "WebSocket or HTTP"
    if known is None:
        return
    text = r.get("accessLogSettings.format")
    if not isinstance(text, str):
        return
    for name in dict.fromkeys(_CONTEXT_VARIABLE.findall(text)):
        if name in known or any(p.endswith(".") and name.startswith(p) for p in known):
            continue
        yield Finding(
            "documented/log-format-variable",
            ERROR,
            r.name,
            r.type,
            "accessLogSettings.format",
            f"$context.{name}",
            f"not a {kind} API access-log variable (API Gateway refuses the stage: "
            "BadRequestException)",
            source,
        )


def flow_log_format(r: Resource) -> Iterator[Finding]:
    if r.type != "aws:ec2/flowLog:FlowLog" or not isinstance(r.get("logFormat"), str):
        return
    for name in re.findall(r"\$\{([^}]*)\}", r.get("logFormat")):
        if name not in FLOW_LOG_FIELDS:
            yield Finding(
                "documented/flow-log-field",
                ERROR,
                r.name,
                r.type,
                "logFormat",
                f"${{{name}}}",
                "not a flow log record field",
                FLOW_LOG_SOURCE,
            )


def alb_log_buckets(resources: list[Resource]) -> Iterator[Finding]:
    """A bucket that receives load balancer access logs is encrypted with SSE-S3 only."""
    targets = {
        r.get("accessLogs.bucket")
        for r in resources
        if r.type == "aws:lb/loadBalancer:LoadBalancer" and r.get("accessLogs.enabled")
    }
    buckets = {
        name: r
        for r in resources
        if r.type in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
        for name in (r.outputs.get("bucket"), r.outputs.get("id"), r.props.get("bucket"))
        if name
    }
    for r in resources:
        if r.type != SSE_CONFIGURATION:
            continue
        if r.get("bucket") not in targets or r.get("bucket") not in buckets:
            continue
        for i, rule in enumerate(r.get("rules") or []):
            algorithm = (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
            if algorithm != "AES256":
                yield Finding(
                    "documented/alb-log-bucket-sse",
                    ERROR,
                    r.name,
                    r.type,
                    f"rules.{i}.applyServerSideEncryptionByDefault.sseAlgorithm",
                    algorithm,
                    "a bucket receiving load balancer access logs must use SSE-S3 (AES256)",
                    ALB_LOG_BUCKET_SOURCE,
                )


# "PriorityInUse: The specified priority is in use." (Elastic Load Balancing API
# Reference, CreateRule errors): a listener's rules have distinct priorities.
PRIORITY_SOURCE = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateRule.html"
)


def listener_rule_priorities(resources: list[Resource]) -> Iterator[Finding]:
    """Rules of one listener (several stacks share the inference ALB) differ in priority."""
    taken: dict[tuple[Any, Any], str] = {}
    for r in resources:
        if r.type != "aws:lb/listenerRule:ListenerRule":
            continue
        listener, priority = r.props.get("listenerArn"), r.props.get("priority")
        if not isinstance(listener, str) or priority is None:
            continue  # unknown until deploy, or left to AWS (the next free priority)
        other = taken.setdefault((listener, float(priority)), r.name)
        if other != r.name:
            yield Finding(
                "documented/listener-rule-priority", ERROR, r.name, r.type, "priority",
                priority, f"{other} has this priority on the same listener", PRIORITY_SOURCE,
            )  # fmt: skip


# --- logs a service writes into a log group of its own naming ---------------------------
# RDS publishes each exported log to "/aws/rds/instance/<instance>/<log type>" (Aurora:
# "/aws/rds/cluster/<cluster>/<log type>") and creates that group, unencrypted and never
# expiring, unless it exists ("Publishing database logs to Amazon CloudWatch Logs", RDS
# and Aurora User Guides). API Gateway writes a REST stage's execution logs to
# "API-Gateway-Execution-Logs_<rest api id>/<stage>" ("Set up CloudWatch logging for REST
# APIs in API Gateway") and a WebSocket stage's to "/aws/apigateway/<api id>/<stage>",
# creating the group the same way. The program creates each first, so it has retention
# and the logs key: a group of another name is never written, and the service's own is.
RDS_EXPORT_SOURCE = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/"
    "USER_LogAccess.Procedural.UploadtoCloudWatch.html"
)
APIGATEWAY_EXECUTION_SOURCE = (
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html"
)


def _service_log_groups(resources: list[Resource]) -> Iterator[tuple[Resource, str, str, str]]:
    """(resource, property, log group the service writes to, source) per service log."""
    for r in resources:
        if r.type == "aws:rds/instance:Instance":
            kind, identifier = "instance", r.props.get("identifier")
        elif r.type == "aws:rds/cluster:Cluster":
            kind, identifier = "cluster", r.props.get("clusterIdentifier")
        else:
            kind = identifier = None
        if kind is not None and isinstance(identifier, str):
            for log in r.props.get("enabledCloudwatchLogsExports") or []:
                group = f"/aws/rds/{kind}/{identifier}/{log}"
                yield r, "enabledCloudwatchLogsExports", group, RDS_EXPORT_SOURCE
        if r.type == "aws:apigateway/methodSettings:MethodSettings":
            level = (r.props.get("settings") or {}).get("loggingLevel")
            api, stage = r.props.get("restApi"), r.props.get("stageName")
            if level not in (None, "OFF") and isinstance(api, str) and isinstance(stage, str):
                group = f"API-Gateway-Execution-Logs_{api}/{stage}"
                yield r, "settings.loggingLevel", group, APIGATEWAY_EXECUTION_SOURCE
        if r.type == "aws:apigatewayv2/stage:Stage":
            level = (r.props.get("defaultRouteSettings") or {}).get("loggingLevel")
            api, stage = r.props.get("apiId"), r.props.get("name")
            if level not in (None, "OFF") and isinstance(api, str) and isinstance(stage, str):
                group = f"/aws/apigateway/{api}/{stage}"
                yield r, "defaultRouteSettings.loggingLevel", group, APIGATEWAY_EXECUTION_SOURCE


def service_log_groups(resources: list[Resource]) -> Iterator[Finding]:
    """Every log a service writes goes to a log group the program creates."""
    created = {
        r.props.get("name") for r in resources if r.type == "aws:cloudwatch/logGroup:LogGroup"
    }
    for r, path, group, source in _service_log_groups(resources):
        if group not in created:
            yield Finding(
                "documented/service-log-group", ERROR, r.name, r.type, path, group,
                "the service writes to this log group and no log group of this name is "
                "created: it would create it unencrypted and keep it forever",
                source,
            )  # fmt: skip


# "You can use default bucket encryption on the destination bucket only if you use
# server-side encryption with Amazon S3 managed keys (SSE-S3). Default server-side
# encryption with AWS KMS keys (SSE-KMS) is not supported for server access logging
# destination buckets." (S3 User Guide, troubleshooting server access logging); and the
# destination "should not have server access logging enabled" (enabling it).
ACCESS_LOG_SOURCE = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshooting-server-access-logging.html"


def access_log_buckets(resources: list[Resource]) -> Iterator[Finding]:
    """A bucket receiving S3 server access logs uses SSE-S3 and logs nowhere itself."""
    logging = [r for r in resources if r.type == "aws:s3/bucketLogging:BucketLogging"]
    named = {r.props.get("targetBucket") for r in logging} - {None}
    targets: set[Any] = set()
    for r in resources:  # a bucket is referred to by its name or its ID (the same in S3)
        if r.type in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            refs = {r.outputs.get("bucket"), r.outputs.get("id"), r.props.get("bucket")} - {None}
            if refs & named:
                targets |= refs
    for r in logging:
        if r.props.get("bucket") in targets:
            yield Finding(
                "documented/access-log-bucket", ERROR, r.name, r.type, "bucket",
                r.props.get("bucket"), "a bucket receiving server access logs logs into "
                "another: its own logs would log themselves", ACCESS_LOG_SOURCE,
            )  # fmt: skip
    for r in resources:
        if r.type != SSE_CONFIGURATION or r.get("bucket") not in targets:
            continue
        for i, rule in enumerate(r.get("rules") or []):
            algorithm = (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
            if algorithm != "AES256":
                yield Finding(
                    "documented/access-log-bucket", ERROR, r.name, r.type,
                    f"rules.{i}.applyServerSideEncryptionByDefault.sseAlgorithm", algorithm,
                    "a bucket receiving S3 server access logs must use SSE-S3 (AES256)",
                    ACCESS_LOG_SOURCE,
                )  # fmt: skip


# --- ECS: a task definition's containers, and a service's load balancers ----------------
# botocore's ECS model (ContainerDefinition, MountPoint, LoadBalancer) states these in its
# documentation only: "The total amount of memory reserved for all containers within a task
# must be lower than the task memory value" (ContainerDefinition.memory; a container
# reserves memoryReservation when set, else memory), "the total amount of CPU reserved for
# all containers within a task be lower than the task-level cpu value" (.cpu); a mount
# point's sourceVolume "must be a volume name referenced in the name parameter of task
# definition volume" (MountPoint.sourceVolume); a load balancer's containerName is "the name
# of the container (as it appears in a container definition)" and its containerPort "must
# correspond to a containerPort in the task definition" (LoadBalancer). ECS takes the totals
# up to the task's size (a container of the task's whole cpu is accepted), so equal passes.
# "you cannot attach more than five target groups to a service" (ECS developer guide,
# "Registering multiple target groups with an Amazon ECS service").
ECS_MODEL_SOURCE = "botocore/data/ecs/2014-11-13/service-2.json"
ECS_TARGET_GROUPS_SOURCE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/register-multiple-targetgroups.html"
ECS_MAX_TARGET_GROUPS = 5
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"


def _containers(task: Resource) -> list[dict[str, Any]]:
    value = task.props.get("containerDefinitions")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [c for c in value or [] if isinstance(c, dict)]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None  # unknown until deploy


def ecs_task_containers(r: Resource) -> Iterator[Finding]:
    """The containers' reservations fit the task's size; each mount names a task volume."""
    if r.type != TASK_DEFINITION:
        return
    containers = _containers(r)
    memory, cpu = _int(r.props.get("memory")), _int(r.props.get("cpu"))
    reserved = sum(_int(c.get("memoryReservation") or c.get("memory")) or 0 for c in containers)
    if memory is not None and reserved > memory:
        yield Finding(
            "documented/ecs-container-sizes", ERROR, r.name, r.type,
            "containerDefinitions[].memoryReservation", reserved,
            f"the containers reserve more memory than the task's {memory} MiB", ECS_MODEL_SOURCE,
        )  # fmt: skip
    shares = sum(_int(c.get("cpu")) or 0 for c in containers)
    if cpu is not None and shares > cpu:
        yield Finding(
            "documented/ecs-container-sizes", ERROR, r.name, r.type, "containerDefinitions[].cpu",
            shares, f"the containers reserve more than the task's {cpu} CPU units",
            ECS_MODEL_SOURCE,
        )  # fmt: skip
    volumes = {v.get("name") for v in r.props.get("volumes") or [] if isinstance(v, dict)}
    for c in containers:
        for point in c.get("mountPoints") or []:
            if point.get("sourceVolume") not in volumes:
                yield Finding(
                    "documented/ecs-mount-volume", ERROR, r.name, r.type,
                    f"containerDefinitions[{c.get('name')}].mountPoints[].sourceVolume",
                    point.get("sourceVolume"), "names no volume of the task definition",
                    ECS_MODEL_SOURCE,
                )  # fmt: skip


def ecs_service_load_balancers(resources: list[Resource]) -> Iterator[Finding]:
    """A service's load balancers name a container and port of its task definition, five
    target groups at most."""
    tasks = {r.outputs.get("arn"): r for r in resources if r.type == TASK_DEFINITION and r.outputs}
    for r in resources:
        if r.type != "aws:ecs/service:Service":
            continue
        balancers = [b for b in r.props.get("loadBalancers") or [] if isinstance(b, dict)]
        groups = [b["targetGroupArn"] for b in balancers if b.get("targetGroupArn")]
        if len(groups) > ECS_MAX_TARGET_GROUPS:
            yield Finding(
                "documented/ecs-service-target-groups", ERROR, r.name, r.type, "loadBalancers",
                len(groups), f"more than {ECS_MAX_TARGET_GROUPS} target groups",
                ECS_TARGET_GROUPS_SOURCE,
            )  # fmt: skip
        task = tasks.get(r.props.get("taskDefinition"))
        if task is None:
            continue  # not registered here, or unknown until deploy
        ports = {
            (c.get("name"), p.get("containerPort"))
            for c in _containers(task)
            for p in c.get("portMappings") or []
        }
        for i, b in enumerate(balancers):
            if (b.get("containerName"), b.get("containerPort")) not in ports:
                yield Finding(
                    "documented/ecs-service-load-balancer", ERROR, r.name, r.type,
                    f"loadBalancers.{i}", f"{b.get('containerName')}:{b.get('containerPort')}",
                    f"no container of {task.name} of this name maps this containerPort",
                    ECS_MODEL_SOURCE,
                )  # fmt: skip


def check(resources: list[Resource], context: Context) -> Iterator[Finding]:
    protocols = _v2_api_protocols(resources)
    for r in resources:
        yield from ec2_descriptions(r)
        yield from ecs_task_containers(r)
        yield from log_format_variables(r, protocols)
        yield from flow_log_format(r)
    yield from alb_log_buckets(resources)
    yield from listener_rule_priorities(resources)
    yield from service_log_groups(resources)
    yield from access_log_buckets(resources)
    yield from ecs_service_load_balancers(resources)
