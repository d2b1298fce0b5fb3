"""TrainingStack, as the real program registers it for the dev and prod stack files."""

from __future__ import annotations

import json

import pytest

from components.lib import queue_scaling
from offline.mocks import ACCOUNT_ID, SECRET_PLACEHOLDER

TRAINING = "mlplatform:training:TrainingStack"
QUEUE = "aws:sqs/queue:Queue"
SERVICE = "aws:ecs/service:Service"
TASK_DEF = "aws:ecs/taskDefinition:TaskDefinition"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
POLICY = "aws:appautoscaling/policy:Policy"
REGION = "us-east-1"
SEED_OUTPUTS = (
    "ecr_repository_url", "s3_bucket_name", "sqs_task_queue_url", "sqs_result_queue_url",
    "sqs_dlq_url", "ecs_cluster_name", "ecs_service_name", "coordinator_role_arn",
)  # fmt: skip


@pytest.fixture(scope="module")
def dev(dev):
    """The training component of the real dev stack."""
    return dev.subtree("training")


@pytest.fixture(scope="module")
def prod(prod):
    """The training component of the real prod stack."""
    return prod.subtree("training")


@pytest.fixture(scope="module")
def full(run_program_module):
    """Dev with the optional parts on: Redis, the coordinator user, an alarm e-mail."""
    return run_program_module(
        "dev",
        {"training.redis": True, "training.coordinator_user": True,
         "mlplatform:alarm_email": "ops@example.com"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def run_program_module():
    from offline.runner import run_program

    return run_program


def queues(run):
    return {q.name.removeprefix("training-"): q for q in run.of_type(QUEUE)}


def container(run):
    return json.loads(run.one(TASK_DEF).inputs["containerDefinitions"])[0]


def environment(run):
    return {e["name"]: e["value"] for e in container(run)["environment"]}


def policy_of(run, name):
    return json.loads(run.named(name).inputs["policy"])


def statements(document):
    return document["Statement"]


def as_list(value):
    return value if isinstance(value, list) else [value]


# --- queues -------------------------------------------------------------------------


def test_three_queues_all_encrypted_with_long_polling(each_stack):
    run = each_stack.subtree("training")
    found = queues(run)
    assert set(found) == {"task-queue", "result-queue", "dlq"}
    for queue in found.values():
        assert queue.inputs["sqsManagedSseEnabled"] is True, queue.name
    for name in ("task-queue", "result-queue"):
        assert found[name].inputs["receiveWaitTimeSeconds"] == 20
        assert found[name].inputs["messageRetentionSeconds"] == 14 * 86400


def test_task_queue_redrives_to_the_dlq_after_the_configured_receive_count(dev):
    found = queues(dev)
    redrive = json.loads(found["task-queue"].inputs["redrivePolicy"])
    assert redrive == {"deadLetterTargetArn": found["dlq"].outputs["arn"], "maxReceiveCount": 5}


def test_max_receive_count_comes_from_config(run_stack):
    run = run_stack("dev", {"training.max_receive_count": 2}).subtree("training")
    assert json.loads(queues(run)["task-queue"].inputs["redrivePolicy"])["maxReceiveCount"] == 2


def test_visibility_timeout_is_the_longest_evaluation_plus_a_margin(dev, run_stack):
    assert queues(dev)["task-queue"].inputs["visibilityTimeoutSeconds"] == 900 + 60
    run = run_stack("dev", {"training.max_eval_seconds": 3600}).subtree("training")
    assert queues(run)["task-queue"].inputs["visibilityTimeoutSeconds"] == 3660
    assert environment(run)["VISIBILITY_TIMEOUT_SECONDS"] == "3660"


def test_only_the_task_queue_may_redrive_into_the_dlq(dev):
    allow = dev.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy")
    assert allow.inputs["queueUrl"] == queues(dev)["dlq"].outputs["url"]
    assert json.loads(allow.inputs["redriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [queues(dev)["task-queue"].outputs["arn"]],
    }


def test_every_queue_refuses_requests_without_tls(dev):
    policies = dev.of_type("aws:sqs/queuePolicy:QueuePolicy")
    assert {p.inputs["queueUrl"] for p in policies} == {
        q.outputs["url"] for q in queues(dev).values()
    }
    for p in policies:
        (statement,) = statements(json.loads(p.inputs["policy"]))
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --- ECS ----------------------------------------------------------------------------


def test_cluster_has_container_insights_and_both_fargate_providers(each_stack):
    run = each_stack.subtree("training")
    cluster = run.one("aws:ecs/cluster:Cluster")
    assert {"name": "containerInsights", "value": "enabled"} in cluster.inputs["settings"]
    providers = run.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    assert sorted(providers.inputs["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]


def strategy(run):
    return {
        s["capacityProvider"]: s["weight"]
        for s in run.one(SERVICE).inputs["capacityProviderStrategies"]
    }


def test_dev_workers_are_all_spot(dev):
    assert strategy(dev) == {"FARGATE_SPOT": 1}


def test_prod_puts_eighty_percent_of_workers_on_spot(prod):
    assert strategy(prod) == {"FARGATE": 1, "FARGATE_SPOT": 4}


def test_spot_percentage_zero_means_on_demand_only(run_stack):
    run = run_stack("dev", {"training.spot_percentage": 0}).subtree("training")
    assert strategy(run) == {"FARGATE": 1}


def test_service_starts_at_min_workers_and_leaves_the_count_to_autoscaling(each_stack):
    service = each_stack.one(SERVICE)
    assert service.inputs["desiredCount"] == 0
    assert service.options["ignore_changes"] == ["desiredCount"]
    assert service.inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert "launchType" not in service.inputs


def test_dev_workers_run_in_public_subnets_with_a_public_ip(dev, prod):
    dev_net = dev.one(SERVICE).inputs["networkConfiguration"]
    prod_net = prod.one(SERVICE).inputs["networkConfiguration"]
    assert dev_net["assignPublicIp"] is True and dev_net["subnets"][0].startswith("subnet-pub")
    assert prod_net["assignPublicIp"] is False
    assert all(s.startswith("subnet-prv") for s in prod_net["subnets"])


def test_worker_security_group_has_no_ingress_and_only_https_out(each_stack):
    group = each_stack.named("training-worker-sg")
    assert group.inputs["ingress"] == []
    assert [(e["protocol"], e["fromPort"], e["toPort"]) for e in group.inputs["egress"]] == [
        ("tcp", 443, 443)
    ]
    service = each_stack.one(SERVICE)
    assert service.inputs["networkConfiguration"]["securityGroups"] == [group.id]


def test_task_size_comes_from_config(dev, prod):
    assert (dev.one(TASK_DEF).inputs["cpu"], dev.one(TASK_DEF).inputs["memory"]) == (
        "1024", "2048",
    )  # fmt: skip
    assert (prod.one(TASK_DEF).inputs["cpu"], prod.one(TASK_DEF).inputs["memory"]) == (
        "2048", "4096",
    )  # fmt: skip
    assert environment(dev)["WORKER_CONCURRENCY"] == "1"
    assert environment(prod)["WORKER_CONCURRENCY"] == "2"


def test_a_size_fargate_rejects_stops_the_program(run_stack):
    from offline.runner import ProgramError

    with pytest.raises(ProgramError, match=r"training\.worker_memory") as caught:
        run_stack("dev", {"training.worker_cpu": 512, "training.worker_memory": 8192})
    assert caught.value.resources == []


def test_worker_is_non_root_with_a_read_only_root_and_a_scratch_volume(each_stack):
    task = each_stack.one(TASK_DEF)
    c = container(each_stack)
    assert task.inputs["requiresCompatibilities"] == ["FARGATE"]
    assert task.inputs["networkMode"] == "awsvpc"
    assert c["user"] == "10001:10001"
    assert c["readonlyRootFilesystem"] is True
    assert c["privileged"] is False
    assert task.inputs["volumes"] == [{"name": "scratch"}]
    assert c["mountPoints"] == [
        {"sourceVolume": "scratch", "containerPath": "/scratch", "readOnly": False}
    ]
    assert environment(each_stack)["SCRATCH_DIR"] == "/scratch"


def test_worker_gets_time_to_finish_on_a_spot_interruption(each_stack):
    c = container(each_stack)
    assert c["stopTimeout"] == 120
    assert c["linuxParameters"] == {"initProcessEnabled": True}
    assert int(environment(each_stack)["STOP_GRACE_SECONDS"]) < c["stopTimeout"]


def test_worker_logs_to_its_group_with_the_stack_retention(dev, prod):
    for run, days in ((dev, 30), (prod, 365)):
        group = run.named("training-worker-logs")
        assert group.inputs["retentionInDays"] == days
        options = container(run)["logConfiguration"]
        assert options["logDriver"] == "awslogs"
        assert options["options"]["awslogs-group"] == group.outputs["name"]
        assert options["options"]["awslogs-region"] == REGION


def test_worker_image_is_built_from_the_service_and_pinned_by_digest(dev):
    image = dev.one("docker:index/image:Image")
    # The context is services/ (so the build can copy services/common), the Dockerfile the worker's.
    assert image.inputs["build"]["context"] == "services"
    assert image.inputs["build"]["dockerfile"].endswith("services/cmaes_worker/Dockerfile")
    assert container(dev)["image"] == image.outputs["repoDigest"]
    assert "@sha256:" in container(dev)["image"]


def test_worker_environment_names_the_queues_and_the_bucket(dev):
    env = environment(dev)
    found = queues(dev)
    assert env["SQS_TASK_QUEUE_URL"] == found["task-queue"].outputs["url"]
    assert env["SQS_RESULT_QUEUE_URL"] == found["result-queue"].outputs["url"]
    assert env["S3_BUCKET"] == dev.one("aws:s3/bucket:Bucket").outputs["bucket"]
    assert env["STATE_POOL_PREFIX"] == "state-pools/"
    assert container(dev)["secrets"] == []


# --- scaling ------------------------------------------------------------------------


def test_scalable_target_spans_min_to_max_workers(dev, prod):
    for run, high in ((dev, 4), (prod, 20)):
        target = run.one("aws:appautoscaling/target:Target")
        assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (0, high)
        assert target.inputs["resourceId"] == f"service/mlplatform-{run.stack}-training/" \
                                               f"mlplatform-{run.stack}-cmaes-worker"  # fmt: skip


def test_target_tracking_holds_backlog_per_running_worker_and_never_scales_in(dev, prod):
    for run, target in ((dev, 300 / 60 * 1), (prod, 300 / 60 * 2)):
        policy = run.named("training-backlog-tracking")
        config = policy.inputs["targetTrackingScalingPolicyConfiguration"]
        assert config["targetValue"] == target
        assert config["disableScaleIn"] is True
        metrics = {m["id"]: m for m in config["customizedMetricSpecification"]["metrics"]}
        assert metrics["backlog"]["expression"] == "visible / running"
        assert metrics["backlog"]["returnData"] is True
        visible = metrics["visible"]["metricStat"]["metric"]
        assert visible["metricName"] == "ApproximateNumberOfMessagesVisible"
        assert visible["dimensions"] == [
            {"name": "QueueName", "value": f"mlplatform-{run.stack}-cmaes-tasks"}
        ]
        running = metrics["running"]["metricStat"]["metric"]
        assert (running["namespace"], running["metricName"]) == (
            "ECS/ContainerInsights", "RunningTaskCount",
        )  # fmt: skip


def alarm_expression(alarm):
    (returned,) = [q for q in alarm.inputs["metricQueries"] if q.get("returnData")]
    return returned["expression"]


def test_a_waiting_task_with_no_worker_starts_one(dev):
    alarm = dev.named("training-tasks-waiting-no-workers")
    policy = dev.named("training-wake-from-zero")
    assert alarm_expression(alarm) == "IF(FILL(running, 0) < 1, visible, 0)"
    assert (alarm.inputs["comparisonOperator"], alarm.inputs["threshold"]) == (
        "GreaterThanOrEqualToThreshold", 1,
    )  # fmt: skip
    assert alarm.inputs["alarmActions"] == [policy.outputs["arn"]]
    step = policy.inputs["stepScalingPolicyConfiguration"]
    assert step["adjustmentType"] == "ChangeInCapacity"
    assert step["stepAdjustments"] == [{"metricIntervalLowerBound": "0", "scalingAdjustment": 1}]


def test_workers_scale_in_only_after_the_queue_is_idle_for_the_configured_time(dev, run_stack):
    alarm = dev.named("training-queue-idle")
    policy = dev.named("training-scale-in-when-idle")
    assert alarm_expression(alarm) == "visible + inflight"
    metrics = {
        q["id"]: q["metric"]["metricName"] for q in alarm.inputs["metricQueries"] if "metric" in q
    }
    assert metrics == {
        "visible": "ApproximateNumberOfMessagesVisible",
        "inflight": "ApproximateNumberOfMessagesNotVisible",
    }
    assert alarm.inputs["evaluationPeriods"] == alarm.inputs["datapointsToAlarm"] == 15
    assert alarm.inputs["threshold"] == 0
    assert alarm.inputs["comparisonOperator"] == "LessThanOrEqualToThreshold"
    assert alarm.inputs["treatMissingData"] == "breaching"
    assert alarm.inputs["alarmActions"] == [policy.outputs["arn"]]
    step = policy.inputs["stepScalingPolicyConfiguration"]
    assert step["adjustmentType"] == "ExactCapacity"
    assert step["stepAdjustments"] == [{"metricIntervalUpperBound": "0", "scalingAdjustment": 0}]

    run = run_stack("dev", {"training.scale_in_idle_minutes": 45, "training.min_workers": 1})
    assert run.named("training-queue-idle").inputs["evaluationPeriods"] == 45
    step = run.named("training-scale-in-when-idle").inputs["stepScalingPolicyConfiguration"]
    assert step["stepAdjustments"][0]["scalingAdjustment"] == 1


# --- IAM ----------------------------------------------------------------------------


def training_arns(run):
    found = queues(run)
    bucket = run.one("aws:s3/bucket:Bucket").outputs["arn"]
    stack = run.stack
    return {
        "task": found["task-queue"].outputs["arn"],
        "result": found["result-queue"].outputs["arn"],
        "dlq": found["dlq"].outputs["arn"],
        "bucket": bucket,
        "pools": f"{bucket}/state-pools/*",
        "checkpoints": f"{bucket}/checkpoints/*",
        "repo": run.one("aws:ecr/repository:Repository").outputs["arn"],
        "logs": f"{run.named('training-worker-logs').outputs['arn']}:log-stream:*",
        "service": f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/mlplatform-{stack}-training/"
        f"mlplatform-{stack}-cmaes-worker",
    }


def grants(document):
    """{(action, resource)} of the Allow statements."""
    out = set()
    for s in statements(document):
        assert s["Effect"] == "Allow"
        for action in as_list(s["Action"]):
            for resource in as_list(s["Resource"]):
                out.add((action, resource))
    return out


IAM_DOCUMENTS = ["training-execution-policy", "training-task-policy", "training-coordinator-policy"]


@pytest.mark.parametrize("name", IAM_DOCUMENTS)
def test_iam_documents_have_no_wildcard_action_and_name_only_training_arns(each_stack, name):
    run = each_stack.subtree("training")
    arns = set(training_arns(run).values())
    for action, resource in grants(policy_of(run, name)):
        assert "*" not in action, (name, action)
        if resource == "*":
            # The one API AWS offers no resource-level permission for.
            assert action == "ecr:GetAuthorizationToken", (name, action)
        else:
            assert resource in arns, (name, resource)


def test_worker_may_consume_tasks_send_results_and_read_pools_only(dev):
    # Exactly the calls services/cmaes_worker makes; it writes nothing to S3.
    a = training_arns(dev)
    assert grants(policy_of(dev, "training-task-policy")) == {
        ("sqs:ReceiveMessage", a["task"]),
        ("sqs:DeleteMessage", a["task"]),
        ("sqs:ChangeMessageVisibility", a["task"]),
        ("sqs:SendMessage", a["result"]),
        ("s3:GetObject", a["pools"]),
        ("s3:ListBucket", a["bucket"]),
    }
    (listing,) = [
        s for s in statements(policy_of(dev, "training-task-policy"))
        if s["Action"] == "s3:ListBucket"
    ]  # fmt: skip
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "state-pools/*"}}


def test_execution_role_may_pull_this_image_and_write_this_log_group(dev):
    a = training_arns(dev)
    assert grants(policy_of(dev, "training-execution-policy")) == {
        ("ecr:GetAuthorizationToken", "*"),
        ("ecr:BatchCheckLayerAvailability", a["repo"]),
        ("ecr:BatchGetImage", a["repo"]),
        ("ecr:GetDownloadUrlForLayer", a["repo"]),
        ("logs:CreateLogStream", a["logs"]),
        ("logs:PutLogEvents", a["logs"]),
    }


def test_coordinator_may_dispatch_collect_checkpoint_and_scale(dev):
    a = training_arns(dev)
    assert grants(policy_of(dev, "training-coordinator-policy")) == {
        ("sqs:SendMessage", a["task"]),
        ("sqs:GetQueueAttributes", a["task"]),
        ("sqs:ReceiveMessage", a["result"]),
        ("sqs:DeleteMessage", a["result"]),
        ("sqs:GetQueueAttributes", a["result"]),
        ("sqs:GetQueueAttributes", a["dlq"]),
        ("s3:GetObject", a["pools"]),
        ("s3:PutObject", a["pools"]),
        ("s3:GetObject", a["checkpoints"]),
        ("s3:PutObject", a["checkpoints"]),
        ("s3:ListBucket", a["bucket"]),
        ("ecs:UpdateService", a["service"]),
        ("ecs:DescribeServices", a["service"]),
    }


def test_task_roles_trust_only_ecs_tasks_of_this_account(dev):
    for name in ("training-execution-role", "training-task-role"):
        (statement,) = statements(json.loads(dev.named(name).inputs["assumeRolePolicy"]))
        assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
        assert statement["Condition"]["ArnLike"] == {
            "aws:SourceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:*"
        }


def test_coordinator_is_a_role_of_this_account_and_no_user_by_default(each_stack):
    run = each_stack.subtree("training")
    role = run.named("training-coordinator-role")
    (statement,) = statements(json.loads(role.inputs["assumeRolePolicy"]))
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    attachment = run.named("training-coordinator-role-policy")
    assert attachment.inputs["policyArn"] == run.named("training-coordinator-policy").outputs["arn"]
    assert not run.of_type("aws:iam/user:User")
    assert not run.of_type("aws:iam/accessKey:AccessKey")
    assert "coordinator_access_key_id" not in each_stack.outputs


def test_coordinator_user_gets_the_policy_through_a_group_and_a_secret_key(full):
    run = full.subtree("training")
    group = run.one("aws:iam/group:Group")
    user = run.one("aws:iam/user:User")
    attachment = run.one("aws:iam/groupPolicyAttachment:GroupPolicyAttachment")
    assert attachment.inputs["group"] == group.outputs["name"]
    membership = run.one("aws:iam/userGroupMembership:UserGroupMembership")
    assert membership.inputs == {"user": user.outputs["name"], "groups": [group.outputs["name"]]}
    assert not full.of_type("aws:iam/userPolicyAttachment:UserPolicyAttachment")
    assert not full.of_type("aws:iam/userPolicy:UserPolicy")
    key = run.one("aws:iam/accessKey:AccessKey")
    assert {"id", "secret"} <= set(key.options["additional_secret_outputs"])
    assert {"coordinator_access_key_id", "coordinator_secret_access_key"} <= full.secret_outputs
    assert full.outputs["coordinator_secret_access_key"] == SECRET_PLACEHOLDER


# --- alarms, Redis, outputs ---------------------------------------------------------


def test_alarms_on_a_dead_letter_and_on_old_tasks_notify_the_topic(each_stack):
    topic = each_stack.outputs["alarm_topic_arn"]
    run = each_stack.subtree("training")
    dlq = run.named("training-dlq-not-empty")
    assert dlq.inputs["dimensions"] == {"QueueName": f"mlplatform-{run.stack}-cmaes-tasks-dlq"}
    assert (dlq.inputs["metricName"], dlq.inputs["threshold"]) == (
        "ApproximateNumberOfMessagesVisible", 1,
    )  # fmt: skip
    oldest = run.named("training-oldest-task-age")
    assert oldest.inputs["metricName"] == "ApproximateAgeOfOldestMessage"
    assert oldest.inputs["dimensions"] == {"QueueName": f"mlplatform-{run.stack}-cmaes-tasks"}
    assert oldest.inputs["threshold"] == 3600
    for alarm in (dlq, oldest):
        assert alarm.inputs["alarmActions"] == [topic]


def test_no_redis_unless_switched_on(each_stack):
    assert not each_stack.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert "REDIS_HOST" not in environment(each_stack)


def test_redis_is_encrypted_private_and_reachable_only_from_workers(full):
    run = full.subtree("training")
    redis = run.one("aws:elasticache/replicationGroup:ReplicationGroup")
    assert redis.inputs["atRestEncryptionEnabled"] is True
    assert redis.inputs["transitEncryptionEnabled"] is True
    assert "authToken" in redis.secret_paths
    subnets = run.one("aws:elasticache/subnetGroup:SubnetGroup").inputs["subnetIds"]
    assert all(s.startswith("subnet-prv") for s in subnets)
    redis_sg = run.named("training-redis-sg")
    worker_sg = run.named("training-worker-sg")
    assert redis.inputs["securityGroupIds"] == [redis_sg.id]
    assert "ingress" not in redis_sg.inputs or redis_sg.inputs["ingress"] == []
    rule = run.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert (rule.inputs["securityGroupId"], rule.inputs["referencedSecurityGroupId"]) == (
        redis_sg.id, worker_sg.id,
    )  # fmt: skip
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (6379, 6379)
    to_redis = {"description": "The training Redis", "protocol": "tcp", "fromPort": 6379,
                "toPort": 6379, "securityGroups": [redis_sg.id]}  # fmt: skip
    assert to_redis in worker_sg.inputs["egress"]


def test_redis_token_is_an_ecs_secret_never_plain_environment(full):
    run = full.subtree("training")
    secret = run.one("aws:secretsmanager/secret:Secret")
    c = container(run)
    assert c["secrets"] == [{"name": "REDIS_AUTH_TOKEN", "valueFrom": secret.outputs["arn"]}]
    assert SECRET_PLACEHOLDER not in json.dumps(c)
    assert SECRET_PLACEHOLDER not in json.dumps(
        {k: v for k, v in full.outputs.items() if k not in full.secret_outputs}
    )
    assert ("secretsmanager:GetSecretValue", secret.outputs["arn"]) in grants(
        policy_of(run, "training-execution-policy")
    )


@pytest.mark.parametrize("output", SEED_OUTPUTS)
def test_the_seed_outputs_are_exported(each_stack, output):
    value = each_stack.outputs[output]
    assert isinstance(value, str) and value
    assert output not in each_stack.secret_outputs


def test_output_values_point_at_the_resources(dev):
    program = dev  # the subtree keeps the program's outputs
    found = queues(dev)
    assert program.outputs["sqs_task_queue_url"] == found["task-queue"].outputs["url"]
    assert program.outputs["sqs_dlq_url"] == found["dlq"].outputs["url"]
    assert program.outputs["ecs_service_name"] == "mlplatform-dev-cmaes-worker"
    assert program.outputs["ecs_cluster_name"] == "mlplatform-dev-training"
    assert program.outputs["s3_bucket_name"].startswith("mlplatform-dev-training-")


def test_training_switch_off_registers_none_of_it(run_stack):
    run = run_stack("dev", {"stacks.training": False})
    assert not run.of_type(TRAINING)
    assert not set(SEED_OUTPUTS) & set(run.outputs)


def test_every_child_is_under_the_training_component_with_fixed_names(dev):
    component = dev.one(TRAINING)
    assert component.parent.endswith("mlplatform-dev")
    assert all(r.name.startswith("training-") for r in dev.resources if r is not component)


def test_every_taggable_resource_carries_the_training_tags(dev):
    for resource in dev.resources:
        tags = resource.inputs.get("tags")
        if tags is None:
            continue
        assert tags["component"] == "training", resource.name
        assert tags["environment"] == "dev", resource.name


def test_helpers_match_what_was_registered(prod):
    assert queue_scaling.capacity_weights(80) == strategy(prod)
    assert queue_scaling.visibility_timeout(900) == 960


def test_a_prebuilt_worker_image_needs_no_docker_build(run_stack):
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlplatform-dev/cmaes_worker@sha256:" + (
        "b" * 64
    )
    run = run_stack("dev", {"images.cmaes_worker": uri}).subtree("training")
    assert not run.of_type("docker:index/image:Image")
    assert container(run)["image"] == uri


DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"


def test_prod_dashboard_graphs_the_registered_queues_and_workers_and_dev_has_none(dev, prod):
    board = prod.one(DASHBOARD)
    assert board.inputs["dashboardName"] == "mlplatform-prod-training"
    metrics = {
        w["properties"]["title"]: w["properties"]["metrics"]
        for w in json.loads(board.inputs["dashboardBody"])["widgets"]
    }
    q = {k: v.inputs["name"] for k, v in queues(prod).items()}
    tasks, dlq = q["task-queue"], q["dlq"]
    cluster = prod.one("aws:ecs/cluster:Cluster").inputs["name"]
    service = prod.one(SERVICE).inputs["name"]
    assert metrics == {
        "Tasks waiting": [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", tasks]],
        "Oldest task age (s)": [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", tasks]],
        "Workers running": [["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", cluster,
                             "ServiceName", service]],
        "Dead-letter queue depth": [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dlq]],
        "Evaluations sent and received": [
            ["AWS/SQS", "NumberOfMessagesSent", "QueueName", tasks],
            ["AWS/SQS", "NumberOfMessagesDeleted", "QueueName", tasks]],
    }  # fmt: skip
    insights = prod.one("aws:ecs/cluster:Cluster").inputs["settings"]
    assert {"name": "containerInsights", "value": "enabled"} in insights
    assert not dev.of_type(DASHBOARD)
