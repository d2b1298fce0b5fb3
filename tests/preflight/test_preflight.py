"""The preflight over what dev and prod register, and each rule family against the
values AWS refuses: the four defects of issue 12 among them, re-introduced."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import pytest

from offline import __main__ as plan
from offline.mocks import ACCOUNT_ID
from policy import baseline
from preflight import Context, Resource, check, iam, resources_of
from preflight.documents import as_list, documents

CONTEXT = Context(region="us-east-1", account=ACCOUNT_ID)


def findings(resources: list[Resource]) -> list:
    return check.run(resources, CONTEXT)


def rules_of(found) -> set[str]:
    return {f.rule for f in found}


def replaced(run, name: str, **props) -> list[Resource]:
    """The run's resources with ``props`` changed on the resource ``name``."""
    out = []
    for r in resources_of(run.resources):
        if r.name == name:
            r = dataclasses.replace(r, props={**r.props, **props})
        out.append(r)
    return out


def one(type_: str, logical: str = "r", /, **props) -> Resource:
    """A resource of ``type_`` named ``logical`` with input ``props``."""
    urn = f"urn:pulumi:test::mlplatform::{type_}::{logical}"
    return Resource(type=type_, name=logical, urn=urn, props=props)


# --- the real stacks ------------------------------------------------------------------------


def test_dev_has_no_finding(dev_program):
    assert [f.line() for f in plan.preflight_findings(dev_program)] == []


def test_prod_has_only_the_example_zone_and_host_warnings(prod_program):
    found = plan.preflight_findings(prod_program)
    assert {(f.severity, f.rule) for f in found} == {("warning", "placeholders/example-value")}
    keys = sorted(f.message.split("set ")[1].split(" before")[0] for f in found)
    assert keys == [f"mlplatform:dns.{k}" for k in ("cdn_host", "inference_host", "mlflow_host",
                                                      "zone_id")]  # fmt: skip
    assert {f.value for f in found} >= {"Z0000000000EXAMPLE0000", "mlflow.example.com"}


def test_a_brought_placeholder_certificate_is_still_named(run_stack):
    zero = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    run = run_stack("prod", {"ingress.certificate_arn": zero, "dns.inference_host": "",
                             "dns.mlflow_host": "", "data_platform.allowed_hosts": [],
                             "data_platform.sso_host": "mlflow.corp.test"})  # fmt: skip
    messages = [f.message for f in plan.preflight_findings(run)]
    assert sum("mlplatform:ingress.certificate_arn" in m for m in messages) == 1


def test_the_preflight_has_something_to_judge_in_every_family(prod_program):
    from preflight import api_model, documented, naming

    resources = resources_of(prod_program.resources)
    docs = list(documents(resources))
    assert {d.kind for d in docs} == {"identity", "resource", "trust", "key"}
    actions = [a for d in docs for s in d.statements() for a in as_list(s.get("Action"))]
    assert len(actions) > 100
    assert len({r.type for r in resources} & set(api_model.FIELDS)) >= 25
    named = [r for r in resources if any(t == r.type for t, _ in naming.NAME_RULES)]
    assert len(named) > 120
    assert sum(r.type in documented.EC2_DESCRIPTIONS for r in resources) > 30
    assert sum(r.type in documented.LOG_FORMATS for r in resources) == 2
    assert prod_program.of_type("aws:kms/key:Key") and prod_program.of_type(
        "aws:lb/listener:Listener"
    )


# --- the four defects of the issue, re-introduced -------------------------------------------


def test_a_security_group_rule_description_with_an_apostrophe_is_refused(dev_program):
    resources = replaced(
        dev_program, "inference-alb-to-gpu", description="To the GPU instances' bridge-mode tasks"
    )
    (finding,) = [f for f in findings(resources) if f.rule == "documented/ec2-description"]
    assert finding.resource == "inference-alb-to-gpu" and "'" in finding.message


def test_a_security_group_description_with_an_apostrophe_is_refused(dev_program):
    resources = replaced(
        dev_program,
        "agent-world-vpc-link-sg",
        description="out to the shared load balancer's listener only",
    )
    assert "documented/ec2-description" in rules_of(findings(resources))


def test_the_websocket_stage_with_the_rest_log_format_is_refused(prod_program):
    from components.stacks.agent_world.apis import REST_ACCESS_LOG_FORMAT

    resources = replaced(
        prod_program,
        "agent-world-ws-stage",
        accessLogSettings={
            "destinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:ws",
            "format": json.dumps(REST_ACCESS_LOG_FORMAT),
        },
    )
    bad = {f.value for f in findings(resources) if f.rule == "documented/log-format-variable"}
    assert bad == {"$context.resourcePath", "$context.responseLatency", "$context.httpMethod"}


def test_the_http_api_stage_is_held_to_http_api_variables(dev_program):
    # given dev's front door stage, whose API is an HTTP API, logging other variables
    resources = replaced(
        dev_program,
        "inference-lb-front-door-stage",
        accessLogSettings={
            "destinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:door",
            # a WebSocket variable, a REST one and two of HTTP APIs
            "format": json.dumps(
                {
                    "a": "$context.connectionId",
                    "b": "$context.resourcePath",
                    "c": "$context.routeKey",
                    "d": "$context.integrationErrorMessage",
                }
            ),
        },
    )
    bad = {f.value for f in findings(resources) if f.rule == "documented/log-format-variable"}
    assert bad == {"$context.connectionId", "$context.resourcePath"}


def test_the_plan_fails_when_the_websocket_stage_reuses_the_rest_format(monkeypatch, capsys):
    from components.stacks.agent_world import apis

    monkeypatch.setattr(apis, "WEBSOCKET_ACCESS_LOG_FORMAT", apis.REST_ACCESS_LOG_FORMAT)
    assert plan.main(["dev", "--out", "/tmp/preflight-test-build"]) == 1
    assert "$context.resourcePath" in capsys.readouterr().out


OLD_GPU_STATEMENT = {
    "Sid": "RunTasksOfThisCluster",
    "Effect": "Allow",
    "Action": [
        "ecs:Poll",
        "ecs:StartTelemetrySession",
        "ecs:SubmitAttachmentStateChanges",
        "ecs:SubmitContainerStateChange",
        "ecs:SubmitTaskStateChange",
        "ecs:UpdateContainerInstancesState",
    ],
    "Resource": "arn:aws:ecs:us-east-1:123456789012:container-instance/mlplatform-dev-inference/*",
    "Condition": {
        "ArnEquals": {
            "ecs:cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/mlplatform-dev-inference"
        }
    },
}


def test_the_gpu_agent_policy_on_instance_arns_with_a_cluster_condition_is_refused(dev_program):
    policy = {"Version": "2012-10-17", "Statement": [OLD_GPU_STATEMENT]}
    resources = replaced(dev_program, "inference-gpu-instance-policy", policy=json.dumps(policy))
    found = [f for f in findings(resources) if f.resource == "inference-gpu-instance-policy"]
    by_rule = {}
    for f in found:
        by_rule.setdefault(f.rule, set()).add(f.message.split()[0])
    submits = {
        "ecs:SubmitAttachmentStateChanges",
        "ecs:SubmitContainerStateChange",
        "ecs:SubmitTaskStateChange",
    }
    assert by_rule == {"iam/resource-type": submits, "iam/condition-key": submits}


def test_the_gpu_agent_reports_task_state_on_its_cluster(dev_program):
    policy = json.loads(dev_program.named("inference-gpu-instance-policy").inputs["policy"])
    (report,) = [s for s in policy["Statement"] if "ecs:SubmitTaskStateChange" in s["Action"]]
    assert report["Resource"].endswith(":cluster/mlplatform-dev-inference")
    assert "Condition" not in report


# --- trust policies and service principals --------------------------------------------------


@pytest.mark.parametrize(
    "role", ["inference-gpu-instance-role", "agent-world-apigateway-logs-role"]
)
def test_a_source_account_guard_for_a_service_that_sends_none_is_refused(prod_program, role):
    trust = json.loads(prod_program.named(role).inputs["assumeRolePolicy"])
    assert "Condition" not in trust["Statement"][0]  # as registered: assumable
    trust["Statement"][0]["Condition"] = {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    resources = replaced(prod_program, role, assumeRolePolicy=json.dumps(trust))
    assert rules_of(f for f in findings(resources) if f.resource == role) == {
        "principals/source-key"
    }


def test_ecs_tasks_trust_keeps_its_documented_guards(prod_program):
    trust = json.loads(prod_program.named("training-task-role").inputs["assumeRolePolicy"])
    assert set(trust["Statement"][0]["Condition"]) == {"StringEquals", "ArnLike"}


def test_an_undocumented_service_principal_with_a_source_key_is_refused():
    trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
            }
        ]
    }
    found = findings([one("aws:iam/role:Role", assumeRolePolicy=json.dumps(trust))])
    assert "principals/undocumented" in rules_of(found)


def lambda_pull(condition: dict) -> Resource:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        "Condition": condition,
    }
    return one("aws:ecr/repositoryPolicy:RepositoryPolicy",
               policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))  # fmt: skip


def test_lambdas_image_pull_guarded_by_its_documented_source_arn_passes():
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:f"
    # An ECR repository policy names no Resource: the repository is its resource.
    assert findings([lambda_pull({"StringLike": {"aws:SourceArn": [arn, f"{arn}:*"]}})]) == []


def test_lambdas_image_pull_guarded_by_source_account_is_refused():
    # Lambda is documented to send aws:SourceArn for the pull, not aws:SourceAccount.
    found = findings([lambda_pull({"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}})])
    assert rules_of(found) == {"principals/source-key"}


def test_a_bucket_policy_statement_without_resource_is_still_refused():
    statement = {"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
                 "Action": "s3:PutObject"}  # fmt: skip
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    found = findings([one("aws:s3/bucketPolicy:BucketPolicy", policy=policy, bucket="b")])
    assert any("needs Resource or NotResource" in str(f) for f in found), found


# --- IAM statements -------------------------------------------------------------------------


def policy_with(statement: dict) -> list[Resource]:
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]}
    return [one("aws:iam/rolePolicy:RolePolicy", policy=json.dumps(doc), name="p")]


def test_an_action_that_does_not_exist_is_refused():
    found = findings(policy_with({"Action": ["s3:GetObjects"], "Resource": "*"}))
    assert [f.rule for f in found] == ["iam/unknown-action"]


def test_an_action_without_resource_types_on_a_specific_arn_is_refused():
    found = findings(
        policy_with(
            {
                "Action": "ecr:GetAuthorizationToken",
                "Resource": "arn:aws:ecr:us-east-1:123456789012:repository/x",
            }
        )
    )
    assert [f.rule for f in found] == ["iam/resource-type"]


def test_an_object_action_on_a_bucket_arn_is_refused_and_on_its_objects_accepted():
    bucket = "arn:aws:s3:::data"
    assert rules_of(findings(policy_with({"Action": "s3:GetObject", "Resource": bucket}))) == {
        "iam/resource-type"
    }
    assert findings(policy_with({"Action": "s3:GetObject", "Resource": f"{bucket}/*"})) == []


def test_a_condition_key_the_action_does_not_carry_is_refused_unless_negated():
    statement = {"Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:1:q"}
    refused = findings(
        policy_with({**statement, "Condition": {"StringEquals": {"s3:prefix": "x"}}})
    )
    assert [(f.rule, f.severity) for f in refused] == [("iam/condition-key", "error")]
    negated = findings(
        policy_with({**statement, "Condition": {"StringNotEquals": {"s3:prefix": "x"}}})
    )
    assert [(f.rule, f.severity) for f in negated] == [("iam/condition-key", "warning")]


@pytest.mark.parametrize(
    ("statement_resource", "arn_format", "meet"),
    [
        (
            "arn:aws:logs:us-east-1:1:log-group:/ecs/x:*",
            "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}",
            True,
        ),
        (
            "arn:aws:ecs:us-east-1:1:container-instance/c/*",
            "arn:${Partition}:ecs:${Region}:${Account}:cluster/${ClusterName}",
            False,
        ),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v1:0",
            "arn:${Partition}:bedrock:${Region}::foundation-model/${ResourceId}",
            True,
        ),
        ("*", "arn:${Partition}:s3:::${BucketName}", True),
        ("arn:aws:s3:::b", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", False),
        ("arn:aws:s3:::b/*", "arn:${Partition}:s3:::${BucketName}", False),
        (
            "arn:aws:dynamodb:us-east-1:1:table/t/index/i",
            "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}",
            False,
        ),
        (
            "arn:aws:logs:us-east-1:1:log-group:",
            "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}",
            False,
        ),
        (
            "arn:aws:ecr:us-east-1:1:repository/team/app",
            "arn:${Partition}:ecr:${Region}:${Account}:repository/${RepositoryName}",
            True,
        ),
    ],
)
def test_statement_resources_meet_arn_formats(statement_resource, arn_format, meet):
    assert iam.patterns_meet(statement_resource, arn_format) is meet


def test_an_s3_tag_condition_key_is_one_the_object_actions_carry():
    found = findings(
        policy_with(
            {
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
                "Condition": {"StringEquals": {"s3:ExistingObjectTag/Project": "ml"}},
            }
        )
    )
    assert found == []


@pytest.mark.parametrize(
    ("effect", "operator", "value", "severity", "says"),
    [
        ("Allow", "ForAllValues:StringEquals", "x", "warning", "always met"),
        ("Allow", "ForAnyValue:StringNotEquals", "x", "error", "never applies"),
        ("Allow", "Null", "false", "error", "never applies"),
        ("Allow", "Null", "true", "warning", "always met"),
        ("Allow", "StringEqualsIfExists", "x", "warning", "always met"),
        ("Deny", "StringNotEquals", "x", "error", "applies to every"),
        ("Deny", "StringEquals", "x", "error", "Deny never applies"),
    ],
)
def test_a_condition_on_a_key_the_action_lacks_is_judged_as_iam_evaluates_it(
    effect, operator, value, severity, says
):
    statement = {
        "Effect": effect,
        "Action": "sqs:SendMessage",
        "Resource": "arn:aws:sqs:us-east-1:1:q",
        "Condition": {operator: {"s3:prefix": value}},
    }
    doc = {"Statement": [statement]}
    (found,) = findings([one("aws:iam/rolePolicy:RolePolicy", "p", policy=json.dumps(doc))])
    assert (found.rule, found.severity) == ("iam/condition-key", severity)
    assert says in found.message


@pytest.mark.parametrize(
    ("type_", "prop", "statement", "says"),
    [
        (
            "aws:iam/rolePolicy:RolePolicy",
            "policy",
            {"Effect": "Allow", "Action": "s3:GetObject"},
            "needs Resource",
        ),
        (
            "aws:iam/rolePolicy:RolePolicy",
            "policy",
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Principal": "*"},
            "names no Principal",
        ),
        (
            "aws:iam/rolePolicy:RolePolicy",
            "policy",
            {"Effect": "Permit", "Action": "s3:GetObject", "Resource": "*"},
            "Allow or Deny",
        ),
        (
            "aws:iam/rolePolicy:RolePolicy",
            "policy",
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"StringEqualz": {"aws:SourceIp": "x"}},
            },
            "no condition operator",
        ),
        (
            "aws:iam/rolePolicy:RolePolicy",
            "policy",
            {"Effect": "Allow", "Action": [7], "Resource": "*"},
            "is a string",
        ),
        (
            "aws:iam/role:Role",
            "assumeRolePolicy",
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": "*",
                "Principal": {"Service": "ec2.amazonaws.com"},
            },
            "names no Resource",
        ),
        (
            "aws:s3/bucketPolicy:BucketPolicy",
            "policy",
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
            "needs a Principal",
        ),
    ],
)
def test_a_malformed_statement_is_refused(type_, prop, statement, says):
    found = findings([one(type_, "r", **{prop: json.dumps({"Statement": [statement]})})])
    grammar = [f for f in found if f.rule == "iam/grammar"]
    assert grammar and says in grammar[0].message


def test_a_trust_condition_key_sts_does_not_carry_is_refused():
    trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Condition": {"StringEquals": {"sts:bogus": "x"}},
            }
        ]
    }
    found = findings([one("aws:iam/role:Role", "r", assumeRolePolicy=json.dumps(trust))])
    assert [f.rule for f in found] == ["iam/condition-key"]


def test_a_wildcard_action_none_of_whose_actions_takes_the_resource_is_refused():
    found = findings(policy_with({"Action": "s3:Get*", "Resource": "arn:aws:sqs:us-east-1:1:q"}))
    assert [f.rule for f in found] == ["iam/resource-type"]


# --- KMS key policies -----------------------------------------------------------------------


def test_a_key_policy_without_the_account_locks_it_out(prod_program):
    key = prod_program.named("data-platform-db-key")
    policy = json.loads(key.inputs["policy"])
    policy["Statement"] = [
        s for s in policy["Statement"] if s.get("Sid") != "AccountAdministersTheKeyThroughIam"
    ]
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:role/x"},
        }
    )
    resources = replaced(prod_program, "data-platform-db-key", policy=json.dumps(policy))
    found = {f.rule for f in findings(resources) if f.resource == "data-platform-db-key"}
    # Locked out, and the database's use of the key through IAM is gone with it.
    assert found == {"kms/lockout", "kms/service-use"}


def test_a_log_group_key_must_let_cloudwatch_logs_use_it(prod_program):
    key = prod_program.named("audit-key")
    policy = json.loads(key.inputs["policy"])
    policy["Statement"] = [
        s for s in policy["Statement"] if s.get("Sid") != "CloudWatchLogsOfThisAccountAndRegion"
    ]
    resources = replaced(prod_program, "audit-key", policy=json.dumps(policy))
    refused = [f for f in findings(resources) if f.rule == "kms/service-use"]
    assert refused and all("logs.us-east-1.amazonaws.com" in f.message for f in refused)


def test_an_alarm_topic_key_must_let_cloudwatch_use_it(prod_program):
    key = prod_program.named("audit-key")
    policy = json.loads(key.inputs["policy"])
    policy["Statement"] = [
        s for s in policy["Statement"] if s.get("Sid") != "CloudWatchAlarmsPublish"
    ]
    resources = replaced(prod_program, "audit-key", policy=json.dumps(policy))
    (refused,) = [f for f in findings(resources) if f.rule == "kms/service-use"]
    assert "cloudwatch.amazonaws.com" in refused.message


@pytest.mark.parametrize(
    ("sid", "service"),
    [("BudgetsPublish", "budgets.amazonaws.com"),
     ("CostAnomalyDetectionPublish", "costalerts.amazonaws.com")],
)  # fmt: skip
def test_an_alarm_topic_key_must_let_budgets_and_anomaly_detection_use_it(
    prod_program, sid, service
):
    # The budget and the anomaly subscription notify the topic the key encrypts.
    key = prod_program.named("audit-key")
    policy = json.loads(key.inputs["policy"])
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != sid]
    resources = replaced(prod_program, "audit-key", policy=json.dumps(policy))
    (refused,) = [f for f in findings(resources) if f.rule == "kms/service-use"]
    assert service in refused.message


def test_a_budgets_key_statement_guarded_by_another_account_is_refused(prod_program):
    # The guards are evaluated with what Budgets sends (its account, a budget ARN).
    key = prod_program.named("audit-key")
    policy = json.loads(key.inputs["policy"])
    (budgets,) = [s for s in policy["Statement"] if s.get("Sid") == "BudgetsPublish"]
    budgets["Condition"]["StringEquals"]["aws:SourceAccount"] = "999999999999"
    resources = replaced(prod_program, "audit-key", policy=json.dumps(policy))
    (refused,) = [f for f in findings(resources) if f.rule == "kms/service-use"]
    assert "budgets.amazonaws.com" in refused.message


def test_budgets_and_anomaly_guards_are_on_record_and_pass(prod_program):
    assert not [
        f
        for f in findings(resources_of(prod_program.resources))
        if f.rule.startswith(("principals/", "kms/"))
    ]


def key_with(statements: list[dict], name: str = "k") -> Resource:
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/{name}"
    key = one("aws:kms/key:Key", name, policy=json.dumps({"Statement": statements}))
    return dataclasses.replace(key, outputs={"arn": arn, "keyId": name})


ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"


@pytest.mark.parametrize(
    ("statements", "locked"),
    [
        (
            [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ACCOUNT_ID},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
            False,
        ),
        (
            [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": "kms:*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT_ID}},
                }
            ],
            False,
        ),
        (
            [
                {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:role/a"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
            ],
            True,
        ),
        (
            [
                {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
                {"Effect": "Deny", "Principal": "*", "NotAction": "kms:Decrypt", "Resource": "*"},
            ],
            True,
        ),
        (
            [
                {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "kms:*",
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:PrincipalArn": ROOT}},
                },
            ],
            False,
        ),
    ],
)
def test_key_policy_lock_out_is_judged_as_kms_evaluates_the_policy(statements, locked):
    found = findings([key_with(statements)])
    assert ("kms/lockout" in rules_of(found)) is locked


def test_a_key_referenced_through_its_alias_is_checked():
    key = key_with(
        [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:role/a"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
    )
    alias = one("aws:kms/alias:Alias", "a", name="alias/data", targetKeyId="k")
    queue = one("aws:sqs/queue:Queue", "q", kmsMasterKeyId="alias/data")
    found = [f for f in findings([key, alias, queue]) if f.rule == "kms/service-use"]
    assert [f.resource for f in found] == ["k"] and "q is encrypted" in found[0].message


def test_a_topic_key_must_let_every_service_its_policy_lets_publish():
    key = key_with(
        [{"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}]
    )
    topic_arn = f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:t"
    topic = dataclasses.replace(
        one("aws:sns/topic:Topic", "t", kmsMasterKeyId="k"), outputs={"arn": topic_arn}
    )
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Principal": {"Service": "events.amazonaws.com"},
            }
        ]
    }
    topic_policy = one(
        "aws:sns/topicPolicy:TopicPolicy", "tp", arn=topic_arn, policy=json.dumps(policy)
    )
    (found,) = [f for f in findings([key, topic, topic_policy]) if f.rule == "kms/service-use"]
    assert "events.amazonaws.com" in found.message


def test_an_ebs_key_must_name_the_auto_scaling_service_linked_role():
    key = key_with(
        [{"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}]
    )
    template = one(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "lt",
        blockDeviceMappings=[
            {
                "deviceName": "/dev/xvda",
                "ebs": {"encrypted": "true", "kmsKeyId": key.outputs["arn"]},
            }
        ],
    )
    (found,) = [f for f in findings([key, template]) if f.rule == "kms/service-use"]
    assert "service-linked role" in found.message


# --- API models, names, documented rules, regions, placeholders -------------------------------


def test_a_sign_in_rule_is_held_to_the_elb_model():
    sign_in = {"type": "authenticate-saml", "order": 0,
               "authenticateCognito": {"onUnauthenticatedRequest": "redirect"}}  # fmt: skip
    found = findings(
        [one("aws:lb/listenerRule:ListenerRule", "rule", priority=1, actions=[sign_in])]
    )
    assert {(f.rule, f.property) for f in found} == {
        ("api-model/enum", "actions.0.type"),
        ("api-model/shape", "actions.0.order"),
        ("api-model/enum", "actions.0.authenticateCognito.onUnauthenticatedRequest"),
    }


def test_cognito_values_are_held_to_the_cognito_idp_model():
    found = findings([
        one("aws:cognito/userPool:UserPool", "pool", name="pool", mfaConfiguration="REQUIRED",
            userPoolTier="FREE", passwordPolicy={"minimumLength": 3}),
        one("aws:cognito/userPoolDomain:UserPoolDomain", "domain", domain="Bad_Prefix"),
        one("aws:cognito/userPoolClient:UserPoolClient", "client", name="client",
            allowedOauthFlows=["code", "password"], allowedOauthScopes=['open"id']),
    ])  # fmt: skip
    assert {(f.resource, f.property) for f in found} == {
        ("pool", "mfaConfiguration"),
        ("pool", "userPoolTier"),
        ("pool", "passwordPolicy.minimumLength"),
        ("domain", "domain"),
        ("client", "allowedOauthFlows.1"),
        ("client", "allowedOauthScopes.0"),
    }


def test_a_host_name_reserved_for_examples_is_a_placeholder():
    callback = ["https://mlflow.example.com/oauth2/idpresponse"]
    client = one("aws:cognito/userPoolClient:UserPoolClient", "client", callbackUrls=callback)
    kept = one("aws:cognito/userPoolClient:UserPoolClient", "real",
               callbackUrls=["https://mlflow.myexample.com/oauth2/idpresponse"])  # fmt: skip
    (found,) = findings([client, kept])
    assert (found.severity, found.resource, found.value) == (
        "warning",
        "client",
        "mlflow.example.com",
    )
    assert "mlplatform:data_platform.sso_host" in found.message


def test_an_enum_value_the_api_does_not_know_is_refused():
    found = findings([one("aws:lb/targetGroup:TargetGroup", "tg", protocol="HTTPS2", port=70000)])
    assert {(f.rule, f.property) for f in found} == {
        ("api-model/enum", "protocol"),
        ("api-model/shape", "port"),
    }


@pytest.mark.parametrize(
    ("platform", "refused"),
    [
        ({"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}, set()),
        ({"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"}, set()),
        ({"operatingSystemFamily": "LINUX", "cpuArchitecture": "AARCH64"},
         {"runtimePlatform.cpuArchitecture"}),
        ({"operatingSystemFamily": "linux", "cpuArchitecture": "arm64"},
         {"runtimePlatform.cpuArchitecture", "runtimePlatform.operatingSystemFamily"}),
    ],
)  # fmt: skip
def test_a_task_definitions_runtime_platform_is_held_to_botocores_enums(dev_program, platform,
                                                                        refused):  # fmt: skip
    # botocore's ECS model: CPUArchitecture X86_64 | ARM64, OSFamily LINUX | WINDOWS_SERVER_*.
    resources = replaced(dev_program, "data-platform-mlflow-task", runtimePlatform=platform)
    found = [f for f in findings(resources) if f.resource == "data-platform-mlflow-task"]
    assert {f.property for f in found if f.rule == "api-model/enum"} == refused


def test_container_definitions_are_walked_against_their_shape():
    containers = [
        {
            "name": "app",
            "image": "i",
            "essential": True,
            "portMappings": [{"containerPort": 80, "protocol": "tcpx"}],
            "logConfiguration": {"logDriver": "awslog"},
        }
    ]
    found = findings(
        [
            one(
                "aws:ecs/taskDefinition:TaskDefinition",
                family="f",
                containerDefinitions=json.dumps(containers),
            )
        ]
    )
    assert {f.property for f in found} == {
        "containerDefinitions.0.portMappings.0.protocol",
        "containerDefinitions.0.logConfiguration.logDriver",
    }


def test_a_target_group_name_over_32_characters_is_refused():
    found = findings(
        [
            one("aws:lb/targetGroup:TargetGroup", "tg", port=80, protocol="HTTP"),
            one(
                "aws:lb/targetGroup:TargetGroup",
                "tg2",
                **{"name": "mlplatform-staging-vision-validator"},
            ),
        ]
    )
    assert [(f.rule, f.resource) for f in found] == [("names/limit", "tg2")]


def test_an_auto_name_over_the_limit_is_refused():
    found = findings([one("aws:lb/targetGroup:TargetGroup", "a-very-long-logical-name-xx")])
    assert [f.rule for f in found] == ["names/limit"]
    assert "auto-naming" in found[0].message


def test_two_queues_of_one_name_collide():
    found = findings(
        [
            one("aws:sqs/queue:Queue", "a", **{"name": "q"}),
            one("aws:sqs/queue:Queue", "b", **{"name": "q"}),
        ]
    )
    assert [(f.rule, f.resource) for f in found] == [("names/unique", "b")]


def test_a_tag_with_a_character_some_services_refuse_is_refused():
    found = findings([one("aws:sqs/queue:Queue", "q", tags={"team": "ml#platform"})])
    assert [f.rule for f in found] == ["names/tag"]


def test_an_unknown_flow_log_field_is_refused():
    found = findings([one("aws:ec2/flowLog:FlowLog", logFormat="${srcaddr} ${dst-address}")])
    assert [(f.rule, f.value) for f in found] == [("documented/flow-log-field", "${dst-address}")]


def test_a_load_balancer_log_bucket_with_a_kms_key_is_refused():
    lb = one(
        "aws:lb/loadBalancer:LoadBalancer", "lb", accessLogs={"bucket": "logs", "enabled": True}
    )
    bucket = dataclasses.replace(one("aws:s3/bucket:Bucket", "b"), outputs={"bucket": "logs"})
    sse = one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "sse",
        bucket="logs",
        rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}],
    )
    assert "documented/alb-log-bucket-sse" in rules_of(findings([lb, bucket, sse]))


def test_a_region_that_does_not_exist_is_refused():
    found = check.run([], Context(region="us-east-7"))
    assert [f.rule for f in found] == ["regions/unknown"]


def test_a_service_missing_from_a_region_is_refused(monkeypatch):
    from preflight import regions

    monkeypatch.setattr(regions, "service_regions", lambda prefix: {"us-west-2"})
    found = check.run([one("aws:sqs/queue:Queue", "q")], CONTEXT)
    assert [f.rule for f in found] == ["regions/service"]


# --- the policy pack carries the same rules -------------------------------------------------


def pack_args(run, config=None, unknown: tuple[str, str] | None = None):
    """StackValidationArgs as pulumi_policy builds them in a preview: props behind its
    unknown-checking proxies; ``unknown`` = (resource name, property) a preview does not
    know yet."""
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

    resources = []
    for r in run.resources:
        props = dict(r.inputs)
        if unknown and r.name == unknown[0]:
            props[unknown[1]] = UNKNOWN_STRING_VALUE
        resources.append(
            SimpleNamespace(
                resource_type=r.type,
                props=unknown_checking_proxy(props),
                urn=r.urn,
                dependencies=[],
                provider=SimpleNamespace(props=unknown_checking_proxy({"region": "us-east-1"})),
            )
        )
    return SimpleNamespace(resources=resources, get_config=lambda: config or {})


def reported(policy, args) -> list[str]:
    out: list[str] = []
    policy.validate(args, lambda message, urn: out.append(message))
    return out


def policy(name: str):
    (found,) = [p for p in baseline.POLICIES if p.name == name]
    return found


def test_the_pack_reports_the_placeholders_as_advisory_and_no_error(prod_program):
    assert reported(policy("aws-preflight"), pack_args(prod_program)) == []
    warnings = reported(policy("aws-preflight-warnings"), pack_args(prod_program))
    assert len(warnings) == 4 and any("dns.zone_id" in w for w in warnings)


def test_the_pack_refuses_what_the_preflight_refuses(dev_program):
    run = dataclasses.replace(
        dev_program,
        resources=[
            dataclasses.replace(r, inputs={**r.inputs, "description": "it's"})
            if r.name == "inference-alb-to-gpu"
            else r
            for r in dev_program.resources
        ],
    )
    (error,) = reported(policy("aws-preflight"), pack_args(run))
    assert "inference-alb-to-gpu" in error and "ec2-description" in error


def test_a_bucket_key_without_iam_delegation_is_refused():
    key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/k"
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "kms:*",
                "Resource": "*",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:role/admin"},
            }
        ]
    }
    key = dataclasses.replace(
        one("aws:kms/key:Key", "k", policy=json.dumps(policy)), outputs={"arn": key_arn}
    )
    sse = one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "sse",
        bucket="b",
        rules=[
            {
                "applyServerSideEncryptionByDefault": {
                    "sseAlgorithm": "aws:kms",
                    "kmsMasterKeyId": key_arn,
                }
            }
        ],
    )
    found = findings([key, sse])
    assert {(f.rule, f.resource) for f in found} == {("kms/lockout", "k"), ("kms/service-use", "k")}


def test_two_rules_of_one_listener_with_one_priority_collide(dev_program):
    mlflow = dev_program.named("data-platform-mlflow-rule")
    resources = replaced(
        dev_program, "inference-ai-inference-rule", priority=mlflow.inputs["priority"]
    )
    found = [f for f in findings(resources) if f.rule == "documented/listener-rule-priority"]
    assert [(f.resource, f.value) for f in found] in (
        [("data-platform-mlflow-rule", 100.0)],
        [("inference-ai-inference-rule", 100.0)],
    )


def _dev_mlflow_task(dev_program, change) -> list[Resource]:
    """Dev's resources with MLflow's task (MLflow and the API) containers edited by ``change``."""
    task = dev_program.named("data-platform-mlflow-task")
    containers = json.loads(task.inputs["containerDefinitions"])
    change(containers)
    return replaced(dev_program, task.name, containerDefinitions=json.dumps(containers))


def test_dev_two_container_task_fits_and_its_service_names_both_ports(dev_program):
    resources = resources_of(dev_program.resources)
    assert not [f for f in findings(resources) if f.rule.startswith("documented/ecs-")]
    task = dev_program.named("data-platform-mlflow-task")
    assert len(json.loads(task.inputs["containerDefinitions"])) == 2  # something to judge


def test_containers_reserving_more_than_the_task_has_are_refused(dev_program):
    def grow(containers):
        containers[1]["memoryReservation"] = 1024 - containers[0]["memoryReservation"] + 1

    found = [f for f in findings(_dev_mlflow_task(dev_program, grow))
             if f.rule == "documented/ecs-container-sizes"]  # fmt: skip
    assert [(f.resource, f.value) for f in found] == [("data-platform-mlflow-task", 1025)]


def test_a_mount_of_a_volume_the_task_lacks_is_refused(dev_program):
    def remount(containers):
        containers[1]["mountPoints"][0]["sourceVolume"] = "scratch"

    found = [f for f in findings(_dev_mlflow_task(dev_program, remount))
             if f.rule == "documented/ecs-mount-volume"]  # fmt: skip
    assert [f.value for f in found] == ["scratch"]


def test_a_load_balancer_naming_no_container_port_of_the_task_is_refused(dev_program):
    service = dev_program.named("data-platform-mlflow-service")
    balancers = [dict(b) for b in service.inputs["loadBalancers"]]
    balancers[1]["containerPort"] = 8080
    resources = replaced(dev_program, service.name, loadBalancers=balancers)
    found = [f for f in findings(resources) if f.rule == "documented/ecs-service-load-balancer"]
    assert [(f.resource, f.value) for f in found] == [("data-platform-mlflow-service", "api:8080")]
    many = replaced(dev_program, service.name, loadBalancers=balancers[:1] * 6)
    assert "documented/ecs-service-target-groups" in rules_of(findings(many))


def test_the_pack_reads_through_preview_proxies_and_skips_unknown_values(dev_program):
    # A key's policy unknown in a preview: nothing to judge there, and no crash.
    args = pack_args(dev_program, unknown=("audit-key", "policy"))
    assert reported(policy("aws-preflight"), args) == []
    assert reported(policy("aws-preflight-warnings"), args) == []


def test_the_pack_finds_the_account_in_preview_props(prod_program):
    other = "210987654321"
    run = dataclasses.replace(
        prod_program,
        resources=[
            dataclasses.replace(
                r, inputs=json.loads(json.dumps(r.inputs).replace(ACCOUNT_ID, other))
            )
            for r in prod_program.resources
        ],
    )
    # Key policies name this other account's root: no lock-out is reported.
    assert reported(policy("aws-preflight"), pack_args(run)) == []


def test_the_plan_fails_when_the_access_proof_finds_a_denial(monkeypatch, capsys):
    # Defect 4 put back: the dev task role may not use the tables' key.
    def drop_key_statement(r):
        if r.name != "agent-world-all-task-policy":
            return r
        policy = json.loads(r.props["policy"])
        policy["Statement"] = [s for s in policy["Statement"]
                               if s.get("Sid") != "TablesKeyThroughDynamodb"]  # fmt: skip
        return dataclasses.replace(r, props={**r.props, "policy": json.dumps(policy)})

    real = plan.access_proof

    def proof_without_the_key_statement(run):
        def defective(recorded):
            return [drop_key_statement(r) for r in resources_of(recorded)]

        monkeypatch.setattr(plan, "resources_of", defective)
        return real(run)

    monkeypatch.setattr(plan, "access_proof", proof_without_the_key_statement)
    assert plan.main(["dev", "--out", "/tmp/preflight-test-build"]) == 1
    out = capsys.readouterr().out
    assert "Access proof" in out and "kms:Decrypt" in out and "DENIED" in out


# --- issue 14: audit logs ---------------------------------------------------------------------


def without(run, *names: str) -> list[Resource]:
    return [r for r in resources_of(run.resources) if r.name not in names]


@pytest.mark.parametrize(
    ("program", "group", "writer"),
    [
        ("prod_program", "data-platform-db-postgresql-logs", "data-platform-db"),
        ("prod_program", "data-platform-db-upgrade-logs", "data-platform-db"),
        ("dev_program", "data-platform-db-cluster-postgresql-logs", "data-platform-db-cluster"),
        ("prod_program", "agent-world-rest-execution-logs", "agent-world-rest-throttling"),
        ("prod_program", "agent-world-websocket-execution-logs", "agent-world-ws-stage"),
    ],
)
def test_a_service_log_without_its_log_group_is_refused(request, program, group, writer):
    run = request.getfixturevalue(program)
    name = run.named(group).inputs["name"]
    found = [f for f in findings(without(run, group)) if f.rule == "documented/service-log-group"]
    assert [(f.resource, f.value) for f in found] == [(writer, name)]


def test_rds_export_log_groups_follow_the_identifier(prod_program):
    # A renamed instance exports to other log groups than the ones the program made.
    resources = replaced(prod_program, "data-platform-db", identifier="mlplatform-prod-other")
    found = [f for f in findings(resources) if f.rule == "documented/service-log-group"]
    assert sorted(f.value for f in found) == [
        "/aws/rds/instance/mlplatform-prod-other/postgresql",
        "/aws/rds/instance/mlplatform-prod-other/upgrade",
    ]


def test_execution_logging_off_needs_no_log_group(prod_program):
    settings = {**prod_program.named("agent-world-rest-throttling").inputs["settings"]}
    settings["loggingLevel"] = "OFF"
    resources = [
        dataclasses.replace(r, props={**r.props, "settings": settings})
        if r.name == "agent-world-rest-throttling"
        else r
        for r in without(prod_program, "agent-world-rest-execution-logs")
    ]
    assert "documented/service-log-group" not in rules_of(findings(resources))


def test_an_access_log_bucket_with_sse_kms_is_refused(prod_program):
    rules = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]
    resources = replaced(prod_program, "audit-access-logs-encryption", rules=rules)
    (found,) = [f for f in findings(resources) if f.rule == "documented/access-log-bucket"]
    assert (found.resource, found.value) == ("audit-access-logs-encryption", "aws:kms")


def test_an_access_log_bucket_logging_itself_somewhere_is_refused(prod_program):
    target = prod_program.named("audit-access-logs-bucket")
    training = prod_program.named("training-state-bucket").outputs["bucket"]
    logging = one("aws:s3/bucketLogging:BucketLogging", "loop",
                  bucket=target.outputs["bucket"], targetBucket=training)  # fmt: skip
    resources = [*resources_of(prod_program.resources), logging]
    found = [f for f in findings(resources) if f.rule == "documented/access-log-bucket"]
    # The training bucket now receives logs, with SSE-KMS and while logging elsewhere; the
    # log bucket logs its own deliveries.
    assert {f.resource for f in found} == {
        "loop",
        "training-state-encryption",
        "training-state-access-logging",
    }


@pytest.mark.parametrize(
    ("logical", "prop", "value"),
    [
        ("agent-world-ws-stage", "defaultRouteSettings", {"loggingLevel": "DEBUG"}),
        ("training-state-access-logging", "targetObjectKeyFormat",
         {"partitionedPrefix": {"partitionDateSource": "Tuesday"}}),
    ],
)  # fmt: skip
def test_the_new_types_are_checked_against_their_api_models(prod_program, logical, prop, value):
    resources = replaced(prod_program, logical, **{prop: value})
    found = [f for f in findings(resources) if f.rule.startswith("api-model")]
    assert [(f.resource, f.value) for f in found] == [(logical, next(_leaves(value)))]


def _leaves(value):
    while isinstance(value, dict):
        (value,) = value.values()
    yield value


def test_a_budget_and_an_anomaly_subscription_are_judged_by_their_api_models():
    budget = one(
        "aws:budgets/budget:Budget",
        "b",
        name="mlplatform-dev-monthly",
        budgetType="COST",
        timeUnit="WEEKLY",
        limitAmount="50",
        limitUnit="USD",
        notifications=[{"notificationType": "ACTUAL", "comparisonOperator": "GREATER_THAN",
                        "threshold": 80.0, "thresholdType": "PERCENT"}],
    )  # fmt: skip
    subscription = one(
        "aws:costexplorer/anomalySubscription:AnomalySubscription",
        "s",
        name="mlplatform-dev-anomalies",
        frequency="HOURLY",
        subscribers=[{"type": "SNS", "address": "not-an-arn"}],
    )
    found = {(f.resource, f.property) for f in findings([budget, subscription])
             if f.rule.startswith("api-model")}  # fmt: skip
    assert found == {
        ("b", "timeUnit"),
        ("b", "notifications.0.thresholdType"),
        ("s", "frequency"),
        ("s", "subscribers.0.address"),
    }


def test_scheduled_actions_lifecycle_hooks_and_parameters_are_held_to_their_models():
    found = findings([
        one("aws:appautoscaling/scheduledAction:ScheduledAction", "sa", name="warm/start",
            serviceNamespace="ecs", scalableDimension="ecs:service:Desired",
            resourceId="service/c/s", schedule="cron(0 8 ? * MON-FRI *)", timezone="UTC"),
        one("aws:autoscaling/group:Group", "asg", initialLifecycleHooks=[{"name": "pre pull"}]),
        one("aws:ssm/parameter:Parameter", "p", name="/p/a", type="Text", tier="Standard"),
    ])  # fmt: skip
    assert {(f.resource, f.property) for f in found} == {
        ("sa", "name"),  # no '/' in a scheduled action's name
        ("sa", "scalableDimension"),
        ("asg", "initialLifecycleHooks.0.name"),
        ("p", "type"),
    }
