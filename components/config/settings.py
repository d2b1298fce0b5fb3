"""Stack configuration, read once and validated before any resource exists.

:class:`Settings` composes the top-level keys of the ``mlplatform`` config namespace and
one section per stack, each defined with its checks in its own module beside this one
(``network.py``, ``ingress.py``, ``training.py``, ``inference.py``, ``data_platform.py``,
``agent_world.py``, ``quotas.py``, ``security.py``, ``dns.py``, ``budget.py``), from the
field machinery in ``fields.py``. This module holds what spans stacks: the top-level keys and their
checks, the paths the stacks share on one load balancer, and every physical name the
configuration derives.

The Pulumi engine hands a Python program its config as strings: a scalar key as its text
(``"true"``, ``"30"``), a structured key as JSON. :func:`parse` takes exactly that map, so
the unit tests and the offline plan feed it what ``pulumi up`` would, and reports every
bad key at once in a single :class:`ConfigError`.

The names other code imports from here (the sections, ``ConfigError``, the constants)
are re-exported, so ``components.config.settings`` stays the one import for a reader.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.config import fields
from components.config.agent_world import AgentWorldSettings, check_agent_world
from components.config.budget import BudgetSettings
from components.config.data_platform import (
    HOKUSAI_API_PATH,
    MLFLOW_PATH,
    DataPlatformSettings,
    check_data_platform,
)
from components.config.dns import DnsSettings, check_dns
from components.config.fields import (
    IMAGE_URI,
    PRICES_FILE,
    PROJECT,
    ConfigError,
    config_fields,
    matches,
    min_length,
    one_of,
    parse_section,
    priced,
    setting,
)
from components.config.fields import (  # noqa: F401  tests/test_project_files.py reads it here
    section_list_item as _section_list_item,
)
from components.config.inference import (
    BACKEND_URL,
    PROVIDER_API_KEY,
    InferenceServiceSettings,
    InferenceSettings,
    check_inference,
)
from components.config.ingress import (
    IngressSettings,
    check_certificate_region,
    check_front_door,
    check_ingress,
)
from components.config.network import NetworkSettings
from components.config.quotas import QuotaSettings
from components.config.security import SecuritySettings, check_security
from components.config.training import TrainingSettings, check_training
from components.lib import fargate, listener_rules, names
from preflight import naming

__all__ = [
    "HOKUSAI_API_PATH",
    "LOG_RETENTION_DAYS",
    "MAX_TAGS",
    "MLFLOW_PATH",
    "PRICES_FILE",
    "PROJECT",
    "SERVICES_DIR",
    "AgentWorldSettings",
    "BudgetSettings",
    "ConfigError",
    "DataPlatformSettings",
    "DnsSettings",
    "InferenceServiceSettings",
    "InferenceSettings",
    "IngressSettings",
    "NetworkSettings",
    "QuotaSettings",
    "SecuritySettings",
    "Settings",
    "StackSwitches",
    "TrainingSettings",
    "aws_regions",
    "config_fields",
    "defaults_as_config",
    "discover_services",
    "load",
    "parse",
    "patterns_overlap",
    "priced",
    "shared_load_balancer_routes",
]

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

MAX_TAGS = 50
"""Tags per resource every service allows (AWS tagging best practices)."""

ENVIRONMENT_NAME = matches(
    r"[a-z][a-z0-9-]*[a-z0-9]",
    "2 or more lowercase letters, digits or '-', starting with a letter, not ending in '-' "
    "(its length is bounded by the physical names it derives)",
)
EMAIL = matches(r"([^@\s]+@[^@\s]+\.[a-z]{2,})?", "an e-mail address or empty")


@functools.cache
def aws_regions() -> frozenset[str]:
    """Every region of every partition in botocore's endpoint data (``endpoints.json``)."""
    import botocore.loaders

    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    return frozenset(r for partition in endpoints["partitions"] for r in partition["regions"])


@dataclass(frozen=True)
class StackSwitches:
    """Which stacks this environment deploys."""

    network: bool = setting(True, "VPC, subnets, NAT, endpoints and flow logs.")
    training: bool = setting(False, "Distributed CMA-ES training on SQS and Fargate Spot.")
    inference: bool = setting(False, "GPU inference behind an ALB on ECS with g4dn instances.")
    data_platform: bool = setting(False, "MLflow on Fargate with RDS PostgreSQL and S3.")
    agent_world: bool = setting(False, "DynamoDB, ECS, API Gateway, CloudFront and Redis.")


@dataclass(frozen=True)
class Settings:
    """Everything the program reads from config. Build with :func:`parse` or :func:`load`."""

    environment: str = setting(
        "",
        "Environment name used in resource names and tags: lowercase letters, digits and '-', "
        "not ending in '-', short enough for every physical name it derives (the check names "
        "the longest).",
        ENVIRONMENT_NAME,
        required=True,
    )
    production: bool = setting(
        False,
        "A production stack: refuses ingress.allow_http, ingress.front_door http_api, "
        "log_retention_days under 365, "
        "deletion_protection false, data_platform.backup_retention_days under 14, a load "
        "balancer without a certificate (dns host or ingress.certificate_arn) and CloudFront's "
        "default certificate.",
    )
    deletion_protection: bool = setting(
        True, "Protect stateful resources from deletion; required in production."
    )
    log_retention_days: int = setting(
        365, "Retention of every CloudWatch log group.", one_of(*LOG_RETENTION_DAYS)
    )
    tags: Mapping[str, str] = setting(
        types.MappingProxyType({}),
        "Extra tags on every taggable resource: keys and values of the characters every service "
        "accepts (letters, digits, spaces and _.:/=+-@).",
    )
    alarm_email: str = setting(
        "", "E-mail address subscribed to the stacks' alarm topics; empty for none.", EMAIL
    )
    inference_api_key: str = setting(
        "",
        "API key the inference services require; set it with `pulumi config set --secret`. "
        "Empty: a random key is generated and kept in Secrets Manager.",
        min_length(16),
        secret=True,
    )
    openai_api_key: str = setting(
        "",
        "OpenAI API key of the vision validator's analysis (seed 001: openai_api_key or "
        "gemini_api_key is required for AI analysis); set it with `pulumi config set "
        "--secret`. Empty: no OpenAI analysis.",
        PROVIDER_API_KEY,
        secret=True,
    )
    gemini_api_key: str = setting(
        "",
        "Gemini API key of the vision validator's analysis, used when openai_api_key is "
        "empty; set it with `pulumi config set --secret`. Empty: no Gemini analysis. "
        "Neither key: the vision validator answers 503 to every validation.",
        PROVIDER_API_KEY,
        secret=True,
    )
    backend_url: str = setting(
        "",
        "The Fabrikator backend (seed 001): when set, the vision validator fetches "
        "artifactsUrl only from this URL's host. Empty: from any public host.",
        BACKEND_URL,
    )
    images: Mapping[str, str] = setting(
        types.MappingProxyType({}),
        "Prebuilt image URI per service (directory under services/); a listed service is "
        "not built, so `pulumi preview` needs no Docker.",
    )
    cpu_architecture: str = setting(
        fargate.DEFAULT_ARCHITECTURE,
        "CPU architecture of the Fargate tasks of the data platform (MLflow, the Hokusai API), "
        "the agent world services and the CMA-ES workers, and of their images (arm64: "
        "Graviton, 20 % cheaper; building arm64 on an x86_64 host needs QEMU). The GPU "
        "services and the images Lambda runs stay x86_64.",
        one_of(*fargate.CPU_ARCHITECTURES),
    )
    stacks: StackSwitches = setting(StackSwitches(), "Which stacks to deploy.")
    network: NetworkSettings = setting(NetworkSettings(), "The VPC.")
    ingress: IngressSettings = setting(IngressSettings(), "Public load balancer ingress.")
    training: TrainingSettings = setting(TrainingSettings(), "Training stack.")
    inference: InferenceSettings = setting(InferenceSettings(), "GPU inference stack.")
    data_platform: DataPlatformSettings = setting(DataPlatformSettings(), "Data platform stack.")
    agent_world: AgentWorldSettings = setting(AgentWorldSettings(), "Agent world stack.")
    quotas: QuotaSettings = setting(QuotaSettings(), "Service Quotas requests.")
    security: SecuritySettings = setting(SecuritySettings(), "AWS WAF on the public endpoints.")
    dns: DnsSettings = setting(DnsSettings(), "Host names, certificates and alias records.")
    budget: BudgetSettings = setting(
        BudgetSettings(), "AWS Budgets and Cost Anomaly Detection to the alarm topic."
    )

    # Not config keys: filled in from the engine.
    project: str = field(default=PROJECT, metadata={"config": False})
    stack: str = field(default="", metadata={"config": False})
    region: str = field(default="", metadata={"config": False})

    def base_tags(self, component: str) -> dict[str, str]:
        """The tag map every taggable resource of ``component`` carries."""
        return {
            **self.tags,
            "project": self.project,
            "stack": self.stack,
            "environment": self.environment,
            "component": component,
            "managed-by": "pulumi",
        }

    def prefix(self) -> str:
        """Physical-name prefix, e.g. ``mlplatform-dev``."""
        return f"{self.project}-{self.environment}"


# --- checks that span stacks ----------------------------------------------------------


def _cross_checks(s: Settings, problems: list[str], known_services: frozenset[str]) -> None:
    """Rules that involve more than one key, each section's in its module, in the order
    of the problems they report."""
    _check_stack_switches(s, problems)
    _check_production(s, problems)
    check_ingress(s, problems)
    check_front_door(s, problems)
    check_dns(s, problems)
    check_security(s, problems)
    check_training(s, problems)
    check_data_platform(s, problems)
    check_agent_world(s, problems)
    check_inference(s, problems, known_services)
    _check_images(s, problems, known_services)
    _check_tags(s, problems)
    check_certificate_region(s, problems)
    _check_shared_load_balancer_paths(s, problems)
    _check_physical_names(s, problems)


def _check_stack_switches(s: Settings, problems: list[str]) -> None:
    """Every stack runs in the network's VPC."""
    for name in config_fields(StackSwitches):
        enabled = getattr(s.stacks, name.name)
        if enabled and name.name != "network" and not s.stacks.network:
            problems.append(f"{PROJECT}:stacks.{name.name}: needs stacks.network true")


def _check_production(s: Settings, problems: list[str]) -> None:
    """What a production stack may not do; ``production`` is a setting, not a stack name."""
    if not s.production:
        return
    ns = f"{PROJECT}:"
    if not s.deletion_protection:
        problems.append(f"{ns}deletion_protection: expected true when production is true")
    if s.ingress.allow_http:
        problems.append(
            f"{ns}ingress.allow_http: expected false when production is true (HTTPS only; set "
            "ingress.certificate_arn)"
        )
    if s.ingress.http_api:
        problems.append(
            f"{ns}ingress.front_door: expected load_balancer when production is true (the "
            "internet-facing load balancer with its certificate, host name and WAF; http_api "
            "is dev's idle-cost saving)"
        )
    if s.log_retention_days < 365:
        problems.append(
            f"{ns}log_retention_days: expected at least 365 when production is true "
            f"(got {s.log_retention_days})"
        )


def _check_images(s: Settings, problems: list[str], known_services: frozenset[str]) -> None:
    """A prebuilt image stands in for a service that exists, by a URI a task can pull."""
    ns = f"{PROJECT}:"
    for service, uri in s.images.items():
        if service not in known_services:
            problems.append(
                f"{ns}images.{service}: unknown service; expected one of the directories under "
                f"services/ with a Dockerfile ({', '.join(sorted(known_services)) or 'none yet'})"
            )
        elif not IMAGE_URI.fullmatch(uri):
            problems.append(
                f"{ns}images.{service}: expected an image URI such as "
                f"123456789012.dkr.ecr.us-east-1.amazonaws.com/name:tag or ...@sha256:<digest>"
            )


def _check_tags(s: Settings, problems: list[str]) -> None:
    ns = f"{PROJECT}:tags"
    for key, value in s.tags.items():
        for problem in (naming.tag_key_problem(key), naming.tag_value_problem(value)):
            if problem:
                problems.append(
                    f"{ns}.{key}: expected {problem}, the characters every service accepts "
                    f"in tags [{naming.TAG_SOURCE}]"
                )
    # The base tags, and the Name tag some resources (security groups) add.
    own = set(dataclasses.replace(s, tags=types.MappingProxyType({})).base_tags("")) | {"Name"}
    if len(set(s.tags) | own) > MAX_TAGS:
        problems.append(
            f"{ns}: expected at most {MAX_TAGS - len(own)} tags besides the {len(own)} the "
            f"program sets ({', '.join(sorted(own))}); AWS allows {MAX_TAGS} per resource"
        )


def patterns_overlap(a: str, b: str) -> bool:
    """True when some request path matches both ALB path patterns (``*``: any run of
    characters, ``?``: one character; ALB matches case-sensitively)."""

    @functools.cache
    def overlap(i: int, j: int) -> bool:
        if i == len(a):
            return all(c == "*" for c in b[j:])
        if j == len(b):
            return all(c == "*" for c in a[i:])
        if a[i] == "*":
            return overlap(i + 1, j) or overlap(i, j + 1)
        if b[j] == "*":
            return overlap(i, j + 1) or overlap(i + 1, j)
        if a[i] == "?" or b[j] == "?" or a[i] == b[j]:
            return overlap(i + 1, j + 1)
        return False

    return overlap(0, 0)


def shared_load_balancer_routes(s: Settings) -> dict[str, tuple[str, ...]]:
    """Path patterns the other stacks route on the inference load balancer, by config key.

    The agent world's rules there match a header and the VPC's range, not a path, so they
    take no path from the inference services (components/stacks/agent_world/stack.py).
    """
    d = s.data_platform
    if not (s.stacks.inference and s.stacks.data_platform and d.share_load_balancer):
        return {}
    routes = {f"{PROJECT}:data_platform.share_load_balancer": (MLFLOW_PATH, f"{MLFLOW_PATH}/*")}
    if d.api:
        routes[f"{PROJECT}:data_platform.api"] = (HOKUSAI_API_PATH, f"{HOKUSAI_API_PATH}/*")
    return routes


def _check_shared_load_balancer_paths(s: Settings, problems: list[str]) -> None:
    most = listener_rules.MAX_INFERENCE_SERVICES_BEFORE_DATA_PLATFORM
    if shared_load_balancer_routes(s) and len(s.inference.services) > most:
        problems.append(
            f"{PROJECT}:inference.services: expected at most {most} services while "
            "data_platform.share_load_balancer is true: the next one's listener rule takes "
            f"priority {listener_rules.inference(most)}, which comes after MLflow's "
            f"({listener_rules.MLFLOW}) on the shared listener"
        )
    for other_key, theirs in shared_load_balancer_routes(s).items():
        for n, svc in enumerate(s.inference.services):
            for pattern in svc.path_patterns:
                clash = [p for p in theirs if patterns_overlap(pattern, p)]
                if clash:
                    problems.append(
                        f"{PROJECT}:inference.services[{n}].path_patterns: expected paths the "
                        f"shared load balancer does not route to another stack: {pattern!r} "
                        f"overlaps {clash[0]!r} ({other_key})"
                    )


def _check_physical_names(s: Settings, problems: list[str]) -> None:
    """Every physical name the configuration derives, held to AWS's limit for its type;
    no two services may share a target group or an ECR repository."""
    built_from = re.compile(
        rf"{PROJECT}:(environment|inference\.services(\[\d+\]\.(name|source))?):"
    )
    if not s.environment or any(built_from.match(p) for p in problems):
        return  # the names would be built from a value already reported
    by_key: dict[str, list[tuple[int, str]]] = {}
    overflow: dict[str, int] = {}
    seen: dict[tuple[str, str], str] = {}
    collisions: dict[str, None] = {}
    for name in names.physical_names(s):
        if problem := naming.problem(name.type, name.property, name.value):
            rule = naming.rule_for(name.type, name.property).resolved()
            excess = len(name.value) - rule.max_value_length()
            overflow[name.key] = max(overflow.get(name.key, 0), excess)
            shown = f"{name.value!r} ({name.type} {name.property}): expected {problem}"
            by_key.setdefault(name.key, []).append((-excess, f"{shown} [{rule.source}]"))
        if name.type in (names.TARGET_GROUP, names.REPOSITORY):
            first = seen.setdefault((name.type, name.value), name.key)
            if first == name.key:
                continue
            kind = "target group" if name.type == names.TARGET_GROUP else "ECR repository"
            if len(name.value) <= len(s.prefix()) + 1:  # the cut left nothing of the service
                collisions.setdefault(
                    f"{names.ENVIRONMENT_KEY}: expected a shorter environment: {kind} names "
                    f"are cut to 32 characters, and {name.value!r} leaves no room for the "
                    "service names that tell them apart"
                )
            else:
                collisions.setdefault(
                    f"{name.key}: expected a name no other service maps to: its {kind} "
                    f"{name.value!r} is also {first}'s"
                )
    problems.extend(collisions)
    for key, found_by_excess in by_key.items():
        found = [text for _, text in sorted(found_by_excess)]  # the longest first
        shown = "; ".join(found[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
        value = s.environment if key == names.ENVIRONMENT_KEY else _value_of(s, key)
        longest = (
            f", at most {len(value) - overflow[key]} characters here"
            if overflow.get(key, 0) > 0 and value
            else ""
        )
        problems.append(
            f"{key}: expected a value that keeps every physical name it derives within AWS's "
            f"limits{longest}: {shown}"
        )


def _value_of(s: Settings, key: str) -> str:
    """The value of an ``inference.services[<n>].<field>`` key (or empty)."""
    match = re.fullmatch(rf"{PROJECT}:inference\.services\[(\d+)\]\.(\w+)", key)
    if not match:
        return ""
    svc = s.inference.services[int(match[1])]
    return svc.source_dir() if match[2] == "source" else str(getattr(svc, match[2]))


def discover_services(services_dir: Path = SERVICES_DIR) -> frozenset[str]:
    """Service names: the directories under ``services/`` that hold a Dockerfile."""
    if not services_dir.is_dir():
        return frozenset()
    return frozenset(p.parent.name for p in services_dir.glob("*/Dockerfile"))


def parse(
    config: Mapping[str, str],
    stack: str,
    known_services: frozenset[str] | None = None,
    secret_keys: frozenset[str] = frozenset(),
) -> Settings:
    """Build settings from the engine's config map (``"mlplatform:key"`` / ``"aws:region"``
    to string), raising one :class:`ConfigError` that lists every problem.

    ``secret_keys`` are the keys the engine holds encrypted; a secret field set in plain
    text is refused.
    """
    problems: list[str] = []
    ns = f"{PROJECT}:"
    raw = {k[len(ns) :]: v for k, v in config.items() if k.startswith(ns)}
    settings = parse_section(Settings, raw, ns, problems, from_text=True)
    for f in config_fields(Settings):
        if f.metadata.get("secret") and raw.get(f.name) and f"{ns}{f.name}" not in secret_keys:
            problems.append(
                f"{ns}{f.name}: expected a secret value: pulumi config set --secret {f.name} ..."
            )
    region = config.get("aws:region", "")
    if region not in aws_regions():
        problems.append(
            f"aws:region: expected an AWS region such as us-east-1, one of botocore's endpoint "
            f"data (got {region!r})"
        )
    settings = dataclasses.replace(settings, stack=stack, region=region)
    if known_services is None:
        known_services = discover_services()
    _cross_checks(settings, problems, known_services)
    if problems:
        raise ConfigError(problems)
    return settings


def load() -> Settings:
    """Read the running program's config through the Pulumi SDK and :func:`parse` it."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    # Older engines pass keys as "<namespace>:config:<key>".
    normalized = {k.replace(":config:", ":", 1): v for k, v in merged.items()}
    secret = {k for k in merged if runtime_config.is_config_secret(k)}
    secret |= set(runtime_config.get_config_secret_keys_env())
    secret_keys = frozenset(k.replace(":config:", ":", 1) for k in secret)
    return parse(normalized, pulumi.get_stack(), secret_keys=secret_keys)


def defaults_as_config(cls: type = Settings) -> dict[str, Any]:
    """The default of every config key (of ``Settings`` unless ``cls`` is a section), as it
    would be written in a stack file."""
    return fields.defaults_as_config(cls)
