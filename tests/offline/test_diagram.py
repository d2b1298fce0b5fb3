"""The architecture picture the offline plan writes: DOT from the real program, SVG and PNG."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from offline import __main__ as plan
from offline import diagram

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
needs_dot = pytest.mark.skipif(not shutil.which("dot"), reason="Graphviz dot is not installed")


def clusters(dot: str) -> dict[str, set[str]]:
    """Cluster label -> the node ids declared in it."""
    found = {}
    for body in re.findall(r"^  subgraph cluster_\d+ \{\n(.*?)^  \}$", dot, re.M | re.S):
        label = re.search(r'^    label="([^"]+)";', body, re.M).group(1)
        found[label] = set(re.findall(r'^    "([^"]+)" \[label=', body, re.M))
    return found


def edges(dot: str) -> dict[tuple[str, str], str]:
    """(source, target) -> the edge's attribute text."""
    return {
        (a, b): attributes
        for a, b, attributes in re.findall(r'^  "([^"]+)" -> "([^"]+)"(.*);$', dot, re.M)
    }


@pytest.fixture(scope="module")
def dev_dot(dev_program) -> str:
    return diagram.to_dot(dev_program)


@pytest.fixture(scope="module")
def prod_dot(prod_program) -> str:
    return diagram.to_dot(prod_program)


def test_every_meaningful_resource_is_one_node_in_its_stacks_cluster(dev_program, dev_dot):
    found = clusters(dev_dot)
    assert {"network", "training", "inference", "data-platform", "agent-world"} <= set(found)
    expected = {}
    for r in dev_program.resources:
        if r.type in diagram.ROLES and "rotation" not in r.name:
            top = r
            while parent := next((p for p in dev_program.resources if p.urn == top.parent), None):
                top = parent
            expected.setdefault(top.name, set()).add(r.name)
    assert found == expected
    assert "training-worker-service" in found["training"]
    assert "inference-lb-alb" in found["inference"]
    assert "agent-world-data-agents" in found["agent-world"]


def test_per_resource_noise_is_folded_into_its_owner(dev_program, dev_dot):
    nodes = set().union(*clusters(dev_dot).values())
    assert len(nodes) < len(dev_program.resources) / 5
    noise_names = [
        "training-task-policy",
        "training-worker-logs",
        "training-dlq-not-empty",
        "data-platform-artifacts-tls-policy",
        "inference-ai-inference-fn-tg",
        "data-platform-db-instance-0",
        "agent-world-api-key-rotation-fn-function",
    ]
    for noise in noise_names:
        assert dev_program.named(noise)  # it exists in the program...
        assert noise not in nodes  # ...and is not drawn
    assert {a for a, _ in edges(dev_dot)} | {b for _, b in edges(dev_dot)} <= nodes


def test_the_dev_data_flows(dev_dot):
    flows = edges(dev_dot)
    alb = "inference-lb-alb"
    assert 'label="/validate /health"' in flows[(alb, "inference-vision-validator-service")]
    # ai-inference is a Lambda target in dev: the load balancer invokes the function.
    assert 'label="/move"' in flows[(alb, "inference-ai-inference-fn-function")]
    # dev's Hokusai API is a second container of MLflow's tasks: one service behind both paths.
    assert 'label="/api /mlflow"' in flows[(alb, "data-platform-mlflow-service")]
    assert not [edge for edge in flows if "data-platform-api-service" in edge]
    assert (alb, "agent-world-all-service") in flows
    # API Gateway -> VPC link -> the load balancer; the WebSocket API calls the REST API.
    assert ("agent-world-rest-api", "agent-world-vpc-link-v2") in flows
    assert ("agent-world-vpc-link-v2", alb) in flows
    assert ("agent-world-websocket-api", "agent-world-rest-api") in flows
    authorizer = ("agent-world-websocket-api", "agent-world-ws-authorizer-function")
    assert "authorizer" in flows[authorizer]
    # CloudFront -> its origins.
    assert ("agent-world-cdn", "agent-world-data-assets-bucket") in flows
    assert ("agent-world-cdn", "agent-world-rest-api") in flows
    # Workers read the task queue and write the result queue; failures go to the DLQ.
    assert flows[("training-task-queue", "training-worker-service")] == ""
    assert flows[("training-worker-service", "training-result-queue")] == ""
    assert ("training-worker-service", "training-task-queue") not in flows
    assert "dead letters" in flows[("training-task-queue", "training-dlq")]
    assert flows[("training-state-bucket", "training-worker-service")] == ""  # read only
    # Services <-> their tables and buckets (both ways: they read and write).
    assert "dir=both" in flows[("agent-world-all-service", "agent-world-data-worlds")]
    assert "dir=both" in flows[("data-platform-mlflow-service", "data-platform-artifacts-bucket")]
    # The database from the services' security groups; secrets injected into the tasks.
    assert 'label="tcp 5432"' in flows[("data-platform-mlflow-service", "data-platform-db-cluster")]
    assert ("data-platform-api-secret-key-secret", "data-platform-mlflow-service") in flows
    assert ("data-platform-mlflow-flask-secret-key-secret", "data-platform-mlflow-service") in flows
    assert "capacity" in flows[("inference-gpu-asg", "inference-vision-validator-service")]


def test_the_prod_flows_go_through_the_nlb_and_the_cache(prod_dot):
    flows = edges(prod_dot)
    # prod's Hokusai API in its own service, a database client of its own.
    assert 'label="/api"' in flows[("data-platform-lb-alb", "data-platform-api-service")]
    assert 'label="tcp 5432"' in flows[("data-platform-api-service", "data-platform-db")]
    assert ("agent-world-rest-api", "agent-world-vpc-link") in flows
    assert ("agent-world-vpc-link", "agent-world-nlb") in flows
    for service in ("agent-runtime", "llm-integration", "world-management"):
        assert ("agent-world-nlb", f"agent-world-{service}-service") in flows
    assert "tcp 6379" in flows[("agent-world-world-management-service", "agent-world-data-redis")]
    assert ("data-platform-lb-alb", "data-platform-mlflow-service") in flows
    assert "sign-in" in flows[("data-platform-lb-alb", "data-platform-user-pool")]
    assert "tcp 5432" in flows[("data-platform-mlflow-service", "data-platform-db")]


def test_the_committed_dev_picture_is_current(dev_dot):
    """docs/architecture-dev.dot is what the plan draws now (refresh: see the README)."""
    assert (ROOT / "docs" / "architecture-dev.dot").read_text() == dev_dot


@needs_dot
def test_with_dot_the_plan_writes_svg_and_png(dev_program, tmp_path):
    written, note = diagram.write(dev_program, tmp_path)
    assert note == ""
    assert [p.name for p in written] == ["plan-dev.dot", "plan-dev.svg", "plan-dev.png"]
    svg = ET.parse(tmp_path / "plan-dev.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    titles = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")}
    assert {"training-worker-service", "cluster_0"} <= titles
    assert (tmp_path / "plan-dev.png").read_bytes().startswith(PNG_SIGNATURE)


def test_without_dot_the_plan_succeeds_and_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert plan.main(["dev", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if "pictures not drawn" in line]
    assert notes == [diagram.NO_DOT_NOTE]
    assert "apt-get install graphviz" in notes[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["plan-dev.dot"]


def test_tasks_plan_without_dot_or_apt_still_plans_and_says_how(tmp_path):
    """``./tasks plan`` on a machine without Graphviz and without apt-get: it says so once."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in Path("/usr/bin").iterdir():
        if tool.name not in ("dot", "apt-get"):
            (bin_dir / tool.name).symlink_to(tool)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    out_dir = tmp_path / "out"
    done = subprocess.run(
        [str(ROOT / "tasks"), "plan", "dev", "--out", str(out_dir)],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Graphviz dot not found" in done.stderr
    assert "apt-get install graphviz" in done.stderr
    assert done.stdout.count("pictures not drawn") == 1
    assert sorted(p.name for p in out_dir.iterdir()) == ["plan-dev.dot"]


def test_a_failing_dot_is_one_line_not_a_crash(dev_program, tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Error: syntax error in line 1' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    written, note = diagram.write(dev_program, tmp_path / "out")
    assert [p.name for p in written] == ["plan-dev.dot"]
    assert note == f"pictures not drawn: {fake} -Tsvg failed: Error: syntax error in line 1"
