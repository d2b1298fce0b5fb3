"""Offline plan: ``python -m offline [STACK] [--set KEY=VALUE ...]``.

Runs the program under the mock engine with the stack file's config (no Pulumi CLI, no
AWS credentials, no Docker) and prints the resource tree, the counts by type and the
stack outputs. Bad config prints the validation message and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import pulumi
import yaml

from components.config import settings as config
from components.lib import quotas
from offline import costs, diagram
from offline.mocks import ACCOUNT_ID
from offline.runner import PROJECT_DIR, OverrideError, ProgramError, ProgramRun, run_program
from preflight import Context, access, resources_of
from preflight import check as preflight_check

AWSX_NOTE = "awsx component: its subnets, route tables, gateways are created by awsx at deploy"


def _label(resource) -> str:
    notes = []
    if resource.options.get("protect"):
        notes.append("protected")
    if resource.options.get("retain_on_delete"):
        notes.append("retained on delete")
    if resource.type == "awsx:ec2:Vpc":
        nat = (resource.inputs.get("natGateways") or {}).get("strategy", "OnePerAz")
        azs = int(resource.inputs.get("numberOfAvailabilityZones", 0))
        notes.append(f"{azs} AZs, NAT {nat}; {AWSX_NOTE}")
    suffix = f"  [{'; '.join(notes)}]" if notes else ""
    return f"{resource.type}  {resource.name}{suffix}"


def render_tree(run: ProgramRun) -> list[str]:
    by_parent: dict[str, list] = {}
    urns = {r.urn for r in run.resources}
    roots = []
    for r in run.resources:
        if r.parent in urns:
            by_parent.setdefault(r.parent, []).append(r)
        else:
            roots.append(r)
    lines = [f"pulumi:pulumi:Stack  mlplatform-{run.stack}"]

    def walk(nodes, indent: str) -> None:
        nodes = sorted(nodes, key=lambda r: (r.custom, r.type, r.name))
        for i, node in enumerate(nodes):
            last = i == len(nodes) - 1
            lines.append(f"{indent}{'└─ ' if last else '├─ '}{_label(node)}")
            walk(by_parent.get(node.urn, []), indent + ("   " if last else "│  "))

    walk(roots, "")
    return lines


def render(run: ProgramRun) -> str:
    lines = [f"Offline plan of stack '{run.stack}' (mock engine: nothing was sent to AWS)", ""]
    lines += render_tree(run)
    counts = run.counts()
    lines += ["", f"Resources by type ({sum(counts.values())} in all):"]
    lines += [f"  {n:4d}  {t}" for t, n in sorted(counts.items())]
    lines += ["", "Outputs:"]
    for name in sorted(run.outputs):
        value = "[secret]" if name in run.secret_outputs else run.outputs[name]
        lines.append(f"  {name}: {value}")
    return "\n".join(lines)


@dataclass(frozen=True)
class _Unparsed:
    """A ``--set`` value that is not YAML, reported by :func:`main` in one line."""

    text: str
    reason: str


def _override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, yaml.safe_load(value)
    except yaml.YAMLError as error:
        # The reason's first line only (YAML errors span several with a caret drawing).
        reason = str(getattr(error, "problem", None) or error).splitlines()[0]
        return key, _Unparsed(value, reason)


def _check_overrides(overrides: list[tuple[str, object]]) -> None:
    for key, value in overrides:
        if isinstance(value, _Unparsed):
            raise OverrideError(
                f"{key}: expected a YAML value, got {value.text!r} ({value.reason})"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline", description=__doc__.split("\n")[0])
    parser.add_argument("stack", nargs="?", default="dev", help="stack name (Pulumi.<stack>.yaml)")
    parser.add_argument(
        "--set", dest="overrides", action="append", type=_override, default=[],
        metavar="KEY=VALUE", help="override a config key (YAML value), e.g. network.az_count=2",
    )  # fmt: skip
    parser.add_argument(
        "--usage", type=Path, default=costs.USAGE_FILE,
        help="usage profile (YAML) for the second cost figure",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=PROJECT_DIR / "build",
        help="directory the architecture diagram is written to (default build/)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        _check_overrides(args.overrides)
        run = run_program(args.stack, dict(args.overrides))
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OverrideError as error:
        print(f"error: --set {error}", file=sys.stderr)
        return 2
    except ProgramError as failure:
        if isinstance(failure.error, pulumi.RunError):
            print(str(failure), file=sys.stderr)
            return 2
        raise
    print(render(run))
    estimate = costs.estimate(run, costs.load_prices(), costs.load_usage(args.usage))
    print()
    print("\n".join(costs.render(estimate, args.usage.name)))
    print()
    print("\n".join(costs.render_largest(estimate)))
    if edge := costs.render_edge(estimate):
        print()
        print("\n".join(edge))
    if by_use := costs.render_by_use(estimate):
        print()
        print("\n".join(by_use))
    if guardrails := costs.render_guardrails(estimate):
        print()
        print("\n".join(guardrails))
    # The run passed the program's own config check; its secrets are offline placeholders.
    stack_settings = config.parse(run.config, run.stack, secret_keys=frozenset(run.config))
    print()
    print("\n".join(quotas.render(stack_settings)))
    written, note = diagram.write(run, args.out)
    print()
    print("Architecture diagram: " + ", ".join(str(p) for p in written))
    if note:
        print(note)
    findings = preflight_findings(run)
    print()
    print("\n".join(preflight_check.render(findings)))
    proof = access_proof(run)
    print()
    print("\n".join(render_proof(proof)))
    # Any value AWS would refuse, or a call the roles would refuse, fails the plan, as
    # `pulumi up` (or the service, later) would fail.
    return 1 if preflight_check.errors(findings) or proof.failures() else 0


def access_proof(run: ProgramRun) -> access.Proof:
    """The access proof of the run: every listed AWS call of every deployed service."""
    context = Context(region=run.config.get("aws:region", ""), account=ACCOUNT_ID, stack=run.stack)
    lists = access.load_access_lists(PROJECT_DIR / "services")
    return access.prove(resources_of(run.resources), context, lists)


def render_proof(proof: access.Proof) -> list[str]:
    counts = ", ".join(f"{n} {what}" for what, n in proof.counts().items())
    failures = proof.failures()
    head = f"Access proof ({counts}): {len(failures)} denied or unproven"
    return [head] + [f"  {line}" for line in failures]


def preflight_findings(run: ProgramRun) -> list:
    """The preflight's findings over everything the run registered."""
    context = Context(region=run.config.get("aws:region", ""), account=ACCOUNT_ID, stack=run.stack)
    return preflight_check.run(resources_of(run.resources), context)


if __name__ == "__main__":
    sys.exit(main())
