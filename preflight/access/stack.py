"""One stack's registered resources as the proof needs them: roles and their policies, keys and
what they encrypt, who runs each program, and what a symbolic resource stands for."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from preflight.access.documented import AWS_MANAGED_POLICIES, aws_managed_key_policy
from preflight.access.lists import AccessList, Program
from preflight.model import Context, Resource
from preflight.simulate import Policy, resource_matches

SAMPLE = "sample"
"""What ``*`` in a symbolic path becomes: the proof asks about one concrete key."""

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
USER = "aws:iam/user:User"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
USER_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
MEMBERSHIP = "aws:iam/userGroupMembership:UserGroupMembership"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
GROUP_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
MANAGED_POLICY = "aws:iam/policy:Policy"
KMS_KEY = "aws:kms/key:Key"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
FUNCTION = "aws:lambda/function:Function"
ECS_SERVICE = "aws:ecs/service:Service"


@dataclass(frozen=True)
class Key:
    """The KMS key a resource is encrypted with."""

    arn: str
    policy: Policy | None
    """The key policy; None when the key is not one the stack registers."""
    managed_by_aws: bool = False


@dataclass(frozen=True)
class Target:
    """A resolved resource: the ARN a request names, the registered resource behind it."""

    arn: str
    resource: Resource | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


# --- the stack's resources ---------------------------------------------------------------------


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class Stack:
    """Lookups over one stack's registered resources."""

    def __init__(self, resources: Sequence[Resource], context: Context):
        self.resources = list(resources)
        self.context = context

    def of_type(self, type_token: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, type_token: str, name: str) -> Resource | None:
        return next((r for r in self.of_type(type_token) if r.name == name), None)

    def by_output(self, type_token: str, key: str, value: Any) -> Resource | None:
        return next((r for r in self.of_type(type_token) if r.outputs.get(key) == value), None)

    def siblings(self, resource: Resource, type_token: str) -> list[Resource]:
        return [r for r in self.of_type(type_token) if r.parent == resource.parent]

    # --- roles and their policies

    def role_by_arn(self, arn: str) -> Resource | None:
        return self.by_output(ROLE, "arn", arn)

    def role_by_name(self, name: str) -> Resource | None:
        return self.by_output(ROLE, "name", name) or self.named(ROLE, name)

    def role_policies(self, role: Resource) -> tuple[list[Policy], list[str]]:
        """The identity policies of a role, or of a user (its own and its groups'), and what
        could not be read (an AWS managed policy whose content is not on record, an attached
        policy not registered)."""
        name = role.outputs.get("name") or role.props.get("name")
        if role.type == USER:
            memberships = [r for r in self.of_type(MEMBERSHIP) if r.props.get("user") == name]
            groups = {g for m in memberships for g in m.props.get("groups") or []}
            owners = [(USER_POLICY, USER_ATTACHMENT, "user", {name})]
            owners.append((GROUP_POLICY, GROUP_ATTACHMENT, "group", groups))
        else:
            owners = [(ROLE_POLICY, ATTACHMENT, "role", {name, role.outputs.get("id")})]
        policies: list[Policy] = []
        problems: list[str] = []
        for inline in role.props.get("inlinePolicies") or []:
            policies.append(Policy.of(f"{role.name} inline {inline.get('name')}", inline["policy"]))
        arns = list(role.props.get("managedPolicyArns") or [])
        for inline_type, attachment_type, key, owner_names in owners:
            for r in self.of_type(inline_type):
                if r.props.get(key) in owner_names:
                    policies.append(Policy.of(r.name, r.props["policy"]))
            arns += [
                r.props["policyArn"]
                for r in self.of_type(attachment_type)
                if r.props.get(key) in owner_names
            ]
        for arn in arns:
            attached = self.by_output(MANAGED_POLICY, "arn", arn)
            if attached is not None:
                policies.append(Policy.of(attached.name, attached.props["policy"]))
            elif arn in AWS_MANAGED_POLICIES:
                document, source = AWS_MANAGED_POLICIES[arn]
                policies.append(
                    Policy.of(f"{arn.rsplit('/', 1)[-1]} (AWS managed, {source})", document)
                )
            else:
                problems.append(
                    f"{role.name}: attached policy {arn} is neither registered nor an AWS "
                    "managed policy whose content is on record in preflight/access/documented.py"
                )
        return policies, problems

    # --- resource policies and keys

    def resource_policy(self, arn: str) -> Policy | None:
        """The bucket or queue policy whose statements name ``arn`` (or its bucket)."""
        for type_token in ("aws:s3/bucketPolicy:BucketPolicy", "aws:sqs/queuePolicy:QueuePolicy"):
            for r in self.of_type(type_token):
                policy = Policy.of(r.name, r.props["policy"])
                for statement in policy.statements():
                    patterns = statement.get("Resource") or []
                    patterns = [patterns] if isinstance(patterns, str) else patterns
                    if any(resource_matches(p, arn) for p in patterns):
                        return policy
        return None

    def key(self, arn_or_id: str | None, service: str) -> Key | None:
        """The key ``arn_or_id`` names; the AWS managed ``aws/<service>`` when it is empty."""
        if not arn_or_id:
            c = self.context
            arn = f"arn:{c.partition}:kms:{c.region}:{c.account}:alias/aws/{service}"
            return Key(arn, aws_managed_key_policy(service, c), managed_by_aws=True)
        if arn_or_id.endswith(f"alias/aws/{service}"):
            return Key(arn_or_id, aws_managed_key_policy(service, self.context), True)
        for r in self.of_type(KMS_KEY):
            if arn_or_id in (r.outputs.get("arn"), r.outputs.get("keyId")):
                return Key(r.outputs["arn"], Policy.of(f"{r.name} key policy", r.props["policy"]))
        return Key(arn_or_id, None)

    def encryption(self, target: Target) -> tuple[str, Key] | None:
        """``(service, key)`` when the target's resource is encrypted with a KMS key."""
        r = target.resource
        if r is None:
            return None
        if r.type == "aws:dynamodb/table:Table":
            sse = r.props.get("serverSideEncryption") or {}
            if sse.get("enabled"):
                return "dynamodb", self.key(sse.get("kmsKeyArn"), "dynamodb")
            return None  # an AWS owned key: no authorization involved
        if r.type == "aws:s3/bucket:Bucket":
            for config in self.bucket_encryption(r):
                for rule in config.props.get("rules") or []:
                    default = rule.get("applyServerSideEncryptionByDefault") or {}
                    if default.get("sseAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                        return "s3", self.key(default.get("kmsMasterKeyId"), "s3")
            return None
        if r.type == "aws:sqs/queue:Queue":
            key_id = r.props.get("kmsMasterKeyId")
            return ("sqs", self.key(key_id, "sqs")) if key_id else None
        if r.type == "aws:ecr/repository:Repository":
            for config in r.props.get("encryptionConfigurations") or []:
                if config.get("encryptionType") == "KMS":
                    return "ecr", self.key(config.get("kmsKey"), "ecr")
            return None
        if r.type == "aws:secretsmanager/secret:Secret":
            return "secretsmanager", self.key(r.props.get("kmsKeyId"), "secretsmanager")
        if r.type in ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster"):
            # The RDS-managed master secret, found by its ARN among masterUserSecrets.
            for secret in r.outputs.get("masterUserSecrets") or []:
                if secret.get("secretArn") == target.arn:
                    # Unless masterUserSecretKmsKeyId names one, RDS uses aws/secretsmanager.
                    key_id = r.props.get("masterUserSecretKmsKeyId")
                    return "secretsmanager", self.key(key_id, "secretsmanager")
        return None

    def bucket_encryption(self, bucket: Resource) -> list[Resource]:
        # The configuration names the bucket by ID, which the preflight's view does not carry;
        # a SecureBucket holds one bucket and its configuration, so its parent links them.
        sse = (
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
        name = bucket.outputs.get("bucket")
        return [
            r
            for r in self.of_type(sse)
            if r.props.get("bucket") == name or (bucket.parent and r.parent == bucket.parent)
        ]

    def secret(self, arn: str) -> Resource | None:
        found = self.by_output("aws:secretsmanager/secret:Secret", "arn", arn)
        if found:
            return found
        for type_token in ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster"):
            for r in self.of_type(type_token):
                if any(s.get("secretArn") == arn for s in r.outputs.get("masterUserSecrets") or []):
                    return r
        return None


# --- who runs each program ---------------------------------------------------------------------

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^@:]+)"
)


def ecr_repository(image: str, partition: str = "aws") -> str | None:
    """The ARN of the private ECR repository an image URI names (None for any other
    registry, such as ECR Public, which needs no credentials)."""
    found = _ECR_IMAGE.match(image)
    if not found:
        return None
    return f"arn:{partition}:ecr:{found['region']}:{found['account']}:repository/{found['repo']}"


@dataclass(frozen=True)
class Runner:
    """One program of one image as deployed: the role it runs as and where."""

    image: str
    program: Program
    role: Resource
    """The role (or, for a program run by a person, the IAM user) whose policies apply."""
    principal: str
    task_definition: Resource | None = None
    container: Mapping[str, Any] | None = None
    """The container whose variables decide ``when`` and name the resources."""
    cluster_arn: str | None = None
    function: Resource | None = None
    """The Lambda function running the program (``runs_as: function``)."""

    @property
    def subject(self) -> str:
        where = f" in {self.task_definition.name}" if self.task_definition else ""
        if self.function is not None:
            where = f" in {self.function.name}"
        return f"{self.image}/{self.program.name}{where}"

    def env(self) -> dict[str, str]:
        if self.function is not None:
            variables = (self.function.props.get("environment") or {}).get("variables") or {}
            return {k: str(v) for k, v in variables.items()}
        return {e["name"]: e["value"] for e in (self.container or {}).get("environment", [])}


def containers(task_definition: Resource) -> list[dict[str, Any]]:
    return list(_json(task_definition.props.get("containerDefinitions")) or [])


def image_name(uri: str) -> str:
    """The last path part of an image URI, without tag or digest: ``agent_world`` for
    ``<account>.dkr.ecr.<region>.amazonaws.com/mlplatform-dev/agent_world@sha256:...``."""
    return re.split(r"[@:]", uri.rsplit("/", 1)[-1], maxsplit=1)[0]


def deployed_tasks(stack: Stack, image: str) -> list[tuple[Resource, Resource, dict[str, Any]]]:
    """``(service, task definition, container)`` for each ECS service of the stack whose task
    definition has a container running ``image``: the image's URI ends in ``/<image>`` (the
    platform's ECR repository, or a prebuilt URI from the ``images`` config named the same)."""
    found = []
    for service in stack.of_type(ECS_SERVICE):
        family = str(service.props.get("taskDefinition", "")).rsplit("/", 1)[-1].split(":")[0]
        for task in stack.of_type(TASK_DEFINITION):
            if task.props.get("family") != family:
                continue
            for container in containers(task):
                if image_name(str(container.get("image", ""))) == image:
                    found.append((service, task, container))
    return found


def instance_role(stack: Stack, service: Resource) -> Resource | None:
    """The role of the EC2 instances an ECS service's capacity provider launches: capacity
    provider -> Auto Scaling group -> launch template -> instance profile -> role."""
    for strategy in service.props.get("capacityProviderStrategies") or []:
        provider = next(
            (
                p
                for p in stack.of_type("aws:ecs/capacityProvider:CapacityProvider")
                if p.props.get("name") == strategy.get("capacityProvider")
            ),
            None,
        )
        if provider is None:
            continue  # FARGATE, FARGATE_SPOT
        asg_arn = (provider.props.get("autoScalingGroupProvider") or {}).get("autoScalingGroupArn")
        group = stack.by_output("aws:autoscaling/group:Group", "arn", asg_arn)
        group = group or next(iter(stack.siblings(provider, "aws:autoscaling/group:Group")), None)
        if group is None:
            continue
        for template in stack.siblings(group, "aws:ec2/launchTemplate:LaunchTemplate"):
            profile_arn = (template.props.get("iamInstanceProfile") or {}).get("arn")
            profile = stack.by_output("aws:iam/instanceProfile:InstanceProfile", "arn", profile_arn)
            if profile is not None:
                return stack.role_by_name(profile.props.get("role"))
    return None


def runners(stack: Stack, access: AccessList) -> tuple[list[Runner], list[str]]:
    """Every deployed runner of ``access``'s programs in this stack, and what is missing."""
    found: list[Runner] = []
    problems: list[str] = []
    tasks = deployed_tasks(stack, access.image)
    for program in access.programs.values():
        if program.runs_as == "function":
            found += _function_runners(stack, access, program, problems)
            continue
        if isinstance(program.runs_as, Mapping):
            # A named role, or a named user (policies through its groups), where registered.
            for kind, type_token in (("role", ROLE), ("user", USER)):
                principal = stack.named(type_token, program.runs_as.get(kind, ""))
                if principal is not None:
                    found.append(Runner(access.image, program, principal, principal.outputs["arn"]))
            continue
        for service, task, own in tasks:
            container = own
            if program.container:
                container = next(
                    (c for c in containers(task) if c["name"] == program.container), None
                )
                if container is None:
                    continue
            cluster = service.props.get("cluster")
            on_ec2 = "EC2" in (task.props.get("requiresCompatibilities") or [])
            if program.runs_as == "task":
                arn = task.props.get("taskRoleArn")
                role = stack.role_by_arn(arn) if arn else None
            elif program.runs_as == "execution":
                arn = task.props.get("executionRoleArn")
                role = stack.role_by_arn(arn) if arn else None
                if arn is None and on_ec2:
                    # Without an execution role the agent pulls and logs with the instance role.
                    role = instance_role(stack, service)
            elif program.runs_as == "instance":
                if not on_ec2:
                    continue  # Fargate: no instance of ours runs an agent
                role = instance_role(stack, service)
            else:
                problems.append(
                    f"{access.path}: program {program.name}: runs_as {program.runs_as!r}"
                )
                continue
            if role is None:
                if any(c.program == program.name and c.deployed for c in access.calls):
                    problems.append(
                        f"{access.image}/{program.name} in {task.name}: no {program.runs_as} role"
                    )
                continue
            found.append(
                Runner(access.image, program, role, role.outputs["arn"], task, container, cluster)
            )
    return found, problems


def function_handler(function: Resource) -> str:
    """``module.function`` a Lambda function runs: its ``handler``, or for an image
    function the first of its image config's ``commands``."""
    handler = function.props.get("handler")
    if handler:
        return str(handler)
    commands = (function.props.get("imageConfig") or {}).get("commands") or [""]
    return str(commands[0])


def _function_runners(
    stack: Stack, access: AccessList, program: Program, problems: list[str]
) -> list[Runner]:
    """A runner per Lambda function whose handler is in this package (its first module):
    a zip function's ``handler``, or an image function's command (its one argument to the
    runtime interface client, ``components/blocks/function.py``)."""
    found = []
    for function in stack.of_type(FUNCTION):
        if function_handler(function).split(".", 1)[0] != access.image:
            continue
        role = stack.role_by_arn(function.props.get("role"))
        if role is None:
            problems.append(f"{access.image}/{program.name} in {function.name}: no role")
            continue
        found.append(Runner(access.image, program, role, role.outputs["arn"], function=function))
    return found


# --- symbolic resources -------------------------------------------------------------------------


def _identities(resource: Resource) -> set[str]:
    keys = ("name", "bucket", "url", "arn", "id")
    return {str(resource.outputs[k]) for k in keys if resource.outputs.get(k)}


def _concrete(path: str) -> str:
    return path.replace("*", SAMPLE)


def resolve(
    stack: Stack, access: AccessList, runner: Runner, symbol: str
) -> tuple[list[Target], list[str]]:
    """The exact ARNs ``symbol`` stands for in this runner's stack, and what went wrong."""
    c = stack.context
    if symbol == "*":
        return [Target("*")], []
    if symbol.startswith("task:"):
        return _resolve_task(stack, runner, symbol)
    if symbol == "function:log-stream":
        function = runner.function
        if function is None:
            return [], [f"{runner.subject}: {symbol} needs a function"]
        group_name = (function.props.get("loggingConfig") or {}).get("logGroup")
        group_name = group_name or f"/aws/lambda/{function.props.get('name')}"
        group = next(
            (
                g
                for g in stack.of_type("aws:cloudwatch/logGroup:LogGroup")
                if g.props.get("name") == group_name
            ),
            None,
        )
        if group is None:
            return [], [f"{runner.subject}: log group {group_name!r} is not registered"]
        return [Target(f"{group.outputs['arn']}:log-stream:{SAMPLE}", group)], []
    if symbol.startswith("instance:"):
        cluster = runner.cluster_arn or ""
        if symbol == "instance:cluster":
            return [Target(cluster)], []
        if symbol == "instance:container-instance":
            name = cluster.rsplit("/", 1)[-1]
            arn = f"arn:{c.partition}:ecs:{c.region}:{c.account}:container-instance/{name}/{SAMPLE}"
            return [Target(arn)], []
        return [], [f"{access.path}: unknown symbol {symbol!r}"]
    name, _, path = symbol.partition("/")
    binding = access.bindings.get(name)
    if binding is None:
        return [], [f"{access.path}: {symbol!r} names no entry of `resources`"]
    if "env_list" in binding:
        values = [
            v.strip() for v in runner.env().get(binding["env_list"], "").split(",") if v.strip()
        ]
        if not values:
            if binding.get("optional"):
                return [], []  # the variable is unset: the code makes no such call
            return [], [
                f"{runner.subject}: {binding['env_list']} is empty, so {symbol} names nothing"
            ]
        template = binding["arn"]
        arns = [
            template.format(partition=c.partition, region=c.region, account=c.account, value=v)
            for v in values
        ]
        # A registered secret is found by its ARN, so the proof checks its key too.
        return [Target(arn, stack.secret(arn)) for arn in arns], []
    resource = stack.named(binding["type"], binding["name"])
    if resource is None:
        return [], [
            f"{runner.subject}: {symbol} is {binding['type']} {binding['name']}, not registered"
        ]
    problems = []
    variable = binding.get("env")
    if variable and (runner.container is not None or runner.function is not None):
        value = runner.env().get(variable)
        names = _identities(resource)
        bucket = resource.outputs.get("bucket")
        if value is None:
            problems.append(f"{runner.subject}: {variable} is not set (it should name {symbol})")
        elif value not in names and not (bucket and value.startswith(f"s3://{bucket}/")):
            problems.append(f"{runner.subject}: {variable}={value!r} is not {binding['name']}")
    # `output`: the ARN the calls are authorized on, when it is not the resource's own `arn`
    # (an API's `executionArn`: execute-api:ManageConnections is on arn:aws:execute-api:...).
    output = binding.get("output", "arn")
    arn = resource.outputs.get(output)
    if not arn:
        return [], [*problems, f"{symbol}: {resource.name} has no {output} output"]
    if path:
        arn = f"{arn}/{_concrete(path)}"
    context: dict[str, Any] = {}
    if resource.type == ECS_SERVICE:
        context["ecs:cluster"] = resource.props.get("cluster")
    return [Target(arn, resource, context)], problems


def _resolve_task(stack: Stack, runner: Runner, symbol: str) -> tuple[list[Target], list[str]]:
    c = stack.context
    task = runner.task_definition
    if task is None:
        return [], [f"{runner.subject}: {symbol} needs a task definition"]
    targets: list[Target] = []
    problems: list[str] = []
    for container in containers(task):
        if symbol == "task:repository":
            arn = ecr_repository(str(container.get("image", "")), c.partition)
            if arn:
                found = stack.by_output("aws:ecr/repository:Repository", "arn", arn)
                targets.append(Target(arn, found))
        elif symbol == "task:log-stream":
            log = container.get("logConfiguration") or {}
            if log.get("logDriver") != "awslogs":
                continue
            options = log.get("options") or {}
            group = next(
                (
                    g
                    for g in stack.of_type("aws:cloudwatch/logGroup:LogGroup")
                    if g.props.get("name") == options.get("awslogs-group")
                ),
                None,
            )
            if group is None:
                missing = options.get("awslogs-group")
                problems.append(f"{runner.subject}: log group {missing!r} is not registered")
                continue
            stream = f"{options.get('awslogs-stream-prefix')}/{container['name']}/{SAMPLE}"
            targets.append(Target(f"{group.outputs['arn']}:log-stream:{stream}", group))
        elif symbol == "task:secrets":
            for secret in container.get("secrets") or []:
                arn = ":".join(str(secret["valueFrom"]).split(":")[:7])
                found = stack.secret(arn)
                if found is None:
                    problems.append(f"{runner.subject}: secret {arn} is not registered")
                targets.append(Target(arn, found))
        else:
            return [], [f"unknown symbol {symbol!r}"]
    return list({t.arn: t for t in targets}.values()), problems
