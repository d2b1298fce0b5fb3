"""LambdaFunction, as the stacks register it in dev and prod (every function of the program:
the rotation functions and the WebSocket authorizer)."""

from __future__ import annotations

import dataclasses
import json

import botocore.session
import pytest

from components.blocks.function import (
    ARCHITECTURE,
    IMAGE_ARCHITECTURE,
    IMAGE_ENTRY_POINT,
    IMAGE_WORKING_DIRECTORY,
    RUNTIME,
)
from preflight import Context, check, resources_of

FUNCTION = "aws:lambda/function:Function"


def functions(run):
    return run.of_type(FUNCTION)


def zip_functions(run):
    """The functions of a code package zip (not an inference service's image)."""
    return [f for f in functions(run) if f.inputs.get("packageType") != "Image"]


def sibling(run, function, role):
    """The function's log group or role: the children of its LambdaFunction."""
    base = function.name.removesuffix("-function")
    return run.named(f"{base}-{role}")


def test_every_stack_has_its_functions(dev, prod):
    # dev: the inference key, MLflow's two secrets, the Hokusai API's key, the agent world's
    # API and bridge keys, and the authorizer; prod: no bridge key, but the agent world's
    # Redis token. Dev also runs ai-inference as a function of its image (runtime: lambda).
    assert len(zip_functions(dev)) == 7
    assert len(functions(dev)) == 8
    assert len(functions(prod)) == len(zip_functions(prod)) == 7
    handlers = {f.inputs.get("handler") or f.inputs["imageConfig"]["commands"][0]
                for f in functions(dev)}  # fmt: skip
    assert handlers == {
        "secret_rotation.handler.lambda_handler", "websocket_authorizer.handler.lambda_handler",
        "ai_inference.lambda_handler.handler",
    }  # fmt: skip


def test_the_runtime_is_one_botocore_knows_on_arm64_with_active_tracing(each_stack):
    model = botocore.session.get_session().get_service_model("lambda")
    assert RUNTIME in model.shape_for("Runtime").enum
    for function in zip_functions(each_stack):
        assert function.inputs["runtime"] == RUNTIME == "python3.13"
        assert function.inputs["architectures"] == [ARCHITECTURE] == ["arm64"]
        assert function.inputs["tracingConfig"] == {"mode": "Active"}
        assert 1 <= function.inputs["timeout"] <= 900


def test_an_image_function_runs_its_image_on_x86_64_with_the_runtime_interface_client(dev):
    model = botocore.session.get_session().get_service_model("lambda")
    (function,) = [f for f in functions(dev) if f not in zip_functions(dev)]
    assert function.inputs["packageType"] == "Image" in model.shape_for("PackageType").enum
    assert function.inputs["architectures"] == [IMAGE_ARCHITECTURE] == ["x86_64"]
    assert IMAGE_ARCHITECTURE in model.shape_for("Architecture").enum
    config = function.inputs["imageConfig"]
    assert config["entryPoints"] == list(IMAGE_ENTRY_POINT)
    assert config["commands"] == ["ai_inference.lambda_handler.handler"]
    assert config["workingDirectory"] == IMAGE_WORKING_DIRECTORY
    assert function.inputs["tracingConfig"] == {"mode": "Active"}
    assert 1 <= function.inputs["timeout"] <= 900


def test_each_log_group_exists_first_with_retention_and_json_logs(dev, prod):
    for run, days in ((dev, 30), (prod, 365)):
        for function in functions(run):
            group = sibling(run, function, "logs")
            assert group.inputs["name"] == f"/aws/lambda/{function.inputs['name']}"
            assert group.inputs["retentionInDays"] == days
            assert function.inputs["loggingConfig"] == {
                "logFormat": "JSON", "logGroup": group.inputs["name"]
            }  # fmt: skip
            assert group.urn in function.options["depends_on"]
            # and its role's policy: a first invocation must not be denied
            assert sibling(run, function, "policy").urn in function.options["depends_on"]


def test_every_function_logs_under_the_shared_logs_key(each_stack):
    key = each_stack.named("audit-key").outputs["arn"]
    for function in functions(each_stack):
        assert sibling(each_stack, function, "logs").inputs["kmsKeyId"] == key


def test_each_role_is_lambdas_and_writes_only_its_own_log_group(each_stack):
    for function in functions(each_stack):
        role = sibling(each_stack, function, "role")
        assert function.inputs["role"] == role.outputs["arn"]
        assert role.inputs["name"] == function.inputs["name"]
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
        policy = json.loads(sibling(each_stack, function, "policy").inputs["policy"])
        logs = next(s for s in policy["Statement"] if s["Sid"] == "WriteItsLogs")
        group = sibling(each_stack, function, "logs").outputs["arn"]
        assert logs["Resource"] == f"{group}:log-stream:*"
        assert set(logs["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_the_zip_holds_the_package_and_no_tests(dev):
    for function in zip_functions(dev):
        assets = function.inputs["code"]["assets"]
        package = function.inputs["handler"].split(".")[0]
        assert f"{package}/handler.py" in assets
        assert assets[f"{package}/handler.py"] == {
            "path": f"services/{package}/{package}/handler.py"
        }  # fmt: skip
        assert not [p for p in assets if "tests" in p or "__pycache__" in p]
        # the authorizer carries the shared key ring; the rotation function needs none
        shared = "service_common/secret_keys.py" in assets
        assert shared == (package == "websocket_authorizer")


@pytest.mark.parametrize(
    ("prop", "value", "rule"),
    [("runtime", "python3.99", "api-model"), ("name", "x" * 65, "names")],
)
def test_the_preflight_refuses_what_lambda_would(dev_program, prop, value, rule):
    function = next(f for f in dev_program.of_type(FUNCTION))
    resources = [
        dataclasses.replace(r, props={**r.props, prop: value}) if r.name == function.name else r
        for r in resources_of(dev_program.resources)
    ]
    found = [f for f in check.run(resources, Context(region="us-east-1")) if f.resource ==
             function.name]  # fmt: skip
    assert any(f.rule.startswith(rule) and f.severity == "error" for f in found), found
    assert not [
        f for f in check.run(resources_of(dev_program.resources), Context(region="us-east-1"))
        if f.resource == function.name
    ]  # fmt: skip
