"""The ``data_platform`` section (components/config/data_platform.py): MLflow's database,
tasks and hosts, and the Hokusai API."""

from __future__ import annotations

import pytest

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hokusai:1"

BAD_CONFIGS = [
    # (overrides on dev, the key the message must name, a phrase of the accepted form)
    ({"data_platform.backup_retention_days": 3}, "mlplatform:data_platform.backup_retention_days",
     "from 7 to 35"),
    ({"data_platform.db_instance_class": "t4g.micro"}, "mlplatform:data_platform.db_instance_class",
     "db.<family>"),
    ({"data_platform.mlflow_memory": 512}, "mlplatform:data_platform.mlflow_memory",
     "1024-4096 in steps of 1024 with cpu 512"),
    ({"data_platform.db_storage_gib": 200}, "mlplatform:data_platform.db_max_storage_gib",
     "at least db_storage_gib (200)"),
    ({"data_platform.api_image": "not a uri"}, "mlplatform:data_platform.api_image",
     "an image URI or empty"),
    ({"data_platform.allowed_hosts": ["https://mlflow.example.com"]},
     "mlplatform:data_platform.allowed_hosts", "DNS names"),
    ({"data_platform.db_engine": "aurora-postgresql", "data_platform.postgres_version": "15"},
     "mlplatform:data_platform.postgres_version", "16 or 17 with db_engine aurora-postgresql"),
    ({"data_platform.db_engine": "aurora-postgresql", "data_platform.db_min_acu": 8,
      "data_platform.db_max_acu": 4},
     "mlplatform:data_platform.db_max_acu", "at least db_min_acu (8)"),
    ({"stacks.inference": False, "agent_world.share_load_balancer": False},
     "mlplatform:data_platform.share_load_balancer", "unless stacks.inference is true"),
    ({"data_platform.sso": "saml"}, "mlplatform:data_platform.sso", "one of none, oidc, cognito"),
    ({"data_platform.sso": "cognito"}, "mlplatform:data_platform.share_load_balancer",
     "expected false with sso cognito"),
    ({"data_platform.sso": "cognito"}, "mlplatform:ingress.certificate_arn",
     "an ACM certificate (or dns.zone_id and dns.mlflow_host) with data_platform.sso cognito"),
    ({"data_platform.sso": "cognito"}, "mlplatform:data_platform.sso_host",
     "the DNS name browsers use with sso cognito"),
    ({"data_platform.sso_host": "https://mlflow.corp.test"}, "mlplatform:data_platform.sso_host",
     "a DNS name"),
    ({"data_platform.sso": "oidc", "data_platform.oidc_issuer": "http://login.corp.test/"},
     "mlplatform:data_platform.oidc_issuer", "an https:// URL of the IdP"),
    ({"data_platform.sso": "oidc"}, "mlplatform:data_platform.oidc_client_secret_id",
     "the ARN or name of the Secrets Manager secret"),
    ({"data_platform.sso": "cognito", "data_platform.cognito_domain_prefix": "aws-mlflow"},
     "mlplatform:data_platform.cognito_domain_prefix", "without aws, amazon, cognito"),
    ({"data_platform.sso": "cognito", "data_platform.oidc_client_id": "x"},
     "mlplatform:data_platform.oidc_client_id", "empty with sso cognito"),
    ({"data_platform.sso": "oidc", "data_platform.sso_scope": "email openid"},
     "mlplatform:data_platform.sso_scope", "starting with openid"),
    ({"data_platform.sso_session_timeout": 0}, "mlplatform:data_platform.sso_session_timeout",
     "from 1 to 604800"),
    ({"data_platform.cognito_mfa": "OFF"}, "mlplatform:data_platform.cognito_mfa",
     "one of ON, OPTIONAL"),
    ({"data_platform.db_log_min_duration_ms": -2},
     "mlplatform:data_platform.db_log_min_duration_ms", "from -1 to 3600000"),
    ({"data_platform.api_placement": "sidecar"}, "mlplatform:data_platform.api_placement",
     "one of own_service, with_mlflow"),
    ({"data_platform.api": False}, "mlplatform:data_platform.api_placement",
     "own_service unless api is true"),
    ({"data_platform.mlflow_workers": 0}, "mlplatform:data_platform.mlflow_workers",
     "from 1 to 32"),
    ({"data_platform.mlflow_workers": 3}, "mlplatform:data_platform.mlflow_memory",
     "at least 1106 MiB with api_placement with_mlflow and mlflow_workers 3"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "key", "accepted"), BAD_CONFIGS, ids=[b[1] for b in BAD_CONFIGS]
)
def test_bad_config_is_refused_naming_the_key_and_accepted_form(refused, overrides, key, accepted):
    refused(overrides, key, accepted)


def test_a_bad_mlflow_cpu_does_not_also_blame_the_memory(problems_for):
    problems = problems_for("dev", data_platform__mlflow_cpu=3000)
    assert [p.split(":")[1] for p in problems] == ["data_platform.mlflow_cpu"]


def test_an_rds_instance_class_the_price_file_does_not_list_is_refused(problems_for, only, parses):
    problems = problems_for("dev", data_platform__db_instance_class="db.t4g.huge")
    message = only(problems, "mlplatform:data_platform.db_instance_class")
    assert "prices-us-east-1.json" in message and "db.t4g.medium" in message
    assert parses("dev", data_platform__db_instance_class="db.r7g.large")


def test_the_hokusai_api_without_an_image_is_accepted_and_built(parses):
    settings = parses("dev", data_platform__api=True)
    assert settings.data_platform.api and settings.data_platform.api_image == ""


def test_the_hokusai_api_with_an_image_is_accepted(parses):
    settings = parses("dev", data_platform__api=True, data_platform__api_image=IMAGE)
    assert settings.data_platform.api and settings.data_platform.api_image == IMAGE


SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlflow-oidc-AbCdEf"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
OWN_HTTPS = {"data_platform__share_load_balancer": False, "ingress__certificate_arn": CERTIFICATE,
             "agent_world__share_load_balancer": False,
             "ingress__front_door": "load_balancer"}  # fmt: skip


def test_production_refuses_the_mlflow_ui_behind_basic_auth_alone(problems_for, only):
    message = only(problems_for("prod", data_platform__sso="none"), "mlplatform:data_platform.sso")
    assert "expected oidc or cognito when production is true" in message


def test_one_message_names_every_missing_oidc_key(problems_for):
    problems = problems_for("dev", data_platform__sso="oidc", data_platform__sso_host="a.corp.test",
                            **OWN_HTTPS)  # fmt: skip
    keys = {p.split(": ")[0].removeprefix("mlplatform:data_platform.") for p in problems}
    oidc = ("issuer", "authorization_endpoint", "token_endpoint", "user_info_endpoint",
            "client_id", "client_secret_id")  # fmt: skip
    assert keys == {f"oidc_{key}" for key in oidc}


def test_an_oidc_provider_with_its_secret_by_arn_or_name_is_accepted(parses):
    idp = "https://login.corp.test"
    for secret in (SECRET_ARN, "mlplatform/prod/mlflow-oidc"):
        settings = parses(
            "dev", data_platform__sso="oidc", data_platform__sso_host="mlflow.corp.test",
            data_platform__oidc_issuer=f"{idp}/", data_platform__oidc_authorization_endpoint=
            f"{idp}/authorize", data_platform__oidc_token_endpoint=f"{idp}/token",
            data_platform__oidc_user_info_endpoint=f"{idp}/userinfo",
            data_platform__oidc_client_id="mlflow", data_platform__oidc_client_secret_id=secret,
            **OWN_HTTPS,
        )  # fmt: skip
        assert settings.data_platform.oidc_client_secret_id == secret


def test_prod_signs_in_with_cognito_and_a_derived_domain_prefix(parses):
    from components.config.data_platform import cognito_domain_prefix, sso_host

    settings = parses("prod")
    d = settings.data_platform
    # The sign-in host is dns.mlflow_host, the host of the stack's certificate: set once.
    assert (d.sso, d.sso_host, sso_host(settings), d.cognito_mfa) == (
        "cognito", "", "mlflow.example.com", "ON",
    )  # fmt: skip
    assert cognito_domain_prefix(d, "mlplatform-prod") == "mlplatform-prod-mlflow"


def test_dev_runs_the_api_with_mlflow_and_prod_in_its_own_service(parses):
    dev, prod = parses("dev").data_platform, parses("prod").data_platform
    assert (dev.api_placement, dev.api_with_mlflow, dev.mlflow_workers) == ("with_mlflow", True, 1)
    assert (prod.api_placement, prod.api_with_mlflow, prod.mlflow_workers) == (
        "own_service", False, 2,
    )  # fmt: skip


def test_with_mlflow_memory_is_checked_only_when_the_api_runs_there(problems_for, parses):
    # 2 workers and the API fit in 1 GiB (250 + 2 x 200 + 256 = 906 MiB)...
    assert parses("dev", data_platform__mlflow_workers=2).data_platform.mlflow_workers == 2
    # ...and in its own service MLflow's memory is its own.
    assert parses(
        "dev", data_platform__api_placement="own_service", data_platform__mlflow_workers=4
    )
    # An invalid Fargate pair is reported once, as such, not also as too small.
    problems = problems_for("dev", data_platform__mlflow_cpu=256, data_platform__mlflow_memory=4096)
    assert [p.split(":")[1].split(" ")[0] for p in problems] == ["data_platform.mlflow_memory"]
    assert "with cpu 256" in problems[0]
