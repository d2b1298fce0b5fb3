"""The ``ingress`` section (components/config/ingress.py): who may reach the public load
balancers, and their certificate."""

from __future__ import annotations

import pytest

CERT = "arn:aws:acm:{}:123456789012:certificate/11111111-2222-3333-4444-555555555555"

BAD_CONFIGS = [
    # (overrides on dev, the key the message must name, a phrase of the accepted form)
    ({"ingress.front_door": "load_balancer"}, "mlplatform:ingress.certificate_arn",
     "ACM certificate"),
    ({"ingress.front_door": "cloudfront"}, "mlplatform:ingress.front_door",
     "one of load_balancer, http_api"),
    ({"ingress.certificate_arn": CERT.format("us-east-1")}, "mlplatform:ingress.front_door",
     "or front_door load_balancer"),
    ({"inference.request_timeout_seconds": 60}, "mlplatform:inference.request_timeout_seconds",
     "at most 30 with ingress.front_door http_api"),
    ({"ingress.certificate_arn": "arn:aws:acm:us-east-1:1:cert/x"},
     "mlplatform:ingress.certificate_arn", "ACM certificate ARN"),
    ({"ingress.allowed_cidr_blocks": ["0.0.0.0/0", "1.2.3"]},
     "mlplatform:ingress.allowed_cidr_blocks", "IPv4 CIDR"),
    ({"ingress.allowed_cidr_blocks": []}, "mlplatform:ingress.allowed_cidr_blocks", "at least one"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "key", "accepted"), BAD_CONFIGS, ids=[b[1] for b in BAD_CONFIGS]
)
def test_bad_config_is_refused_naming_the_key_and_accepted_form(refused, overrides, key, accepted):
    refused(overrides, key, accepted)


@pytest.mark.parametrize(
    ("blocks", "phrase"),
    [(["10.0.0.1"], "with its prefix length, such as 10.0.0.1/32"),
     (["10.0.0.0/8", "10.0.0.0/8"], "without duplicates")],
)  # fmt: skip
def test_allowed_cidr_blocks_need_a_prefix_and_no_duplicates(problems_for, only, blocks, phrase):
    problems = problems_for("dev", ingress__allowed_cidr_blocks=blocks)
    assert phrase in only(problems, "mlplatform:ingress.allowed_cidr_blocks")


def test_a_certificate_of_another_region_than_the_load_balancers_is_refused(problems_for, only):
    problems = problems_for("prod", ingress__certificate_arn=CERT.format("eu-west-1"))
    message = only(problems, "mlplatform:ingress.certificate_arn")
    assert "us-east-1" in message and "eu-west-1" in message


def test_one_message_names_everything_an_http_api_front_door_cannot_take(problems_for, only):
    problems = problems_for(
        "dev",
        ingress__certificate_arn=CERT.format("us-east-1"),
        ingress__allow_http=True,
        ingress__allowed_cidr_blocks=["203.0.113.0/24"],
        dns__zone_id="Z0123456789ABCDEFGHIJ",
        dns__inference_host="inference.example.com",
        security__waf=True,
    )
    message = only(problems, "mlplatform:ingress.front_door")
    for key in ("ingress.certificate_arn", "ingress.allow_http", "ingress.allowed_cidr_blocks",
                "dns.inference_host", "security.waf"):  # fmt: skip
        assert key in message
    assert "execute-api" in message and "front_door load_balancer" in message


def test_dev_front_door_is_accepted_with_a_30_second_timeout(parses):
    settings = parses("dev")
    assert settings.ingress.http_api and settings.inference.request_timeout_seconds == 30
    assert not parses("dev", ingress__front_door="load_balancer", ingress__allow_http=True,
                      inference__request_timeout_seconds=120).ingress.http_api  # fmt: skip
