"""SecureBucket, as the training stack registers it in dev and prod."""

from __future__ import annotations

import json

import pytest

BUCKET = "aws:s3/bucket:Bucket"


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("training-state")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("training-state")


def child(run, role):
    return run.named(f"training-state-{role}")


def test_bucket_name_is_unique_under_the_stack_prefix(each_stack):
    bucket = each_stack.one(BUCKET)
    assert bucket.inputs["bucketPrefix"] == f"mlplatform-{each_stack.stack}-training-"
    assert "bucket" not in bucket.inputs


def test_prod_bucket_survives_destroy_and_replacement(prod):
    bucket = prod.one(BUCKET)
    assert bucket.options["protect"] is True
    assert bucket.options["retain_on_delete"] is True
    assert bucket.inputs["forceDestroy"] is False


def test_dev_bucket_can_be_torn_down(dev):
    bucket = dev.one(BUCKET)
    assert bucket.options["protect"] is False
    assert bucket.inputs["forceDestroy"] is True


def test_every_public_access_block_is_on_and_acls_are_off(each_stack):
    block = child(each_stack, "public-access-block").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy",
                                          "ignorePublicAcls", "restrictPublicBuckets"))  # fmt: skip
    ownership = child(each_stack, "ownership").inputs["rule"]
    assert ownership == {"objectOwnership": "BucketOwnerEnforced"}


def test_default_encryption_is_kms_with_bucket_keys(each_stack):
    (rule,) = child(each_stack, "encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms"}
    assert rule["bucketKeyEnabled"] is True


def test_versioning_is_enabled(each_stack):
    versioning = child(each_stack, "versioning").inputs
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}


def test_policy_denies_every_request_without_tls(each_stack):
    bucket = each_stack.one(BUCKET).outputs["arn"]
    policy = child(each_stack, "tls-policy")
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Resource"] == [bucket, f"{bucket}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    public_access = child(each_stack, "public-access-block").urn
    assert public_access in policy.options["depends_on"]


def lifecycle(run):
    return {r["id"]: r for r in child(run, "lifecycle").inputs["rules"]}


def test_lifecycle_ages_checkpoints_and_cleans_versions_and_uploads(dev):
    rules = lifecycle(dev)
    assert set(rules) == {
        "expire-noncurrent-versions",
        "abort-incomplete-multipart-uploads",
        "checkpoints-to-ia-then-expire",
    }
    assert all(r["status"] == "Enabled" for r in rules.values())
    checkpoints = rules["checkpoints-to-ia-then-expire"]
    assert checkpoints["filter"] == {"prefix": "checkpoints/"}
    assert checkpoints["transitions"] == [{"days": 30, "storageClass": "STANDARD_IA"}]
    assert checkpoints["expiration"] == {"days": 365}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {
        "noncurrentDays": 30
    }
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": 7
    }


def test_lifecycle_days_come_from_config(run_stack):
    run = run_stack(
        "dev",
        {"training.checkpoint_ia_days": 60, "training.checkpoint_expire_days": 120,
         "training.noncurrent_version_days": 5},
    ).subtree("training-state")  # fmt: skip
    rules = lifecycle(run)
    assert rules["checkpoints-to-ia-then-expire"]["transitions"][0]["days"] == 60
    assert rules["checkpoints-to-ia-then-expire"]["expiration"] == {"days": 120}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == 5


def test_server_access_logs_go_to_the_platforms_log_bucket_under_the_bucket_prefix(
    each_stack, dev_program, prod_program
):
    program = {"dev": dev_program, "prod": prod_program}[each_stack.stack]
    logging = child(each_stack, "access-logging").inputs
    assert logging["bucket"] == each_stack.one(BUCKET).id
    assert logging["targetBucket"] == program.named("audit-access-logs-bucket").outputs["bucket"]
    assert logging["targetPrefix"] == f"mlplatform-{each_stack.stack}-training/"


def test_no_access_log_bucket_no_server_access_logging(run_inline):
    from components.blocks.bucket import SecureBucket, SecureBucketArgs

    run = run_inline(lambda: SecureBucket("b", SecureBucketArgs(bucket_prefix="p-b-")))
    assert not run.of_type("aws:s3/bucketLogging:BucketLogging")
    assert SecureBucketArgs(bucket_prefix="p-b-").access_log_prefix == "p-b/"
