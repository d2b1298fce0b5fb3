"""The architecture diagram the offline plan writes."""

from __future__ import annotations

import re
import shutil

from offline import diagram


def test_components_are_clusters_and_dependencies_are_edges(prod_program):
    dot = diagram.to_dot(prod_program)
    assert dot.startswith('digraph "mlplatform-prod" {')
    clusters = re.findall(r'label="([\w-]+) \((\w+)\)"', dot)
    assert {"network", "training", "inference", "data-platform", "agent-world"} <= {
        name for name, _ in clusters
    }
    edges = re.findall(r'^  "([^"]+)" -> "([^"]+)";$', dot, re.M)
    assert len(edges) > 100
    vpc = prod_program.named("network-vpc").urn
    assert any(a == vpc for a, _ in edges)  # the endpoints, flow log... depend on the VPC
    nodes = set(re.findall(r'^\s+"([^"]+)" \[label=', dot, re.M))
    assert {a for a, _ in edges} | {b for _, b in edges} <= nodes


def test_the_plan_writes_dot_and_svg_when_graphviz_is_there(dev_program, tmp_path):
    written = diagram.write(dev_program, tmp_path)
    assert written[0] == tmp_path / "plan-dev.dot"
    assert written[0].read_text().startswith("digraph")
    assert (len(written) == 2) == bool(shutil.which("dot"))
