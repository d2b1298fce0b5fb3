"""The ``inference`` section: HTTP services behind one load balancer, on GPU instances or
Fargate, and the checks that each service fits where it runs and is built from something.

Read by ``components/stacks/inference.py``. Its paths on a load balancer the data platform
shares, and the physical names its services derive, are checked in ``settings.py``, which
sees every stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.config.fields import (
    IMAGE_URI,
    PROJECT,
    fargate_size_error,
    int_range,
    matches,
    one_of,
    setting,
)
from components.lib import instance_types, schedules

if TYPE_CHECKING:
    from components.config.settings import Settings


def gpu_instance_type(value: str) -> str | None:
    if instance_types.gpu_count(value) > 0:
        return None
    return (
        f"a GPU instance type of the families {', '.join(instance_types.GPU_FAMILIES)}, "
        f"such as g4dn.xlarge (got {value!r})"
    )


def alb_path_patterns(value: tuple[str, ...]) -> str | None:
    # An ALB path-pattern condition takes at most 5 values of up to 128 characters.
    if not 1 <= len(value) <= 5 or not all(
        re.fullmatch(r"/[A-Za-z0-9_\-.$/~\"'@:+*?&]{0,127}", v) for v in value
    ):
        return "1-5 URL paths starting with '/', each at most 128 characters (* and ? allowed)"
    return None


PROVIDER_API_KEY = matches(
    r"([\x21-\x7e]{8,512})?", "empty, or 8-512 visible ASCII characters (no spaces)"
)
"""An OpenAI or Gemini API key, as the vision validator's settings accept it."""
BACKEND_URL = matches(
    r"(https://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?)*(:\d{1,5})?(/[A-Za-z0-9._~%/-]*)?)?",
    "empty, or an https URL without credentials, query or fragment, such as "
    "https://backend.example.com",
)
VISION_SOURCE = "vision_validator"
"""The service (directory under services/) that gets the provider keys and the backend URL."""

DEADLINE_MARGIN_SECONDS = 10
"""How much sooner than the load balancer's idle timeout (``request_timeout_seconds``) the
vision validator ends a validation (its ``VALIDATE_DEADLINE_SECONDS``): time for its JSON
504 to reach the load balancer before the load balancer gives up with an HTML 504."""


def validate_deadline(request_timeout_seconds: int) -> int:
    """The vision validator's ``VALIDATE_DEADLINE_SECONDS`` for a load balancer idle timeout."""
    return request_timeout_seconds - DEADLINE_MARGIN_SECONDS


RUNTIMES = ("ecs", "lambda")
"""Where a service runs: ECS tasks (Fargate, or the GPU instances), or a Lambda function
built from the same image, the load balancer's target (no idle cost)."""
LAMBDA_HANDLER_MODULE = "lambda_handler"
"""The module of a service's package that adapts load balancer events to its app: a
service on Lambda has ``services/<source>/<source>/lambda_handler.py`` with ``handler``."""
LAMBDA_MEMORY_MB = (128, 10240)
"""Lambda's memory range (botocore ``lambda`` ``MemorySize``: 128-10240 MB)."""
LAMBDA_TIMEOUT_MAX_SECONDS = 900
"""Lambda's longest invocation (botocore ``lambda`` ``Timeout``: at least 1)."""


def lambda_timeout(request_timeout_seconds: int) -> int:
    """A Lambda service's timeout: ``DEADLINE_MARGIN_SECONDS`` within the load balancer's idle
    timeout (so the function's own error reaches the load balancer before it gives up), and
    at most Lambda's 900 s."""
    return min(validate_deadline(request_timeout_seconds), LAMBDA_TIMEOUT_MAX_SECONDS)


SERVICE_NAME = matches(
    r"[a-z][a-z0-9-]{1,19}", "2-20 lowercase letters, digits or '-', starting with a letter"
)
URL_PATH = matches(r"/[A-Za-z0-9_\-./]{0,127}", "a URL path starting with '/'")


@dataclass(frozen=True)
class InferenceServiceSettings:
    """One HTTP service behind the inference load balancer."""

    name: str = setting(
        "",
        "Service name: ECS service, log group /ecs/<env>/<name>, target group.",
        SERVICE_NAME,
        required=True,
    )
    source: str = setting(
        "", "Directory under services/ its image is built from; empty: the name with - as _."
    )
    image: str = setting(
        "", "Prebuilt image URI instead of a build; empty: build (or images.<source>)."
    )
    container_port: int = setting(8000, "Port the container listens on.", int_range(1, 65535))
    health_path: str = setting("/health", "Path the load balancer health check requests.", URL_PATH)
    path_patterns: tuple[str, ...] = setting(
        (),
        "Paths the load balancer routes to this service (ALB path patterns).",
        alb_path_patterns,
        required=True,
    )
    gpu: int = setting(
        0,
        "GPUs per task; 0 runs the service on Fargate, more on the GPU instances.",
        int_range(0, 8),
    )
    cpu: int = setting(1024, "CPU units per task (1024 = 1 vCPU).", int_range(128, 196608))
    memory: int = setting(
        2048,
        "Memory per task in MiB; runtime lambda: the function's memory (at most 10240).",
        int_range(512, 2_000_000),
    )
    desired_count: int = setting(1, "Tasks at deployment.", int_range(0, 100))
    min_count: int = setting(
        1,
        "Fewest tasks; 0 lets the service (and its GPU instances) scale to zero.",
        int_range(0, 100),
    )
    max_count: int = setting(2, "Most tasks.", int_range(1, 100))
    cpu_target: int = setting(70, "Average CPU % the service scales to hold.", int_range(1, 100))
    memory_target: int = setting(
        80, "Average memory % the service scales to hold.", int_range(1, 100)
    )
    runtime: str = setting(
        "ecs",
        "ecs: ECS tasks (Fargate without a GPU, else the GPU instances). lambda (gpu 0 only): "
        "a Lambda function from the same image as the load balancer's target, no idle cost; "
        "cpu, the counts and the targets are unused (Lambda scales per request).",
        one_of(*RUNTIMES),
    )
    concurrency: int = setting(
        0,
        "runtime lambda: concurrent invocations reserved for, and capping, the function; 0: "
        "none (an account whose concurrency limit is 10 refuses any reservation).",
        int_range(0, 1000),
    )

    def source_dir(self) -> str:
        """The directory under ``services/`` the image is built from."""
        return self.source or self.name.replace("-", "_")

    @property
    def on_lambda(self) -> bool:
        """Whether the service runs as a Lambda function (``runtime: lambda``)."""
        return self.runtime == "lambda"

    @property
    def tracks(self) -> bool:
        """Whether CPU and memory target tracking can add a task: only beyond the first
        (from zero, the wake policy starts one and the idle policy stops it), so a service
        of at most one task has no tracking policies (nor their alarms, $0.10 a month each)."""
        return self.max_count > max(self.min_count, 1)

    def lambda_handler(self) -> str:
        """``<package>.lambda_handler.handler``: what the function's image runs."""
        return f"{self.source_dir()}.{LAMBDA_HANDLER_MODULE}.handler"


@dataclass(frozen=True)
class ScheduleSettings:
    """Working hours: each GPU service with ``min_count`` 0 keeps one task (and so one GPU
    instance) running, then may scale to zero again."""

    enabled: bool = setting(
        False,
        "Keep one task of each GPU service with min_count 0 (and its GPU instance) running "
        "in the working hours below; billed as that instance's hours.",
    )
    timezone: str = setting(
        "UTC", "IANA time zone of the hours, such as Europe/Berlin.", schedules.timezone_error
    )
    days: str = setting(
        "MON-FRI", "Days of the week: MON-FRI, or a list such as MON,WED,FRI.", schedules.days_error
    )
    start_hour: int = setting(8, "Hour (0-22) the warm task starts.", int_range(0, 22))
    end_hour: int = setting(
        18, "Hour (1-23) it may scale to zero again; after start_hour.", int_range(1, 23)
    )


@dataclass(frozen=True)
class InferenceSettings:
    """GPU inference: services behind one ALB, on g4dn instances or Fargate."""

    instance_type: str = setting("g4dn.xlarge", "GPU instance type.", gpu_instance_type)
    min_instances: int = setting(
        0, "Fewest GPU instances; 0 lets them scale to zero.", int_range(0, 100)
    )
    max_instances: int = setting(2, "Most GPU instances.", int_range(1, 100))
    spot_percentage: int = setting(
        0, "Share of GPU instances and Fargate tasks on Spot, 0-100.", int_range(0, 100)
    )
    root_volume_gib: int = setting(
        60,
        "Encrypted gp3 root volume of each GPU instance (the GPU AMI needs 30+).",
        int_range(30, 16384),
    )
    warm_pool_size: int = setting(
        0,
        "GPU instances kept initialised and stopped in an Auto Scaling warm pool (they pay "
        "their root volumes only) and started before new ones launch; 0 disables it; at most "
        "max_instances; on-demand only (spot_percentage 0).",
        int_range(0, 100),
    )
    scale_in_idle_minutes: int = setting(
        30,
        "For a service with min_count 0: minutes without a request before it scales to zero.",
        int_range(1, 1440),
    )
    # A frozen section as the default, as in settings.py (setting() returns a Field).
    schedule: ScheduleSettings = setting(  # noqa: RUF009
        ScheduleSettings(),
        "Scheduled scaling: working hours that keep one warm GPU task; off by default.",
    )
    dashboard: bool = setting(
        True, "A CloudWatch dashboard of the stack ($3 a month beyond an account's first 3)."
    )
    access_logs: bool = setting(
        True, "Load balancer access logs to an S3 bucket (kept log_retention_days)."
    )
    request_timeout_seconds: int = setting(
        120,
        "Seconds the load balancer waits for a service's answer (its idle timeout, AWS's "
        "range 1-4000); the vision validator ends a validation 10 s sooner "
        "(VALIDATE_DEADLINE_SECONDS) with a JSON 504.",
        int_range(30, 4000),
    )
    services: tuple[InferenceServiceSettings, ...] = setting(
        (
            InferenceServiceSettings(
                name="vision-validator",
                path_patterns=("/validate", "/validate/*", "/health"),
                gpu=1,
                cpu=2048,
                memory=8192,
                desired_count=1,
                min_count=1,
                max_count=2,
            ),
            InferenceServiceSettings(
                name="ai-inference",
                path_patterns=("/move", "/move/*"),
                gpu=0,
                cpu=512,
                memory=1024,
                desired_count=1,
                min_count=1,
                max_count=4,
            ),
        ),
        "The services, a list of objects with the keys below.",
    )


def check_inference(s: Settings, problems: list[str], known_services: frozenset[str]) -> None:
    """Rules between the inference keys, then each service's (:func:`check_services`)."""
    i = s.inference
    if i.max_instances < i.min_instances:
        problems.append(
            f"{PROJECT}:inference.max_instances: expected at least min_instances "
            f"({i.min_instances})"
        )
    if i.warm_pool_size > i.max_instances:
        problems.append(
            f"{PROJECT}:inference.warm_pool_size: expected at most max_instances "
            f"({i.max_instances}) (got {i.warm_pool_size})"
        )
    if i.warm_pool_size and i.spot_percentage:
        # PutWarmPool refuses a group with a mixed instances policy or Spot instances.
        problems.append(
            f"{PROJECT}:inference.warm_pool_size: expected 0 while inference.spot_percentage "
            f"is above 0 (got {i.warm_pool_size}, spot_percentage {i.spot_percentage}): "
            "AWS keeps warm pools for on-demand groups only"
        )
    check_schedule(s, problems)
    check_services(s, problems, known_services)


def check_schedule(s: Settings, problems: list[str]) -> None:
    """An enabled schedule ends after it starts and has a GPU service to keep warm."""
    schedule = s.inference.schedule
    if not schedule.enabled:
        return
    key = f"{PROJECT}:inference.schedule"
    if schedule.end_hour <= schedule.start_hour:
        problems.append(
            f"{key}.end_hour: expected an hour after start_hour ({schedule.start_hour}) "
            f"(got {schedule.end_hour})"
        )
    if not scheduled_services(s.inference):
        problems.append(
            f"{key}.enabled: expected a GPU service with min_count 0 to keep warm (every GPU "
            "service already keeps a task); set enabled false or a service's min_count 0"
        )


def scheduled_services(i: InferenceSettings) -> list[InferenceServiceSettings]:
    """The services ``inference.schedule`` keeps warm: GPU services with ``min_count`` 0."""
    return [svc for svc in i.services if svc.gpu and svc.min_count == 0]


def check_services(s: Settings, problems: list[str], known_services: frozenset[str]) -> None:
    """Each service: a unique name and paths, a size that fits a GPU instance or Fargate,
    counts in order, GPU tasks at min_count within max_instances, and an image to run."""
    ns = f"{PROJECT}:inference."
    i = s.inference
    gpus = instance_types.gpu_count(i.instance_type)
    cpu_cap, memory_cap = instance_types.task_capacity(i.instance_type)
    if not i.services:
        problems.append(f"{ns}services: expected at least one service")
    seen_names: set[str] = set()
    seen_paths: dict[str, str] = {}
    gpu_tasks_at_min = 0
    for n, svc in enumerate(i.services):
        key = f"{ns}services[{n}]"
        if not svc.name:  # already reported as required
            continue
        if svc.name in seen_names:
            problems.append(f"{key}.name: expected a name no other service has (got {svc.name!r})")
        seen_names.add(svc.name)
        for pattern in svc.path_patterns:
            if pattern in seen_paths:
                problems.append(
                    f"{key}.path_patterns: {pattern!r} is already routed to {seen_paths[pattern]}"
                )
            seen_paths.setdefault(pattern, svc.name)
        if svc.on_lambda:
            check_lambda_service(svc, key, problems)
            continue  # no tasks: the instance and Fargate sizes and the counts do not apply
        if svc.concurrency:
            problems.append(
                f"{key}.concurrency: expected 0 for runtime ecs (got {svc.concurrency}); it "
                "reserves a Lambda function's concurrency (runtime lambda)"
            )
        if svc.gpu > gpus:
            problems.append(
                f"{key}.gpu: expected at most {gpus}, the GPUs of one {i.instance_type} "
                f"(got {svc.gpu}); choose a larger inference.instance_type"
            )
        elif svc.gpu and (svc.cpu > cpu_cap or svc.memory > memory_cap):
            problems.append(
                f"{key}.memory: expected cpu at most {cpu_cap} and memory at most {memory_cap} "
                f"MiB to fit on one {i.instance_type} (got cpu {svc.cpu}, memory {svc.memory})"
            )
        elif not svc.gpu and (accepted := fargate_size_error(svc.cpu, svc.memory)):
            # No guard on a refused cpu here: a service's cpu is a range, not Fargate's
            # choices, so a refused one leaves the default, which this still judges.
            problems.append(
                f"{key}.memory: expected a Fargate size for a service without GPU: "
                f"{accepted} (got cpu {svc.cpu}, memory {svc.memory})"
            )
        if not svc.min_count <= svc.desired_count <= svc.max_count:
            problems.append(
                f"{key}.desired_count: expected min_count <= desired_count <= max_count "
                f"(got {svc.min_count}, {svc.desired_count}, {svc.max_count})"
            )
        if svc.gpu and svc.gpu <= gpus:
            gpu_tasks_at_min += svc.min_count * svc.gpu
            if gpu_tasks_at_min > gpus * i.max_instances:
                problems.append(
                    f"{key}.min_count: expected the GPU services' min_count tasks to fit on "
                    f"inference.max_instances ({i.max_instances}) {i.instance_type} with {gpus} "
                    f"GPU(s) each: {gpus * i.max_instances} GPUs, these need {gpu_tasks_at_min} "
                    f"(got min_count {svc.min_count}); raise max_instances or lower min_count"
                )
        if svc.image and not IMAGE_URI.fullmatch(svc.image):
            problems.append(f"{key}.image: expected an image URI or empty (got {svc.image!r})")
        elif (
            not svc.image
            and svc.source_dir() not in s.images
            and svc.source_dir() not in known_services
        ):
            problems.append(
                f"{key}.source: expected a directory under services/ with a Dockerfile "
                f"(got {svc.source_dir()!r}; known: {', '.join(sorted(known_services))}), "
                "or an image URI in image"
            )


def check_lambda_service(svc: InferenceServiceSettings, key: str, problems: list[str]) -> None:
    """A service with ``runtime: lambda``: no GPU, a memory Lambda offers, a handler module in
    its package and an image this stack builds (the repository whose policy lets Lambda pull
    it). Its cpu, counts and scaling targets are not read: Lambda gives CPU in proportion to
    memory and runs one invocation per request, as many at once as ``concurrency`` allows."""
    from components.config.settings import SERVICES_DIR

    if svc.gpu:
        problems.append(
            f"{key}.gpu: expected 0 for runtime lambda (got {svc.gpu}): Lambda has no GPU; "
            "use runtime ecs"
        )
    low, high = LAMBDA_MEMORY_MB
    if not low <= svc.memory <= high:
        problems.append(
            f"{key}.memory: expected {low}-{high} MiB for runtime lambda, Lambda's range "
            f"(got {svc.memory})"
        )
    if svc.image:
        problems.append(
            f"{key}.image: expected empty for runtime lambda (got {svc.image!r}): the function "
            "runs the image this stack builds into its repository, whose policy lets Lambda "
            "pull it"
        )
    source = svc.source_dir()
    handler = SERVICES_DIR / source / source / f"{LAMBDA_HANDLER_MODULE}.py"
    if not handler.is_file():
        problems.append(
            f"{key}.runtime: expected services/{source}/{source}/{LAMBDA_HANDLER_MODULE}.py "
            f"(a `handler` adapting load balancer events to the app) for runtime lambda; "
            "or use runtime ecs"
        )
