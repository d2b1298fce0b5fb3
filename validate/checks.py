"""What ``./tasks validate`` checks, read from the stack's outputs, and how each passes.

Each check gives one :class:`Result`; a check whose outputs are absent (its stack is off)
gives a ``skip`` saying so. Nothing is created, changed or deleted: S3 is checked with
``head_bucket`` and a one-key ``list_objects_v2`` (a probe object would leave versions in
versioned buckets and needs write access a validator should not hold), queues with
``get_queue_attributes``, ECS and RDS with their ``describe_*`` calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from components.lib.agent_world_roles import ROLES
from validate.outputs import UsageError

OK, FAIL, SKIP = "ok", "FAIL", "skip"
HEALTH_PATH = "/health"
"""The health route of every service of the platform (each app's ``HEALTH_PATH``)."""
AGENT_WORLD_HEALTH = f"/api/{ROLES[0].api_path}{HEALTH_PATH}"
"""The REST API's route to the world-management service's health (every route wants the key)."""
SIGN_IN_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Result:
    """One line of the report."""

    state: str
    check: str
    detail: str

    def line(self) -> str:
        return f"{self.state:<4} {self.check}: {self.detail}"


@dataclass
class Context:
    """What the checks share: the outputs, an AWS client factory, the HTTP policy, and the
    ECS services' desired counts once the ECS checks have read them."""

    outputs: dict[str, Any]
    client: Callable[[str], Any]
    allow_http: bool
    desired: dict[str, int]


def aws_reason(error: Exception) -> str:
    """One line for an AWS error: the error code and message, never a stack."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"{info.get('Code', 'error')}: {info.get('Message', '') or 'no message'}"
    return f"{type(error).__name__}: {error}"


# --- reading the outputs ------------------------------------------------------------------


def text(outputs: dict[str, Any], key: str) -> str | None:
    """The string output ``key``, None when absent; any other type is a malformed file."""
    value = outputs.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise UsageError(f"output {key} is not a non-empty string")
    return value


def strings(outputs: dict[str, Any], key: str) -> list[str]:
    """The output ``key``: a list of strings, or a map whose values are strings."""
    value = outputs.get(key)
    if value is None:
        return []
    items = list(value.values()) if isinstance(value, dict) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
        raise UsageError(f"output {key} is not a list or map of strings")
    return items


TEXT_OUTPUTS = (
    "aws_region", "ecs_cluster_name", "ecs_service_name", "inference_cluster_name",
    "db_cluster_identifier", "db_instance_identifier", "s3_bucket_name",
    "mlflow_artifacts_bucket", "pipeline_data_bucket", "access_log_bucket",
    "sqs_task_queue_url", "sqs_result_queue_url", "sqs_dlq_url", "health_check_url",
    "health_check_service_name", "mlflow_endpoint", "api_endpoint", "agent_world_rest_url",
    "agent_world_api_key_secret_arn",
)  # fmt: skip
"""Every string output a check reads (``check_shapes`` reads them all first)."""
LIST_OUTPUTS = ("inference_service_names", "agent_world_bucket_names", "alb_log_buckets",
                "dead_letter_queue_urls")  # fmt: skip
"""Every list (or map) of strings a check reads."""


def check_shapes(outputs: dict[str, Any]) -> None:
    """A :class:`UsageError` for the first output of the wrong type, before any check runs
    (so that a malformed file gives one line, not half a report)."""
    for key in TEXT_OUTPUTS:
        text(outputs, key)
    for key in LIST_OUTPUTS:
        strings(outputs, key)
    ecs_pairs(outputs)


def ecs_pairs(outputs: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (cluster, service): ``ecs_services`` and the seeds' own names, once each."""
    pairs: list[tuple[str, str]] = []
    listed = outputs.get("ecs_services") or []
    if not isinstance(listed, list):
        raise UsageError("output ecs_services is not a list of {cluster, service}")
    for item in listed:
        if not (isinstance(item, dict) and all(isinstance(item.get(k), str) for k in
                                                ("cluster", "service"))):  # fmt: skip
            raise UsageError("output ecs_services is not a list of {cluster, service}")
        pairs.append((item["cluster"], item["service"]))
    training = text(outputs, "ecs_cluster_name"), text(outputs, "ecs_service_name")
    if all(training):
        pairs.append(training)  # type: ignore[arg-type]
    inference = text(outputs, "inference_cluster_name")
    if inference:
        pairs += [(inference, s) for s in strings(outputs, "inference_service_names")]
    return list(dict.fromkeys(pairs))


# --- ECS ----------------------------------------------------------------------------------


def service_state(service: dict[str, Any]) -> tuple[str, str]:
    """``(state, detail)`` of one ``describe_services`` entry: steady when ACTIVE, running
    exactly the desired count, nothing pending, one deployment and its rollout COMPLETED."""
    running, desired = service.get("runningCount", 0), service.get("desiredCount", 0)
    pending = service.get("pendingCount", 0)
    deployments = service.get("deployments") or []
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
    rollout = primary.get("rolloutState")
    counts = f"running {running} of desired {desired}, {pending} pending"
    if service.get("status") != "ACTIVE":
        return FAIL, f"status {service.get('status')}"
    if running != desired or pending:
        return FAIL, counts
    if len(deployments) > 1:
        return FAIL, f"{counts}; {len(deployments)} deployments (one still rolling out)"
    if rollout is not None and rollout != "COMPLETED":
        reason = primary.get("rolloutStateReason", "")
        return FAIL, f"{counts}; deployment {rollout}" + (f" ({reason})" if reason else "")
    return OK, f"{counts}; deployment {rollout or 'steady'}"


def check_ecs(ctx: Context) -> Iterator[Result]:
    pairs = ecs_pairs(ctx.outputs)
    if not pairs:
        yield Result(SKIP, "ecs", "no ECS service in the outputs (every stack with one is off)")
        return
    by_cluster: dict[str, list[str]] = {}
    for cluster, service in pairs:
        by_cluster.setdefault(cluster, []).append(service)
    ecs = ctx.client("ecs")
    for cluster, services in by_cluster.items():
        for start in range(0, len(services), 10):  # describe_services takes 10 at most
            chunk = services[start : start + 10]
            try:
                found = ecs.describe_services(cluster=cluster, services=chunk)
            except (ClientError, BotoCoreError) as error:
                for name in chunk:
                    yield Result(FAIL, f"ecs {cluster}/{name}", aws_reason(error))
                continue
            described = {s["serviceName"]: s for s in found.get("services", [])}
            for name in chunk:
                service = described.get(name)
                if service is None:
                    yield Result(FAIL, f"ecs {cluster}/{name}", "not found in the cluster")
                    continue
                ctx.desired[name] = service.get("desiredCount", 0)
                yield Result(*_named(f"ecs {cluster}/{name}", service_state(service)))


def _named(check: str, state: tuple[str, str]) -> tuple[str, str, str]:
    return state[0], check, state[1]


# --- RDS ----------------------------------------------------------------------------------


def check_database(ctx: Context) -> Iterator[Result]:
    """The Aurora cluster and each of its instances, or the RDS instance: ``available``."""
    cluster = text(ctx.outputs, "db_cluster_identifier")
    instance = text(ctx.outputs, "db_instance_identifier")
    if not cluster and not instance:
        why = ("db_endpoint is exported but no db_cluster_identifier or db_instance_identifier"
               " (deployed before they were outputs)" if ctx.outputs.get("db_endpoint")
               else "no database in the outputs (data platform stack off)")  # fmt: skip
        yield Result(SKIP, "database", why)
        return
    rds = ctx.client("rds")
    instances = [instance] if instance else []
    if cluster:
        check = f"database cluster {cluster}"
        try:
            found = rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]
        except (ClientError, BotoCoreError) as error:
            yield Result(FAIL, check, aws_reason(error))
            return
        status = found.get("Status")
        members = [m["DBInstanceIdentifier"] for m in found.get("DBClusterMembers", [])]
        detail = f"{status} ({found.get('Engine', '?')}, {len(members)} instance(s))"
        # A cluster without an instance is "available" and serves no connection.
        good = status == "available" and bool(members)
        yield Result(OK if good else FAIL, check, detail)
        instances += members
    for name in instances:
        yield _instance(rds, name)


def _instance(rds: Any, name: str) -> Result:
    check = f"database instance {name}"
    try:
        found = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    except (ClientError, BotoCoreError) as error:
        return Result(FAIL, check, aws_reason(error))
    status = found.get("DBInstanceStatus")
    detail = f"{status} ({found.get('Engine', '?')})"
    return Result(OK if status == "available" else FAIL, check, detail)


# --- S3 -----------------------------------------------------------------------------------

BUCKET_OUTPUTS = ("s3_bucket_name", "mlflow_artifacts_bucket", "pipeline_data_bucket",
                  "access_log_bucket")  # fmt: skip
"""The outputs that name one bucket each; ``agent_world_bucket_names`` and
``alb_log_buckets`` name more."""


def check_buckets(ctx: Context) -> Iterator[Result]:
    names = [n for key in BUCKET_OUTPUTS if (n := text(ctx.outputs, key))]
    names += strings(ctx.outputs, "agent_world_bucket_names")
    names += strings(ctx.outputs, "alb_log_buckets")
    if not names:
        yield Result(SKIP, "s3", "no bucket in the outputs (every stack with one is off)")
        return
    s3 = ctx.client("s3")
    for name in dict.fromkeys(names):
        try:
            s3.head_bucket(Bucket=name)
            listed = s3.list_objects_v2(Bucket=name, MaxKeys=1)
        except (ClientError, BotoCoreError) as error:
            yield Result(FAIL, f"s3 {name}", aws_reason(error))
            continue
        some = "objects" if listed.get("KeyCount", 0) else "empty"
        yield Result(OK, f"s3 {name}", f"head_bucket and list_objects_v2 allowed ({some})")


# --- SQS ----------------------------------------------------------------------------------

QUEUE_OUTPUTS = ("sqs_task_queue_url", "sqs_result_queue_url")


def check_queues(ctx: Context) -> Iterator[Result]:
    queues = [u for key in QUEUE_OUTPUTS if (u := text(ctx.outputs, key))]
    dlqs = [u for u in [text(ctx.outputs, "sqs_dlq_url")] if u]
    dlqs = list(dict.fromkeys(dlqs + strings(ctx.outputs, "dead_letter_queue_urls")))
    if not queues and not dlqs:
        yield Result(SKIP, "sqs", "no queue in the outputs (training stack off)")
        return
    sqs = ctx.client("sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    for url, dead in [(u, False) for u in queues] + [(u, True) for u in dlqs]:
        check = f"{'dlq' if dead else 'sqs'} {url.rsplit('/', 1)[-1]}"
        try:
            found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        except (ClientError, BotoCoreError) as error:
            yield Result(FAIL, check, aws_reason(error))
            continue
        waiting = int(found.get(names[0], 0))
        in_flight = int(found.get(names[1], 0))
        if dead and waiting + in_flight:
            yield Result(FAIL, check, f"{waiting + in_flight} dead-lettered message(s) (inspect, "
                                      "then redrive or purge)")  # fmt: skip
        elif dead:
            yield Result(OK, check, "empty")
        else:
            yield Result(OK, check, f"reachable, {waiting} waiting, {in_flight} in flight")
