"""InferenceStack with ``runtime: lambda``: dev's ai-inference as a Lambda function behind
the load balancer, built from its service image; prod's stays on ECS."""

from __future__ import annotations

import json

import pytest

from components.config.inference import lambda_timeout
from offline.runner import ProgramError

FUNCTION = "aws:lambda/function:Function"
FN = "inference-ai-inference-fn-function"


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("inference")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("inference")


def statements(resource, prop="policy"):
    return json.loads(resource.inputs[prop])["Statement"]


# --- the target: a target group of type lambda, the function its one target -------------


def test_the_move_rule_forwards_to_a_target_group_of_type_lambda(dev):
    tg = dev.named("inference-ai-inference-fn-tg")
    assert tg.inputs["targetType"] == "lambda"
    # Not the ECS form's group (inference-ai-inference-tg): a target group's type is fixed,
    # so a move between runtimes creates the other group before deleting the old.
    assert tg.inputs["name"] == "mlplatform-dev-ai-inference-fn"
    assert "inference-ai-inference-tg" not in {r.name for r in dev.resources}
    # No VPC, port or protocol for a Lambda target (CreateTargetGroup: "does not apply").
    assert not {"vpcId", "port", "protocol"} & set(tg.inputs)
    rule = dev.named("inference-ai-inference-rule").inputs
    assert rule["conditions"] == [{"pathPattern": {"values": ["/move", "/move/*"]}}]
    assert rule["actions"] == [{"type": "forward", "targetGroupArn": tg.outputs["arn"]}]


def test_health_checks_of_the_lambda_target_group_are_off(dev):
    # A lone Lambda target cannot be taken out of rotation; a check would only invoke it.
    assert dev.named("inference-ai-inference-fn-tg").inputs["healthCheck"] == {"enabled": False}


def test_the_load_balancer_may_invoke_the_function_for_this_target_group_only(dev):
    permission = dev.named("inference-ai-inference-invoke").inputs
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["principal"] == "elasticloadbalancing.amazonaws.com"
    assert permission["sourceArn"] == dev.named("inference-ai-inference-fn-tg").outputs["arn"]
    assert "sourceAccount" not in permission  # ELB is not documented to send it
    assert permission["function"] == dev.named(FN).outputs["name"]


def test_the_function_is_the_target_registered_after_the_permission(dev):
    attachment = dev.named("inference-ai-inference-target")
    assert (
        attachment.inputs["targetGroupArn"]
        == dev.named("inference-ai-inference-fn-tg").outputs["arn"]
    )
    assert attachment.inputs["targetId"] == dev.named(FN).outputs["arn"]
    assert dev.named("inference-ai-inference-invoke").urn in attachment.options["depends_on"]


# --- the function: the service image, run by the runtime interface client ----------------


def test_the_function_runs_the_service_image_with_the_handler(dev):
    fn = dev.named(FN).inputs
    image = dev.named("inference-ai-inference-image-image")
    assert fn["packageType"] == "Image"
    assert fn["imageUri"] == image.outputs["repoDigest"]
    assert fn["imageConfig"] == {
        "entryPoints": ["python", "-m", "awslambdaric"],
        "commands": ["ai_inference.lambda_handler.handler"],
        "workingDirectory": "/app",
    }
    # The image is built for linux/amd64; no zip, runtime or handler of a zip function.
    assert fn["architectures"] == ["x86_64"]
    assert image.inputs["build"]["platform"] == "linux/amd64"
    assert not {"runtime", "handler", "code"} & set(fn)


def test_the_function_is_sized_and_capped_as_configured(dev):
    fn = dev.named(FN).inputs
    assert fn["name"] == "mlplatform-dev-ai-inference"
    assert fn["memorySize"] == 512
    # Dev reserves none (concurrency 0): an account still at a limit of 10 refuses any.
    assert "reservedConcurrentExecutions" not in fn
    # Within the load balancer's idle timeout (30 s in dev, under the HTTP API front door's
    # 30 s), so its error reaches it first.
    assert fn["timeout"] == lambda_timeout(30) == 20
    assert fn["timeout"] <= dev.named("inference-lb-alb").inputs["idleTimeout"]


def test_the_function_gets_the_secrets_arn_never_its_value(dev):
    secret = dev.one("aws:secretsmanager/secret:Secret").outputs["arn"]
    fn = dev.named(FN)
    assert fn.inputs["environment"] == {"variables": {"API_KEY_SECRET_ID": secret}}
    password = dev.one("random:index/randomPassword:RandomPassword").outputs["result"]
    assert password not in json.dumps(fn.inputs)


def test_the_functions_role_reads_the_api_key_writes_its_logs_and_traces_only(dev):
    secret = dev.one("aws:secretsmanager/secret:Secret").outputs["arn"]
    group = dev.named("inference-ai-inference-fn-logs")
    assert group.inputs["name"] == "/aws/lambda/mlplatform-dev-ai-inference"
    assert group.inputs["retentionInDays"] == 30
    assert dev.named(FN).inputs["loggingConfig"]["logGroup"] == group.outputs["name"]
    policy = statements(dev.named("inference-ai-inference-fn-policy"))
    assert {s["Sid"]: (s["Action"], s["Resource"]) for s in policy} == {
        "WriteItsLogs": (
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            f"{group.outputs['arn']}:log-stream:*",
        ),
        "ActiveTracing": (["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*"),
        "ReadTheApiKeyStages": (
            ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            secret,
        ),
    }
    trust = statements(dev.named("inference-ai-inference-fn-role"), "assumeRolePolicy")
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]


def test_lambda_may_pull_the_image_for_this_function_only(dev):
    repo = dev.named("inference-ai-inference-image-repo")
    policy = dev.named("inference-ai-inference-image-policy")
    assert policy.inputs["repository"] == repo.outputs["name"]
    arn = "arn:aws:lambda:us-east-1:123456789012:function:mlplatform-dev-ai-inference"
    assert statements(policy) == [
        {
            "Sid": "LambdaECRImageRetrievalPolicy",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Condition": {"StringLike": {"aws:SourceArn": [arn, f"{arn}:*"]}},
        }
    ]
    assert dev.named(FN).outputs["arn"] == arn


def test_a_lambda_service_has_no_task_service_scaling_security_group_or_ecs_log_group(dev):
    names = {r.name for r in dev.resources}
    for part in ("task", "service", "scaling-target", "cpu-tracking", "memory-tracking",
                 "sg", "from-alb", "alb-out", "https-out", "logs"):  # fmt: skip
        assert f"inference-ai-inference-{part}" not in names
    # No ECS task alarms; the function's errors alarm is its only one.
    assert [r.name for r in dev.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
            if "ai-inference" in r.name] == ["inference-ai-inference-errors"]  # fmt: skip
    # The ECS execution role neither pulls its image nor writes a log group for it.
    execution = json.dumps(statements(dev.named("inference-execution-policy")))
    assert dev.named("inference-ai-inference-image-repo").outputs["arn"] not in execution


def test_prod_keeps_ai_inference_on_ecs_without_a_function_or_repository_policy(prod):
    assert prod.named("inference-ai-inference-service").inputs["desiredCount"] >= 1
    assert prod.named("inference-ai-inference-tg").inputs["targetType"] == "ip"
    functions = {r.name for r in prod.of_type(FUNCTION)}
    assert functions == {"inference-api-key-rotation-fn-function"}
    assert not prod.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")
    assert not prod.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment")


def test_the_dev_idle_plan_charges_ai_inference_only_its_errors_alarm_and_image(dev_program):
    from offline.costs import estimate, load_prices

    items = {what: usd for _, what, usd in estimate(dev_program, load_prices()).items}
    assert items  # the plan lists dev's idle charges
    charged = {what: round(usd, 2) for what, usd in items.items() if "ai-inference" in what
               or "ai_inference" in what}  # fmt: skip
    # No task, address, Container Insights or tracking alarms: the errors alarm's metric
    # and the image stored in ECR.
    assert charged == {
        "alarm inference-ai-inference-errors": 0.1,
        "ECR storage of mlplatform-dev/ai_inference (rough: 0.25 GB, slim image)": 0.03,
    }


# --- config -----------------------------------------------------------------------------

VISION = {"name": "vision-validator", "path_patterns": ["/validate"], "gpu": 1, "cpu": 2048,
          "memory": 8192, "desired_count": 0, "min_count": 0, "max_count": 1}  # fmt: skip


def test_lambda_is_refused_for_a_gpu_service_and_the_rest_in_one_message(run_stack):
    services = [
        {**VISION, "runtime": "lambda", "gpu": 1},
        {"name": "ai-inference", "path_patterns": ["/move"], "runtime": "lambda",
         "memory": 20480},
        {"name": "other", "source": "ai_inference", "path_patterns": ["/other"],
         "concurrency": 3, "cpu": 256, "memory": 512},
    ]  # fmt: skip
    with pytest.raises(ProgramError) as caught:
        run_stack("dev", {"inference.services": services})
    message = str(caught.value)
    assert "services[0].gpu: expected 0 for runtime lambda (got 1)" in message
    # The vision validator has no Lambda handler module.
    assert "services[0].runtime: expected services/vision_validator/vision_validator/" in message
    assert "services[1].memory: expected 128-10240 MiB for runtime lambda" in message
    assert "services[2].concurrency: expected 0 for runtime ecs (got 3)" in message
    assert caught.value.resources == []


def test_an_unknown_runtime_is_refused(run_stack):
    services = [{"name": "ai-inference", "path_patterns": ["/move"], "runtime": "fargate"}]
    with pytest.raises(ProgramError, match=r"services\[0\]\.runtime: .*ecs.*lambda"):
        run_stack("dev", {"inference.services": services})


def test_a_prebuilt_image_is_refused_for_a_lambda_service(run_stack):
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/elsewhere/ai:1"
    services = [{"name": "ai-inference", "path_patterns": ["/move"], "runtime": "lambda",
                 "image": uri}]  # fmt: skip
    with pytest.raises(ProgramError, match=r"services\[0\]\.image: expected empty for runtime"):
        run_stack("dev", {"inference.services": services})


def test_lambda_services_ignore_the_task_counts(run_stack):
    # min/desired/max_count are ECS task counts: a Lambda service's are not read.
    services = [{"name": "ai-inference", "path_patterns": ["/move"], "runtime": "lambda",
                 "memory": 1024, "min_count": 3, "desired_count": 1, "max_count": 2}]  # fmt: skip
    run = run_stack("dev", {"inference.services": services}).subtree("inference")
    fn = run.named(FN).inputs
    assert fn["memorySize"] == 1024
    assert "reservedConcurrentExecutions" not in fn  # concurrency 0: no reservation
    assert not run.of_type("aws:appautoscaling/target:Target")


def test_a_reserved_concurrency_caps_the_function(run_stack):
    services = [{"name": "ai-inference", "path_patterns": ["/move"], "runtime": "lambda",
                 "memory": 512, "concurrency": 2}]  # fmt: skip
    run = run_stack("dev", {"inference.services": services}).subtree("inference")
    assert run.named(FN).inputs["reservedConcurrentExecutions"] == 2


def test_the_function_errors_alarm_tells_the_alarm_topic(dev):
    alarm = dev.named("inference-ai-inference-errors").inputs
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == (
        "AWS/Lambda", "Errors", "Sum")  # fmt: skip
    assert alarm["dimensions"] == {"FunctionName": dev.named(FN).outputs["name"]}
    assert (alarm["threshold"], alarm["period"], alarm["treatMissingData"]) == (
        1, 300, "notBreaching")  # fmt: skip
    (topic,) = alarm["alarmActions"]
    assert topic.startswith("arn:aws:sns:")
