"""The program as a whole: bad config stops it before any resource; unknown invokes fail."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from offline.runner import ProgramError

BAD = [
    ("dev", {"network.cidr": "10.0.0/16"}),
    ("dev", {"network.az_count": 4}),
    ("dev", {"network.nat_strategy": "lots"}),
    ("dev", {"network.unknown": True}),
    ("dev", {"training.worker_memory": 100}),
    ("dev", {"inference.instance_type": "c5.large"}),
    ("dev", {"training.spot_percentage": 101}),
    ("prod", {"mlplatform:deletion_protection": False}),
    ("prod", {"dns.zone_id": ""}),
    ("prod", {"dns.cdn_host": ""}),
    ("prod", {"mlplatform:environment": None}),
]


@pytest.mark.parametrize(("stack", "overrides"), BAD, ids=[f"{s}-{next(iter(o))}" for s, o in BAD])
def test_bad_config_stops_the_program_before_any_resource(run_stack, stack, overrides):
    with pytest.raises(ProgramError) as caught:
        run_stack(stack, overrides)
    assert isinstance(caught.value.error, pulumi.RunError)
    assert caught.value.resources == []
    key = next(iter(overrides))
    assert key.removeprefix("mlplatform:").split(".")[0] in str(caught.value)


def test_an_invoke_the_mocks_do_not_know_fails_the_program(run_inline):
    def program():
        ami = aws.ec2.get_ami_output(most_recent=True, owners=["amazon"])
        pulumi.export("ami", ami.id)

    with pytest.raises(ProgramError, match="do not model the invoke"):
        run_inline(program)


def test_policy_documents_are_rendered_like_aws(run_inline):
    def program():
        doc = aws.iam.get_policy_document_output(
            statements=[
                aws.iam.GetPolicyDocumentStatementArgs(
                    sid="Read", actions=["s3:GetObject"], resources=["arn:aws:s3:::b/*"]
                ),
                aws.iam.GetPolicyDocumentStatementArgs(
                    effect="Deny",
                    actions=["s3:*"],
                    resources=["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                    principals=[{"type": "*", "identifiers": ["*"]}],
                    conditions=[
                        {"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}
                    ],
                ),
            ]
        )
        pulumi.export("policy", doc.json)

    run = run_inline(program)
    assert json.loads(run.outputs["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Deny", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
             "Principal": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ],
    }  # fmt: skip


def test_mocks_answer_with_realistic_aws_outputs(run_inline):
    def program():
        aws.s3.Bucket("data", bucket="mlplatform-dev-data")
        aws.sqs.Queue("tasks")
        aws.lb.LoadBalancer("alb", load_balancer_type="application")
        aws.iam.Role("role", assume_role_policy="{}")

    run = run_inline(program)
    bucket, queue = run.named("data").outputs, run.named("tasks").outputs
    assert bucket["arn"] == "arn:aws:s3:::mlplatform-dev-data"
    assert bucket["bucketRegionalDomainName"] == "mlplatform-dev-data.s3.us-east-1.amazonaws.com"
    assert queue["url"].startswith("https://sqs.us-east-1.amazonaws.com/123456789012/tasks-")
    assert queue["arn"].startswith("arn:aws:sqs:us-east-1:123456789012:tasks-")
    assert run.named("alb").outputs["dnsName"].endswith(".us-east-1.elb.amazonaws.com")
    assert run.named("role").outputs["arn"].startswith("arn:aws:iam::123456789012:role/role-")
    assert all(r.id for r in run.resources)


# --- the outputs `./tasks validate` reads (validate/) -------------------------------------


def test_every_ecs_service_of_every_stack_is_an_output(each_stack):
    services = each_stack.of_type("aws:ecs/service:Service")
    clusters = {c.outputs["arn"]: c.outputs["name"]
                for c in each_stack.of_type("aws:ecs/cluster:Cluster")}  # fmt: skip
    expected = sorted((clusters[s.inputs["cluster"]], s.outputs["name"]) for s in services)
    exported = sorted((e["cluster"], e["service"]) for e in each_stack.outputs["ecs_services"])
    # dev: the worker, the GPU validator, MLflow (with the Hokusai API) and the agent world
    # (ai-inference is a Lambda function there); prod runs more.
    assert len(services) >= 4
    assert exported == expected


def test_every_dead_letter_queue_is_an_output(each_stack):
    redriven = {
        json.loads(q.inputs["redrivePolicy"])["deadLetterTargetArn"]
        for q in each_stack.of_type("aws:sqs/queue:Queue")
        if q.inputs.get("redrivePolicy")
    }
    urls = sorted(q.outputs["url"] for q in each_stack.of_type("aws:sqs/queue:Queue")
                  if q.outputs["arn"] in redriven)  # fmt: skip
    assert urls and sorted(each_stack.outputs["dead_letter_queue_urls"]) == urls
    assert each_stack.outputs["sqs_dlq_url"] in urls


def test_the_database_identifier_is_an_output_named_for_its_kind(each_stack):
    clusters = each_stack.of_type("aws:rds/cluster:Cluster")
    instances = each_stack.of_type("aws:rds/instance:Instance")
    if clusters:
        (cluster,) = clusters
        assert each_stack.outputs["db_cluster_identifier"] == cluster.inputs["clusterIdentifier"]
        assert "db_instance_identifier" not in each_stack.outputs
    else:
        (instance,) = instances
        assert each_stack.outputs["db_instance_identifier"] == instance.inputs["identifier"]
        assert "db_cluster_identifier" not in each_stack.outputs


def test_a_plain_rds_instance_exports_its_instance_identifier(run_stack):
    run = run_stack("dev", {"data_platform.db_engine": "postgres"})
    (instance,) = run.of_type("aws:rds/instance:Instance")
    assert run.outputs["db_instance_identifier"] == instance.inputs["identifier"]
    assert "db_cluster_identifier" not in run.outputs


def test_the_region_buckets_and_health_service_are_outputs(each_stack):
    outputs = each_stack.outputs
    assert outputs["aws_region"] == "us-east-1"
    buckets = {b.outputs["bucket"] for b in each_stack.of_type("aws:s3/bucket:Bucket")}
    world = outputs["agent_world_bucket_names"]
    assert set(world) == {"snapshots", "assets"} and set(world.values()) <= buckets
    # Every bucket of the stacks is named by some output, so validate reaches each one.
    named = {
        outputs[k]
        for k in (
            "s3_bucket_name",
            "mlflow_artifacts_bucket",
            "pipeline_data_bucket",
            "access_log_bucket",
        )
        if k in outputs
    }
    named |= set(outputs.get("alb_log_buckets", []))
    assert buckets == named | set(world.values())  # fmt: skip
    assert (
        outputs["health_check_service_name"]
        == outputs["inference_service_names"]["vision-validator"]
    )


def test_validate_reads_outputs_the_program_exports_in_the_shapes_it_exports(dev, prod):
    # A misspelt name in validate/ would silently skip its check: every name it reads is
    # exported by dev or prod (both run the Hokusai API, so api_endpoint too), and both
    # stacks' outputs pass its type checks.
    from validate import checks

    read = {*checks.TEXT_OUTPUTS, *checks.LIST_OUTPUTS, "ecs_services"}
    assert read - set(dev.outputs) - set(prod.outputs) == set()
    for run in (dev, prod):
        checks.check_shapes(run.outputs)
        exported = {(e["cluster"], e["service"]) for e in run.outputs["ecs_services"]}
        assert set(checks.ecs_pairs(run.outputs)) == exported
