"""InferenceStack, as the real program registers it for the dev and prod stack files."""

from __future__ import annotations

import json

import pytest

from components.config.settings import InferenceServiceSettings
from components.stacks.inference import ecr_repository_arn, minimum_healthy_percent, routes
from offline.mocks import ACCOUNT_ID, SECRET_PLACEHOLDER
from offline.runner import ProgramError

TASK_DEF = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
TG = "aws:lb/targetGroup:TargetGroup"
RULE = "aws:lb/listenerRule:ListenerRule"
SEED_OUTPUTS = ("alb_url", "health_check_url", "validation_endpoint", "move_endpoint")


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("inference")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("inference")


# Dev runs ai-inference on Lambda (runtime: lambda); the ECS form of a service without GPU
# is prod's, and dev's own with runtime ecs (the services as Pulumi.dev.yaml has them).
DEV_SERVICES_ON_ECS = [
    {"name": "vision-validator", "path_patterns": ["/validate", "/validate/*", "/health"],
     "gpu": 1, "cpu": 2048, "memory": 8192, "desired_count": 0, "min_count": 0, "max_count": 1},
    {"name": "ai-inference", "path_patterns": ["/move", "/move/*"], "runtime": "ecs",
     "cpu": 256, "memory": 512, "desired_count": 1, "min_count": 1, "max_count": 2},
]  # fmt: skip
FUNCTION = "aws:lambda/function:Function"


@pytest.fixture(scope="module")
def dev_ecs():
    """Dev with ai-inference on ECS, as it ran before runtime lambda."""
    from offline.runner import run_program

    return run_program("dev", {"inference.services": DEV_SERVICES_ON_ECS}).subtree("inference")


@pytest.fixture(params=["dev", "prod"])
def ecs_stack(request, dev_ecs, prod):
    """Each stack with every inference service on ECS: dev's with runtime ecs, and prod."""
    return {"dev": dev_ecs, "prod": prod}[request.param]


def container(run, service):
    return json.loads(run.named(f"inference-{service}-task").inputs["containerDefinitions"])[0]


def grants(document):
    out = set()
    for s in document["Statement"]:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        out |= {(a, r) for a in actions for r in resources}
    return out


# --- placement: GPU services on the instances, the others on Fargate -------------------


def test_gpu_service_runs_in_bridge_mode_on_the_gpu_capacity_provider(each_stack):
    task = each_stack.named("inference-vision-validator-task")
    c = container(each_stack, "vision-validator")
    assert task.inputs["requiresCompatibilities"] == ["EC2"]
    assert task.inputs["networkMode"] == "bridge"
    assert c["resourceRequirements"] == [{"type": "GPU", "value": "1"}]
    assert c["portMappings"] == [{"containerPort": 8000, "hostPort": 0, "protocol": "tcp"}]
    service = each_stack.named("inference-vision-validator-service")
    provider = each_stack.one("aws:ecs/capacityProvider:CapacityProvider").outputs["name"]
    assert service.inputs["capacityProviderStrategies"] == [
        {"capacityProvider": provider, "weight": 1}
    ]
    assert "networkConfiguration" not in service.inputs
    assert each_stack.named("inference-vision-validator-tg").inputs["targetType"] == "instance"


def test_service_without_gpu_runs_on_fargate_and_never_holds_a_gpu_instance(dev_ecs, prod):
    for run, strategy in ((dev_ecs, {"FARGATE_SPOT": 1}), (prod, {"FARGATE": 1})):
        task = run.named("inference-ai-inference-task")
        assert task.inputs["requiresCompatibilities"] == ["FARGATE"]
        assert task.inputs["networkMode"] == "awsvpc"
        assert "resourceRequirements" not in container(run, "ai-inference")
        service = run.named("inference-ai-inference-service")
        assert {
            s["capacityProvider"]: s["weight"] for s in service.inputs["capacityProviderStrategies"]
        } == strategy
        assert run.named("inference-ai-inference-tg").inputs["targetType"] == "ip"


def test_no_gpu_capacity_without_a_gpu_service(run_stack):
    services = [{"name": "ai-inference", "path_patterns": ["/move"], "cpu": 512, "memory": 1024}]
    run = run_stack("dev", {"inference.services": services}).subtree("inference")
    assert not run.of_type("mlplatform:inference:GpuCapacity")
    assert not run.of_type("aws:autoscaling/group:Group")
    providers = run.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    assert providers.inputs["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]


def test_cluster_has_container_insights_and_all_three_providers(each_stack):
    cluster = each_stack.one("aws:ecs/cluster:Cluster")
    assert {"name": "containerInsights", "value": "enabled"} in cluster.inputs["settings"]
    providers = each_stack.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    assert providers.inputs["capacityProviders"] == [
        "FARGATE", "FARGATE_SPOT", f"mlplatform-{each_stack.stack}-gpu",
    ]  # fmt: skip


@pytest.mark.parametrize("service", ["vision-validator", "ai-inference"])
def test_containers_are_non_root_with_a_read_only_root(ecs_stack, service):
    each_stack = ecs_stack
    c = container(each_stack, service)
    assert c["user"] == "10001:10001"
    assert c["readonlyRootFilesystem"] is True
    assert c["privileged"] is False
    assert c["mountPoints"] == [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}]
    task = each_stack.named(f"inference-{service}-task")
    # The one AWS call of the services: reading the API key's stages (see below).
    assert task.inputs["taskRoleArn"] == each_stack.named("inference-task-role").outputs["arn"]


@pytest.mark.parametrize("service", ["vision-validator", "ai-inference"])
def test_logs_go_to_ecs_env_service_with_retention(dev_ecs, prod, service):
    for run, days in ((dev_ecs, 30), (prod, 365)):
        group = run.named(f"inference-{service}-logs")
        assert group.inputs["name"] == f"/ecs/{run.stack}/{service}"
        assert group.inputs["retentionInDays"] == days
        assert container(run, service)["logConfiguration"]["options"]["awslogs-group"] == (
            f"/ecs/{run.stack}/{service}"
        )


def test_images_are_built_from_their_service_directories(dev):
    builds = [r.inputs["build"] for r in dev.of_type("docker:index/image:Image")]
    # One context, services/ (so each build can copy services/common); a Dockerfile per service.
    assert {b["context"] for b in builds} == {"services"}
    dockerfiles = sorted(b["dockerfile"].rsplit("/", 2)[-2] for b in builds)
    assert dockerfiles == ["ai_inference", "vision_validator"]
    assert all(b["dockerfile"].endswith("/Dockerfile") for b in builds)
    image = dev.named("inference-vision-validator-image-image")
    assert container(dev, "vision-validator")["image"] == image.outputs["repoDigest"]


def test_a_prebuilt_image_skips_the_build(run_stack):
    uri = f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/models/vision:1.2.0"
    run = run_stack("dev", {"images.vision_validator": uri}).subtree("inference")
    assert container(run, "vision-validator")["image"] == uri
    assert len(run.of_type("docker:index/image:Image")) == 1
    pulls = grants(json.loads(run.named("inference-execution-policy").inputs["policy"]))
    assert (
        "ecr:BatchGetImage",
        f"arn:aws:ecr:us-east-1:{ACCOUNT_ID}:repository/models/vision",
    ) in (pulls)


# --- load balancer routing -------------------------------------------------------------


def test_one_target_group_and_one_path_rule_per_service(each_stack):
    rules = {r.name: r for r in each_stack.of_type(RULE)}
    vision = rules["inference-vision-validator-rule"].inputs
    move = rules["inference-ai-inference-rule"].inputs
    assert vision["conditions"] == [
        {"pathPattern": {"values": ["/validate", "/validate/*", "/health"]}}
    ]
    assert move["conditions"] == [{"pathPattern": {"values": ["/move", "/move/*"]}}]
    assert (vision["priority"], move["priority"]) == (10, 20)
    listener = each_stack.named(
        "inference-lb-https" if each_stack.stack == "prod" else "inference-lb-http"
    )
    # Dev's ai-inference is a Lambda target, in a group of its own name.
    move_tg = "ai-inference-fn" if each_stack.stack == "dev" else "ai-inference"
    for rule, tg in ((vision, "vision-validator"), (move, move_tg)):
        assert rule["listenerArn"] == listener.outputs["arn"]
        assert rule["actions"] == [
            {"type": "forward",
             "targetGroupArn": each_stack.named(f"inference-{tg}-tg").outputs["arn"]}
        ]  # fmt: skip
    assert len(each_stack.of_type(TG)) == 2


def test_target_groups_check_the_health_path(ecs_stack):
    for tg in ecs_stack.of_type(TG):
        assert tg.inputs["healthCheck"]["path"] == "/health"
        assert tg.inputs["healthCheck"]["matcher"] == "200"
        assert tg.inputs["port"] == 8000


def test_fargate_tasks_accept_only_the_load_balancer_on_their_port(ecs_stack):
    each_stack = ecs_stack
    alb_sg = each_stack.named("inference-lb-sg").id
    task_sg = each_stack.named("inference-ai-inference-sg").id
    ingress = each_stack.named("inference-ai-inference-from-alb").inputs
    assert (ingress["securityGroupId"], ingress["referencedSecurityGroupId"]) == (task_sg, alb_sg)
    assert (ingress["fromPort"], ingress["toPort"]) == (8000, 8000)
    alb_out = each_stack.named("inference-ai-inference-alb-out").inputs
    assert (alb_out["securityGroupId"], alb_out["referencedSecurityGroupId"]) == (alb_sg, task_sg)
    gpu_out = each_stack.named("inference-alb-to-gpu").inputs
    assert (gpu_out["fromPort"], gpu_out["toPort"]) == (32768, 65535)
    network = each_stack.named("inference-ai-inference-service").inputs["networkConfiguration"]
    assert network["securityGroups"] == [task_sg]


# --- the API key ---------------------------------------------------------------------


@pytest.mark.parametrize("service", ["vision-validator", "ai-inference"])
def test_api_key_is_an_ecs_secret_never_plain_environment(ecs_stack, service):
    each_stack = ecs_stack
    secret = each_stack.one("aws:secretsmanager/secret:Secret")
    c = container(each_stack, service)
    assert c["secrets"] == [{"name": "API_KEY", "valueFrom": secret.outputs["arn"]}]
    # the secret's ARN (not its value), so the service reads every stage at run time
    seconds = {"dev": "20", "prod": "110"}[each_stack.stack]  # request timeout 30 / 120
    deadline = [{"name": "VALIDATE_DEADLINE_SECONDS", "value": seconds}]
    assert c["environment"] == [
        {"name": "API_KEY_SECRET_ID", "value": secret.outputs["arn"]},
        {"name": "AWS_REGION", "value": "us-east-1"},  # boto3's region, on EC2 too
        {"name": "PORT", "value": "8000"},
        *(deadline if service == "vision-validator" else []),
    ]
    assert SECRET_PLACEHOLDER not in json.dumps(c)


def test_the_task_role_may_only_read_the_api_key_secret(each_stack):
    secret = each_stack.one("aws:secretsmanager/secret:Secret")
    policy = json.loads(each_stack.named("inference-task-policy").inputs["policy"])
    assert policy["Statement"] == [{
        "Sid": "ReadTheApiKeyStages", "Effect": "Allow",
        "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
        "Resource": secret.outputs["arn"],
    }]  # fmt: skip


def test_the_api_key_rotates_every_30_days_by_its_own_function(each_stack):
    secret = each_stack.one("aws:secretsmanager/secret:Secret")
    rotation = each_stack.one("aws:secretsmanager/secretRotation:SecretRotation")
    function = each_stack.named("inference-api-key-rotation-fn-function")
    assert rotation.inputs["secretId"] == secret.id
    assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 30}
    assert rotation.inputs["rotationLambdaArn"] == function.outputs["arn"]
    assert function.inputs["environment"]["variables"]["ROTATION_KIND"] == "random"
    permission = each_stack.named("inference-api-key-rotation-permission")
    assert permission.inputs["principal"] == "secretsmanager.amazonaws.com"
    assert permission.inputs["sourceArn"] == secret.outputs["arn"]
    assert permission.inputs["sourceAccount"] == "123456789012"


def test_api_key_is_generated_when_not_configured(dev):
    password = dev.one("random:index/randomPassword:RandomPassword")
    assert password.inputs["length"] >= 32
    version = dev.one("aws:secretsmanager/secretVersion:SecretVersion")
    assert version.inputs["secretString"] == password.outputs["result"]
    assert "secretString" in version.secret_paths


def test_a_configured_secret_key_is_used_and_stays_secret(run_stack):
    from offline import runner

    config, secret_keys = runner.stack_config("dev")
    config["mlplatform:inference_api_key"] = "a-configured-key-" + "x" * 20
    run = runner.run_function(
        lambda: runner.runpy.run_path(str(runner.PROJECT_DIR / "__main__.py"), run_name="__main__"),
        "dev", config, [*secret_keys, "mlplatform:inference_api_key"],
    ).subtree("inference")  # fmt: skip
    assert not run.of_type("random:index/randomPassword:RandomPassword")
    version = run.one("aws:secretsmanager/secretVersion:SecretVersion")
    assert version.inputs["secretString"] == "a-configured-key-" + "x" * 20
    assert "secretString" in version.secret_paths


def test_a_plain_text_key_in_the_stack_file_is_refused(run_stack):
    with pytest.raises(ProgramError, match="pulumi config set --secret") as caught:
        run_stack("dev", {"mlplatform:inference_api_key": "plain-text-key-0123456789"})
    assert caught.value.resources == []


def test_the_key_is_in_no_output(dev, prod):
    for run in (dev, prod):
        assert SECRET_PLACEHOLDER not in json.dumps(run.outputs)
        assert not {k for k in run.outputs if "api_key" in k and not k.endswith("_secret_arn")}


def test_execution_role_pulls_these_images_writes_these_logs_reads_this_secret(dev_ecs):
    dev = dev_ecs
    secret = dev.one("aws:secretsmanager/secret:Secret").outputs["arn"]
    repos = {r.outputs["arn"] for r in dev.of_type("aws:ecr/repository:Repository")}
    logs = {
        f"{r.outputs['arn']}:log-stream:*"
        for r in dev.of_type("aws:cloudwatch/logGroup:LogGroup")
        if r.inputs["name"].startswith("/ecs/")  # not the rotation function's own
    }
    allowed = grants(json.loads(dev.named("inference-execution-policy").inputs["policy"]))
    assert allowed == (
        {("ecr:GetAuthorizationToken", "*"), ("secretsmanager:GetSecretValue", secret)}
        | {(a, r) for r in repos for a in ("ecr:BatchCheckLayerAvailability",
                                            "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")}
        | {(a, g) for g in logs for a in ("logs:CreateLogStream", "logs:PutLogEvents")}
    )  # fmt: skip


# --- deployments and scaling -----------------------------------------------------------


@pytest.mark.parametrize("service", ["vision-validator", "ai-inference"])
def test_rolling_deployments_roll_back_on_failure(ecs_stack, service):
    s = ecs_stack.named(f"inference-{service}-service")
    assert s.inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert s.options["ignore_changes"] == ["desiredCount"]
    assert s.inputs["loadBalancers"][0]["containerPort"] == 8000


def test_gpu_deployment_keeps_tasks_only_where_a_spare_gpu_exists(dev, prod):
    assert (
        dev.named("inference-vision-validator-service").inputs["deploymentMinimumHealthyPercent"]
        == 0
    )  # one instance, one GPU: the old task must stop first
    assert (
        prod.named("inference-vision-validator-service").inputs["deploymentMinimumHealthyPercent"]
        == 100
    )
    assert minimum_healthy_percent(1, 4, 1, 4) == 50
    assert minimum_healthy_percent(0, 4, 1, 1) == 100


def policies(run, service):
    return {
        p.name.removeprefix(f"inference-{service}-"): p
        for p in run.of_type("aws:appautoscaling/policy:Policy")
        if p.name.startswith(f"inference-{service}-")
    }


@pytest.mark.parametrize("service", ["vision-validator", "ai-inference"])
def test_cpu_70_and_memory_80_target_tracking(prod, service):
    found = policies(prod, service)
    for metric, value in (("cpu", 70), ("memory", 80)):
        config = found[f"{metric}-tracking"].inputs["targetTrackingScalingPolicyConfiguration"]
        assert config["targetValue"] == value
        assert config["predefinedMetricSpecification"]["predefinedMetricType"] == (
            f"ECSServiceAverage{'CPU' if metric == 'cpu' else 'Memory'}Utilization"
        )
        assert config["disableScaleIn"] is False
    assert set(found) == {"cpu-tracking", "memory-tracking"}
    target = prod.named(f"inference-{service}-scaling-target").inputs
    expected = {"vision-validator": (1, 3), "ai-inference": (2, 6)}[service]
    assert (target["minCapacity"], target["maxCapacity"]) == expected


def test_a_service_from_zero_with_room_for_more_tracks_but_never_scales_in_by_it(run_stack):
    import yaml

    from offline.runner import PROJECT_DIR

    dev_file = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    services = dev_file["config"]["mlplatform:inference"]["services"]
    services = [{**s, "max_count": 2} if s["name"] == "vision-validator" else s for s in services]
    run = run_stack("dev", {"inference.services": services}).subtree("inference")
    found = policies(run, "vision-validator")
    assert set(found) == {"cpu-tracking", "memory-tracking", "wake-from-zero",
                          "scale-in-when-idle"}  # fmt: skip
    for metric in ("cpu", "memory"):
        config = found[f"{metric}-tracking"].inputs["targetTrackingScalingPolicyConfiguration"]
        assert config["disableScaleIn"] is True  # from zero only the idle policy scales in


def test_targets_are_configurable(run_stack):
    services = [{"name": "ai-inference", "path_patterns": ["/move"], "cpu": 512, "memory": 1024,
                 "cpu_target": 50, "memory_target": 60}]  # fmt: skip
    run = run_stack("prod", {"inference.services": services}).subtree("inference")
    found = policies(run, "ai-inference")
    assert (
        found["cpu-tracking"].inputs["targetTrackingScalingPolicyConfiguration"]["targetValue"]
        == 50
    )
    assert (
        found["memory-tracking"].inputs["targetTrackingScalingPolicyConfiguration"]["targetValue"]
        == 60
    )


def test_dev_services_start_on_the_first_request_and_stop_when_idle(dev):
    found = policies(dev, "vision-validator")
    # At most one task (dev's max_count 1): waking and the idle stop are all the scaling
    # there is, so no tracking policy (and none of its alarms) exists.
    assert set(found) == {"wake-from-zero", "scale-in-when-idle"}
    wake = dev.named("inference-vision-validator-requests-no-tasks")
    (expression,) = [q["expression"] for q in wake.inputs["metricQueries"] if q.get("returnData")]
    assert expression == "IF(FILL(running, 0) < 1, FILL(requests, 0), 0)"
    assert wake.inputs["alarmActions"] == [found["wake-from-zero"].outputs["arn"]]
    idle = dev.named("inference-vision-validator-idle")
    assert idle.inputs["metricName"] == "RequestCount"
    assert idle.inputs["evaluationPeriods"] == 30
    assert idle.inputs["treatMissingData"] == "breaching"
    assert (
        idle.inputs["dimensions"]["TargetGroup"]
        == (dev.named("inference-vision-validator-tg").outputs["arnSuffix"])
    )
    step = found["scale-in-when-idle"].inputs["stepScalingPolicyConfiguration"]
    assert step["adjustmentType"] == "ExactCapacity"
    assert step["stepAdjustments"][0]["scalingAdjustment"] == 0
    assert dev.named("inference-vision-validator-scaling-target").inputs["minCapacity"] == 0


# --- config refusals and outputs ---------------------------------------------------------


def test_a_non_gpu_instance_type_is_refused_before_any_resource(run_stack):
    with pytest.raises(ProgramError, match=r"inference\.instance_type: expected a GPU") as caught:
        run_stack("dev", {"inference.instance_type": "m5.xlarge"})
    assert caught.value.resources == []


def test_a_service_needing_more_gpus_than_the_instance_has_is_refused(run_stack):
    services = [{"name": "vision-validator", "path_patterns": ["/validate"], "gpu": 2,
                 "cpu": 2048, "memory": 8192}]  # fmt: skip
    with pytest.raises(ProgramError, match=r"services\[0\]\.gpu: expected at most 1") as caught:
        run_stack("dev", {"inference.services": services})
    assert caught.value.resources == []


@pytest.mark.parametrize("output", SEED_OUTPUTS)
def test_the_seed_outputs_are_exported(each_stack, output):
    url = each_stack.outputs[output]
    # prod serves its dns.inference_host (Pulumi.prod.yaml's example), dev its HTTP API
    # front door (HTTPS on the API's execute-api name)
    base = (
        "https://inference.example.com"
        if each_stack.stack == "prod"
        else each_stack.named("inference-lb-front-door-api").outputs["apiEndpoint"]
    )
    assert base.startswith("https://") and url.startswith(base)
    assert output not in each_stack.secret_outputs


def test_endpoints_and_names(dev):
    base = dev.outputs["alb_url"]
    assert dev.outputs["health_check_url"] == f"{base}/health"
    assert dev.outputs["validation_endpoint"] == f"{base}/validate"
    assert dev.outputs["move_endpoint"] == f"{base}/move"
    assert dev.outputs["inference_cluster_name"] == "mlplatform-dev-inference"
    # ECS services only: ai-inference is a Lambda function in dev.
    assert dev.outputs["inference_service_names"] == {
        "vision-validator": "mlplatform-dev-vision-validator",
    }


def test_pure_helpers():
    svc = InferenceServiceSettings(name="x1", path_patterns=("/move", "/move/*"))
    assert routes(svc, "/move") and routes(svc, "/move/deep") and not routes(svc, "/validate")
    assert ecr_repository_arn(
        f"{ACCOUNT_ID}.dkr.ecr.eu-west-1.amazonaws.com/a/b@sha256:" + "c" * 64
    ) == (f"arn:aws:ecr:eu-west-1:{ACCOUNT_ID}:repository/a/b")
    assert ecr_repository_arn("ghcr.io/unforkableco/forge-plugins-vision:v1.1.0") is None


def test_inference_switch_off_registers_none_of_it(run_stack):
    run = run_stack(
        "dev",
        {
            "stacks.inference": False,
            "data_platform.share_load_balancer": False,
            "agent_world.share_load_balancer": False,
        },
    )
    assert not run.of_type("mlplatform:inference:InferenceStack")
    assert not set(SEED_OUTPUTS) & set(run.outputs)


# --- the AI providers' keys and the backend URL of the vision validator (seed 001) -------

OPENAI_KEY = "sk-configured-openai-key-0123456789"


def _run_with_provider_key(key: str):
    from offline import runner

    config, secret_keys = runner.stack_config("dev")
    config["mlplatform:openai_api_key"] = key
    config["mlplatform:backend_url"] = "https://backend.example.com"
    return runner.run_function(
        lambda: runner.runpy.run_path(str(runner.PROJECT_DIR / "__main__.py"), run_name="__main__"),
        "dev", config, [*secret_keys, "mlplatform:openai_api_key"],
    ).subtree("inference")  # fmt: skip


@pytest.fixture(scope="module")
def with_provider_key():
    return _run_with_provider_key(OPENAI_KEY)


def test_a_provider_key_is_a_secret_injected_as_an_ecs_secret_of_the_vision_validator_only(
    with_provider_key,
):
    run = with_provider_key
    secret = run.named("inference-openai-api-key-secret")
    assert secret.inputs["name"].endswith("/inference/openai-api-key")
    assert secret.inputs["tags"]["Rotation"] == "at-the-provider"
    version = run.named("inference-openai-api-key-value")
    assert version.inputs["secretString"] == OPENAI_KEY
    assert "secretString" in version.secret_paths
    vision = container(run, "vision-validator")
    assert {"name": "OPENAI_API_KEY", "valueFrom": secret.outputs["arn"]} in vision["secrets"]
    assert "OPENAI_API_KEY" not in {e["name"] for e in vision["environment"]}
    assert OPENAI_KEY not in json.dumps(vision)
    assert {"name": "BACKEND_URL", "value": "https://backend.example.com"} in vision["environment"]
    # ai-inference (a Lambda function in dev) gets the API key's secret ARN only.
    other = run.named("inference-ai-inference-fn-function").inputs["environment"]
    assert list(other["variables"]) == ["API_KEY_SECRET_ID"]
    rotations = run.of_type("aws:secretsmanager/secretRotation:SecretRotation")
    assert "openai" not in json.dumps([r.inputs for r in rotations])


def test_the_execution_role_reads_the_provider_key_and_the_task_role_does_not(with_provider_key):
    run = with_provider_key
    arn = run.named("inference-openai-api-key-secret").outputs["arn"]
    execution = grants(json.loads(run.named("inference-execution-policy").inputs["policy"]))
    assert ("secretsmanager:GetSecretValue", arn) in execution
    task = grants(json.loads(run.named("inference-task-policy").inputs["policy"]))
    assert not {r for _, r in task} & {arn}


def test_without_provider_keys_no_provider_secret_exists_and_only_the_api_key_is_injected(dev):
    assert not [r for r in dev.of_type("aws:secretsmanager/secret:Secret") if "openai" in r.name
                or "gemini" in r.name]  # fmt: skip
    vision = container(dev, "vision-validator")
    assert [s["name"] for s in vision["secrets"]] == ["API_KEY"]
    assert "BACKEND_URL" not in {e["name"] for e in vision["environment"]}
    assert "PROVIDER_KEY_VERSION" not in {e["name"] for e in vision["environment"]}


def test_the_provider_keys_version_id_not_its_value_is_in_the_environment(with_provider_key):
    # ECS reads secrets only at task start: the version id makes a new key a new revision.
    run = with_provider_key
    version = run.named("inference-openai-api-key-value")
    assert version.outputs["versionId"]
    task = run.named("inference-vision-validator-task")
    vision = json.loads(task.inputs["containerDefinitions"])[0]
    env = {e["name"]: e["value"] for e in vision["environment"]}
    assert env["PROVIDER_KEY_VERSION"] == f"OPENAI_API_KEY={version.outputs['versionId']}"
    assert OPENAI_KEY not in task.inputs["containerDefinitions"]
    other = run.named("inference-ai-inference-fn-function").inputs["environment"]
    assert "PROVIDER_KEY_VERSION" not in other["variables"]


def test_a_new_provider_key_changes_the_vision_validators_task_definition(with_provider_key):
    new_key = "sk-the-next-openai-key-9876543210"
    again = _run_with_provider_key(new_key)

    before = with_provider_key.named("inference-vision-validator-task").inputs
    after = again.named("inference-vision-validator-task").inputs
    assert before["containerDefinitions"] != after["containerDefinitions"]
    assert new_key not in after["containerDefinitions"]
    # the other service's task definition is left as it was
    fn = "inference-ai-inference-fn-function"
    assert with_provider_key.named(fn).inputs == again.named(fn).inputs


@pytest.mark.parametrize(
    ("config", "named", "form"),
    [
        ({"mlplatform:openai_api_key": "sk-plain-text-key-0123456789"}, "openai_api_key",
         "pulumi config set --secret"),
        ({"mlplatform:backend_url": "http://backend.example.com"}, "backend_url",
         "an https URL"),
        ({"mlplatform:backend_url": "https://user:pw@backend.example.com"}, "backend_url",
         "an https URL"),
    ],
)  # fmt: skip
def test_a_bad_provider_key_or_backend_url_stops_the_program_naming_the_key(
    run_stack, config, named, form
):
    with pytest.raises(ProgramError, match=f"mlplatform:{named}: expected .*{form}") as caught:
        run_stack("dev", config)
    assert caught.value.resources == []


# --- one deadline per validation, below the load balancer's idle timeout -------------


def _deadline(run) -> int:
    env = {e["name"]: e["value"] for e in container(run, "vision-validator")["environment"]}
    return int(env["VALIDATE_DEADLINE_SECONDS"])


def test_the_alb_waits_longer_than_the_vision_validators_deadline(each_stack):
    # Else the ALB cuts a slow validation with an HTML 504 before the service's JSON one.
    idle = each_stack.one("aws:lb/loadBalancer:LoadBalancer").inputs["idleTimeout"]
    assert 1 <= idle <= 4000  # elbv2 idle_timeout.timeout_seconds
    # dev's HTTP API front door ends a request at 30 s (its integration timeout's maximum)
    assert idle == {"dev": 30, "prod": 120}[each_stack.stack]
    assert _deadline(each_stack) == idle - 10
    assert idle - _deadline(each_stack) >= 10


def test_dev_front_door_waits_as_long_as_the_alb(dev):
    integration = dev.named("inference-lb-front-door-integration").inputs
    idle = dev.one("aws:lb/loadBalancer:LoadBalancer").inputs["idleTimeout"]
    assert integration["timeoutMilliseconds"] == idle * 1000 == 30000


def test_the_services_default_deadline_is_what_the_stack_sets_by_default(prod):
    from vision_validator.settings import DEFAULT_VALIDATE_DEADLINE

    assert _deadline(prod) == DEFAULT_VALIDATE_DEADLINE


def test_the_request_timeout_sets_both_the_idle_timeout_and_the_deadline(run_stack):
    # (over 30 s only without dev's HTTP API front door)
    run = run_stack(
        "dev",
        {"inference.request_timeout_seconds": 300, "ingress.front_door": "load_balancer",
         "ingress.allow_http": True},
    ).subtree("inference")  # fmt: skip

    assert run.one("aws:lb/loadBalancer:LoadBalancer").inputs["idleTimeout"] == 300
    assert _deadline(run) == 290


def test_prod_dashboard_graphs_the_alb_and_each_target_group_and_dev_has_none(dev, prod):
    board = prod.one("aws:cloudwatch/dashboard:Dashboard")
    assert board.inputs["dashboardName"] == "mlplatform-prod-inference"
    props = {
        w["properties"]["title"]: w["properties"]
        for w in json.loads(board.inputs["dashboardBody"])["widgets"]
    }
    lb = prod.one("aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"]
    groups = [tg.outputs["arnSuffix"] for tg in prod.of_type(TG)]
    assert len(groups) >= 2
    assert props["API requests"]["metrics"] == [
        ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", lb]
    ]
    for title, metric, stat in [
        ("API target 5xx", "HTTPCode_Target_5XX_Count", "Sum"),
        ("API latency p50 (s)", "TargetResponseTime", "p50"),
        ("API latency p99 (s)", "TargetResponseTime", "p99"),
        ("API healthy hosts", "HealthyHostCount", "Minimum"),
    ]:
        assert props[title]["stat"] == stat
        assert sorted(props[title]["metrics"]) == sorted(
            ["AWS/ApplicationELB", metric, "TargetGroup", tg, "LoadBalancer", lb] for tg in groups
        )
    assert not dev.of_type("aws:cloudwatch/dashboard:Dashboard")


def test_prod_dashboard_graphs_gpu_utilisation_and_memory_from_the_agent_namespace(prod):
    board = prod.one("aws:cloudwatch/dashboard:Dashboard")
    widgets = {
        w["properties"]["title"]: w["properties"]
        for w in json.loads(board.inputs["dashboardBody"])["widgets"]
    }
    config = json.loads(prod.one("aws:ssm/parameter:Parameter").inputs["value"])
    namespace = config["metrics"]["namespace"]
    assert namespace == "mlplatform-prod/GPU"
    (utilisation,) = widgets["GPU utilisation % (per instance, GPU)"]["metrics"]
    assert utilisation[0]["expression"] == (
        f"SEARCH('\"{namespace}\" MetricName=\"nvidia_smi_utilization_gpu\"', 'Average', 300)"
    )
    memory = [m[0]["expression"] for m in widgets["GPU memory (MiB, per instance, GPU)"]["metrics"]]
    assert memory == [
        f"SEARCH('\"{namespace}\" MetricName=\"nvidia_smi_{m}\"', 'Maximum', 300)"
        for m in ("memory_used", "memory_total")
    ]
    # Every metric the dashboard searches for is one the agent collects.
    collected = config["metrics"]["metrics_collected"]["nvidia_gpu"]["measurement"]
    assert {"utilization_gpu", "memory_used", "memory_total"} == set(collected)


def test_a_dashboard_without_gpu_services_has_no_gpu_widgets(run_stack):
    run = run_stack(
        "prod",
        {
            "inference.warm_pool_size": 0,
            "inference.min_instances": 0,
            "inference.services": [
                {"name": "ai-inference", "path_patterns": ["/move", "/move/*", "/health"],
                 "cpu": 512, "memory": 1024},
            ],
        },
    ).subtree("inference")  # fmt: skip
    assert not run.of_type("aws:ssm/parameter:Parameter")
    titles = [
        w["properties"]["title"]
        for w in json.loads(run.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])[
            "widgets"
        ]
    ]
    assert titles and not any(t.startswith("GPU") for t in titles)


SCHEDULED = "aws:appautoscaling/scheduledAction:ScheduledAction"


def test_no_stack_file_schedules_warm_hours(dev, prod):
    assert not dev.of_type(SCHEDULED)
    assert not prod.of_type(SCHEDULED)


def test_dev_schedule_keeps_one_vision_validator_task_in_working_hours(run_stack):
    # given dev (vision validator min_count 0) with a Berlin working day
    run = run_stack(
        "dev",
        {"inference.schedule": {"enabled": True, "timezone": "Europe/Berlin",
                                "days": "MON-FRI", "start_hour": 8, "end_hour": 18}},
    ).subtree("inference")  # fmt: skip
    # then the GPU service's scalable target gets a start and an end action
    target = run.named("inference-vision-validator-scaling-target")
    actions = {a.name: a.inputs for a in run.of_type(SCHEDULED)}
    assert set(actions) == {
        "inference-vision-validator-warm-hours-start",
        "inference-vision-validator-warm-hours-end",
    }
    start = actions["inference-vision-validator-warm-hours-start"]
    end = actions["inference-vision-validator-warm-hours-end"]
    for action in (start, end):
        assert action["resourceId"] == target.inputs["resourceId"]
        assert action["scalableDimension"] == "ecs:service:DesiredCount"
        assert action["serviceNamespace"] == "ecs"
        assert action["timezone"] == "Europe/Berlin"
    assert start["name"] == "mlplatform-dev-vision-validator-warm-hours-start"
    assert start["schedule"] == "cron(0 8 ? * MON-FRI *)"
    assert start["scalableTargetAction"] == {"minCapacity": 1, "maxCapacity": 1}
    assert end["schedule"] == "cron(0 18 ? * MON-FRI *)"
    assert end["scalableTargetAction"] == {"minCapacity": 0, "maxCapacity": 1}
    # the Fargate service is not scheduled; the target keeps its minimum of 0 between
    assert target.inputs["minCapacity"] == 0
    assert not any("ai-inference" in name for name in actions)
