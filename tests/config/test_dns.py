"""The ``dns`` section (components/config/dns.py) and the HTTPS rule it feeds
(components/config/ingress.py): zone and host forms, which endpoint a host needs, MLflow's
allowed hosts, and what production refuses."""

from __future__ import annotations

import pytest

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"

BAD_CONFIGS = [
    # (overrides on dev, the key the message must name, a phrase of the accepted form)
    ({"dns.zone_id": "zone-1"}, "mlplatform:dns.zone_id", "a Route 53 hosted zone ID"),
    ({"dns.zone_id": "z0123"}, "mlplatform:dns.zone_id", "a Route 53 hosted zone ID"),
    ({"dns.inference_host": "https://api.example.org/"}, "mlplatform:dns.inference_host",
     "not a URL"),
    ({"dns.mlflow_host": "*.example.org"}, "mlplatform:dns.mlflow_host", "a host name"),
    ({"dns.cdn_host": "World.Example.org"}, "mlplatform:dns.cdn_host", "lowercase"),
    ({"dns.cdn_host": "app.example.org"}, "mlplatform:dns.zone_id",
     "the Route 53 hosted zone of cdn_host"),
    # dev shares the inference ALB: MLflow has no load balancer of its own to name.
    ({"dns.zone_id": "Z123", "dns.mlflow_host": "ml.example.org"}, "mlplatform:dns.mlflow_host",
     "data_platform.share_load_balancer false"),
    # ... and the agent world's VPC link reaches that listener over plain HTTP.
    ({"dns.zone_id": "Z123", "dns.inference_host": "api.example.org",
      "data_platform.allowed_hosts": ["api.example.org"]}, "mlplatform:dns.inference_host",
     "while agent_world.share_load_balancer is true"),
    ({"dns.zone_id": "Z123", "dns.cdn_host": "app.example.org",
      "agent_world.domain_names": ["app.example.org"], "agent_world.cdn_certificate_arn": CERT},
     "mlplatform:dns.cdn_host", "when agent_world.domain_names is set"),
    ({"dns.zone_id": "Z123", "dns.cdn_host": "app.example.org", "stacks.agent_world": False},
     "mlplatform:dns.cdn_host", "unless stacks.agent_world true"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "key", "accepted"),
    BAD_CONFIGS,
    ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD_CONFIGS)],
)
def test_bad_config_is_refused_naming_the_key_and_accepted_form(refused, overrides, key, accepted):
    refused(overrides, key, accepted)


def test_mlflow_must_answer_to_its_host(problems_for, only):
    problems = problems_for("prod", data_platform__allowed_hosts=[])
    message = only(problems, "mlplatform:data_platform.allowed_hosts")
    assert "mlflow.example.com (dns.mlflow_host)" in message


def test_on_a_shared_alb_mlflow_answers_to_the_inference_host(problems_for, only):
    problems = problems_for(
        "prod", data_platform__share_load_balancer=True, dns__mlflow_host="",
    )  # fmt: skip
    message = only(problems, "mlplatform:data_platform.allowed_hosts")
    assert "inference.example.com (dns.inference_host)" in message


def test_production_refuses_neither_a_zone_nor_a_certificate(problems_for, only):
    problems = problems_for("prod", dns__zone_id="", dns__inference_host="", dns__mlflow_host="",
                            dns__cdn_host="", data_platform__allowed_hosts=[])  # fmt: skip
    message = only(problems, "mlplatform:ingress.certificate_arn")
    assert "dns.zone_id with dns.inference_host and dns.mlflow_host" in message
    assert "default certificate" in only(problems, "mlplatform:dns.cdn_host")


def test_a_load_balancer_left_without_a_host_needs_a_certificate(problems_for, only):
    problems = problems_for("prod", dns__mlflow_host="", data_platform__allowed_hosts=[])
    assert "dns.zone_id with dns.mlflow_host" in only(
        problems, "mlplatform:ingress.certificate_arn"
    )


def test_production_refuses_cloudfronts_default_certificate(problems_for, only):
    problems = problems_for("prod", dns__cdn_host="")
    assert "TLS 1.0" in only(problems, "mlplatform:dns.cdn_host")


def test_the_bring_your_own_paths_still_serve_production(parses):
    settings = parses(
        "prod", ingress__certificate_arn=CERT, dns__zone_id="", dns__inference_host="",
        dns__mlflow_host="", dns__cdn_host="", data_platform__allowed_hosts=[],
        agent_world__domain_names=["world.example.org"], agent_world__cdn_certificate_arn=CERT,
        data_platform__sso_host="mlflow.example.org",  # the sign-in's host, with no dns host
    )  # fmt: skip
    assert settings.dns.zone_id == "" and settings.ingress.certificate_arn == CERT


def test_two_keys_may_not_name_one_host(problems_for):
    problems = problems_for("prod", dns__cdn_host="mlflow.example.com")
    assert any(
        p.startswith("mlplatform:dns.cdn_host: expected a host name no other") for p in problems
    )


def test_every_bad_key_is_named_in_one_message(problems_for):
    problems = problems_for("dev", dns__zone_id="bad", dns__cdn_host="Bad Host")
    keys = sorted(p.split(":", 2)[1] for p in problems)
    assert keys == ["dns.cdn_host", "dns.zone_id"]


def test_dev_has_no_dns_and_prod_its_example_values(parses):
    dev, prod = parses("dev").dns, parses("prod").dns
    assert (dev.zone_id, dev.inference_host, dev.mlflow_host, dev.cdn_host) == ("", "", "", "")
    assert prod.zone_id.startswith("Z") and prod.cdn_host.endswith(".example.com")
