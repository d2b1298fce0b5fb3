"""Architecture diagram of a program run: Graphviz DOT, and SVG when ``dot`` is installed.

Components are clusters (nested as they are in the program), resources are nodes, and
edges are the dependencies the engine recorded (a resource's inputs that come from another
resource). The awsx VPC's children are not registered under mocks, so it is one node.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from offline.runner import ProgramRun


def _id(urn: str) -> str:
    return '"' + urn.replace('"', "'") + '"'


def _short_type(type_token: str) -> str:
    return type_token.split(":")[-1]


def to_dot(run: ProgramRun) -> str:
    """The run as a DOT digraph: clusters for components, edges for dependencies."""
    urns = {r.urn for r in run.resources}
    children: dict[str, list] = {}
    roots = []
    for r in run.resources:
        (children.setdefault(r.parent, []) if r.parent in urns else roots).append(r)
    lines = [
        f'digraph "mlplatform-{run.stack}" {{',
        '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, compound=true];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f6f8fa", fontname="Helvetica",'
        " fontsize=9];",
        '  edge [color="#8b949e", arrowsize=0.5];',
    ]

    def emit(resource, indent: str) -> None:
        kids = children.get(resource.urn, [])
        if not resource.custom and kids:
            cluster = "cluster_" + str(abs(hash(resource.urn)))
            lines.append(f"{indent}subgraph {cluster} {{")
            lines.append(f'{indent}  label="{resource.name} ({_short_type(resource.type)})";')
            lines.append(f'{indent}  style="rounded"; color="#57606a";')
            for kid in sorted(kids, key=lambda k: (k.custom, k.type, k.name)):
                emit(kid, indent + "  ")
            lines.append(f"{indent}}}")
        else:
            label = f"{resource.name}\\n{_short_type(resource.type)}"
            lines.append(f'{indent}{_id(resource.urn)} [label="{label}"];')

    for root in sorted(roots, key=lambda r: (r.custom, r.type, r.name)):
        emit(root, "  ")
    custom = {r.urn for r in run.resources if r.custom or not children.get(r.urn)}
    edges = sorted(
        {
            (dep, r.urn)
            for r in run.resources
            for dep in r.options.get("depends_on", [])
            if dep in custom and r.urn in custom and dep != r.urn
        }
    )
    lines += [f"  {_id(a)} -> {_id(b)};" for a, b in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def write(run: ProgramRun, directory: Path) -> list[Path]:
    """Write ``plan-<stack>.dot`` (and ``.svg`` when Graphviz is installed); the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    dot_path = directory / f"plan-{run.stack}.dot"
    dot_path.write_text(to_dot(run))
    written = [dot_path]
    dot = shutil.which("dot")
    if dot:
        svg_path = dot_path.with_suffix(".svg")
        subprocess.run([dot, "-Tsvg", str(dot_path), "-o", str(svg_path)], check=True,
                       timeout=300)  # fmt: skip
        written.append(svg_path)
    return written
