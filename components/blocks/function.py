"""LambdaFunction: one Lambda function from a code package under ``services/``.

The platform's functions (the secret rotation functions, the WebSocket authorizer) are
small Python handlers with no dependency beyond boto3, which the runtime provides, so the
code goes as a zip of the package (and ``service_common`` where it is used) rather than an
image: no build, no registry, no charge while idle. An HTTP service with dependencies of
its own (FastAPI …) that runs on Lambda (``runtime: lambda``) runs its service image
instead (``image_uri``): the image its ECS tasks would run, started by the AWS Lambda
runtime interface client, which the image installs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.blocks.images import PROJECT_DIR
from components.lib.function_package import package_files
from components.lib.policies import Statement, allow, service_trust
from components.parts.iam import role_and_policy

RUNTIME = "python3.13"
"""The newest Python runtime in botocore's Lambda model that AWS supports on arm64 (Amazon
Linux 2023); the services' tests run on 3.11+, and the handlers use nothing newer."""
ARCHITECTURE = "arm64"
"""Graviton: 20 % cheaper per GB-second than x86_64, and pure-Python code runs the same."""
IMAGE_ARCHITECTURE = "x86_64"
"""An image function's: the service images are built for ``linux/amd64``
(``components.blocks.images.PLATFORM``), and Lambda runs an image on the architecture it
was built for."""
IMAGE_ENTRY_POINT = ("python", "-m", "awslambdaric")
"""What an image function runs instead of the image's own ``ENTRYPOINT`` (its server): the
AWS Lambda runtime interface client (PyPI ``awslambdaric``, pinned in the service's
requirements), given the handler as its one argument ("Using an alternative base image
with the runtime interface client", Lambda developer guide)."""
IMAGE_WORKING_DIRECTORY = "/app"
"""The service images' ``WORKDIR``, where the service's package and ``service_common`` are
importable from."""


@dataclass(frozen=True)
class LambdaFunctionArgs:
    """Inputs of :class:`LambdaFunction`."""

    function_name: str
    """Physical name of the function and its role (64 characters at most; the log group is
    ``/aws/lambda/<name>``). Required."""
    package: str
    """Directory under ``services/`` holding the code package. Required."""
    handler: str
    """``module.function`` inside the package, e.g. ``secret_rotation.handler.lambda_handler``.
    Required; its first part names the package's module directory. With ``image_uri``, the
    runtime interface client's argument."""
    description: str
    """What the function does (the function's and its role's description). Required."""
    statements: Sequence[Statement] = ()
    """What the function's own code may do (resource ARNs), besides writing its logs and
    traces. Default nothing."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """The function's variables. Default none."""
    shared: bool = True
    """Put ``services/common/service_common`` into the zip too. Default true."""
    timeout: int = 30
    """Seconds an invocation may run. Default 30."""
    memory_size: int = 128
    """MB (CPU grows with it). Default 128."""
    log_retention_days: int = 365
    """Retention of its log group. Default 365."""
    log_key_arn: pulumi.Input[str] | None = None
    """The KMS key of its log group. Default none: CloudWatch Logs' own encryption."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the function, its role and log group. Default none."""
    image_uri: pulumi.Input[str] | None = None
    """Run this container image (an ECR URI in the function's account and Region, which
    lets Lambda pull it) instead of a zip of ``package``: package type ``Image`` on x86_64,
    ``IMAGE_ENTRY_POINT`` with ``handler`` as its command. Default none: the zip."""
    reserved_concurrency: int | None = None
    """Concurrent executions reserved (and capped). Default none: a reservation is taken
    from the account's unreserved pool, which may not fall below 100 - in an account with
    the new-account limit of 10 any reservation fails - so it is opt-in."""


class LambdaFunction(pulumi.ComponentResource):
    """A Lambda function with its log group and role.

    Creates the log group ``/aws/lambda/<function_name>`` first (retention, the logs key),
    so Lambda never creates one without them; a role assumed by Lambda whose one policy
    allows writing that group's streams, X-Ray segments, and ``statements``; and the
    function (Python 3.13 on arm64, active X-Ray tracing, JSON logs into that group, the
    zip of its package; or, with ``image_uri``, that image on x86_64)."""

    TYPE = "mlplatform:functions:LambdaFunction"

    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(
        self, name: str, args: LambdaFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{args.function_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_key_arn,
            tags=tags,
            opts=child,
        )
        account = aws.get_caller_identity_output().account_id
        self.role, self.policy = role_and_policy(
            name,
            name=args.function_name,
            description=args.description[:1000],
            trust=aws.iam.get_policy_document_output(
                statements=[service_trust("lambda.amazonaws.com", account)]
            ).json,
            policy=aws.iam.get_policy_document_output(
                statements=[*self._own_statements(), *args.statements]
            ).json,
            tags=tags,
            opts=child,
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            description=args.description[:256],
            **self._code(args),
            role=self.role.arn,
            timeout=args.timeout,
            memory_size=args.memory_size,
            reserved_concurrent_executions=args.reserved_concurrency,
            tracing_config={"mode": "Active"},
            logging_config={"log_format": "JSON", "log_group": self.log_group.name},
            environment={"variables": dict(args.environment)} if args.environment else None,
            tags=tags,
            # The group must exist first, or the first invocation makes one of Lambda's own;
            # the role's policy too, or a first invocation (a rotation starts at once) is denied.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.log_group, self.role, self.policy]
            ),
        )
        self.arn = self.function.arn
        self.invoke_arn = self.function.invoke_arn
        self.name = self.function.name
        self.register_outputs({"arn": self.arn})

    @staticmethod
    def _code(args: LambdaFunctionArgs) -> dict:
        """The function's code arguments: its image, or the zip of its package."""
        if args.image_uri is not None:
            return {
                "package_type": "Image",
                "image_uri": args.image_uri,
                "architectures": [IMAGE_ARCHITECTURE],
                "image_config": {
                    "entry_points": list(IMAGE_ENTRY_POINT),
                    "commands": [args.handler],
                    "working_directory": IMAGE_WORKING_DIRECTORY,
                },
            }
        module = args.handler.split(".", 1)[0]
        files = package_files(PROJECT_DIR, args.package, module, args.shared)
        return {
            "runtime": RUNTIME,
            "architectures": [ARCHITECTURE],
            "handler": args.handler,
            "code": pulumi.AssetArchive(
                {zip_path: pulumi.FileAsset(path) for zip_path, path in files.items()}
            ),
        }

    def _own_statements(self) -> list[Statement]:
        """Its logs and traces: what every function does."""
        return [
            allow(
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [self.log_group.arn.apply(lambda arn: f"{arn}:log-stream:*")],
                sid="WriteItsLogs",
            ),
            # PutTraceSegments and PutTelemetryRecords have no resource types: AWS requires "*".
            allow(
                ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"], sid="ActiveTracing"
            ),
        ]
