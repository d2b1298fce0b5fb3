"""AuditLogs: the platform's logs key and S3 access-log bucket, and their use everywhere."""

from __future__ import annotations

import json

import pytest

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
BUCKET = "aws:s3/bucket:Bucket"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("audit")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("audit")


@pytest.fixture(params=["dev", "prod"])
def program(request, dev_program, prod_program):
    """The whole program of each stack (the block's users are the stacks)."""
    return {"dev": dev_program, "prod": prod_program}[request.param]


def statements(resource, attribute="policy"):
    return {s.get("Sid"): s for s in json.loads(resource.inputs[attribute])["Statement"]}


def test_one_rotated_customer_managed_key_under_an_alias(each_stack):
    key = each_stack.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    alias = each_stack.one("aws:kms/alias:Alias")
    assert alias.inputs["name"] == f"alias/mlplatform-{each_stack.stack}-logs"
    assert alias.inputs["targetKeyId"] == key.outputs["keyId"]


def test_key_admits_cloudwatch_logs_of_this_account_and_region_only(each_stack):
    policy = statements(each_stack.one("aws:kms/key:Key"))
    logs = policy["CloudWatchLogsOfThisAccountAndRegion"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Action"] == ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*",
                              "kms:GenerateDataKey*", "kms:Describe*"]  # fmt: skip
    assert logs["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:*"}
    }
    # The delegation to IAM: the account administers the key (and nobody is locked out).
    admin = policy["AccountAdministersTheKeyThroughIam"]
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert admin["Action"] == "kms:*"


def test_key_lets_cloudwatch_alarms_publish_to_the_alarm_topic_it_encrypts(each_stack):
    alarms = statements(each_stack.one("aws:kms/key:Key"))["CloudWatchAlarmsPublish"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert "Condition" not in alarms  # CloudWatch sends no source keys (principals.py)


def test_without_an_alarm_topic_the_key_admits_no_cloudwatch_alarms(run_inline):
    from components.blocks.audit_logs import AuditLogs, AuditLogsArgs

    run = run_inline(lambda: AuditLogs("audit", AuditLogsArgs(name_prefix="mlplatform-t")))
    assert set(statements(run.one("aws:kms/key:Key"))) == {
        "AccountAdministersTheKeyThroughIam",
        "CloudWatchLogsOfThisAccountAndRegion",
    }


def test_every_log_group_is_encrypted_with_the_logs_key_and_expires(program):
    key = program.named("audit-key").outputs["arn"]
    groups = program.of_type(LOG_GROUP)
    assert len(groups) >= 8
    retention = int(program.config["mlplatform:log_retention_days"])
    for group in groups:
        assert group.inputs["kmsKeyId"] == key, group.name
        assert group.inputs["retentionInDays"] == retention, group.name


# --- the access-log bucket --------------------------------------------------------------


def child(run, role):
    return run.named(f"audit-access-logs-{role}")


def test_access_log_bucket_uses_sse_s3_which_server_access_logging_requires(each_stack):
    (rule,) = child(each_stack, "encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert rule["bucketKeyEnabled"] is False


def test_access_log_bucket_is_locked_down(each_stack):
    block = child(each_stack, "public-access-block").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy",
                                          "ignorePublicAcls", "restrictPublicBuckets"))  # fmt: skip
    assert child(each_stack, "ownership").inputs["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }
    assert child(each_stack, "versioning").inputs["versioningConfiguration"] == {
        "status": "Enabled"
    }
    # It does not log into itself.
    assert not each_stack.of_type(LOGGING)


def test_access_log_bucket_admits_only_tls_and_s3_logging_of_this_platforms_buckets(each_stack):
    bucket = child(each_stack, "bucket").outputs["arn"]
    policy = statements(child(each_stack, "tls-policy"))
    assert policy["DenyInsecureTransport"]["Effect"] == "Deny"
    delivery = policy["S3ServerAccessLogDelivery"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert (delivery["Effect"], delivery["Action"]) == ("Allow", "s3:PutObject")
    assert delivery["Resource"] == f"{bucket}/*"
    assert delivery["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::mlplatform-{each_stack.stack}-*"},
    }


def test_access_logs_expire_after_the_log_retention(each_stack):
    rules = {r["id"]: r for r in child(each_stack, "lifecycle").inputs["rules"]}
    days = int(each_stack.config["mlplatform:log_retention_days"])
    assert rules["expire-access-logs"]["expiration"] == {"days": days}


def test_prod_protects_the_access_log_bucket_dev_does_not(dev, prod):
    assert child(prod, "bucket").options["protect"] is True
    assert child(prod, "bucket").options["retain_on_delete"] is True
    assert child(dev, "bucket").options["protect"] is False


def test_every_data_bucket_logs_into_the_access_log_bucket_under_its_prefix(program):
    target = program.outputs["access_log_bucket"]
    assert target == program.named("audit-access-logs-bucket").outputs["bucket"]
    logging = {r.name.removesuffix("-access-logging"): r for r in program.of_type(LOGGING)}
    data = {
        "training-state",
        "data-platform-artifacts",
        "data-platform-pipeline-data",
        "agent-world-data-snapshots",
        "agent-world-data-assets",
    }
    # The ALB log buckets' own requests are logged too (prod: access logs on), each under its
    # load balancer's name (they share a bucket prefix); the access-log bucket alone logs
    # nowhere (into itself it would loop).
    albs = {"inference-lb-logs", "data-platform-lb-logs"} if program.stack == "prod" else set()
    lb_names = {f"{n}-logs": program.named(f"{n}-alb").inputs["name"] + "-logs" for n in
                ("inference-lb", "data-platform-lb")} if albs else {}  # fmt: skip
    assert set(logging) == data | albs
    for name, config in logging.items():
        bucket = program.named(f"{name}-bucket")
        prefix = lb_names.get(name) or bucket.inputs["bucketPrefix"].rstrip("-")
        assert config.inputs["bucket"] == bucket.id, name
        assert config.inputs["targetBucket"] == target, name
        assert config.inputs["targetPrefix"] == f"{prefix}/", name
        assert config.inputs["targetObjectKeyFormat"] == {
            "partitionedPrefix": {"partitionDateSource": "EventTime"}
        }
    others = {b.name for b in program.of_type(BUCKET)} - {f"{n}-bucket" for n in data | albs}
    assert others <= {"audit-access-logs-bucket"}, others


def test_network_alone_gets_the_key_for_its_flow_logs_and_no_access_log_bucket(run_stack):
    off = {f"stacks.{s}": False for s in ("training", "inference", "data_platform", "agent_world")}
    run = run_stack("dev", off)
    key = run.named("audit-key")
    assert "CloudWatchAlarmsPublish" not in statements(key)  # no alarm topic to encrypt
    assert run.named("network-flow-logs").inputs["kmsKeyId"] == key.outputs["arn"]
    assert not run.of_type(BUCKET)
    assert "access_log_bucket" not in run.outputs
