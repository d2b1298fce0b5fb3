"""The agent world's APIs: a REST API and a WebSocket API, one API key, one usage plan.

The REST API routes ``/api/<service>/{proxy+}`` (behind the API key) through the private
path to each role's service, with X-Ray tracing, JSON access logs and stage throttling;
the WebSocket API sends ``$connect``, ``$disconnect`` and ``$default`` to agent-runtime -
through the NLB, or, in shared-ALB mode (no VPC link v2 for WebSocket APIs), through the
REST API with a bridge key of its own. Each function creates children of the stack
(``parent=stack``) under the logical names they always had, so their URNs do not change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.blocks.function import LambdaFunction, LambdaFunctionArgs
from components.lib import names
from components.lib.agent_world_roles import ROLES, STAGE
from components.lib.policies import Condition, allow, service_trust
from components.parts.secrets import secret_with_value
from components.stacks.agent_world import private_path, rotation

if TYPE_CHECKING:
    from components.stacks.agent_world.stack import AgentWorldArgs, AgentWorldStack

BRIDGE_KEY_CONTEXT = "bridgeKey"
"""Shared-ALB mode: the key of the ``$connect`` authorizer's context holding the bridge key
(``websocket_authorizer.handler.CONTEXT_BRIDGE_KEY``), which the integrations send on."""
AUTHORIZER_HANDLER = "websocket_authorizer.handler.lambda_handler"
WORLD_QUERY = "route.request.querystring.world"
"""``$connect``'s required route parameter: the world to subscribe to (``?world=<id>``)."""
WORLD_HEADER = "X-World-Id"
"""The header the ``$connect`` integration carries the world in (the service reads it)."""

# Access-log lines of the two stages. REST and WebSocket stages accept different
# $context variables (a stage with one the other knows is refused: BadRequestException),
# so each has its own; the fields they share keep one name. Checked by the preflight
# (preflight/documented.py) against API Gateway's documented lists.
_ACCESS_LOG_COMMON = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "requestTime": "$context.requestTime",
    "status": "$context.status",
    "integrationStatus": "$context.integrationStatus",
    "error": "$context.error.message",
}
REST_REQUIRED_PARAMETERS = {
    "method.request.path.proxy": True,
    "method.request.header.x-api-key": True,
}
"""What every REST method requires (its request validator answers 400 without them): the
proxied path, and the API key header the API contract names (README, Agent world)."""
REST_ACCESS_LOG_FORMAT = {
    **_ACCESS_LOG_COMMON,
    "routeOrPath": "$context.httpMethod $context.resourcePath",
    "latency": "$context.responseLatency",
}
WEBSOCKET_ACCESS_LOG_FORMAT = {
    **_ACCESS_LOG_COMMON,
    "routeOrPath": "$context.routeKey",
    "latency": "$context.integrationLatency",
}


def create_apis(stack: AgentWorldStack, name: str, args: AgentWorldArgs) -> None:
    """Both APIs (``stack.rest_api``, ``stack.websocket_api``, their stages and URLs), the
    API key (``stack.api_key_secret``) and the usage plan that holds both stages."""
    account = _apigateway_account(stack, name, args)
    _rest_api(stack, name, args, account)
    api_key = _api_key(stack, name, args)
    bridge = _websocket_api(stack, name, args, account)
    keys = {"usage-plan-key": api_key, "bridge-usage-plan-key": bridge}
    plan = _usage_plan(stack, name, args, keys)
    rotation.create_rotations(stack, name, args, plan)


def _apigateway_account(
    stack: AgentWorldStack, name: str, args: AgentWorldArgs
) -> aws.apigateway.Account:
    """API Gateway writes access logs through one account-wide role (per region)."""
    child = pulumi.ResourceOptions(parent=stack)
    logs_role = aws.iam.Role(
        f"{name}-apigateway-logs-role",
        name=f"{args.common.name_prefix}-apigateway-cloudwatch",
        description="API Gateway writes the stages' access logs",
        assume_role_policy=aws.iam.get_policy_document_output(
            statements=[
                service_trust(
                    "apigateway.amazonaws.com", aws.get_caller_identity_output().account_id
                )
            ]
        ).json,
        tags=dict(args.common.tags),
        opts=child,
    )
    attachment = aws.iam.RolePolicyAttachment(
        f"{name}-apigateway-logs-policy",
        role=logs_role.name,
        policy_arn="arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
        opts=child,
    )
    return aws.apigateway.Account(
        f"{name}-apigateway-account",
        cloudwatch_role_arn=logs_role.arn,
        opts=pulumi.ResourceOptions(parent=stack, depends_on=[attachment]),
    )


def _access_logs(
    stack: AgentWorldStack, name: str, args: AgentWorldArgs, api: str
) -> aws.cloudwatch.LogGroup:
    """The access-log group of the ``api`` stage (``rest`` or ``websocket``)."""
    return aws.cloudwatch.LogGroup(
        f"{name}-{api}-access-logs",
        name=f"/aws/apigateway/{args.common.name_prefix}-agent-world-{api}",
        retention_in_days=args.common.log_retention_days,
        kms_key_id=args.common.log_key_arn,
        tags=dict(args.common.tags),
        opts=pulumi.ResourceOptions(parent=stack),
    )


def _execution_logs(
    stack: AgentWorldStack, name: str, args: AgentWorldArgs, api: str, log_group: pulumi.Input[str]
) -> list[aws.cloudwatch.LogGroup]:
    """The log group API Gateway writes the ``api`` stage's execution logs to, created first
    with retention and the logs key (API Gateway would create it unencrypted and keep it
    forever); none with execution logging off."""
    if args.agent_world.execution_log_level == "OFF":
        return []
    return [
        aws.cloudwatch.LogGroup(
            f"{name}-{api}-execution-logs",
            name=log_group,
            retention_in_days=args.common.log_retention_days,
            kms_key_id=args.common.log_key_arn,
            tags=dict(args.common.tags),
            opts=pulumi.ResourceOptions(parent=stack),
        )
    ]


def _rest_api(
    stack: AgentWorldStack, name: str, args: AgentWorldArgs, account: aws.apigateway.Account
) -> None:
    """The REST API, its routes, stage (``stack.rest_stage``) and URL (``stack.rest_url``)."""
    a = args.agent_world
    child = pulumi.ResourceOptions(parent=stack)
    stack.rest_api = aws.apigateway.RestApi(
        f"{name}-rest-api",
        name=f"{args.common.name_prefix}-agent-world",
        description="Agent world REST API (API key)",
        endpoint_configuration={"types": "REGIONAL"},
        api_key_source="HEADER",
        tags=dict(args.common.tags),
        opts=child,
    )
    pieces = _rest_routes(stack, name, args)
    deployment = aws.apigateway.Deployment(
        f"{name}-rest-deployment",
        rest_api=stack.rest_api.id,
        description="Agent world routes",
        # A new deployment whenever the routes change.
        triggers={
            "routes": ",".join(
                f"{r.api_path}:{stack.serving[r.name].name}:{stack.serving[r.name].listener_port}"
                for r in ROLES
            ),
            "path": "shared-alb" if stack.shared else "nlb",
            "validation": ",".join(sorted(REST_REQUIRED_PARAMETERS)),
        },
        opts=pulumi.ResourceOptions(parent=stack, depends_on=pieces),
    )
    rest_logs = _access_logs(stack, name, args, "rest")
    stack.rest_stage = aws.apigateway.Stage(
        f"{name}-rest-stage",
        rest_api=stack.rest_api.id,
        deployment=deployment.id,
        stage_name=STAGE,
        xray_tracing_enabled=True,
        access_log_settings={
            "destination_arn": rest_logs.arn,
            "format": pulumi.Output.json_dumps(REST_ACCESS_LOG_FORMAT),
        },
        tags=dict(args.common.tags),
        opts=pulumi.ResourceOptions(parent=stack, depends_on=[account]),
    )
    # API Gateway's own log group of the stage (documented name, "Set up CloudWatch
    # logging for REST APIs in API Gateway").
    execution_logs = _execution_logs(
        stack, name, args, "rest",
        pulumi.Output.concat("API-Gateway-Execution-Logs_", stack.rest_api.id, "/", STAGE),
    )  # fmt: skip
    # Every method of the stage: throttling, per-method metrics, execution logs (never the
    # request and response bodies: data tracing would log the API key and payloads).
    aws.apigateway.MethodSettings(
        f"{name}-rest-throttling",
        rest_api=stack.rest_api.id,
        stage_name=stack.rest_stage.stage_name,
        method_path="*/*",
        settings={
            "throttling_rate_limit": a.api_throttle_rate,
            "throttling_burst_limit": a.api_throttle_burst,
            "metrics_enabled": True,
            "logging_level": a.execution_log_level,
            "data_trace_enabled": False,
        },
        opts=pulumi.ResourceOptions(parent=stack, depends_on=execution_logs),
    )
    stack.rest_url = stack.rest_stage.invoke_url
    if args.web_acl_arn is not None:
        region = args.common.region
        aws.wafv2.WebAclAssociation(
            f"{name}-rest-waf",
            resource_arn=pulumi.Output.concat(
                f"arn:aws:apigateway:{region}::/restapis/",
                stack.rest_api.id,
                "/stages/",
                stack.rest_stage.stage_name,
            ),
            web_acl_arn=args.web_acl_arn,
            opts=child,
        )


def _rest_routes(stack: AgentWorldStack, name: str, args: AgentWorldArgs) -> list[pulumi.Resource]:
    """``/api/<path>/{proxy+}`` per role, ANY method behind the key, to the serving service."""
    child = pulumi.ResourceOptions(parent=stack)
    api = stack.rest_api
    api_root = aws.apigateway.Resource(
        f"{name}-rest-api-root",
        rest_api=api.id,
        parent_id=api.root_resource_id,
        path_part="api",
        opts=child,
    )
    # Parameters only: the routes proxy any body to the services, so no model to check one.
    validator = aws.apigateway.RequestValidator(
        f"{name}-rest-validator",
        rest_api=api.id,
        name="required-parameters",
        validate_request_parameters=True,
        validate_request_body=False,
        opts=child,
    )
    pieces: list[pulumi.Resource] = [validator]
    for role in ROLES:
        base = f"{name}-rest-{role.api_path}"
        prefix_resource = aws.apigateway.Resource(
            base, rest_api=api.id, parent_id=api_root.id, path_part=role.api_path, opts=child
        )
        proxy = aws.apigateway.Resource(
            f"{base}-proxy",
            rest_api=api.id,
            parent_id=prefix_resource.id,
            path_part="{proxy+}",
            opts=child,
        )
        method = aws.apigateway.Method(
            f"{base}-method",
            rest_api=api.id,
            resource_id=proxy.id,
            http_method="ANY",
            # Through CloudFront the Host header changes, which breaks SigV4: callers
            # present the API key (x-api-key), which CloudFront forwards.
            authorization="NONE",
            api_key_required=True,
            request_parameters=REST_REQUIRED_PARAMETERS,
            request_validator_id=validator.id,
            opts=child,
        )
        integration = aws.apigateway.Integration(
            f"{base}-integration",
            rest_api=api.id,
            resource_id=proxy.id,
            http_method=method.http_method,
            type="HTTP_PROXY",
            integration_http_method="ANY",
            connection_type="VPC_LINK",
            connection_id=stack.vpc_link.id,
            timeout_milliseconds=29000,
            **private_path.rest_target(stack, stack.serving[role.name], args),
            opts=child,
        )
        pieces += [prefix_resource, proxy, method, integration]
    return pieces


def _api_key(stack: AgentWorldStack, name: str, args: AgentWorldArgs) -> aws.apigateway.ApiKey:
    """One API key for both APIs, generated into Secrets Manager (the stack's key)."""
    child = pulumi.ResourceOptions(parent=stack)
    prefix = args.common.name_prefix
    tags = dict(args.common.tags)
    key_value = random.RandomPassword(f"{name}-api-key-value", length=40, special=False,
                                      opts=child)  # fmt: skip
    stack.api_key_secret = secret_with_value(
        f"{name}-api-key-secret",
        value_name=f"{name}-api-key-secret-value",
        name=f"{prefix}/agent-world/api-key",
        description="API key of the agent world APIs (x-api-key)",
        value=key_value.result,
        kms_key_id=stack.data.key.arn,
        recovery_window_in_days=args.common.secret_recovery_days,
        tags=tags,
        opts=child,
    )
    return aws.apigateway.ApiKey(
        f"{name}-api-key",
        name=f"{prefix}-agent-world",
        value=key_value.result,
        tags=tags,
        # The rotation disables this first key once two newer ones exist (see rotation.py):
        # a `pulumi up` after a refresh must not turn it back on.
        opts=pulumi.ResourceOptions(
            parent=stack, additional_secret_outputs=["value"], ignore_changes=["enabled"]
        ),
    )


def _websocket_api(
    stack: AgentWorldStack, name: str, args: AgentWorldArgs, account: aws.apigateway.Account
) -> aws.apigateway.ApiKey | None:
    """The WebSocket API, its routes, stage (``stack.websocket_stage``) and URL; returns
    the bridge key of shared-ALB mode (None through the NLB)."""
    a = args.agent_world
    tags = dict(args.common.tags)
    bridge = _bridge_key(stack, name, args) if stack.shared else None
    authorizer = _websocket_authorizer(stack, name, args)
    routes = _websocket_routes(stack, name, authorizer)
    ws_logs = _access_logs(stack, name, args, "websocket")
    # API Gateway's own log group of a WebSocket stage: /aws/apigateway/<api id>/<stage>.
    execution_logs = _execution_logs(
        stack, name, args, "websocket",
        pulumi.Output.concat("/aws/apigateway/", stack.websocket_api.id, "/", STAGE),
    )  # fmt: skip
    stack.websocket_stage = aws.apigatewayv2.Stage(
        f"{name}-ws-stage",
        api_id=stack.websocket_api.id,
        name=STAGE,
        auto_deploy=True,
        access_log_settings={
            "destination_arn": ws_logs.arn,
            "format": pulumi.Output.json_dumps(WEBSOCKET_ACCESS_LOG_FORMAT),
        },
        default_route_settings={
            "throttling_rate_limit": a.api_throttle_rate,
            "throttling_burst_limit": a.api_throttle_burst,
            "logging_level": a.execution_log_level,
            "data_trace_enabled": False,
            "detailed_metrics_enabled": True,
        },
        tags=tags,
        opts=pulumi.ResourceOptions(parent=stack, depends_on=[account, *routes, *execution_logs]),
    )
    stack.websocket_url = stack.websocket_stage.invoke_url
    return bridge


def create_websocket_api(stack: AgentWorldStack, name: str, args: AgentWorldArgs) -> None:
    """The WebSocket API itself (``stack.websocket_api``), before the services: their tasks
    post events to its connections (its Management API endpoint and ManageConnections on
    its ``@connections``); its routes, stage and authorizer follow in :func:`create_apis`."""
    stack.websocket_api = aws.apigatewayv2.Api(
        f"{name}-websocket-api",
        name=f"{args.common.name_prefix}-agent-world-ws",
        description="Agent world WebSocket API",
        protocol_type="WEBSOCKET",
        route_selection_expression="$request.body.action",
        api_key_selection_expression="$request.header.x-api-key",
        tags=dict(args.common.tags),
        opts=pulumi.ResourceOptions(parent=stack),
    )


def management_endpoint(stack: AgentWorldStack, region: str) -> pulumi.Output[str]:
    """The stage's API Gateway Management API: ``https://{api-id}.execute-api.{region}
    .amazonaws.com/{stage}`` (the ``endpoint_url`` of boto3's ``apigatewaymanagementapi``)."""
    return pulumi.Output.concat(
        "https://", stack.websocket_api.id, f".execute-api.{region}.amazonaws.com/{STAGE}"
    )


def connections_arn(stack: AgentWorldStack) -> pulumi.Output[str]:
    """What ``execute-api:ManageConnections`` is allowed on: POST (``post_to_connection``)
    to any connection of this API's stage, ``arn:aws:execute-api:{region}:{account}:{api-id}
    /{stage}/POST/@connections/*`` (resource type ``execute-api-general``, IAM service
    authorization reference; API Gateway developer guide, "Control access to WebSocket APIs
    with IAM authorization")."""
    return pulumi.Output.concat(stack.websocket_api.execution_arn, f"/{STAGE}/POST/@connections/*")


def _bridge_key(stack: AgentWorldStack, name: str, args: AgentWorldArgs) -> aws.apigateway.ApiKey:
    """No VPC link v2 for WebSocket APIs: through the REST API, with a key of its own, kept
    only in Secrets Manager (``stack.bridge_key_secret``, the stack's key): the ``$connect``
    authorizer hands it to the connection's integrations in its context."""
    child = pulumi.ResourceOptions(parent=stack)
    tags = dict(args.common.tags)
    bridge_key = random.RandomPassword(f"{name}-bridge-key-value", length=40,
                                       special=False, opts=child)  # fmt: skip
    stack.bridge_key_secret = secret_with_value(
        f"{name}-bridge-key-secret",
        value_name=f"{name}-bridge-key-secret-value",
        name=f"{args.common.name_prefix}/agent-world/bridge-key",
        description="The WebSocket routes' key for the REST API (shared-ALB mode)",
        value=bridge_key.result,
        kms_key_id=stack.data.key.arn,
        recovery_window_in_days=args.common.secret_recovery_days,
        tags=tags,
        opts=child,
    )
    return aws.apigateway.ApiKey(
        f"{name}-bridge-key",
        name=f"{args.common.name_prefix}-agent-world-websocket",
        description="The WebSocket API's routes calling the REST API",
        value=bridge_key.result,
        tags=tags,
        opts=pulumi.ResourceOptions(
            parent=stack, additional_secret_outputs=["value"], ignore_changes=["enabled"]
        ),
    )


def _websocket_authorizer(
    stack: AgentWorldStack, name: str, args: AgentWorldArgs
) -> aws.apigatewayv2.Authorizer:
    """The ``$connect`` REQUEST authorizer (``services/websocket_authorizer``): the API key's
    current, previous or pending value, checked against its secret; in shared-ALB mode it
    also returns the bridge key. WebSocket APIs cache no authorizer result (API Gateway
    caches only HTTP APIs' Lambda authorizers: botocore apigatewayv2 CreateAuthorizer,
    AuthorizerResultTtlInSeconds); the function keeps the secret's values for 300 s."""
    child = pulumi.ResourceOptions(parent=stack)
    secrets = [stack.api_key_secret.arn]
    environment = {"API_KEY_SECRET_ARN": stack.api_key_secret.arn}
    if stack.shared:
        secrets.append(stack.bridge_key_secret.arn)
        environment["BRIDGE_KEY_SECRET_ARN"] = stack.bridge_key_secret.arn
    region = aws.get_region_output().region
    stack.websocket_authorizer_function = LambdaFunction(
        f"{name}-ws-authorizer",
        LambdaFunctionArgs(
            function_name=names.websocket_authorizer(args.common.name_prefix),
            package="websocket_authorizer",
            handler=AUTHORIZER_HANDLER,
            description="Agent world WebSocket $connect: the API key, checked on its secret",
            statements=[
                # The API key: its stages and their values (the key ring); the bridge
                # key (shared-ALB mode): its current value only.
                allow(
                    ["secretsmanager:DescribeSecret"],
                    [stack.api_key_secret.arn],
                    sid="ReadTheApiKeyStages",
                ),
                allow(["secretsmanager:GetSecretValue"], secrets, sid="ReadTheKeys"),
                allow(
                    ["kms:Decrypt"],
                    [stack.data.key.arn],
                    sid="TheirKeyThroughSecretsManager",
                    conditions=[
                        Condition(
                            test="StringEquals",
                            variable="kms:ViaService",
                            values=[
                                pulumi.Output.concat("secretsmanager.", region, ".amazonaws.com")
                            ],
                        )
                    ],
                ),
            ],
            environment=environment,
            timeout=10,
            log_retention_days=args.common.log_retention_days,
            # Like the stack's other log groups: its key, unless a logs key is given.
            log_key_arn=args.common.log_key_arn or stack.data.key.arn,
            tags=dict(args.common.tags),
        ),
        opts=child,
    )
    function = stack.websocket_authorizer_function
    authorizer = aws.apigatewayv2.Authorizer(
        f"{name}-ws-authorizer",
        api_id=stack.websocket_api.id,
        name=f"{args.common.name_prefix}-agent-world-api-key",
        authorizer_type="REQUEST",
        authorizer_uri=function.invoke_arn,
        identity_sources=["route.request.header.x-api-key"],
        opts=child,
    )
    permission = aws.lambda_.Permission(
        f"{name}-ws-authorizer-permission",
        action="lambda:InvokeFunction",
        function=function.name,
        principal="apigateway.amazonaws.com",
        source_arn=pulumi.Output.concat(
            stack.websocket_api.execution_arn, "/authorizers/", authorizer.id
        ),
        opts=child,
    )
    stack.websocket_authorizer = authorizer
    stack.websocket_authorizer_permission = permission
    return authorizer


def _websocket_routes(
    stack: AgentWorldStack, name: str, authorizer: aws.apigatewayv2.Authorizer
) -> list[aws.apigatewayv2.Route]:
    """``$connect``, ``$disconnect`` and ``$default``, each to agent-runtime's ``/ws/...``;
    ``$connect`` behind ``authorizer`` (and the usage plan's API key)."""
    child = pulumi.ResourceOptions(parent=stack)
    routes = []
    for route_key, path in (("$connect", "connect"), ("$disconnect", "disconnect"),
                            ("$default", "message")):  # fmt: skip
        slug = route_key.strip("$")
        target = _websocket_target(stack, path)
        connect = route_key == "$connect"
        if connect:
            # The world a connection subscribes to: `?world=<id>`, required on the route (API
            # Gateway refuses a $connect without it) and sent to the service as X-World-Id
            # (route.request.querystring is mappable on $connect only: "Set up data mapping
            # for WebSocket APIs"); the service checks it and registers the connection.
            target["request_parameters"] = {
                **target["request_parameters"],
                f"integration.request.header.{WORLD_HEADER}": WORLD_QUERY,
            }
        integration = aws.apigatewayv2.Integration(
            f"{name}-ws-{slug}-integration",
            api_id=stack.websocket_api.id,
            integration_type="HTTP_PROXY",
            integration_method="POST",
            **target,
            opts=child,
        )
        routes.append(
            aws.apigatewayv2.Route(
                f"{name}-ws-{slug}-route",
                api_id=stack.websocket_api.id,
                route_key=route_key,
                # The key is checked once, when the connection opens.
                api_key_required=route_key == "$connect",
                authorization_type="CUSTOM" if route_key == "$connect" else "NONE",
                authorizer_id=authorizer.id if route_key == "$connect" else None,
                request_parameters=[{"request_parameter_key": WORLD_QUERY, "required": True}]
                if connect
                else None,
                target=integration.id.apply(lambda i: f"integrations/{i}"),
                opts=pulumi.ResourceOptions(
                    parent=stack,
                    depends_on=[stack.websocket_authorizer_permission]
                    if route_key == "$connect"
                    else [],
                ),
            )
        )
    return routes


def _websocket_target(stack: AgentWorldStack, path: str) -> dict:
    """Where a WebSocket route goes: agent-runtime's NLB port, or the REST API with the
    bridge key the ``$connect`` authorizer returned for the connection (never a stage
    variable: the key lives in Secrets Manager only)."""
    parameters = {"integration.request.header.X-Connection-Id": "context.connectionId"}
    if stack.shared:
        return {
            "integration_uri": stack.rest_url.apply(lambda u: f"{u}/api/runtime/ws/{path}"),
            "request_parameters": {
                **parameters,
                "integration.request.header.x-api-key": f"context.authorizer.{BRIDGE_KEY_CONTEXT}",
            },
        }
    runtime = stack.serving["agent-runtime"]
    return {
        "connection_type": "VPC_LINK",
        "connection_id": stack.vpc_link.id,
        "integration_uri": stack.nlb.dns_name.apply(
            lambda d: f"http://{d}:{runtime.listener_port}/ws/{path}"
        ),
        "request_parameters": parameters,
    }


def _usage_plan(
    stack: AgentWorldStack,
    name: str,
    args: AgentWorldArgs,
    keys: dict[str, aws.apigateway.ApiKey | None],
) -> aws.apigateway.UsagePlan:
    """One usage plan for both APIs: the WebSocket API checks the key on $connect only
    when its stage is in a plan that holds the key. Returned (the key rotations add keys)."""
    a = args.agent_world
    child = pulumi.ResourceOptions(parent=stack)
    plan = aws.apigateway.UsagePlan(
        f"{name}-usage-plan",
        name=f"{args.common.name_prefix}-agent-world",
        api_stages=[
            {"api_id": stack.rest_api.id, "stage": stack.rest_stage.stage_name},
            {"api_id": stack.websocket_api.id, "stage": stack.websocket_stage.name},
        ],
        throttle_settings={"rate_limit": a.api_throttle_rate,
                           "burst_limit": a.api_throttle_burst},
        tags=dict(args.common.tags),
        opts=child,
    )  # fmt: skip
    for suffix, key in keys.items():
        if key is not None:
            aws.apigateway.UsagePlanKey(
                f"{name}-{suffix}",
                key_id=key.id,
                key_type="API_KEY",
                usage_plan_id=plan.id,
                opts=child,
            )
    return plan
