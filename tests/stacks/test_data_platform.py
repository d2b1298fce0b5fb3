"""DataPlatformStack, as the real program registers it for the dev and prod stack files."""

from __future__ import annotations

import json

import pytest

from components.stacks.data_platform import (
    AURORA_VERSIONS,
    MLFLOW_HEALTH_PATH,
    performance_insights_supported,
)
from offline.mocks import ACCOUNT_ID, SECRET_PLACEHOLDER
from offline.runner import ProgramError

DB = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LB = "aws:lb/loadBalancer:LoadBalancer"
SERVICE = "aws:ecs/service:Service"


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("data-platform")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("data-platform")


@pytest.fixture(scope="module")
def dev_rds(run_program_module):
    """Dev with an RDS instance instead of its Aurora Serverless v2."""
    return run_program_module("dev", {"data_platform.db_engine": "postgres"}).subtree(
        "data-platform"
    )


@pytest.fixture(params=["dev_rds", "prod"])
def instance_stack(request, dev_rds, prod):
    """Each stack with an RDS instance in turn."""
    return {"dev_rds": dev_rds, "prod": prod}[request.param]


PREBUILT_API = f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/hokusai/api:1.4.0"


OWN_SERVICE = {"data_platform.api_placement": "own_service"}
"""Dev's API in its own service and task, as prod runs it (dev runs it in MLflow's task)."""


@pytest.fixture(scope="module")
def with_api(run_program_module):
    """Dev with the Hokusai API in its own service, its image built from services/hokusai_api."""
    return run_program_module("dev", {"data_platform.api": True, **OWN_SERVICE})


@pytest.fixture(params=["own_service", "with_mlflow"])
def api_stack(request, with_api, dev):
    """The data platform with the API in its own service, then (dev) in MLflow's task."""
    return with_api.subtree("data-platform") if request.param == "own_service" else dev


@pytest.fixture(scope="module")
def prod_api(run_program_module):
    return run_program_module("prod", {"data_platform.api": True}).subtree("data-platform")


@pytest.fixture(scope="module")
def run_program_module():
    from offline.runner import run_program

    return run_program


def albs(run):
    """The application load balancers (the agent world's NLB is not one)."""
    return [r for r in run.of_type(LB) if r.inputs["loadBalancerType"] == "application"]


TASK = "aws:ecs/taskDefinition:TaskDefinition"


def containers(task) -> list[dict]:
    return json.loads(task.inputs["containerDefinitions"])


def container(run, role="mlflow"):
    """The container named ``role`` (mlflow, api), in whichever task definition runs it."""
    (found,) = [c for task in run.of_type(TASK) for c in containers(task) if c["name"] == role]
    return found


def env(run, role="mlflow"):
    return {e["name"]: e["value"] for e in container(run, role)["environment"]}


def grants(document):
    out = set()
    for s in document["Statement"]:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        out |= {(a, r) for a in actions for r in resources}
    return out


# --- the database ---------------------------------------------------------------------


def test_database_is_current_postgres_private_encrypted_with_a_managed_password(instance_stack):
    db = instance_stack.one(DB).inputs
    key = instance_stack.named("data-platform-db-key")
    assert (db["engine"], db["engineVersion"]) == ("postgres", "17")
    assert db["manageMasterUserPassword"] is True
    assert "password" not in db
    assert db["storageEncrypted"] is True and db["kmsKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    assert db["publiclyAccessible"] is False
    assert db["autoMinorVersionUpgrade"] is True
    assert db["iamDatabaseAuthenticationEnabled"] is True
    assert db["engineLifecycleSupport"] == "open-source-rds-extended-support-disabled"
    assert db["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert db["monitoringInterval"] == 60


def test_database_has_its_own_subnet_group_in_private_subnets(instance_stack):
    subnets = instance_stack.one("aws:rds/subnetGroup:SubnetGroup")
    assert all(s.startswith("subnet-prv") for s in subnets.inputs["subnetIds"])
    assert instance_stack.one(DB).inputs["dbSubnetGroupName"] == subnets.outputs["name"]


def test_parameter_group_forces_ssl(instance_stack):
    group = instance_stack.one("aws:rds/parameterGroup:ParameterGroup")
    assert group.inputs["family"] == "postgres17"
    assert {"name": "rds.force_ssl", "value": "1"} in group.inputs["parameters"]
    assert instance_stack.one(DB).inputs["parameterGroupName"] == group.outputs["name"]


STATEMENT_LOGGING = [
    {"name": "log_statement", "value": "ddl"},
    {"name": "log_min_duration_statement", "value": "1000"},
]


def test_rds_logs_ddl_and_slow_statements_to_its_own_encrypted_export_log_groups(
    instance_stack, dev_program, prod_program
):
    group = instance_stack.one("aws:rds/parameterGroup:ParameterGroup")
    for parameter in STATEMENT_LOGGING:
        assert parameter in group.inputs["parameters"]
    db = instance_stack.one(DB)
    key = {"dev": dev_program, "prod": prod_program}[instance_stack.stack].named("audit-key")
    for log in ("postgresql", "upgrade"):
        logs = instance_stack.named(f"data-platform-db-{log}-logs")
        # The name RDS exports to; created first, so RDS does not make it unencrypted.
        assert logs.inputs["name"] == f"/aws/rds/instance/{db.inputs['identifier']}/{log}"
        assert logs.inputs["kmsKeyId"] == key.outputs["arn"]
        assert logs.urn in db.options["depends_on"]
    assert db.inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]


def test_aurora_logs_ddl_and_slow_statements_to_its_cluster_export_log_group(dev, dev_program):
    group = dev.one("aws:rds/clusterParameterGroup:ClusterParameterGroup")
    for parameter in STATEMENT_LOGGING:
        assert parameter in group.inputs["parameters"]
    cluster = dev.one(CLUSTER)
    logs = dev.named("data-platform-db-cluster-postgresql-logs")
    assert logs.inputs["name"] == "/aws/rds/cluster/mlplatform-dev-mlflow/postgresql"
    assert logs.inputs["kmsKeyId"] == dev_program.named("audit-key").outputs["arn"]
    assert logs.inputs["retentionInDays"] == 30
    assert logs.urn in cluster.options["depends_on"]
    assert cluster.inputs["enabledCloudwatchLogsExports"] == ["postgresql"]


def test_the_slow_statement_threshold_is_configurable(run_program_module):
    run = run_program_module("dev", {"data_platform.db_log_min_duration_ms": 250})
    group = run.one("aws:rds/clusterParameterGroup:ClusterParameterGroup")
    assert {"name": "log_min_duration_statement", "value": "250"} in group.inputs["parameters"]


def test_database_admits_only_the_mlflow_and_api_tasks_on_5432(instance_stack):
    db_sg = instance_stack.named("data-platform-db-sg")
    assert instance_stack.one(DB).inputs["vpcSecurityGroupIds"] == [db_sg.id]
    rules = [
        r for r in instance_stack.of_type(INGRESS) if r.inputs["securityGroupId"] == db_sg.id
    ]  # fmt: skip
    # prod: the API's own tasks are a client too; dev's API runs in MLflow's tasks.
    clients = {"prod": ["mlflow", "api"], "dev": ["mlflow"]}[instance_stack.stack]
    assert len(rules) == len(clients)
    assert {r.inputs["referencedSecurityGroupId"] for r in rules} == {
        instance_stack.named(f"data-platform-{client}-sg").id for client in clients
    }
    assert {(r.inputs["fromPort"], r.inputs["toPort"]) for r in rules} == {(5432, 5432)}
    assert "ingress" not in db_sg.inputs and "egress" not in db_sg.inputs


def test_backups_and_availability_follow_the_environment(dev_rds, prod):
    d, p = dev_rds.one(DB), prod.one(DB)
    assert (d.inputs["backupRetentionPeriod"], p.inputs["backupRetentionPeriod"]) == (7, 14)
    assert (d.inputs["multiAz"], p.inputs["multiAz"]) == (False, True)


def test_prod_database_is_protected_with_a_final_snapshot(prod):
    db = prod.one(DB)
    assert db.inputs["deletionProtection"] is True
    assert db.inputs["skipFinalSnapshot"] is False
    assert db.inputs["finalSnapshotIdentifier"] == "mlplatform-prod-mlflow-final"
    assert db.options["protect"] is True
    assert db.inputs["deleteAutomatedBackups"] is False


def test_dev_database_can_be_torn_down(dev_rds):
    db = dev_rds.one(DB)
    assert db.inputs["deletionProtection"] is False
    assert db.inputs["skipFinalSnapshot"] is True
    assert db.options["protect"] is False


def test_performance_insights_where_the_class_offers_it(dev_rds, prod):
    assert prod.one(DB).inputs["performanceInsightsEnabled"] is True
    assert (
        prod.one(DB).inputs["performanceInsightsKmsKeyId"]
        == prod.named("data-platform-db-key").outputs["arn"]
    )
    assert dev_rds.one(DB).inputs["performanceInsightsEnabled"] is False  # db.t4g.micro
    assert not performance_insights_supported("db.t4g.small")
    assert performance_insights_supported("db.t4g.medium")
    assert performance_insights_supported("db.r7g.large")


# --- dev's database: Aurora Serverless v2 that pauses -------------------------------------


def test_dev_database_is_aurora_serverless_v2_that_pauses_when_idle(dev):
    assert not dev.of_type(DB)
    cluster = dev.one(CLUSTER)
    c = cluster.inputs
    key = dev.named("data-platform-db-key")
    assert (c["engine"], c["engineMode"], c["engineVersion"]) == (
        "aurora-postgresql",
        "provisioned",
        AURORA_VERSIONS["17"],
    )
    assert c["serverlessv2ScalingConfiguration"] == {
        "minCapacity": 0,
        "maxCapacity": 2,
        "secondsUntilAutoPause": 900,
    }
    assert c["manageMasterUserPassword"] is True and "masterPassword" not in c
    assert c["storageEncrypted"] is True and c["kmsKeyId"] == key.outputs["arn"]
    assert c["iamDatabaseAuthenticationEnabled"] is True
    assert c["backupRetentionPeriod"] == 7
    assert c["enabledCloudwatchLogsExports"] == ["postgresql"]
    assert c["vpcSecurityGroupIds"] == [dev.named("data-platform-db-sg").id]
    subnets = dev.one("aws:rds/subnetGroup:SubnetGroup")
    assert c["dbSubnetGroupName"] == subnets.outputs["name"]
    assert all(s.startswith("subnet-prv") for s in subnets.inputs["subnetIds"])
    group = dev.one("aws:rds/clusterParameterGroup:ClusterParameterGroup")
    assert group.inputs["family"] == "aurora-postgresql17"
    assert {"name": "rds.force_ssl", "value": "1"} in group.inputs["parameters"]
    assert c["dbClusterParameterGroupName"] == group.outputs["name"]
    # dev: nothing keeps it from being torn down
    assert (c["deletionProtection"], c["skipFinalSnapshot"]) == (False, True)
    assert cluster.options["protect"] is False


def test_dev_database_has_one_private_serverless_instance(dev):
    (instance,) = dev.of_type("aws:rds/clusterInstance:ClusterInstance")
    i = instance.inputs
    assert i["clusterIdentifier"] == dev.one(CLUSTER).id
    assert (i["instanceClass"], i["publiclyAccessible"]) == ("db.serverless", False)
    assert i["autoMinorVersionUpgrade"] is True
    assert i["caCertIdentifier"] == "rds-ca-rsa2048-g1"


def test_aurora_with_a_standby_gets_a_reader_and_prod_options_protect_it(run_program_module):
    run = run_program_module(
        "prod", {"data_platform.db_engine": "aurora-postgresql", "data_platform.db_min_acu": 1}
    ).subtree("data-platform")
    cluster = run.one(CLUSTER)
    assert len(run.of_type("aws:rds/clusterInstance:ClusterInstance")) == 2
    assert cluster.inputs["deletionProtection"] is True
    assert cluster.inputs["finalSnapshotIdentifier"] == "mlplatform-prod-mlflow-final"
    assert cluster.options["protect"] is True
    assert "secondsUntilAutoPause" not in cluster.inputs["serverlessv2ScalingConfiguration"]
    # Not pausing: MLflow keeps its connection pool.
    assert "MLFLOW_SQLALCHEMYSTORE_POOLCLASS" not in env(run)
    assert "data-platform-db-free-storage" not in {a.name for a in run.of_type(ALARM)}


def test_mlflow_holds_no_idle_connections_to_a_database_that_pauses(dev, dev_rds):
    assert env(dev)["MLFLOW_SQLALCHEMYSTORE_POOLCLASS"] == "NullPool"
    assert "MLFLOW_SQLALCHEMYSTORE_POOLCLASS" not in env(dev_rds)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"data_platform.db_min_acu": 4, "data_platform.db_max_acu": 2},
         r"db_max_acu: expected at least db_min_acu \(4\)"),
        ({"data_platform.postgres_version": "15"}, "postgres_version: expected 16 or 17"),
        ({"data_platform.db_engine": "mysql"}, "db_engine: expected one of postgres"),
    ],
)  # fmt: skip
def test_bad_aurora_settings_are_refused(run_stack, overrides, message):
    with pytest.raises(ProgramError, match=message):
        run_stack("dev", overrides)


def test_prod_requires_two_weeks_of_backups(run_stack):
    with pytest.raises(ProgramError, match="backup_retention_days: expected at least 14"):
        run_stack("prod", {"data_platform.backup_retention_days": 7})


# --- buckets ------------------------------------------------------------------------------


@pytest.mark.parametrize("bucket", ["artifacts", "pipeline-data"])
def test_buckets_are_versioned_encrypted_private_tls_only_with_lifecycle(each_stack, bucket):
    run = each_stack.subtree(f"data-platform-{bucket}")
    assert run.named(f"data-platform-{bucket}-versioning").inputs["versioningConfiguration"] == {
        "status": "Enabled"
    }
    (rule,) = run.named(f"data-platform-{bucket}-encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms"}
    block = run.named(f"data-platform-{bucket}-public-access-block").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                  "restrictPublicBuckets"))  # fmt: skip
    (deny,) = json.loads(run.named(f"data-platform-{bucket}-tls-policy").inputs["policy"])[
        "Statement"
    ]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    rules = {r["id"] for r in run.named(f"data-platform-{bucket}-lifecycle").inputs["rules"]}
    assert {"to-standard-ia", "expire-noncurrent-versions"} <= rules
    protected = each_stack.stack == "prod"
    assert run.one("aws:s3/bucket:Bucket").options["protect"] is protected


# --- MLflow -------------------------------------------------------------------------------


def test_mlflow_image_is_built_from_services_mlflow(dev):
    (image,) = [
        i
        for i in dev.of_type("docker:index/image:Image")
        if "/mlflow/" in i.inputs["build"]["dockerfile"]
    ]
    # The context is services/ (so the build can copy services/common), the Dockerfile MLflow's.
    assert image.inputs["build"]["context"] == "services"
    assert image.inputs["build"]["dockerfile"].endswith("services/mlflow/Dockerfile")
    assert container(dev)["image"] == image.outputs["repoDigest"]


def test_mlflow_gets_the_database_secret_and_its_keys_as_ecs_secrets(each_stack):
    (db,) = each_stack.of_type(DB) or each_stack.of_type(CLUSTER)
    secret_arn = db.outputs["masterUserSecrets"][0]["secretArn"]
    secrets = {s["name"]: s["valueFrom"] for s in container(each_stack)["secrets"]}
    assert secrets == {
        "DB_SECRET": secret_arn,
        "MLFLOW_ADMIN_PASSWORD": each_stack.named(
            "data-platform-mlflow-admin-password-secret"
        ).outputs["arn"],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": each_stack.named(
            "data-platform-mlflow-flask-secret-key-secret"
        ).outputs["arn"],
    }


def test_no_password_or_key_in_plain_environment_or_outputs(dev, dev_program, with_api):
    for run in (dev, with_api.subtree("data-platform")):
        for c in (c for task in run.of_type(TASK) for c in containers(task)):
            names = {e["name"] for e in c["environment"]}
            assert not {n for n in names if any(w in n for w in ("PASSWORD", "SECRET", "KEY"))}
            assert SECRET_PLACEHOLDER not in json.dumps(c)
    for program in (dev_program, with_api):
        assert SECRET_PLACEHOLDER not in json.dumps(program.outputs)
        assert not any("password" in k and not k.endswith("_secret_arn") for k in program.outputs)


def test_backend_store_comes_from_the_database_and_artifacts_are_proxied_to_s3(dev, dev_rds):
    e = env(dev)
    host = dev.one(CLUSTER).outputs["endpoint"]  # the writer
    assert env(dev_rds)["DB_HOST"] == dev_rds.one(DB).outputs["address"]
    bucket = dev.named("data-platform-artifacts-bucket").outputs["bucket"]
    assert (e["DB_HOST"], e["DB_PORT"], e["DB_NAME"]) == (host, "5432", "mlflow")
    assert e["DB_SSLMODE"] == "require"
    assert e["ARTIFACTS_DESTINATION"] == f"s3://{bucket}/artifacts"
    assert e["MLFLOW_AUTH"] == "true"
    assert e["STATIC_PREFIX"] == "/mlflow"
    assert e["PUBLIC_SCHEME"] == "https"  # dev's browsers use the HTTP API front door


def test_browsers_reach_prod_mlflow_over_https(prod):
    assert env(prod)["PUBLIC_SCHEME"] == "https"


def test_allowed_hosts_include_the_load_balancer_name(dev_program, run_stack):
    (alb,) = albs(dev_program)
    lb = alb.outputs["dnsName"]
    # and dev's front door, the host browsers send
    door = dev_program.named("inference-lb-front-door-api").outputs["apiEndpoint"]
    door = door.removeprefix("https://")
    assert env(dev_program.subtree("data-platform"))["ALLOWED_HOSTS"] == f"{lb},{door}"
    run = run_stack("dev", {"data_platform.allowed_hosts": ["mlflow.example.com"]})
    assert env(run.subtree("data-platform"))["ALLOWED_HOSTS"] == (
        f"{albs(run)[0].outputs['dnsName']},{door},mlflow.example.com"
    )


def test_task_role_may_only_proxy_the_artifacts_prefix(each_stack):
    bucket = each_stack.named("data-platform-artifacts-bucket").outputs["arn"]
    document = json.loads(each_stack.named("data-platform-mlflow-task-policy").inputs["policy"])
    assert grants(document) == {
        ("s3:GetObject", f"{bucket}/artifacts/*"),
        ("s3:PutObject", f"{bucket}/artifacts/*"),
        ("s3:DeleteObject", f"{bucket}/artifacts/*"),
        ("s3:AbortMultipartUpload", f"{bucket}/artifacts/*"),
        ("s3:ListBucket", bucket),
    }
    task = each_stack.named("data-platform-mlflow-task")
    assert (
        task.inputs["taskRoleArn"]
        == each_stack.named("data-platform-mlflow-task-role").outputs["arn"]
    )


def test_execution_role_reads_exactly_these_secrets(each_stack):
    document = json.loads(each_stack.named("data-platform-execution-policy").inputs["policy"])
    read = {r for a, r in grants(document) if a == "secretsmanager:GetSecretValue"}
    containers = (container(each_stack), container(each_stack, "api"))
    assert read == {s["valueFrom"] for c in containers for s in c["secrets"]}
    for action, resource in grants(document):
        assert "*" not in action
        assert resource != "*" or action == "ecr:GetAuthorizationToken"


def test_mlflow_is_non_root_with_a_read_only_root(each_stack):
    c = container(each_stack)
    assert c["user"] == "10001:10001"
    assert c["readonlyRootFilesystem"] is True
    assert c["portMappings"][0]["containerPort"] == 5000


def test_desired_count_and_spot_follow_config(dev, prod):
    d, p = dev.named("data-platform-mlflow-service"), prod.named("data-platform-mlflow-service")
    assert (d.inputs["desiredCount"], p.inputs["desiredCount"]) == (1, 2)
    assert d.inputs["capacityProviderStrategies"] == [
        {"capacityProvider": "FARGATE_SPOT", "weight": 1}
    ]
    assert p.inputs["capacityProviderStrategies"] == [{"capacityProvider": "FARGATE", "weight": 1}]
    assert d.inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}


def test_load_balancer_routes_mlflow_and_checks_its_health(each_stack):
    rule = each_stack.named("data-platform-mlflow-rule").inputs
    assert rule["conditions"] == [{"pathPattern": {"values": ["/mlflow", "/mlflow/*"]}}]
    tg = each_stack.named("data-platform-mlflow-tg").inputs
    assert tg["healthCheck"]["path"] == MLFLOW_HEALTH_PATH == "/mlflow/health"
    assert (tg["port"], tg["targetType"]) == (5000, "ip")


# --- the load balancer: own in prod, shared in dev ----------------------------------------


def test_shared_switch_serves_both_stacks_from_one_alb(dev_program):
    (alb,) = albs(dev_program)
    assert alb.name == "inference-lb-alb"
    listener = dev_program.named("inference-lb-http").outputs["arn"]
    rules = {r.name: r.inputs for r in dev_program.of_type("aws:lb/listenerRule:ListenerRule")}
    assert rules["data-platform-mlflow-rule"]["listenerArn"] == listener
    assert rules["inference-vision-validator-rule"]["listenerArn"] == listener
    priorities = [r["priority"] for r in rules.values()]
    assert len(priorities) == len(set(priorities))
    assert dev_program.outputs["mlflow_endpoint"] == f"{dev_program.outputs['alb_url']}/mlflow/"


def test_without_sharing_each_stack_has_its_own_alb(prod_program):
    assert {r.name for r in albs(prod_program)} == {"inference-lb-alb", "data-platform-lb-alb"}
    https = prod_program.named("data-platform-lb-https").inputs
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    redirect = prod_program.named("data-platform-lb-http-redirect").inputs["defaultActions"][0]
    assert redirect["type"] == "redirect"
    # With single sign-on the endpoint is the host the certificate and the IdP's callback
    # name (dns.mlflow_host), not the load balancer's own DNS name.
    assert prod_program.outputs["mlflow_endpoint"] == "https://mlflow.example.com/mlflow/"


def test_sharing_needs_the_inference_stack(run_stack):
    with pytest.raises(ProgramError, match="share_load_balancer: expected false") as caught:
        run_stack("dev", {"stacks.inference": False})
    assert caught.value.resources == []


def test_the_alb_admits_only_the_allowed_ranges_to_mlflow(run_stack):
    run = run_stack("prod", {"ingress.allowed_cidr_blocks": ["203.0.113.0/24"]})
    ingress = [
        r.inputs for r in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.name.startswith("data-platform-lb-in-")
    ]  # fmt: skip
    assert sorted((r["fromPort"], r["cidrIpv4"]) for r in ingress) == [
        (80, "203.0.113.0/24"), (443, "203.0.113.0/24"),
    ]  # fmt: skip


# --- the optional API ------------------------------------------------------------------


def test_no_api_without_the_switch(run_stack):
    run = run_stack("dev", {"data_platform.api": False, **OWN_SERVICE})
    assert not [r for r in run.resources if r.name.startswith("data-platform-api")]


def test_both_stack_files_run_the_api(dev, prod):
    assert prod.named("data-platform-api-service").inputs["desiredCount"] == 1
    # dev: in each MLflow task, registered in the API's target group.
    balanced = dev.named("data-platform-mlflow-service").inputs["loadBalancers"]
    assert [(b["containerName"], b["containerPort"]) for b in balanced][1] == ("api", 8000)


def test_api_image_is_built_from_services_hokusai_api(with_api):
    run = with_api.subtree("data-platform")
    built = [
        r for r in run.of_type("docker:index/image:Image")
        if r.inputs["build"]["dockerfile"].endswith("services/hokusai_api/Dockerfile")
    ]  # fmt: skip
    assert len(built) == 1 and built[0].inputs["build"]["context"] == "services"
    assert container(run, "api")["image"] == built[0].outputs["repoDigest"]


@pytest.mark.parametrize(
    "override",
    [{"data_platform.api_image": PREBUILT_API}, {"images.hokusai_api": PREBUILT_API}],
)
def test_api_can_run_a_prebuilt_image_instead(run_stack, override):
    run = run_stack("dev", override).subtree("data-platform")
    assert container(run, "api")["image"] == PREBUILT_API
    assert not [
        r for r in run.of_type("docker:index/image:Image")
        if "hokusai_api" in r.inputs["build"]["dockerfile"]
    ]  # fmt: skip


def test_api_gets_its_credentials_as_ecs_secrets_never_as_variables(api_stack, dev_program):
    run = api_stack
    c = container(run, "api")
    secrets = {e["name"]: e["valueFrom"] for e in c["secrets"]}
    assert secrets == {
        "API_SECRET_KEY": run.named("data-platform-api-secret-key-secret").outputs["arn"],
        "DB_SECRET": container(run)["secrets"][0]["valueFrom"],  # MLflow's: the RDS secret
        "MLFLOW_TRACKING_PASSWORD": run.named("data-platform-mlflow-admin-password-secret").outputs[
            "arn"
        ],
    }
    variables = env(run, "api")
    assert not {"API_SECRET_KEY", "DB_SECRET", "MLFLOW_TRACKING_PASSWORD"} & set(variables)
    assert SECRET_PLACEHOLDER not in json.dumps(variables)
    assert variables["DB_NAME"] == "hokusai_api" and variables["DB_MAINTENANCE_NAME"] == "mlflow"
    assert variables["DB_SSLMODE"] == "require" and variables["BASE_PATH"] == "/api"
    assert variables["DB_HOST"] == env(run)["DB_HOST"]
    # In MLflow's task (dev) over the task's loopback; in its own service at MLflow's URL.
    colocated = run.named("data-platform-mlflow-task") is not None and any(
        c["name"] == "api" for c in json.loads(
            run.named("data-platform-mlflow-task").inputs["containerDefinitions"])
    )  # fmt: skip
    expected = ("http://localhost:5000/mlflow/" if colocated
                else dev_program.outputs["mlflow_endpoint"])  # fmt: skip
    assert variables["MLFLOW_TRACKING_URI"] == expected
    assert variables["DB_NULL_POOL"] == "true"  # dev's Aurora at 0 ACUs may pause


def test_prod_api_keeps_a_connection_pool_on_its_rds_instance(prod_api):
    assert "DB_NULL_POOL" not in env(prod_api, "api")


def test_api_task_runs_as_the_service_user_on_port_8000_without_a_task_role(with_api):
    run = with_api.subtree("data-platform")
    c = container(run, "api")
    assert c["portMappings"] == [{"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"}]
    assert (c["user"], c["readonlyRootFilesystem"]) == ("10001:10001", True)
    assert c["mountPoints"] == [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}]
    assert "taskRoleArn" not in run.named("data-platform-api-task").inputs  # no AWS calls


def test_api_is_routed_at_api_and_checked_at_api_health(with_api):
    run = with_api.subtree("data-platform")
    rule = run.named("data-platform-api-rule").inputs
    assert rule["conditions"] == [{"pathPattern": {"values": ["/api", "/api/*"]}}]
    tg = run.named("data-platform-api-tg").inputs
    assert tg["healthCheck"]["path"] == "/api/health" and (tg["port"], tg["targetType"]) == (
        8000,
        "ip",
    )
    assert with_api.outputs["api_endpoint"] == f"{with_api.outputs['alb_url']}/api"


def test_the_execution_role_pulls_the_api_image_and_reads_its_secrets(with_api):
    run = with_api.subtree("data-platform")
    policy = json.loads(run.named("data-platform-execution-policy").inputs["policy"])
    granted = grants(policy)
    for secret in container(run, "api")["secrets"]:
        assert ("secretsmanager:GetSecretValue", secret["valueFrom"]) in granted
    repository = run.named("data-platform-api-image-repo").outputs["arn"]
    assert ("ecr:BatchGetImage", repository) in granted


def test_api_is_a_database_client_and_reaches_mlflow_through_the_load_balancer(with_api):
    run = with_api.subtree("data-platform")
    api_sg = run.named("data-platform-api-sg").id
    db_clients = {
        r.inputs["referencedSecurityGroupId"]
        for r in run.of_type(INGRESS)
        if r.name.startswith("data-platform-db-from-")
    }
    assert db_clients == {api_sg, run.named("data-platform-mlflow-sg").id}
    egress = {
        (
            r.inputs.get("fromPort"),
            r.inputs.get("cidrIpv4") or r.inputs.get("referencedSecurityGroupId"),
        )
        for r in run.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.inputs["securityGroupId"] == api_sg
    }
    db_sg = run.named("data-platform-db-sg").id
    # PostgreSQL to the database only; HTTPS out (MLflow through dev's HTTPS front door).
    assert egress == {(5432, db_sg), (443, "0.0.0.0/0")}
    from_alb = [r.inputs for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == api_sg]
    assert [(r["fromPort"], r["toPort"]) for r in from_alb] == [(8000, 8000)]


def test_prod_api_needs_no_plain_http_out(prod_api):
    assert not [r for r in prod_api.resources if r.name == "data-platform-api-http-out"]


def test_a_plain_http_load_balancer_lets_the_api_reach_mlflow_on_80(run_stack):
    run = run_stack(
        "dev",
        {"data_platform.api": True, "ingress.front_door": "load_balancer",
         "ingress.allow_http": True, "inference.request_timeout_seconds": 120},
    )  # fmt: skip
    rule = run.named("data-platform-api-http-out").inputs
    assert (rule["fromPort"], rule["cidrIpv4"]) == (80, "0.0.0.0/0")


# --- dev: the API as a second container of MLflow's task (api_placement: with_mlflow) -----


EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def test_dev_runs_mlflow_and_the_api_in_one_task_of_two_essential_containers(dev):
    task = dev.named("data-platform-mlflow-task").inputs
    mlflow, api = containers(dev.named("data-platform-mlflow-task"))
    assert (mlflow["name"], api["name"]) == ("mlflow", "api")
    assert mlflow["essential"] is True and api["essential"] is True
    # One task of 0.5 vCPU and 1 GiB (a pair Fargate accepts) covers both; each reserves what
    # it needs (MLflow 250 MiB + 200 for its one worker), together within the task's memory.
    assert (task["cpu"], task["memory"]) == ("512", "1024")
    assert (mlflow["memoryReservation"], api["memoryReservation"]) == (450, 256)
    assert mlflow["memoryReservation"] + api["memoryReservation"] < int(task["memory"])
    assert env(dev)["MLFLOW_WORKERS"] == "1"
    # Each its own port, user, read-only root and /tmp volume.
    assert [p["containerPort"] for p in mlflow["portMappings"]] == [5000]
    assert [p["containerPort"] for p in api["portMappings"]] == [8000]
    for c in (mlflow, api):
        assert (c["user"], c["readonlyRootFilesystem"], c["privileged"]) == (
            "10001:10001", True, False,
        )  # fmt: skip
    assert task["volumes"] == [{"name": "tmp"}, {"name": "api-tmp"}]
    assert [(m["sourceVolume"], m["containerPath"]) for m in mlflow["mountPoints"]] == [
        ("tmp", "/tmp")
    ]
    assert [(m["sourceVolume"], m["containerPath"]) for m in api["mountPoints"]] == [
        ("api-tmp", "/tmp")
    ]
    # Each its own log group and stream prefix, and its own secrets.
    logs = {c["name"]: c["logConfiguration"]["options"] for c in (mlflow, api)}
    assert logs["mlflow"]["awslogs-group"] == dev.named("data-platform-mlflow-logs").inputs["name"]
    assert logs["api"]["awslogs-group"] == dev.named("data-platform-api-logs").inputs["name"]
    assert (logs["mlflow"]["awslogs-stream-prefix"], logs["api"]["awslogs-stream-prefix"]) == (
        "mlflow", "api",
    )  # fmt: skip
    assert {x["name"] for x in mlflow["secrets"]} == {
        "DB_SECRET", "MLFLOW_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY",
    }  # fmt: skip
    assert {x["name"] for x in api["secrets"]} == {
        "API_SECRET_KEY", "DB_SECRET", "MLFLOW_TRACKING_PASSWORD",
    }  # fmt: skip
    # The task's role is MLflow's (the API calls no AWS API); no task of the API's own.
    assert task["taskRoleArn"] == dev.named("data-platform-mlflow-task-role").outputs["arn"]
    for own in ("api-task", "api-service", "api-sg"):
        assert not [r for r in dev.resources if r.name == f"data-platform-{own}"]


def test_the_one_service_registers_each_container_in_its_target_group(dev):
    service = dev.named("data-platform-mlflow-service")
    mlflow_tg, api_tg = dev.named("data-platform-mlflow-tg"), dev.named("data-platform-api-tg")
    assert service.inputs["loadBalancers"] == [
        {"targetGroupArn": mlflow_tg.outputs["arn"], "containerName": "mlflow",
         "containerPort": 5000},
        {"targetGroupArn": api_tg.outputs["arn"], "containerName": "api", "containerPort": 8000},
    ]  # fmt: skip
    assert (mlflow_tg.inputs["port"], mlflow_tg.inputs["healthCheck"]["path"]) == (
        5000, "/mlflow/health",
    )  # fmt: skip
    assert (api_tg.inputs["port"], api_tg.inputs["healthCheck"]["path"]) == (8000, "/api/health")
    assert api_tg.inputs["name"] == "mlplatform-dev-hokusai-api"  # as it was, own service
    for rule in ("data-platform-mlflow-rule", "data-platform-api-rule"):
        assert dev.named(rule).urn in service.options["depends_on"]
    assert dev.named("data-platform-api-rule").inputs["actions"] == [
        {"type": "forward", "targetGroupArn": api_tg.outputs["arn"]}
    ]


def test_the_api_target_group_and_rule_keep_their_urns_wherever_the_api_runs(dev, with_api):
    own = with_api.subtree("data-platform")
    for name in ("data-platform-api-tg", "data-platform-api-rule", "data-platform-api-logs"):
        assert dev.named(name).urn == own.named(name).urn


def test_the_task_group_admits_the_load_balancer_on_both_ports_only(dev, dev_program):
    sg = dev.named("data-platform-mlflow-sg").id
    alb_sg = dev_program.named("inference-lb-sg").id
    ingress = [r.inputs for r in dev.of_type(INGRESS) if r.inputs["securityGroupId"] == sg]
    found = sorted((r["fromPort"], r["toPort"], r["referencedSecurityGroupId"]) for r in ingress)
    assert found == [(5000, 5000, alb_sg), (8000, 8000, alb_sg)]
    alb_out = {
        r.inputs["fromPort"]
        for r in dev_program.of_type(EGRESS)
        if r.inputs["securityGroupId"] == alb_sg and r.inputs.get("referencedSecurityGroupId") == sg
    }
    assert alb_out == {5000, 8000}
    egress = sorted(
        (r.inputs["fromPort"], r.inputs.get("cidrIpv4") or r.inputs["referencedSecurityGroupId"])
        for r in dev.of_type(EGRESS)
        if r.inputs["securityGroupId"] == sg
    )
    db_sg = dev.named("data-platform-db-sg").id
    # HTTPS once (EC2 refuses a duplicate rule): also the API's way to MLflow through dev's
    # HTTPS front door; and PostgreSQL.
    assert egress == [(443, "0.0.0.0/0"), (5432, db_sg)]


def test_api_alarms_follow_the_service_it_runs_in(dev, prod):
    for run in (dev, prod):
        tg = run.named("data-platform-api-tg").outputs["arnSuffix"]
        for role, metric in (("api-unhealthy-hosts", "UnHealthyHostCount"),
                             ("api-5xx", "HTTPCode_Target_5XX_Count")):  # fmt: skip
            alarm = run.named(f"data-platform-{role}").inputs
            assert (alarm["namespace"], alarm["metricName"]) == ("AWS/ApplicationELB", metric)
            assert alarm["dimensions"]["TargetGroup"] == tg
            assert alarm["alarmActions"] == [run.outputs["alarm_topic_arn"]]
    below = prod.named("data-platform-api-tasks-below-desired").inputs
    assert (
        below["dimensions"]["ServiceName"]
        == prod.named("data-platform-api-service").outputs["name"]
    )
    assert (below["metricName"], below["threshold"]) == ("RunningTaskCount", 1)
    # dev: the API's tasks are MLflow's, which MLflow's alarm counts.
    assert not [r for r in dev.resources if r.name == "data-platform-api-tasks-below-desired"]
    mlflow = dev.named("data-platform-mlflow-tasks-below-desired").inputs
    assert "Hokusai API" in mlflow["alarmDescription"]
    assert (
        mlflow["dimensions"]["ServiceName"]
        == dev.named("data-platform-mlflow-service").outputs["name"]
    )


def test_the_api_key_rotation_redeploys_the_service_running_the_api(dev, prod):
    for run, service in ((dev, "mlflow"), (prod, "api")):
        base = "data-platform-api-secret-key-rotation-fn"
        found = run.named(f"{base}-function").inputs["environment"]["variables"]
        assert (
            found["RESTART_SERVICES"]
            == run.named(f"data-platform-{service}-service").outputs["arn"]
        )


def test_ecs_services_lists_the_one_data_platform_service_once(dev_program, prod_program):
    def data(program):
        return [e["service"] for e in program.outputs["ecs_services"] if "data" in e["cluster"]]

    assert data(dev_program) == ["mlplatform-dev-mlflow"]
    assert data(prod_program) == ["mlplatform-prod-mlflow", "mlplatform-prod-hokusai-api"]


def test_prod_keeps_the_api_in_its_own_service_and_task(prod):
    (mlflow,) = containers(prod.named("data-platform-mlflow-task"))
    (api,) = containers(prod.named("data-platform-api-task"))
    assert "memoryReservation" not in mlflow and "memoryReservation" not in api
    assert env(prod)["MLFLOW_WORKERS"] == "2"
    api_sg = prod.named("data-platform-api-sg").id
    assert prod.named("data-platform-api-service").inputs["networkConfiguration"][
        "securityGroups"
    ] == [api_sg]
    balanced = prod.named("data-platform-mlflow-service").inputs["loadBalancers"]
    assert [b["containerName"] for b in balanced] == ["mlflow"]


# --- alarms and outputs ---------------------------------------------------------------


ALARMS = {
    "mlflow-unhealthy-hosts": ("AWS/ApplicationELB", "UnHealthyHostCount"),
    "mlflow-5xx": ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
    "db-cpu": ("AWS/RDS", "CPUUtilization"),
    "db-free-storage": ("AWS/RDS", "FreeStorageSpace"),
    "db-connections": ("AWS/RDS", "DatabaseConnections"),
}


@pytest.mark.parametrize("role", ALARMS)
def test_alarms_notify_the_topic(instance_stack, role):
    alarm = instance_stack.named(f"data-platform-{role}")
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == ALARMS[role]
    assert alarm.inputs["alarmActions"] == [instance_stack.outputs["alarm_topic_arn"]]
    if role.startswith("db-"):
        assert alarm.inputs["dimensions"] == {
            "DBInstanceIdentifier": instance_stack.one(DB).outputs["identifier"]
        }


def test_the_tasks_alarm_counts_tasks_with_container_insights_else_sees_that_none_runs(dev, prod):
    def insights(run):
        return [s["value"] for s in run.named("data-platform-cluster").inputs["settings"]]

    assert (insights(prod), insights(dev)) == (["enabled"], ["disabled"])
    counted = prod.named("data-platform-mlflow-tasks-below-desired").inputs
    assert (counted["namespace"], counted["metricName"], counted["statistic"]) == (
        "ECS/ContainerInsights", "RunningTaskCount", "Minimum")  # fmt: skip
    assert counted["threshold"] == 2  # prod's mlflow_desired_count
    seen = dev.named("data-platform-mlflow-tasks-below-desired").inputs
    # Dev: no Container Insights; AWS/ECS's free CPUUtilization has no datapoint with no task.
    assert (seen["namespace"], seen["metricName"], seen["statistic"]) == (
        "AWS/ECS", "CPUUtilization", "SampleCount")  # fmt: skip
    assert (seen["threshold"], seen["treatMissingData"]) == (1, "breaching")
    assert set(seen["dimensions"]) == set(counted["dimensions"]) == {"ClusterName", "ServiceName"}


def test_aurora_alarms_watch_the_cluster(dev):
    cluster = dev.one(CLUSTER).outputs["clusterIdentifier"]
    db_alarms = {a.name: a.inputs for a in dev.of_type(ALARM) if "-db-" in a.name}
    assert set(db_alarms) == {"data-platform-db-cpu", "data-platform-db-connections"}
    for alarm in db_alarms.values():
        assert alarm["dimensions"] == {"DBClusterIdentifier": cluster}


def test_tasks_below_desired_uses_the_desired_count(dev, prod):
    assert dev.named("data-platform-mlflow-tasks-below-desired").inputs["threshold"] == 1
    assert prod.named("data-platform-mlflow-tasks-below-desired").inputs["threshold"] == 2


@pytest.mark.parametrize(
    "output", ["mlflow_endpoint", "mlflow_artifacts_bucket", "pipeline_data_bucket", "db_endpoint"]
)
def test_outputs(each_stack, output):
    value = each_stack.outputs[output]
    assert isinstance(value, str) and value
    assert output not in each_stack.secret_outputs
    assert each_stack.outputs["db_endpoint"].endswith(".rds.amazonaws.com:5432")


# --- rotation ------------------------------------------------------------------------------


def test_the_admin_password_rotates_through_the_mlflow_endpoint(each_stack):
    function = each_stack.named("data-platform-mlflow-admin-password-rotation-fn-function")
    found = function.inputs["environment"]["variables"]
    assert found["ROTATION_KIND"] == "mlflow-admin"
    # the endpoint the stack exports: where MLflow's REST API (users/update-password) is
    assert found["MLFLOW_URL"] == each_stack.outputs["mlflow_endpoint"]
    policy = json.loads(
        each_stack.named("data-platform-mlflow-admin-password-rotation-fn-policy").inputs["policy"]
    )
    assert "ecs:UpdateService" not in json.dumps(policy)  # nothing to redeploy


def test_the_flask_key_rotates_and_only_mlflow_is_redeployed(each_stack):
    base = "data-platform-mlflow-flask-secret-key-rotation-fn"
    found = each_stack.named(f"{base}-function").inputs["environment"]["variables"]
    mlflow = each_stack.named("data-platform-mlflow-service").outputs["arn"]
    assert (found["ROTATION_KIND"], found["RESTART_SERVICES"]) == ("random", mlflow)
    policy = json.loads(each_stack.named(f"{base}-policy").inputs["policy"])
    redeploy = next(s for s in policy["Statement"] if s["Sid"] == "RedeployTheConsumers")
    assert (redeploy["Action"], redeploy["Resource"]) == ("ecs:UpdateService", mlflow)


def dashboard_metrics(run) -> dict[str, list]:
    board = run.one("aws:cloudwatch/dashboard:Dashboard")
    assert board.inputs["dashboardName"] == f"mlplatform-{run.stack}-data-platform"
    widgets = json.loads(board.inputs["dashboardBody"])["widgets"]
    return {w["properties"]["title"]: w["properties"]["metrics"] for w in widgets}


def test_prod_dashboard_graphs_mlflow_and_the_rds_instance_and_dev_has_none(dev, prod):
    metrics = dashboard_metrics(prod)
    tg = prod.named("data-platform-mlflow-tg").outputs["arnSuffix"]
    lb = prod.one(LB).outputs["arnSuffix"]
    db = prod.one(DB).inputs["identifier"]
    alb = ["TargetGroup", tg, "LoadBalancer", lb]
    assert metrics["MLflow requests"] == [["AWS/ApplicationELB", "RequestCount", *alb]]
    assert metrics["MLflow target 5xx"] == [
        ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", *alb]
    ]
    for title, metric in [("Database CPU %", "CPUUtilization"),
                          ("Database connections", "DatabaseConnections"),
                          ("Free storage (bytes)", "FreeStorageSpace")]:  # fmt: skip
        assert metrics[title] == [["AWS/RDS", metric, "DBInstanceIdentifier", db]]
    assert "Aurora capacity (ACUs)" not in metrics
    assert not dev.of_type("aws:cloudwatch/dashboard:Dashboard")


def test_an_aurora_dashboard_graphs_the_cluster_capacity(run_program_module):
    run = run_program_module("dev", {"data_platform.dashboard": True}).subtree("data-platform")
    metrics = dashboard_metrics(run)
    cluster = run.one(CLUSTER).inputs["clusterIdentifier"]
    for title, metric in [("Database CPU %", "CPUUtilization"),
                          ("Aurora capacity (ACUs)", "ServerlessDatabaseCapacity"),
                          ("Aurora ACU use %", "ACUUtilization")]:  # fmt: skip
        assert metrics[title] == [["AWS/RDS", metric, "DBClusterIdentifier", cluster]]
    assert "Free storage (bytes)" not in metrics
