"""Pure helpers: subnet arithmetic, the Fargate size table, GPU types, build-context hashes
(of tmp trees, and of the real services/ with each image's ignore file)."""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path

import pytest

from components.lib import cidr, fargate, instance_types, policies, queue_scaling
from components.lib.build_context import context_digest, context_files


@pytest.mark.parametrize("vpc", ["10.0.0.0/16", "10.20.0.0/20", "172.16.0.0/24"])
@pytest.mark.parametrize("azs", [2, 3])
def test_subnets_fit_in_the_vpc_without_overlap(vpc, azs):
    layout = cidr.subnet_layout(vpc, azs)
    nets = [ipaddress.IPv4Network(c) for c in layout.private_cidrs + layout.public_cidrs]
    assert len(layout.private_cidrs) == len(layout.public_cidrs) == azs
    assert all(n.subnet_of(ipaddress.IPv4Network(vpc)) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    # AWS subnets must be /16 to /28.
    assert all(16 <= n.prefixlen <= 28 for n in nets)


def test_layout_of_a_three_az_slash_16():
    layout = cidr.subnet_layout("10.30.0.0/16", 3)
    assert (layout.az_prefix, layout.private_mask, layout.public_mask) == (18, 19, 20)
    assert layout.private_cidrs == ("10.30.0.0/19", "10.30.64.0/19", "10.30.128.0/19")
    assert layout.public_cidrs == ("10.30.32.0/20", "10.30.96.0/20", "10.30.160.0/20")


@pytest.mark.parametrize(
    ("vpc", "azs"), [("10.0.0.0/8", 2), ("10.0.0.0/25", 2), ("10.0.0.0/16", 4)]
)
def test_layout_refuses_what_settings_refuse(vpc, azs):
    with pytest.raises(ValueError):
        cidr.subnet_layout(vpc, azs)


@pytest.mark.parametrize(
    ("cpu", "memory", "ok"),
    [(256, 512, True), (256, 4096, False), (512, 4096, True), (1024, 2048, True),
     (1024, 512, False), (2048, 16384, True), (4096, 30720, True), (4096, 31744, False),
     (8192, 20480, True), (8192, 17408, False), (16384, 122880, True), (3000, 4096, False)],
)  # fmt: skip
def test_fargate_accepts_only_documented_pairs(cpu, memory, ok):
    assert fargate.is_valid(cpu, memory) is ok


def test_gpu_counts():
    assert instance_types.gpu_count("g4dn.xlarge") == 1
    assert instance_types.gpu_count("g4dn.12xlarge") == 4
    assert instance_types.gpu_count("g5.48xlarge") == 8
    assert instance_types.gpu_count("m5.xlarge") == 0
    assert instance_types.gpu_count("g5g.xlarge") == 0  # Graviton: not the x86 GPU AMI


def _service(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM python:3.12-slim\nCOPY app.py /app/\n")
    (tmp_path / "app.py").write_text("print('hi')\n")
    return tmp_path


def test_digest_is_stable_and_follows_content(tmp_path):
    context = _service(tmp_path)
    first = context_digest(context)
    assert first == context_digest(context)
    assert len(first) == 16 and int(first, 16) >= 0
    (context / "app.py").write_text("print('bye')\n")
    assert context_digest(context) != first


def test_digest_follows_renames_and_the_permission_bits(tmp_path):
    # pulumi-docker hashes each file's mode into its own digest and rebuilds when it
    # changes; the tag must change with it, or the rebuild re-pushes an immutable tag.
    context = _service(tmp_path)
    (context / "app.py").chmod(0o644)
    first = context_digest(context)
    (context / "app.py").chmod(0o664)
    group_writable = context_digest(context)
    assert group_writable != first
    (context / "app.py").chmod(0o755)
    second = context_digest(context)
    assert second not in (first, group_writable)
    (context / "app.py").rename(context / "main.py")
    assert context_digest(context) != second


def test_caches_and_dockerignored_files_do_not_change_the_digest(tmp_path):
    context = _service(tmp_path)
    (context / ".dockerignore").write_text("# local only\ntests/\n*.log\n")
    first = context_digest(context)
    (context / "__pycache__").mkdir()
    (context / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (context / "tests").mkdir()
    (context / "tests" / "test_app.py").write_text("def test(): pass\n")
    (context / "debug.log").write_text("noise")
    assert context_digest(context) == first
    names = [p.name for p in context_files(context)]
    assert names == [".dockerignore", "Dockerfile", "app.py"]


def test_digest_of_a_missing_context_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        context_digest(tmp_path / "nope")


def test_digest_of_a_missing_dockerfile_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="Dockerfile"):
        context_digest(tmp_path, tmp_path / "svc" / "Dockerfile")


def _tree(root, files):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _names(context, dockerfile):
    return [p.relative_to(context).as_posix() for p in context_files(context, dockerfile)]


def test_the_ignore_file_beside_the_dockerfile_wins_over_the_contexts(tmp_path):
    context = _tree(tmp_path, {
        ".dockerignore": "svc/\n",
        "svc/Dockerfile": "FROM scratch\n",
        "svc/Dockerfile.dockerignore": "other/\n",
        "svc/app.py": "",
        "other/app.py": "",
    })  # fmt: skip
    assert _names(context, context / "svc" / "Dockerfile") == [
        ".dockerignore", "svc/Dockerfile", "svc/Dockerfile.dockerignore", "svc/app.py"
    ]  # fmt: skip
    (context / "svc" / "Dockerfile.dockerignore").unlink()
    assert _names(context, context / "svc" / "Dockerfile") == [".dockerignore", "other/app.py"]


def test_ignore_patterns_follow_dockers_rules(tmp_path):
    # given an allow-list: everything out, two paths back in, caches out again below them
    context = _tree(tmp_path, {
        "svc/Dockerfile": "FROM scratch\n",
        "svc/Dockerfile.dockerignore": "*\n!common/lib/\n!svc/pkg\n**/*.log\nsvc/pkg/?.tmp\n",
        "common/lib/a.py": "", "common/lib/sub/b.py": "", "common/lib/sub/b.log": "",
        "common/other.py": "",
        "svc/pkg/c.py": "", "svc/pkg/x.tmp": "", "svc/pkg/xy.tmp": "", "svc/README.md": "",
        "debug.log": "",
    })  # fmt: skip
    # then "*" holds one segment and excludes what lies below, "!" lets a directory's files
    # back in, "**" spans segments (none included), "?" is one character, the last match wins
    assert _names(context, context / "svc" / "Dockerfile") == [
        "common/lib/a.py", "common/lib/sub/b.py", "svc/pkg/c.py", "svc/pkg/xy.tmp"
    ]  # fmt: skip


def test_the_digest_covers_the_dockerfile_and_ignore_file_even_when_they_are_ignored(tmp_path):
    context = _tree(tmp_path, {
        "svc/Dockerfile": "FROM scratch\n",
        "svc/Dockerfile.dockerignore": "*\n!svc/app.py\n",
        "svc/app.py": "",
    })  # fmt: skip
    dockerfile = context / "svc" / "Dockerfile"
    first = context_digest(context, dockerfile)
    (context / "svc" / "Dockerfile").write_text("FROM scratch\nUSER 1\n")
    second = context_digest(context, dockerfile)
    assert second != first
    (context / "svc" / "Dockerfile.dockerignore").write_text("*\n!svc/app.py\n# note\n")
    assert context_digest(context, dockerfile) != second


SERVICES = Path(__file__).resolve().parents[2] / "services"
IMAGES = sorted(p.parent.name for p in SERVICES.glob("*/Dockerfile"))


@pytest.fixture
def services_copy(tmp_path):
    """The project's services/ tree (without caches), to change files in."""
    copy = tmp_path / "services"
    shutil.copytree(SERVICES, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return copy


@pytest.mark.parametrize("service", IMAGES)
def test_each_image_reads_only_its_own_files_and_the_shared_package(service):
    dockerfile = SERVICES / service / "Dockerfile"
    names = _names(SERVICES, dockerfile)
    assert "common/service_common/logs.py" in names
    assert f"{service}/requirements.txt" in names
    assert all(n.startswith((f"{service}/", "common/service_common/")) for n in names), names
    out = [n for n in names if "/tests/" in n or n.endswith(("/README.md", "aws_access.yaml"))]
    # ai_inference's models/ is copied whole, its README (why it is empty) included
    assert out in ([], ["ai_inference/models/README.md"]), out


@pytest.mark.parametrize("service", IMAGES)
def test_each_tag_follows_the_shared_package_and_not_the_other_services(services_copy, service):
    dockerfile = services_copy / service / "Dockerfile"
    before = context_digest(services_copy, dockerfile)
    for other in IMAGES:
        if other != service:
            (services_copy / other / "requirements.txt").write_text("changed==1\n")
    (services_copy / service / "tests" / "test_new.py").write_text("def test(): pass\n")
    (services_copy / service / "README.md").write_text("changed\n")
    assert context_digest(services_copy, dockerfile) == before
    (services_copy / "common" / "service_common" / "logs.py").write_text("# changed\n")
    assert context_digest(services_copy, dockerfile) != before


# --- queue scaling ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spot", "weights"),
    [(0, {"FARGATE": 1}), (100, {"FARGATE_SPOT": 1}), (80, {"FARGATE": 1, "FARGATE_SPOT": 4}),
     (50, {"FARGATE": 1, "FARGATE_SPOT": 1}), (33, {"FARGATE": 67, "FARGATE_SPOT": 33})],
)  # fmt: skip
def test_capacity_weights_give_the_spot_share(spot, weights):
    got = queue_scaling.capacity_weights(spot)
    assert got == weights
    assert got.get("FARGATE_SPOT", 0) / sum(got.values()) == spot / 100


def test_visibility_timeout_covers_the_longest_evaluation_within_the_sqs_limit():
    assert queue_scaling.visibility_timeout(900) == 960
    assert queue_scaling.visibility_timeout(queue_scaling.MAX_EVAL_SECONDS) == 43_200
    with pytest.raises(ValueError):
        queue_scaling.visibility_timeout(queue_scaling.MAX_EVAL_SECONDS + 1)


def test_backlog_target_is_latency_over_evaluation_time_per_slot():
    assert queue_scaling.backlog_target(300, 60, 1) == 5
    assert queue_scaling.backlog_target(300, 60, 4) == 20
    # Never below one task per worker, or the policy would chase an empty queue.
    assert queue_scaling.backlog_target(10, 600, 1) == 1


@pytest.mark.parametrize(("cpu", "slots"), [(256, 1), (1024, 1), (2048, 2), (4096, 4)])
def test_one_evaluation_slot_per_whole_vcpu(cpu, slots):
    assert queue_scaling.worker_concurrency(cpu) == slots


# --- policy statements --------------------------------------------------------------


def test_deny_insecure_transport_refuses_every_principal_without_tls():
    s = policies.deny_insecure_transport(["s3:*"], ["arn:aws:s3:::b", "arn:aws:s3:::b/*"])
    assert (s.effect, s.sid, s.actions) == ("Deny", "DenyInsecureTransport", ["s3:*"])
    assert [(p.type, p.identifiers) for p in s.principals] == [("*", ["*"])]
    (condition,) = s.conditions
    assert (condition.test, condition.variable, condition.values) == (
        "Bool", "aws:SecureTransport", ["false"],
    )  # fmt: skip


def test_service_trust_is_limited_to_this_account_and_optionally_a_source_arn():
    plain = policies.service_trust("vpc-flow-logs.amazonaws.com", "123456789012")
    assert plain.actions == ["sts:AssumeRole"]
    assert [(p.type, p.identifiers) for p in plain.principals] == [
        ("Service", ["vpc-flow-logs.amazonaws.com"])
    ]
    assert [(c.test, c.variable, c.values) for c in plain.conditions] == [
        ("StringEquals", "aws:SourceAccount", ["123456789012"])
    ]
    scoped = policies.service_trust("ecs-tasks.amazonaws.com", "1", "arn:aws:ecs:us-east-1:1:*")
    assert [c.test for c in scoped.conditions] == ["StringEquals", "ArnLike"]


def test_allow_names_exactly_the_given_actions_and_resources():
    s = policies.allow(["sqs:SendMessage"], ["arn:aws:sqs:us-east-1:1:q"], sid="Send")
    assert (s.sid, s.actions, s.resources, s.effect) == (
        "Send", ["sqs:SendMessage"], ["arn:aws:sqs:us-east-1:1:q"], None,
    )  # fmt: skip


def test_capacity_strategy_is_the_weights_as_ecs_wants_them():
    assert queue_scaling.capacity_strategy(80) == [
        {"capacity_provider": "FARGATE", "weight": 1},
        {"capacity_provider": "FARGATE_SPOT", "weight": 4},
    ]
    assert queue_scaling.capacity_strategy(100) == [
        {"capacity_provider": "FARGATE_SPOT", "weight": 1}
    ]
