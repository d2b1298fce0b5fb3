"""MLflow single sign-on (``data_platform.sso``, components/stacks/data_platform.py): dev
keeps basic auth alone; prod signs the browser in with a Cognito user pool the stack
creates; an OIDC provider from config; the SDK's paths keep basic auth either way."""

from __future__ import annotations

import json

import pytest

from components.lib import listener_rules
from components.stacks.data_platform import MLFLOW_CLIENT_PATHS
from offline.mocks import SECRET_PLACEHOLDER

RULE = "aws:lb/listenerRule:ListenerRule"
POOL = "aws:cognito/userPool:UserPool"
DOMAIN = "aws:cognito/userPoolDomain:UserPoolDomain"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
OIDC = {
    "data_platform.sso": "oidc",
    "data_platform.oidc_issuer": "https://login.corp.test/",
    "data_platform.oidc_authorization_endpoint": "https://login.corp.test/authorize",
    "data_platform.oidc_token_endpoint": "https://login.corp.test/oauth/token",
    "data_platform.oidc_user_info_endpoint": "https://login.corp.test/userinfo",
    "data_platform.oidc_client_id": "mlflow-alb",
    "data_platform.oidc_client_secret_id": "mlplatform/prod/mlflow-oidc-client-secret",
}


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("data-platform")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("data-platform")


@pytest.fixture(scope="module")
def oidc():
    from offline.runner import run_program

    return run_program("prod", OIDC).subtree("data-platform")


def mlflow_env(run) -> dict[str, str]:
    container = json.loads(run.named("data-platform-mlflow-task").inputs["containerDefinitions"])[0]
    return {e["name"]: e["value"] for e in container["environment"]}


def alb_egress_to_anywhere(run) -> list:
    alb_sg = run.named("data-platform-lb-sg").id
    return [
        r
        for r in run.of_type(EGRESS)
        if r.inputs["securityGroupId"] == alb_sg and r.inputs.get("cidrIpv4") == "0.0.0.0/0"
    ]


# --- dev: basic auth only, unchanged ---------------------------------------------------


def test_dev_has_no_sign_in(dev):
    assert not dev.of_type(POOL) and not dev.of_type(DOMAIN) and not dev.of_type(CLIENT)
    rule = dev.named("data-platform-mlflow-rule")
    assert [a["type"] for a in rule.inputs["actions"]] == ["forward"]
    assert "order" not in rule.inputs["actions"][0]
    assert not any(k.startswith("MLFLOW_SSO_") for k in mlflow_env(dev))


# --- prod: Cognito ----------------------------------------------------------------------


def test_prod_user_pool_requires_totp_mfa_and_admin_created_users(prod):
    pool = prod.one(POOL)
    p = pool.inputs
    assert p["mfaConfiguration"] == "ON"
    assert p["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert p["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True
    assert p["usernameAttributes"] == ["email"]
    assert p["passwordPolicy"]["minimumLength"] >= 14
    assert all(p["passwordPolicy"][f"require{k}"] for k in ("Lowercase", "Uppercase", "Numbers"))
    assert p["passwordPolicy"]["requireSymbols"] is True
    # Prod asks for threat protection (FSBP Cognito.1): the Plus tier, enforced.
    assert (p["userPoolTier"], p["userPoolAddOns"]) == (
        "PLUS",
        {"advancedSecurityMode": "ENFORCED"},
    )
    assert p["deletionProtection"] == "ACTIVE" and pool.options["protect"] is True


def test_without_threat_protection_the_pool_is_the_free_lite_tier(run_stack):
    # Lite: free up to 10,000 monthly active users; no per-user threat protection charge.
    run = run_stack("prod", {"data_platform.cognito_threat_protection": False})
    p = run.one(POOL).inputs
    assert p["userPoolTier"] == "LITE" and "userPoolAddOns" not in p


def test_dev_with_cognito_can_tear_the_pool_down(run_stack):
    cert = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    run = run_stack("dev", {
        "data_platform.sso": "cognito", "data_platform.sso_host": "mlflow.dev.corp.test",
        "data_platform.share_load_balancer": False, "ingress.certificate_arn": cert,
        "agent_world.share_load_balancer": False, "ingress.front_door": "load_balancer",
    })  # fmt: skip
    pool = run.one(POOL)
    assert pool.inputs["deletionProtection"] == "INACTIVE" and pool.options["protect"] is False


def test_prod_domain_and_app_client_are_the_load_balancers(prod):
    pool = prod.one(POOL)
    domain = prod.one(DOMAIN).inputs
    assert domain == {"domain": "mlplatform-prod-mlflow", "userPoolId": pool.id}
    c = prod.one(CLIENT).inputs
    assert c["userPoolId"] == pool.id
    assert c["generateSecret"] is True
    assert c["allowedOauthFlowsUserPoolClient"] is True
    assert c["allowedOauthFlows"] == ["code"]
    assert c["allowedOauthScopes"] == ["openid", "email"]
    assert c["callbackUrls"] == ["https://mlflow.example.com/oauth2/idpresponse"]
    assert c["supportedIdentityProviders"] == ["COGNITO"]


def test_prod_signs_the_browser_in_with_cognito_before_forwarding(prod):
    rule = prod.named("data-platform-mlflow-rule").inputs
    sign_in, forward = rule["actions"]
    assert (sign_in["type"], sign_in["order"]) == ("authenticate-cognito", 1)
    assert sign_in["authenticateCognito"] == {
        "userPoolArn": prod.one(POOL).outputs["arn"],
        "userPoolClientId": prod.one(CLIENT).id,
        "userPoolDomain": "mlplatform-prod-mlflow",
        "scope": "openid email",
        "sessionTimeout": 43200,
        "onUnauthenticatedRequest": "authenticate",
    }
    target_group = prod.named("data-platform-mlflow-tg").outputs["arn"]
    assert forward == {"type": "forward", "order": 2, "targetGroupArn": target_group}
    assert rule["conditions"] == [{"pathPattern": {"values": ["/mlflow", "/mlflow/*"]}}]
    assert rule["priority"] == listener_rules.MLFLOW


def test_the_sdk_paths_reach_mlflow_without_the_sign_in_first(each_run):
    rules = {r.name: r.inputs for r in each_run.of_type(RULE)}
    client = rules["data-platform-mlflow-client-rule"]
    assert client["conditions"] == [{"pathPattern": {"values": list(MLFLOW_CLIENT_PATHS)}}]
    assert client["actions"] == [
        {
            "type": "forward",
            "targetGroupArn": each_run.named("data-platform-mlflow-tg").outputs["arn"],
        }
    ]
    assert "/mlflow/api/*" in MLFLOW_CLIENT_PATHS
    assert not any("ajax-api" in p for p in MLFLOW_CLIENT_PATHS)  # the UI's own calls: signed in
    # Evaluated before the catch-all rule that signs in; unique on the listener.
    assert client["priority"] < rules["data-platform-mlflow-rule"]["priority"]
    listener = client["listenerArn"]
    priorities = [r["priority"] for r in rules.values() if r["listenerArn"] == listener]
    assert len(priorities) == len(set(priorities))


@pytest.fixture(params=["prod", "oidc"])
def each_run(request, prod, oidc):
    return {"prod": prod, "oidc": oidc}[request.param]


def test_the_load_balancer_may_reach_the_idp_on_443_only(each_run, dev):
    (rule,) = alb_egress_to_anywhere(each_run)
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == (
        "tcp",
        443,
        443,
    )
    assert "IdP" in rule.inputs["description"]
    assert not [r for r in dev.of_type(EGRESS) if "IdP" in r.inputs.get("description", "")]


def test_mlflow_trusts_only_claims_this_load_balancer_signed(each_run):
    env = mlflow_env(each_run)
    alb = each_run.named("data-platform-lb-alb").outputs["arn"]
    assert env["MLFLOW_SSO_SIGNER"] == alb
    assert env["MLFLOW_SSO_USERNAME_CLAIM"] == "email"
    assert env["MLFLOW_AUTH"] == "true"  # the SDK's basic auth stays on
    assert "mlflow.example.com" in env["ALLOWED_HOSTS"].split(",")
    assert env["PUBLIC_SCHEME"] == "https"


# --- an OIDC provider from config --------------------------------------------------------


def test_oidc_signs_in_with_the_configured_idp_and_the_secret_read_at_deploy_time(oidc):
    rule = oidc.named("data-platform-mlflow-rule")
    sign_in, forward = rule.inputs["actions"]
    assert (sign_in["type"], sign_in["order"], forward["type"], forward["order"]) == (
        "authenticate-oidc",
        1,
        "forward",
        2,
    )
    assert sign_in["authenticateOidc"] == {
        "issuer": "https://login.corp.test/",
        "authorizationEndpoint": "https://login.corp.test/authorize",
        "tokenEndpoint": "https://login.corp.test/oauth/token",
        "userInfoEndpoint": "https://login.corp.test/userinfo",
        "clientId": "mlflow-alb",
        "clientSecret": SECRET_PLACEHOLDER,  # the mocks' value of the operator's secret
        "scope": "openid email",
        "sessionTimeout": 43200,
        "onUnauthenticatedRequest": "authenticate",
    }
    # The engine keeps the rule's actions, which hold the client secret, encrypted.
    assert "actions" in rule.secret_paths
    assert not oidc.of_type(POOL) and not oidc.of_type(CLIENT) and not oidc.of_type(DOMAIN)


def test_prod_without_a_host_placeholder_exports_the_sign_in_host(run_stack):
    run = run_stack(
        "prod",
        {
            "dns.mlflow_host": "mlflow.corp.test",
            "data_platform.allowed_hosts": ["mlflow.corp.test"],
        },
    )
    assert run.outputs["mlflow_endpoint"] == "https://mlflow.corp.test/mlflow/"
    assert run.one(CLIENT).inputs["callbackUrls"] == ["https://mlflow.corp.test/oauth2/idpresponse"]
