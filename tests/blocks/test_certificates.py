"""DnsCertificate (components/blocks/certificates.py): prod's three host names, each with a
DNS-validated certificate (CloudFront's in us-east-1), its validation record and its
aliases; none in dev (no dns.zone_id)."""

from __future__ import annotations

import pytest

CERT = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
RECORD = "aws:route53/record:Record"
ZONE = "Z0000000000EXAMPLE0000"
HOSTS = {
    "inference-lb-host": "inference.example.com",
    "data-platform-lb-host": "mlflow.example.com",
    "agent-world-cdn-host": "world.example.com",
}


def test_dev_creates_no_certificate_and_no_record(dev):
    assert not dev.of_type(CERT) and not dev.of_type(VALIDATION) and not dev.of_type(RECORD)


def test_prod_certifies_each_host_by_dns(prod):
    certs = {r.name: r.inputs for r in prod.of_type(CERT)}
    assert {n: c["domainName"] for n, c in certs.items()} == {
        f"{name}-cert": host for name, host in HOSTS.items()
    }
    assert all(c["validationMethod"] == "DNS" for c in certs.values())
    assert all("subjectAlternativeNames" not in c for c in certs.values())


@pytest.mark.parametrize("name", HOSTS)
def test_the_validation_record_is_the_one_acm_asks_for(prod, name):
    cert = prod.named(f"{name}-cert")
    (option,) = cert.outputs["domainValidationOptions"]
    record = prod.named(f"{name}-validation").inputs
    assert record["zoneId"] == ZONE
    assert (record["name"], record["type"], record["records"]) == (
        option["resourceRecordName"], "CNAME", [option["resourceRecordValue"]],
    )  # fmt: skip
    validated = prod.named(f"{name}-validated")
    assert validated.inputs["certificateArn"] == cert.outputs["arn"]
    assert validated.inputs["validationRecordFqdns"] == [option["resourceRecordName"].rstrip(".")]


def test_the_load_balancers_get_an_a_alias_and_the_distribution_a_and_aaaa(prod):
    albs = {r.name: r for r in prod.of_type("aws:lb/loadBalancer:LoadBalancer")}
    for name, lb in (("inference-lb-host", "inference-lb-alb"),
                     ("data-platform-lb-host", "data-platform-lb-alb")):  # fmt: skip
        records = [r for r in prod.subtree(name).of_type(RECORD) if "aliases" in r.inputs]
        assert [r.inputs["type"] for r in records] == ["A"]  # an IPv4-only ALB
        (alias,) = records[0].inputs["aliases"]
        assert alias["name"] == albs[lb].outputs["dnsName"]
        assert alias["zoneId"] == albs[lb].outputs["zoneId"]
        assert records[0].inputs["name"] == HOSTS[name]
    cdn = prod.one("aws:cloudfront/distribution:Distribution").outputs
    records = [r for r in prod.subtree("agent-world-cdn-host").of_type(RECORD)
               if "aliases" in r.inputs]  # fmt: skip
    assert sorted(r.inputs["type"] for r in records) == ["A", "AAAA"]
    for r in records:
        assert r.inputs["aliases"] == [
            {"name": cdn["domainName"], "zoneId": cdn["hostedZoneId"],
             "evaluateTargetHealth": False}
        ]  # fmt: skip


def test_only_cloudfronts_certificate_comes_from_us_east_1_through_its_provider(prod):
    (provider,) = prod.of_type("pulumi:providers:aws")
    ref = f"{provider.urn}::{provider.id}"
    for name in HOSTS:
        cert, validated = prod.named(f"{name}-cert"), prod.named(f"{name}-validated")
        assert (cert.options["provider"] == ref) == (name == "agent-world-cdn-host")
        assert validated.options["provider"] == cert.options["provider"]
        record = prod.named(f"{name}-validation")
        assert record.options["provider"] != ref  # Route 53 is global


def test_a_cloudfront_host_in_a_stack_outside_us_east_1_still_certifies_in_us_east_1(run_stack):
    run = run_stack("prod", {"aws:region": "eu-west-1"})
    cdn = run.named("agent-world-cdn-host-cert").outputs["arn"]
    alb = run.named("inference-lb-host-cert").outputs["arn"]
    assert cdn.startswith("arn:aws:acm:us-east-1:") and alb.startswith("arn:aws:acm:eu-west-1:")
    viewer = run.one("aws:cloudfront/distribution:Distribution").inputs["viewerCertificate"]
    assert viewer["acmCertificateArn"] == cdn
