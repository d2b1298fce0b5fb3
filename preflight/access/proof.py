"""The proof itself: each call, the KMS actions its resource's key asks for, the service roles' work
and every key's users, evaluated with :mod:`preflight.simulate`."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from preflight.access.documented import GRANTEE_SERVICES, KMS_NEEDS
from preflight.access.lists import AccessList, Call
from preflight.access.stack import (
    KMS_KEY,
    ROLE,
    SAMPLE,
    USER,
    Runner,
    Stack,
    Target,
    _json,
    resolve,
    runners,
)
from preflight.model import Context, Resource, region_of
from preflight.principals import documented_source_keys
from preflight.simulate import Decision, Policy, Request, evaluate, evaluate_kms


@dataclass(frozen=True)
class Check:
    """One proven (or refused) request."""

    stack: str
    subject: str
    """Who: ``<image>/<program>`` or the role's purpose."""
    principal: str
    action: str
    resource: str
    decision: Decision
    what: str

    def line(self) -> str:
        verdict = "allowed" if self.decision.allowed else "DENIED"
        return (
            f"{self.stack}: {self.subject} ({self.what}) {self.action} on {self.resource} "
            f"as {self.principal}: {verdict} - {self.decision.reason}"
        )


@dataclass
class Proof:
    """What :func:`prove` found for one stack."""

    stack: str
    checks: list[Check] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """What could not be proven at all (an unresolved resource, a role nobody runs...)."""
    roles: dict[str, str] = field(default_factory=dict)
    """Each role's ARN -> what runs as it."""
    users: dict[str, str] = field(default_factory=dict)
    """Each IAM user's ARN -> what runs as it."""
    keys: dict[str, list[str]] = field(default_factory=dict)
    """Each registered key's ARN -> what was proven about it."""
    calls: list[str] = field(default_factory=list)
    """Each listed call proven, once per runner: ``<subject>: <call>``."""
    managed_keys: dict[str, list[str]] = field(default_factory=dict)
    """Each AWS managed key used (``alias/aws/s3``...) -> what was proven with its documented
    key policy."""

    @property
    def denied(self) -> list[Check]:
        return [c for c in self.checks if not c.decision.allowed]

    def failures(self) -> list[str]:
        return [c.line() for c in self.denied] + [f"{self.stack}: {p}" for p in self.problems]

    def counts(self) -> dict[str, int]:
        return {
            "calls": len(self.calls),
            "checks": len(self.checks),
            "kms checks": sum(c.action.startswith("kms:") for c in self.checks),
            "roles": len(self.roles),
            "users": len(self.users),
            "keys": len(self.keys),
            "AWS managed keys": len(self.managed_keys),
        }


# --- the proof ----------------------------------------------------------------------------------


def _base_context(stack: Stack, principal: str) -> dict[str, Any]:
    # Every call goes over TLS (boto3, the ECS agent), so bucket and queue TLS-only denies
    # do not apply; the caller's own account and ARN as IAM sets them.
    return {
        "aws:SecureTransport": True,
        "aws:PrincipalArn": principal,
        "aws:PrincipalAccount": stack.context.account,
    }


def _kms_context(stack: Stack, service: str, target: Target) -> dict[str, Any]:
    c = stack.context
    context: dict[str, Any] = {
        "kms:ViaService": f"{service}.{c.region}.amazonaws.com",
        "kms:CallerAccount": c.account,
    }
    r = target.resource
    if service == "dynamodb" and r is not None:
        context["kms:EncryptionContext:aws:dynamodb:tableName"] = r.outputs.get("name")
        context["kms:EncryptionContext:aws:dynamodb:subscriberId"] = c.account
    elif service == "s3" and r is not None:
        # With an S3 Bucket Key the context is the bucket's ARN, else the object's.
        bucket_key = any(
            rule.get("bucketKeyEnabled")
            for config in stack.bucket_encryption(r)
            for rule in config.props.get("rules") or []
        )
        context["kms:EncryptionContext:aws:s3:arn"] = r.outputs["arn"] if bucket_key else target.arn
    elif service == "secretsmanager":
        context["kms:EncryptionContext:SecretARN"] = target.arn
    elif service == "sqs":
        context["kms:EncryptionContext:aws:sqs:arn"] = target.arn
    return context


def _kms_actions(service: str, action: str, multipart: bool) -> tuple[tuple[str, ...], str]:
    needs = KMS_NEEDS.get(service, {})
    if not action.lower().startswith(f"{service}:"):
        return (), ""
    kms, source = needs.get(action) or needs.get("*") or ((), "")
    if multipart and action == "s3:PutObject":
        kms = (*kms, "kms:Decrypt")
    return kms, source


def prove_request(
    stack: Stack,
    proof: Proof,
    subject: str,
    what: str,
    principal: str,
    policies: Sequence[Policy],
    action: str,
    target: Target,
    context: Mapping[str, Any],
    multipart: bool = False,
) -> None:
    """One call: the action on the target, then the KMS actions its encryption asks for."""
    full = {**_base_context(stack, principal), **target.context, **context}
    resource_policy = stack.resource_policy(target.arn) if target.arn != "*" else None
    request = Request(principal, action, target.arn, full)
    decision = evaluate(request, policies, resource_policy)
    proof.checks.append(Check(proof.stack, subject, principal, action, target.arn, decision, what))
    encrypted = stack.encryption(target)
    if encrypted is None:
        return
    service, key = encrypted
    if service in GRANTEE_SERVICES:
        # The service decrypts with a grant it made on the key when the resource was
        # created (its creator needed kms:CreateGrant: see prove_keys), not as the caller.
        users = proof.managed_keys if key.managed_by_aws else proof.keys
        users.setdefault(key.arn, []).append(
            f"{action} by {principal} ({subject}) through {service}'s grant "
            f"[{GRANTEE_SERVICES[service]}]"
        )
        return
    if service not in KMS_NEEDS:
        if not key.managed_by_aws:
            proof.problems.append(
                f"{subject}: {what}: {target.arn} is encrypted with the customer managed key "
                f"{key.arn}, and what {service} asks of its caller for that is not on record "
                "(preflight/access/documented.py KMS_NEEDS)"
            )
        return
    kms_actions, source = _kms_actions(service, action, multipart)
    owner = "AWS managed key, its documented policy" if key.managed_by_aws else "key"
    for kms_action in kms_actions:
        kms_what = f"{what}: {action} on a resource encrypted with {key.arn} ({owner}) [{source}]"
        if key.policy is None:
            proof.problems.append(
                f"{subject}: {kms_what}: the key is not registered, its policy unknown"
            )
            continue
        kms_context = {**_base_context(stack, principal), **_kms_context(stack, service, target)}
        kms_request = Request(principal, kms_action, key.arn, kms_context)
        kms_decision = evaluate_kms(kms_request, key.policy, policies)
        proof.checks.append(
            Check(proof.stack, subject, principal, kms_action, key.arn, kms_decision, kms_what)
        )
        users = proof.managed_keys if key.managed_by_aws else proof.keys
        users.setdefault(key.arn, []).append(f"{kms_action} by {principal} ({subject})")


def _when_holds(call: Call, runner: Runner) -> bool:
    env = runner.env()
    return all(env.get(variable) in values for variable, values in call.when.items())


def _call_context(
    stack: Stack, access: AccessList, runner: Runner, call: Call
) -> tuple[dict, list[str]]:
    context: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in call.context.items():
        if isinstance(value, str) and "#" in value:  # a field of a resource's JSON value
            found, problem = _json_field(stack, access, value)
            context[key] = found
            problems += [problem] if problem else []
            continue
        symbol = isinstance(value, str) and (
            value.split("/")[0] in access.bindings or value.startswith(("task:", "instance:"))
        )
        if symbol:
            targets, found = resolve(stack, access, runner, value)
            problems += found
            context[key] = targets[0].arn if targets else None
        else:
            context[key] = value
    return context, problems


def _json_field(stack: Stack, access: AccessList, value: str) -> tuple[Any, str | None]:
    """``<binding>#<key>.<key>...``: that field of the JSON the bound resource holds in its
    ``value`` (an SSM parameter's), such as the namespace a CloudWatch agent's
    configuration names, which the agent's PutMetricData then carries."""
    name, _, path = value.partition("#")
    binding = access.bindings.get(name)
    if binding is None:
        return None, f"{access.path}: {value!r} names no entry of `resources`"
    resource = stack.named(binding["type"], binding["name"])
    if resource is None:
        return None, f"{value}: {binding['type']} {binding['name']} is not registered"
    try:
        data: Any = json.loads(str(resource.props.get("value") or ""))
        for part in path.split("."):
            data = data[part]
    except (ValueError, KeyError, TypeError):
        return None, f"{value}: {binding['name']} holds no JSON field {path!r}"
    return data, None


def prove_access_list(stack: Stack, proof: Proof, access: AccessList) -> None:
    """Every deployed call of one image in this stack."""
    found, problems = runners(stack, access)
    proof.problems += problems
    for runner in found:
        policies, unread = stack.role_policies(runner.role)
        proof.problems += unread
        ran = proof.users if runner.role.type == USER else proof.roles
        ran.setdefault(runner.principal, f"{access.image}/{runner.program.name}")
        for call in access.calls:
            if (
                call.program != runner.program.name
                or not call.deployed
                or not _when_holds(call, runner)
            ):
                continue
            proof.calls.append(f"{runner.subject}: {call.describe()}")
            context, problems = _call_context(stack, access, runner, call)
            proof.problems += problems
            for symbol in call.resources:
                targets, problems = resolve(stack, access, runner, symbol)
                proof.problems += problems
                for target in targets:
                    for action in call.actions:
                        prove_request(
                            stack, proof, runner.subject, call.describe(), runner.principal,
                            policies, action, target, context, call.multipart,
                        )  # fmt: skip


# --- the roles no image runs --------------------------------------------------------------------


def _trusted_services(role: Resource) -> set[str]:
    document = _json(role.props.get("assumeRolePolicy")) or {}
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, Mapping) else statements
    found = set()
    for statement in statements:
        principal = statement.get("Principal")
        if isinstance(principal, Mapping):
            services = principal.get("Service", [])
            found.update([services] if isinstance(services, str) else services)
    return found


def _log_group_arn(arn: str) -> str:
    return arn[:-2] if arn.endswith(":*") else arn


def _flow_log_calls(stack: Stack, role: Resource) -> Iterator[tuple[str, str, str]]:
    """VPC flow logs publishing to CloudWatch Logs with this role: they create a stream per
    network interface and put events ("IAM role for publishing flow logs to CloudWatch Logs",
    https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html). The group
    exists (the program creates it), so CreateLogGroup is never needed."""
    for flow in stack.of_type("aws:ec2/flowLog:FlowLog"):
        if flow.props.get("iamRoleArn") != role.outputs.get("arn"):
            continue
        group = _log_group_arn(str(flow.props.get("logDestination", "")))
        stream = f"{group}:log-stream:eni-{SAMPLE}-all"
        yield "flow log delivery", "logs:CreateLogStream", stream
        yield "flow log delivery", "logs:PutLogEvents", stream
        # A log-group action is asked about the group's ARN in the form DescribeLogGroups
        # returns and AWS's examples grant (ending in ":*"); a grant on the bare ARN would
        # be proven refused here, which is the safe side.
        yield "flow log delivery", "logs:DescribeLogStreams", f"{group}:*"


def _api_gateway_calls(stack: Stack, role: Resource) -> Iterator[tuple[str, str, str]]:
    """API Gateway's account-level CloudWatch role writes the REST and WebSocket stages'
    access logs ("Set up CloudWatch logging for REST APIs in API Gateway",
    https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html)."""
    accounts = [
        a
        for a in stack.of_type("aws:apigateway/account:Account")
        if a.props.get("cloudwatchRoleArn") == role.outputs.get("arn")
    ]
    if not accounts:
        return
    # An HTTP API's stage writes its access logs through CloudWatch Logs' log delivery, not
    # this role ("Configure logging for HTTP APIs in API Gateway",
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging.html).
    http_apis = {
        a.id
        for a in stack.of_type("aws:apigatewayv2/api:Api")
        if a.props.get("protocolType") == "HTTP" and a.id
    }
    for type_token in ("aws:apigateway/stage:Stage", "aws:apigatewayv2/stage:Stage"):
        for stage in stack.of_type(type_token):
            if type_token.startswith("aws:apigatewayv2/") and stage.props.get("apiId") in http_apis:
                continue
            destination = (stage.props.get("accessLogSettings") or {}).get("destinationArn")
            if not destination:
                continue
            group = _log_group_arn(destination)
            stream = f"{group}:log-stream:{SAMPLE}"
            what = f"access log of {stage.name}"
            yield what, "logs:DescribeLogGroups", "*"
            yield what, "logs:DescribeLogStreams", f"{group}:*"
            yield what, "logs:CreateLogStream", stream
            yield what, "logs:PutLogEvents", stream


def _rds_monitoring_calls(stack: Stack, role: Resource) -> Iterator[tuple[str, str, str]]:
    """RDS enhanced monitoring writes OS metrics to the RDSOSMetrics log group, creating it
    and its retention first ("Setting up and enabling Enhanced Monitoring",
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Monitoring.OS.Enabling.html)."""
    c = stack.context
    group = f"arn:{c.partition}:logs:{c.region}:{c.account}:log-group:RDSOSMetrics"
    for type_token in ("aws:rds/instance:Instance", "aws:rds/clusterInstance:ClusterInstance"):
        for db in stack.of_type(type_token):
            if db.props.get("monitoringRoleArn") != role.outputs.get("arn"):
                continue
            what = f"enhanced monitoring of {db.name}"
            yield what, "logs:CreateLogGroup", f"{group}:*"
            yield what, "logs:PutRetentionPolicy", f"{group}:*"
            yield what, "logs:CreateLogStream", f"{group}:log-stream:{SAMPLE}"
            yield what, "logs:PutLogEvents", f"{group}:log-stream:{SAMPLE}"


SERVICE_ROLES = {
    "vpc-flow-logs.amazonaws.com": ("VPC flow logs delivery role", _flow_log_calls),
    "apigateway.amazonaws.com": ("API Gateway CloudWatch Logs role", _api_gateway_calls),
    "monitoring.rds.amazonaws.com": ("RDS enhanced monitoring role", _rds_monitoring_calls),
}
"""Roles an AWS service assumes for work of its own, by trusted principal: their purpose
and the calls the service makes with them (each function cites its source)."""


def prove_service_roles(stack: Stack, proof: Proof) -> None:
    for role in stack.of_type(ROLE):
        arn = role.outputs.get("arn")
        for service in sorted(_trusted_services(role)):
            if service not in SERVICE_ROLES:
                continue
            purpose, calls = SERVICE_ROLES[service]
            policies, unread = stack.role_policies(role)
            proof.problems += unread
            made = list(calls(stack, role))
            if not made:
                proof.problems.append(
                    f"{purpose} {role.name}: trusted by {service}, used by nothing"
                )
                continue
            proof.roles.setdefault(arn, purpose)
            for what, action, resource in made:
                prove_request(
                    stack, proof, f"{purpose} {role.name}", what, arn, policies, action,
                    Target(resource), {},
                )  # fmt: skip


# --- keys -------------------------------------------------------------------------------------

_KEY_USERS = (
    # (type, property holding the key, service principal, KMS actions, context, source)
    (
        "aws:cloudwatch/logGroup:LogGroup",
        "kmsKeyId",
        "logs.{region}.amazonaws.com",
        (
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncryptFrom",
            "kms:GenerateDataKey",
            "kms:DescribeKey",
        ),
        "kms:EncryptionContext:aws:logs:arn",
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",
    ),
    (
        "aws:sns/topic:Topic",
        "kmsMasterKeyId",
        "cloudwatch.amazonaws.com",
        ("kms:Decrypt", "kms:GenerateDataKey"),
        None,
        "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"
        "#compatibility-with-aws-services",
    ),
)
"""Services that write with a key as their own principal: CloudWatch Logs for an encrypted
log group (encryption context: the group's ARN), CloudWatch alarms publishing to an
encrypted topic (only topics some alarm publishes to)."""


def _delegates(policy: Policy, key_arn: str, stack: Stack, action: str) -> bool:
    """The key policy lets IAM decide ``action``: a role of the account with an IAM allow
    may, one without may not."""
    c = stack.context
    someone = f"arn:{c.partition}:iam::{c.account}:role/any-role-of-the-account"
    request = Request(someone, action, key_arn, {"kms:CallerAccount": c.account})
    everything = Policy.of("an identity policy allowing it", {"Statement": [
        {"Effect": "Allow", "Action": action, "Resource": key_arn}
    ]})  # fmt: skip
    return (
        evaluate_kms(request, policy, [everything]).allowed
        and not evaluate_kms(request, policy).allowed
    )


def _key_uses(resource: Resource, ids: set[Any]) -> Iterator[str]:
    """The properties of ``resource`` naming one of a key's ``ids`` (``kmsKeyId``,
    ``serverSideEncryption.kmsKeyArn``...)."""

    def walk(value: Any, path: str) -> Iterator[str]:
        if isinstance(value, Mapping):
            for name, item in value.items():
                yield from walk(item, f"{path}.{name}" if path else name)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk(item, f"{path}.{index}")
        elif value in ids and "kms" in path.lower():
            yield path

    if resource.type != KMS_KEY:
        yield from walk(dict(resource.props), "")


def prove_keys(stack: Stack, proof: Proof) -> None:
    """For each registered key: its policy delegates to IAM (so the IAM allows the proof
    relies on count, and the account can administer it), and the services that write with
    it as their own principal may."""
    c = stack.context
    alarm_topics = {
        arn
        for alarm in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        for arn in (alarm.props.get("alarmActions") or [])
    }
    for key in stack.of_type(KMS_KEY):
        arn = key.outputs["arn"]
        policy = Policy.of(f"{key.name} key policy", key.props["policy"])
        found = proof.keys.setdefault(arn, [])
        ids = {arn, key.outputs.get("keyId")}
        found += [
            f"encrypts {r.name} ({path})" for r in stack.resources for path in _key_uses(r, ids)
        ]
        for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant", "kms:DescribeKey"):
            if _delegates(policy, arn, stack, action):
                found.append(f"{action} delegated to IAM")
            else:
                proof.problems.append(
                    f"key {key.name}: its policy does not delegate {action} to IAM (the account "
                    "root), so no identity policy can allow it "
                    "(https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html)"
                )
        for type_token, prop, principal, actions, context_key, source in _KEY_USERS:
            for user in stack.of_type(type_token):
                if not user.props.get(prop) or user.props[prop] not in (
                    arn,
                    key.outputs.get("keyId"),
                ):
                    continue
                if (
                    type_token == "aws:sns/topic:Topic"
                    and user.outputs.get("arn") not in alarm_topics
                ):
                    continue
                region = region_of(user.outputs.get("arn"), arn, default=c.region)
                service = principal.format(region=region)
                # Only what the service is documented to send: the encryption context, and
                # the source keys preflight.principals has on record (none, today).
                context: dict[str, Any] = {}
                if context_key:
                    context[context_key] = user.outputs.get("arn")
                for source_key in sorted(documented_source_keys(service, "kms")):
                    context[source_key] = (
                        c.account if source_key == "aws:sourceaccount" else user.outputs.get("arn")
                    )
                for action in actions:
                    decision = evaluate_kms(Request(service, action, arn, context), policy)
                    what = f"{service} writes {user.name} with its key [{source}]"
                    proof.checks.append(
                        Check(proof.stack, f"key {key.name}", service, action, arn, decision, what)
                    )
                    found.append(f"{action} by {service} for {user.name}")


# --- everything ---------------------------------------------------------------------------------


def prove(resources: Sequence[Resource], context: Context, accesses: Sequence[AccessList]) -> Proof:
    """The access proof of one stack: every listed call of every deployed program, the
    service roles' work, every key's users; and a problem for each role nothing runs."""
    stack = Stack(resources, context)
    proof = Proof(context.stack)
    for access in accesses:
        prove_access_list(stack, proof, access)
    prove_service_roles(stack, proof)
    prove_keys(stack, proof)
    for role in stack.of_type(ROLE):
        if role.outputs.get("arn") not in proof.roles:
            proof.problems.append(
                f"role {role.name} ({role.props.get('description', '')}): runs no listed program "
                "and is no service role the proof knows; list what runs as it"
            )
    return proof
