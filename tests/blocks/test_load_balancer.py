"""PublicLoadBalancer, as the inference stack registers it in dev (an internal HTTP ALB
behind the HTTP API front door: tests/blocks/test_front_door.py) and prod (an
internet-facing HTTPS ALB)."""

from __future__ import annotations

import json

import pytest

from components.blocks.load_balancer import HSTS, TLS_POLICY

LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("inference-lb")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("inference-lb")


def listeners(run):
    return {r.inputs["port"]: r for r in run.of_type(LISTENER)}


def test_prod_alb_is_public_in_public_subnets_and_drops_invalid_headers(prod):
    alb = prod.one(LB)
    assert alb.inputs["internal"] is False
    assert alb.inputs["loadBalancerType"] == "application"
    assert alb.inputs["dropInvalidHeaderFields"] is True
    assert all(s.startswith("subnet-pub") for s in alb.inputs["subnets"])
    assert alb.inputs["securityGroups"] == [prod.named("inference-lb-sg").id]
    assert not prod.of_type("mlplatform:ingress:HttpApiFrontDoor")


def test_dev_alb_is_internal_in_the_private_subnets_and_drops_invalid_headers(dev):
    alb = dev.one(LB)
    assert alb.inputs["internal"] is True
    assert alb.inputs["loadBalancerType"] == "application"
    assert alb.inputs["dropInvalidHeaderFields"] is True
    assert alb.inputs["subnets"] and all(s.startswith("subnet-prv") for s in alb.inputs["subnets"])
    assert alb.inputs["securityGroups"] == [dev.named("inference-lb-sg").id]


def test_dev_listens_on_plain_http_for_its_front_door_only(dev):
    (http,) = dev.of_type(LISTENER)
    assert (http.inputs["port"], http.inputs["protocol"]) == (80, "HTTP")
    assert http.inputs["defaultActions"][0]["fixedResponse"]["statusCode"] == "404"
    # No address range at all: the front door's VPC link is the one way in from here.
    (rule,) = dev.of_type(INGRESS)
    assert "cidrIpv4" not in rule.inputs
    assert rule.inputs["referencedSecurityGroupId"] == dev.named("inference-lb-front-door-sg").id
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (80, 80)


def test_dev_without_the_front_door_serves_plain_http_from_a_public_alb(run_stack):
    run = run_stack(
        "dev",
        {"ingress.front_door": "load_balancer", "ingress.allow_http": True,
         "inference.request_timeout_seconds": 120},
    ).subtree("inference-lb")  # fmt: skip
    alb = run.one(LB)
    assert alb.inputs["internal"] is False
    assert all(s.startswith("subnet-pub") for s in alb.inputs["subnets"])
    assert [(r.inputs["fromPort"], r.inputs["cidrIpv4"]) for r in run.of_type(INGRESS)] == [
        (80, "0.0.0.0/0")
    ]
    assert not run.of_type("mlplatform:ingress:HttpApiFrontDoor")
    assert run.outputs["alb_url"].startswith("http://mlplatform-dev-inference")


def test_prod_serves_https_with_tls13_and_redirects_http(prod):
    found = listeners(prod)
    https, http = found[443], found[80]
    assert https.inputs["protocol"] == "HTTPS"
    assert https.inputs["sslPolicy"] == TLS_POLICY == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    # The certificate the stack created for dns.inference_host, once ACM has issued it.
    assert (
        https.inputs["certificateArn"]
        == prod.named("inference-lb-host-validated").outputs["certificateArn"]
    )
    assert https.inputs["certificateArn"].startswith("arn:aws:acm:us-east-1:")
    assert http.inputs["defaultActions"] == [
        {"type": "redirect",
         "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
    ]  # fmt: skip
    assert sorted(r.inputs["fromPort"] for r in prod.of_type(INGRESS)) == [80, 443]


def test_ingress_only_from_the_allowed_ranges(run_stack):
    ranges = ["203.0.113.0/24", "198.51.100.7/32"]
    run = run_stack("prod", {"ingress.allowed_cidr_blocks": ranges}).subtree("inference-lb")
    rules = run.of_type(INGRESS)
    assert sorted((r.inputs["fromPort"], r.inputs["cidrIpv4"]) for r in rules) == sorted(
        (port, cidr) for port in (80, 443) for cidr in ranges
    )
    group = run.named("inference-lb-sg")
    assert "ingress" not in group.inputs and "egress" not in group.inputs


def test_prod_alb_has_deletion_protection_and_access_logs(prod):
    alb = prod.one(LB)
    bucket = prod.one("aws:s3/bucket:Bucket")
    assert alb.inputs["enableDeletionProtection"] is True
    assert alb.inputs["accessLogs"] == {
        "bucket": bucket.outputs["bucket"], "prefix": "alb", "enabled": True,
    }  # fmt: skip
    assert prod.named("inference-lb-logs-tls-policy").urn in alb.options["depends_on"]


def test_dev_alb_has_neither(dev):
    alb = dev.one(LB)
    assert alb.inputs["enableDeletionProtection"] is False
    assert "accessLogs" not in alb.inputs
    assert not dev.of_type("aws:s3/bucket:Bucket")


def test_access_log_bucket_uses_sse_s3_and_admits_only_elb_log_delivery(prod):
    (rule,) = prod.named("inference-lb-logs-encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    bucket = prod.one("aws:s3/bucket:Bucket").outputs["arn"]
    deny, delivery = json.loads(prod.named("inference-lb-logs-tls-policy").inputs["policy"])[
        "Statement"
    ]
    assert deny["Sid"] == "DenyInsecureTransport"
    assert delivery == {
        "Sid": "LoadBalancerLogDelivery",
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": f"{bucket}/alb/AWSLogs/*",
        "Principal": {"AWS": "arn:aws:iam::127311923021:root"},
    }
    lifecycle = {r["id"]: r for r in prod.named("inference-lb-logs-lifecycle").inputs["rules"]}
    assert lifecycle["expire-access-logs"]["expiration"] == {"days": 365}


def test_url_scheme_follows_the_front_door_the_certificate_and_the_host(dev, prod):
    api = dev.named("inference-lb-front-door-api").outputs["apiEndpoint"]
    assert dev.outputs["alb_url"] == api
    assert api.startswith("https://") and api.endswith(".execute-api.us-east-1.amazonaws.com")
    assert prod.outputs["alb_url"] == "https://inference.example.com"


def test_https_answers_carry_hsts_and_only_https_listeners_set_it(prod, dev, request):
    whole = request.getfixturevalue("prod_program")
    https = [r for r in whole.of_type(LISTENER) if r.inputs["protocol"] == "HTTPS"]
    assert len(https) == 2  # the inference ALB and the data platform's own
    for listener in https:
        value = listener.inputs["routingHttpResponseStrictTransportSecurityHeaderValue"]
        assert value == HSTS == "max-age=63072000; includeSubDomains; preload"
    plain = [r for r in [*whole.of_type(LISTENER), *dev.of_type(LISTENER)]
             if r.inputs["protocol"] == "HTTP"]  # fmt: skip
    assert plain and not any(
        "routingHttpResponseStrictTransportSecurityHeaderValue" in r.inputs for r in plain
    )


def test_a_brought_certificate_serves_a_load_balancer_without_a_host(run_stack):
    cert = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    run = run_stack(
        "prod",
        {"ingress.certificate_arn": cert, "dns.inference_host": "", "dns.mlflow_host": "",
         "data_platform.allowed_hosts": [], "data_platform.sso_host": "mlflow.corp.test"},
    )  # fmt: skip
    https = [r for r in run.of_type(LISTENER) if r.inputs["protocol"] == "HTTPS"]
    assert [r.inputs["certificateArn"] for r in https] == [cert, cert]
    assert [r.inputs["domainName"] for r in run.of_type("aws:acm/certificate:Certificate")] == [
        "world.example.com"  # CloudFront's only
    ]
    assert run.outputs["alb_url"].startswith("https://mlplatform-prod-inference")


def test_the_data_platforms_own_alb_serves_its_host(request):
    prod = request.getfixturevalue("prod_program")
    assert prod.outputs["mlflow_endpoint"] == "https://mlflow.example.com/mlflow/"
    listener = prod.named("data-platform-lb-https").inputs
    validated = prod.named("data-platform-lb-host-validated").outputs["certificateArn"]
    assert listener["certificateArn"] == validated


def test_dev_shared_alb_keeps_plain_http_without_certificate_or_waf(dev):
    assert not dev.of_type("aws:acm/certificate:Certificate")
    assert not dev.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert [r.inputs["protocol"] for r in dev.of_type(LISTENER)] == ["HTTP"]
