"""The HTTP checks: each exported endpoint's health, and the MLflow UI answering.

A health route passes with a 2xx. The MLflow UI passes when it is served (200) or asks the
caller to sign in, the two ways the stack protects it: HTTP Basic (401 with a
``WWW-Authenticate`` header) or the SSO redirect of the load balancer (3xx with a
``Location``); redirects are not followed, so nothing logs in.
"""

from __future__ import annotations

from collections.abc import Iterator

from botocore.exceptions import BotoCoreError, ClientError

from validate import probe
from validate.checks import (
    AGENT_WORLD_HEALTH,
    FAIL,
    HEALTH_PATH,
    OK,
    SIGN_IN_REDIRECTS,
    SKIP,
    Context,
    Result,
    aws_reason,
    text,
)


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + path


def _snippet(body: bytes) -> str:
    shown = body[:80].decode("utf-8", "replace").replace("\n", " ").strip()
    return f": {shown}" if shown else ""


def health(ctx: Context, check: str, url: str, headers: dict[str, str] | None = None) -> Result:
    """GET ``url``: ok on a 2xx."""
    refused = probe.refusal(url, allow_http=ctx.allow_http, credential=bool(headers))
    if refused:
        return Result(FAIL, check, refused)
    answer = probe.get(url, headers=headers)
    if answer.status is None:
        return Result(FAIL, check, f"{url}: {answer.error}")
    if headers and 300 <= answer.status < 400:
        # Not followed: the key would go wherever Location points (probe's docstring).
        location = {k.lower(): v for k, v in answer.headers.items()}.get("location", "none")
        return Result(
            FAIL,
            check,
            f"{url} redirected ({answer.status}) to {location}; not followed with the API key",
        )
    if 200 <= answer.status < 300:
        return Result(OK, check, f"{url} answered {answer.status}")
    return Result(FAIL, check, f"{url} answered {answer.status}{_snippet(answer.body)}")


def mlflow_ui(ctx: Context, url: str) -> Result:
    check = "http mlflow ui"
    refused = probe.refusal(url, allow_http=ctx.allow_http, credential=False)
    if refused:
        return Result(FAIL, check, refused)
    answer = probe.get(url, follow_redirects=False)
    headers = {k.lower(): v for k, v in answer.headers.items()}
    if answer.status is None:
        return Result(FAIL, check, f"{url}: {answer.error}")
    if answer.status == 200:
        return Result(OK, check, f"{url} served the UI (200)")
    if answer.status == 401 and "www-authenticate" in headers:
        scheme = headers["www-authenticate"].split(" ", 1)[0]
        return Result(OK, check, f"{url} asks for credentials (401 {scheme})")
    if answer.status in SIGN_IN_REDIRECTS and headers.get("location"):
        target = headers["location"].split("?", 1)[0]
        return Result(OK, check, f"{url} redirects to sign-in at {target} ({answer.status})")
    return Result(FAIL, check, f"{url} answered {answer.status}{_snippet(answer.body)}")


def agent_world(ctx: Context, rest_url: str) -> Result:
    """The REST API's world health, with the stack's API key (every route requires it)."""
    check, url = "http agent world rest", _join(rest_url, AGENT_WORLD_HEALTH)
    arn = text(ctx.outputs, "agent_world_api_key_secret_arn")
    if arn is None:
        return Result(FAIL, check, "no agent_world_api_key_secret_arn output to read the key")
    refused = probe.refusal(url, allow_http=ctx.allow_http, credential=True)
    if refused:
        return Result(FAIL, check, refused)
    try:
        key = ctx.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    except (ClientError, BotoCoreError, KeyError) as error:
        return Result(FAIL, check, f"cannot read the API key: {aws_reason(error)}")
    return health(ctx, check, url, headers={"x-api-key": key})


def check_endpoints(ctx: Context) -> Iterator[Result]:
    o = ctx.outputs
    url = text(o, "health_check_url")
    if url is None:
        yield Result(SKIP, "http inference", "no health_check_url (inference stack off)")
    else:
        service = text(o, "health_check_service_name")
        if service is not None and ctx.desired.get(service) == 0:
            yield Result(SKIP, "http inference", f"{service} is scaled to zero (desired 0): "
                                                 f"no task answers {url}")  # fmt: skip
        else:
            yield health(ctx, "http inference", url)
    mlflow = text(o, "mlflow_endpoint")
    if mlflow is None:
        yield Result(SKIP, "http mlflow", "no mlflow_endpoint (data platform stack off)")
    else:
        yield health(ctx, "http mlflow", _join(mlflow, HEALTH_PATH))
        yield mlflow_ui(ctx, mlflow)
    api = text(o, "api_endpoint")
    if api is None:
        yield Result(SKIP, "http hokusai api", "no api_endpoint (no API in the data platform)")
    else:
        yield health(ctx, "http hokusai api", _join(api, HEALTH_PATH))
    rest = text(o, "agent_world_rest_url")
    if rest is None:
        yield Result(SKIP, "http agent world rest", "no agent_world_rest_url (stack off)")
    else:
        yield agent_world(ctx, rest)
