"""The ML platform: read the stack's settings, build the enabled stacks, export their outputs."""

import pulumi
import pulumi_aws as aws

from components.blocks.alerts import AlarmTopic, AlarmTopicArgs
from components.blocks.audit_logs import AuditLogs, AuditLogsArgs
from components.blocks.cost_guardrails import CostGuardrails, CostGuardrailsArgs
from components.blocks.quotas_requests import QuotaRequests, QuotaRequestsArgs
from components.blocks.waf import WebAcl, regional_args
from components.config import settings as config
from components.stacks.agent_world.stack import AgentWorldArgs, AgentWorldStack
from components.stacks.data_platform import DataPlatformArgs, DataPlatformStack
from components.stacks.inference import InferenceArgs, InferenceStack, routes
from components.stacks.network import NetworkArgs, NetworkStack
from components.stacks.training import TrainingArgs, TrainingStack

try:
    settings = config.load()
except config.ConfigError as error:
    # RunError ends the program with just this message: no resource has been registered.
    raise pulumi.RunError(str(error)) from None

on = settings.stacks
# Every ECS service of every stack as {cluster, service}, and every dead-letter queue, for
# `./tasks validate` (the stacks' own outputs name only some of them).
ecs_services: list[dict[str, pulumi.Output[str]]] = []
dead_letter_queue_urls: list[pulumi.Output[str]] = []
log_buckets = []  # the load balancers' access-log buckets, each once
# The stacks that raise alarms are the ones with data buckets; a load balancer's log bucket
# (inference.access_logs, the data platform's own load balancer) logs its requests too.
alarms = on.training or on.data_platform or on.agent_world
data_buckets = alarms or (on.inference and settings.inference.access_logs)
# One key for every log group (and the alarm topic) and one bucket for S3 access logs,
# handed to each stack (StackCommon.log_key_arn, access_log_bucket).
audit = None
if on.network or on.training or on.inference or on.data_platform or on.agent_world:
    audit = AuditLogs(
        "audit",
        AuditLogsArgs.from_settings(
            settings, access_logs=data_buckets, alarm_notifications=alarms, cost_alerts=alarms
        ),
    )
    pulumi.export("logs_key_arn", audit.key_arn)
    # `./tasks validate` reaches the stack's AWS APIs in this region.
    pulumi.export("aws_region", settings.region)
    if audit.access_log_bucket is not None:
        pulumi.export("access_log_bucket", audit.access_log_bucket)

# The config check guarantees the network for every other stack.
if settings.stacks.network:
    network = NetworkStack("network", NetworkArgs.from_settings(settings, audit))
    pulumi.export("vpc_id", network.vpc_id)
    pulumi.export("public_subnet_ids", network.public_subnet_ids)
    pulumi.export("private_subnet_ids", network.private_subnet_ids)

# One alarm topic for every stack that raises alarms, encrypted with the logs key.
if alarms:
    alerts = AlarmTopic(
        "alerts",
        AlarmTopicArgs(
            name_prefix=settings.prefix(),
            email=settings.alarm_email,
            kms_key_arn=audit.key_arn,
            cost_alerts=True,
            tags=settings.base_tags("alerts"),
        ),
    )
    pulumi.export("alarm_topic_arn", alerts.arn)
    # The live guardrails notify the same topic: the environment's budget and the
    # account's service anomaly monitor (budget.anomaly_monitor).
    guardrails = CostGuardrails(
        "cost-guardrails", CostGuardrailsArgs.from_settings(settings, alerts.arn)
    )
    pulumi.export("budget_name", guardrails.budget.name)

# One regional WAF web ACL for every internet-facing load balancer and the REST stage.
# Its log group is encrypted with the shared logs key.
web_acl_arn = None
if settings.security.waf and (
    settings.stacks.inference or settings.stacks.data_platform or settings.stacks.agent_world
):
    web_acl = WebAcl("waf", regional_args(settings, settings.stacks.data_platform, audit.key_arn))
    web_acl_arn = web_acl.arn

if settings.stacks.training:
    training = TrainingStack(
        "training", TrainingArgs.from_settings(settings, network, alerts.arn, audit)
    )
    # The seed's output names, so its scripts and runbooks keep working.
    pulumi.export("ecr_repository_url", training.image.repository.repository_url)
    pulumi.export("s3_bucket_name", training.bucket.bucket_name)
    pulumi.export("sqs_task_queue_url", training.task_queue.url)
    pulumi.export("sqs_result_queue_url", training.result_queue.url)
    pulumi.export("sqs_dlq_url", training.dead_letter_queue.url)
    pulumi.export("ecs_cluster_name", training.cluster.name)
    pulumi.export("ecs_service_name", training.service.name)
    pulumi.export("worker_log_group", training.log_group.name)
    ecs_services.append({"cluster": training.cluster.name, "service": training.service.name})
    dead_letter_queue_urls.append(training.dead_letter_queue.url)
    pulumi.export("coordinator_role_arn", training.coordinator_role.arn)
    if training.coordinator_access_key is not None:
        key = training.coordinator_access_key
        pulumi.export("coordinator_access_key_id", pulumi.Output.secret(key.id))
        pulumi.export("coordinator_secret_access_key", pulumi.Output.secret(key.secret))

if settings.stacks.inference:
    inference = InferenceStack(
        "inference",
        InferenceArgs.from_settings(settings, network, audit, web_acl_arn, alerts.arn),
    )
    # The seed's output names; the API key is in Secrets Manager, never an output.
    pulumi.export("alb_url", inference.alb_url)
    pulumi.export("health_check_url", inference.health_check_url)
    for output, url in inference.endpoints.items():
        pulumi.export(output, url)
    pulumi.export("inference_cluster_name", inference.cluster.name)
    pulumi.export(
        "inference_service_names", {name: s.name for name, s in inference.services.items()}
    )
    pulumi.export("inference_api_key_secret_arn", inference.api_key_secret.arn)
    ecs_services += [
        {"cluster": inference.cluster.name, "service": s.name} for s in inference.services.values()
    ]
    if inference.load_balancer.access_log_bucket is not None:
        log_buckets.append(inference.load_balancer.access_log_bucket)
    # The service behind health_check_url: at desired count 0 (scaled to zero) /health has
    # no target to answer it, which `./tasks validate` reports as skipped, not failed.
    health_service = next(
        (s.name for s in settings.inference.services if routes(s, "/health") and not s.on_lambda),
        None,
    )  # a Lambda service has no ECS service to scale to zero: its /health always answers
    if health_service is not None:
        pulumi.export("health_check_service_name", inference.services[health_service].name)

if settings.stacks.data_platform:
    # Sharing the inference stack's load balancer saves one ALB's hourly charge.
    shared = inference.load_balancer if settings.data_platform.share_load_balancer else None
    data_platform = DataPlatformStack(
        "data-platform",
        DataPlatformArgs.from_settings(settings, network, shared, alerts.arn, audit, web_acl_arn),
    )
    # The seed's output names; passwords stay in Secrets Manager.
    pulumi.export("mlflow_endpoint", data_platform.mlflow_endpoint)
    if data_platform.api_endpoint is not None:
        pulumi.export("api_endpoint", data_platform.api_endpoint)
    pulumi.export("mlflow_artifacts_bucket", data_platform.artifacts.bucket_name)
    pulumi.export("pipeline_data_bucket", data_platform.pipeline_data.bucket_name)
    pulumi.export("db_endpoint", data_platform.db_endpoint)
    # The RDS API's own parameter names, so that `./tasks validate` knows which to describe.
    if isinstance(data_platform.database, aws.rds.Cluster):
        pulumi.export("db_cluster_identifier", data_platform.database.cluster_identifier)
    else:
        pulumi.export("db_instance_identifier", data_platform.database.identifier)
    # With data_platform.api_placement with_mlflow the API's service is MLflow's: listed once.
    ecs_services += [
        {"cluster": data_platform.cluster.name, "service": s.name}
        for s in dict.fromkeys((data_platform.mlflow_service, data_platform.api_service))
        if s is not None
    ]
    if data_platform.load_balancer.access_log_bucket is not None:
        log_buckets.append(data_platform.load_balancer.access_log_bucket)
    pulumi.export("mlflow_admin_password_secret_arn", data_platform.admin_password_secret.arn)

if settings.stacks.agent_world:
    # Sharing the inference stack's load balancer saves the agent world's own NLB.
    shared = inference.load_balancer if settings.agent_world.share_load_balancer else None
    agent_world = AgentWorldStack(
        "agent-world",
        AgentWorldArgs.from_settings(settings, network, alerts.arn, shared, audit, web_acl_arn),
    )
    # The seed's outputs; the API key stays in Secrets Manager.
    pulumi.export("agent_world_rest_url", agent_world.rest_url)
    pulumi.export("agent_world_websocket_url", agent_world.websocket_url)
    pulumi.export("agent_world_cloudfront_domain", agent_world.cdn_domain)
    pulumi.export(
        "agent_world_table_names", {k: t.name for k, t in agent_world.data.tables.items()}
    )
    pulumi.export("agent_world_api_key_secret_arn", agent_world.api_key_secret.arn)
    pulumi.export(
        "agent_world_bucket_names",
        {
            "snapshots": agent_world.data.snapshots.bucket_name,
            "assets": agent_world.data.assets.bucket_name,
        },
    )
    ecs_services += [
        {"cluster": agent_world.cluster.name, "service": s.name}
        for s in agent_world.services.values()
    ]

if log_buckets:
    pulumi.export("alb_log_buckets", [b.bucket_name for b in dict.fromkeys(log_buckets)])
if ecs_services:
    pulumi.export("ecs_services", ecs_services)
if dead_letter_queue_urls:
    pulumi.export("dead_letter_queue_urls", dead_letter_queue_urls)

if settings.quotas.request:
    # The vCPUs the stacks above can use at their maximum, requested where the account has less.
    QuotaRequests("quotas", QuotaRequestsArgs.from_settings(settings))
