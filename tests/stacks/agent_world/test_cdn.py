"""The agent world's CloudFront distribution (components/stacks/agent_world/cdn.py): its
response-headers policy on every behaviour, its certificate and TLS floor, and its web
ACL, in dev and prod."""

from __future__ import annotations

import pytest

from components.stacks.agent_world.cdn import HSTS_MAX_AGE

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
HEADERS = "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy"


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("agent-world")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("agent-world")


def behaviours(run):
    d = run.one(DISTRIBUTION).inputs
    return [d["defaultCacheBehavior"], *d["orderedCacheBehaviors"]]


def test_the_security_headers_policy_sets_hsts_nosniff_frames_and_referrer(each_stack):
    policy = each_stack.one(HEADERS).inputs
    assert policy["securityHeadersConfig"] == {
        "strictTransportSecurity": {
            "accessControlMaxAgeSec": 63072000, "includeSubdomains": True, "preload": True,
            "override": True,
        },
        "contentTypeOptions": {"override": True},
        "frameOptions": {"frameOption": "DENY", "override": True},
        "referrerPolicy": {"referrerPolicy": "strict-origin-when-cross-origin", "override": True},
    }  # fmt: skip
    assert HSTS_MAX_AGE == 63072000  # two years: the preload list's minimum is one


def test_every_cache_behaviour_carries_the_headers_policy(each_stack):
    policy = each_stack.one(HEADERS).id
    found = behaviours(each_stack)
    assert len(found) == 2 and all(b["responseHeadersPolicyId"] == policy for b in found)
    assert all(b["viewerProtocolPolicy"] == "redirect-to-https" for b in found)


def test_prod_serves_its_host_with_sni_and_tls_1_2_2021(prod):
    d = prod.one(DISTRIBUTION).inputs
    assert d["aliases"] == ["world.example.com"]
    assert d["viewerCertificate"] == {
        "acmCertificateArn": prod.named("agent-world-cdn-host-validated").outputs["certificateArn"],
        "sslSupportMethod": "sni-only", "minimumProtocolVersion": "TLSv1.2_2021",
    }  # fmt: skip
    assert "cloudfrontDefaultCertificate" not in d["viewerCertificate"]


def test_dev_keeps_cloudfronts_own_domain_and_no_web_acl(dev):
    d = dev.one(DISTRIBUTION).inputs
    assert d["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    assert d["aliases"] == [] and "webAclId" not in d
    assert not dev.of_type("pulumi:providers:aws")  # nothing needs us-east-1


def test_dev_with_a_host_gets_a_certificate_in_us_east_1_and_aliases(run_stack):
    run = run_stack("dev", {"dns.zone_id": "Z123", "dns.cdn_host": "world.example.org"}).subtree(
        "agent-world"
    )
    d = run.one(DISTRIBUTION).inputs
    assert d["aliases"] == ["world.example.org"]
    assert d["viewerCertificate"]["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert {r.inputs["type"] for r in run.of_type("aws:route53/record:Record")} == {
        "CNAME", "A", "AAAA"
    }  # fmt: skip
    assert not run.of_type("aws:wafv2/webAcl:WebAcl")
