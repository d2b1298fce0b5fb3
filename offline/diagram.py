"""Architecture picture of a program run: Graphviz DOT, drawn as SVG and PNG when ``dot`` is here.

One node per meaningful resource (a service, a load balancer, an API, a table, a bucket, a
queue, a database...), one cluster per stack (the program's top-level components), and the
data flows between them, each read from what the run registered, never drawn by hand:

- load balancer -> ECS service: a listener (rule) forwarding to the service's target group
  (labelled with the rule's paths); NLB -> ALB: a target group whose target is the ALB;
  load balancer -> Cognito user pool: a rule that signs users in there first;
- API Gateway -> VPC link -> load balancer: the integrations' connection and target;
  API -> API (an HTTP integration calling another API), API -> Lambda (authorizer);
- CloudFront -> bucket / API / load balancer: the distribution's origins;
- service or Lambda <-> table, bucket, queue, secret: the IAM statements of its role, the
  arrow's direction from the actions (reads point at the service, writes away from it);
- service -> database or cache: the security group rule that lets the service's group in;
- GPU Auto Scaling group -> service: the capacity provider the service runs on;
- queue -> dead-letter queue: the redrive policy.

Everything else (policies, attachments, log groups, alarms, rules, security groups, keys,
images) is per-resource noise folded into its owner: it is not drawn. The DOT text depends
only on logical names and config, so a committed copy can be compared with a fresh one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from offline.runner import ProgramRun

# type token -> the role a node's label states.
ROLES = {
    "awsx:ec2:Vpc": "VPC",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "VPC endpoint",
    "aws:lb/loadBalancer:LoadBalancer": "load balancer",
    "aws:ecs/service:Service": "ECS service",
    "aws:autoscaling/group:Group": "GPU Auto Scaling group",
    "aws:apigateway/restApi:RestApi": "API Gateway REST API",
    "aws:apigatewayv2/api:Api": "API Gateway API",
    "aws:apigateway/vpcLink:VpcLink": "VPC link (REST)",
    "aws:apigatewayv2/vpcLink:VpcLink": "VPC link",
    "aws:cloudfront/distribution:Distribution": "CloudFront distribution",
    "aws:lambda/function:Function": "Lambda function",
    "aws:dynamodb/table:Table": "DynamoDB table",
    "aws:s3/bucket:Bucket": "S3 bucket",
    "aws:sqs/queue:Queue": "SQS queue",
    "aws:rds/cluster:Cluster": "Aurora cluster",
    "aws:rds/instance:Instance": "RDS instance",
    "aws:elasticache/replicationGroup:ReplicationGroup": "ElastiCache replication group",
    "aws:secretsmanager/secret:Secret": "Secrets Manager secret",
    "aws:sns/topic:Topic": "SNS topic",
    "aws:cognito/userPool:UserPool": "Cognito user pool",
}
DATA_TYPES = (
    "aws:dynamodb/table:Table",
    "aws:s3/bucket:Bucket",
    "aws:sqs/queue:Queue",
    "aws:secretsmanager/secret:Secret",
    "aws:sns/topic:Topic",
)
_READ_VERBS = ("Get", "Receive", "Query", "Scan", "BatchGet", "List", "Describe", "Head")
# What a consumer does to the messages it received: part of reading a queue, not writing one.
_CONSUME_VERBS = ("DeleteMessage", "ChangeMessageVisibility")
# Rotation functions are the secrets' upkeep, not a flow of the platform.
_ROTATOR = "mlplatform:functions:SecretRotator"
_FILL = {
    "aws:ecs/service:Service": "#ddf4ff",
    "aws:lambda/function:Function": "#ddf4ff",
    "aws:lb/loadBalancer:LoadBalancer": "#fff8c5",
    "aws:apigateway/restApi:RestApi": "#fff8c5",
    "aws:apigatewayv2/api:Api": "#fff8c5",
    "aws:cloudfront/distribution:Distribution": "#fff8c5",
}
_DATA_FILL = "#dafbe1"


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class _Graph:
    """The run's meaningful resources and the flows between them."""

    def __init__(self, run: ProgramRun):
        self.run = run
        self.by_urn = {r.urn: r for r in run.resources}
        self.nodes = [r for r in run.resources if r.type in ROLES and not self._rotator(r)]
        self.edges: dict[tuple[str, str], dict[str, set[str] | str]] = {}

    def _ancestors(self, resource) -> Iterator:
        parent = self.by_urn.get(resource.parent)
        while parent is not None:
            yield parent
            parent = self.by_urn.get(parent.parent)

    def _rotator(self, resource) -> bool:
        return any(a.type == _ROTATOR for a in self._ancestors(resource))

    def stack_of(self, resource) -> str:
        """The top-level component the resource is under (itself if it is one)."""
        chain = [resource, *self._ancestors(resource)]
        return chain[-1].name

    def of_type(self, *types: str) -> list:
        return [r for r in self.run.resources if r.type in types]

    def find(self, value, *types: str):
        """The resource of one of ``types`` that ``value`` names (ARN, id, name, URL)."""
        if not isinstance(value, str) or not value:
            return None
        host = urlparse(value).hostname if "://" in value else None
        for r in self.of_type(*types):
            out = r.outputs
            arn = out.get("arn") or ""
            keys = {r.id, out.get("id"), out.get("name"), arn, out.get("bucket")} - {None, ""}
            if value in keys or (arn and value.startswith((arn + "/", arn + ":"))):
                return r
            hosts = {out.get("dnsName"), out.get("bucketRegionalDomainName"), out.get("domainName")}
            if r.type in ("aws:apigateway/restApi:RestApi", "aws:apigatewayv2/api:Api"):
                region = self.run.config.get("aws:region", "")
                hosts |= {f"{key}.execute-api.{region}" for key in (r.id, out.get("id")) if key}
            for candidate in hosts - {None, ""}:
                if value == candidate or (host and host.startswith(candidate)):
                    return r
        return None

    def flow(self, source, target, label: str = "", style: str = "") -> None:
        """An edge ``source -> target`` (labels merge; the reverse edge makes it two-way)."""
        if source is None or target is None or source.urn == target.urn:
            return
        node_urns = {n.urn for n in self.nodes}
        if source.urn not in node_urns or target.urn not in node_urns:
            return
        reverse = self.edges.get((target.urn, source.urn))
        if reverse is not None and not style and not reverse["style"]:
            reverse["both"] = "yes"
            if label:
                reverse["labels"].add(label)
            return
        edge = self.edges.setdefault(
            (source.urn, target.urn), {"labels": set(), "style": style, "both": ""}
        )
        if label:
            edge["labels"].add(label)


def _load_balancer_flows(g: _Graph) -> None:
    services = g.of_type("aws:ecs/service:Service")
    listeners = g.of_type("aws:lb/listener:Listener")
    for item in g.of_type("aws:lb/listener:Listener", "aws:lb/listenerRule:ListenerRule"):
        if item.type == "aws:lb/listener:Listener":
            listener, actions, paths = item, item.inputs.get("defaultActions") or [], []
        else:
            listener = next(
                (x for x in listeners if x.outputs.get("arn") == item.inputs.get("listenerArn")),
                None,
            )
            actions = item.inputs.get("actions") or []
            paths = [
                p
                for c in item.inputs.get("conditions") or []
                for p in (c.get("pathPattern") or {}).get("values", [])
            ]
        if listener is None:
            continue
        lb = g.find(listener.inputs.get("loadBalancerArn"), "aws:lb/loadBalancer:LoadBalancer")
        groups = {a.get("targetGroupArn") for a in actions} | {
            t.get("arn") for a in actions for t in (a.get("forward") or {}).get("targetGroups", [])
        }
        groups -= {None}
        label = " ".join(p for p in paths if not p.endswith("/*")) or ""
        for action in actions:
            pool = (action.get("authenticateCognito") or {}).get("userPoolArn")
            g.flow(lb, g.find(pool, "aws:cognito/userPool:UserPool"), "sign-in", "dashed")
        for service in services:
            tgs = {b.get("targetGroupArn") for b in service.inputs.get("loadBalancers") or []}
            if tgs & groups:
                g.flow(lb, service, label)
        for attachment in g.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment"):
            if attachment.inputs.get("targetGroupArn") in groups:
                target = attachment.inputs.get("targetId")
                g.flow(lb, g.find(target, "aws:lb/loadBalancer:LoadBalancer"))
                # A target group of type lambda: the function the load balancer invokes.
                g.flow(lb, g.find(target, "aws:lambda/function:Function"), label)


def _policy_documents(g: _Graph, role_arn) -> Iterator[dict]:
    role = g.find(role_arn, "aws:iam/role:Role")
    if role is None:
        return
    names = {role.outputs.get("name"), role.outputs.get("id")} - {None}
    texts = [p.inputs.get("policy") for p in g.of_type("aws:iam/rolePolicy:RolePolicy")
             if p.inputs.get("role") in names]  # fmt: skip
    for attachment in g.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        if attachment.inputs.get("role") in names:
            policy = g.find(attachment.inputs.get("policyArn"), "aws:iam/policy:Policy")
            texts.append(policy.inputs.get("policy") if policy else None)
    for text in texts:
        try:
            yield json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            continue


def _access_flows(g: _Graph, principal, role_arn) -> None:
    """``principal`` <-> the data resources its role's statements name, by action."""
    access: dict[str, tuple[object, set[str]]] = {}
    for document in _policy_documents(g, role_arn):
        for statement in document.get("Statement") or []:
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action") or []
            actions = [actions] if isinstance(actions, str) else actions
            resources = statement.get("Resource") or []
            for arn in [resources] if isinstance(resources, str) else resources:
                target = g.find(arn, *DATA_TYPES)
                if target is not None:
                    access.setdefault(target.urn, (target, set()))[1].update(actions)
    for target, actions in access.values():
        verbs = {a.split(":")[-1] for a in actions}
        reads = any(v.startswith(_READ_VERBS) or v == "*" for v in verbs)
        writes = any(not v.startswith(_READ_VERBS + _CONSUME_VERBS) for v in verbs)
        if writes:
            g.flow(principal, target)
        if reads:
            g.flow(target, principal)


def _service_flows(g: _Graph) -> None:
    tasks = g.of_type("aws:ecs/taskDefinition:TaskDefinition")
    for service in g.of_type("aws:ecs/service:Service"):
        task = next(
            (t for t in tasks if t.outputs.get("arn") == service.inputs.get("taskDefinition")),
            None,
        )
        if task is not None:
            _access_flows(g, service, task.inputs.get("taskRoleArn"))
            for text in _strings(task.inputs.get("containerDefinitions")):
                for secret in _container_secrets(text):
                    g.flow(g.find(secret, "aws:secretsmanager/secret:Secret"), service)
        for strategy in service.inputs.get("capacityProviderStrategies") or []:
            provider = g.find(
                strategy.get("capacityProvider"), "aws:ecs/capacityProvider:CapacityProvider"
            )
            if provider is not None:
                arn = (provider.inputs.get("autoScalingGroupProvider") or {}).get(
                    "autoScalingGroupArn"
                )
                g.flow(g.find(arn, "aws:autoscaling/group:Group"), service, "capacity", "dashed")
    for function in g.of_type("aws:lambda/function:Function"):
        _access_flows(g, function, function.inputs.get("role"))


def _container_secrets(text: str) -> Iterator[str]:
    try:
        containers = json.loads(text)
    except ValueError:
        return
    for container in containers if isinstance(containers, list) else []:
        for secret in container.get("secrets") or []:
            # "<secret ARN>:<json key>::" names a key of the secret: the ARN is the first 7 parts.
            yield ":".join(str(secret.get("valueFrom", "")).split(":")[:7])


def _network_flows(g: _Graph) -> None:
    """Service -> database or cache: an ingress rule from the service's security group."""
    stores = g.of_type(
        "aws:rds/cluster:Cluster",
        "aws:rds/instance:Instance",
        "aws:elasticache/replicationGroup:ReplicationGroup",
    )
    services = g.of_type("aws:ecs/service:Service")
    for rule in g.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        for store in stores:
            groups = store.inputs.get("vpcSecurityGroupIds") or store.inputs.get("securityGroupIds")
            if rule.inputs.get("securityGroupId") not in (groups or []):
                continue
            for service in services:
                network = service.inputs.get("networkConfiguration") or {}
                if rule.inputs.get("referencedSecurityGroupId") in network.get(
                    "securityGroups", []
                ):
                    g.flow(service, store, f"tcp {int(rule.inputs.get('fromPort', 0))}")


def _api_flows(g: _Graph) -> None:
    apis = ("aws:apigateway/restApi:RestApi", "aws:apigatewayv2/api:Api")
    links = ("aws:apigateway/vpcLink:VpcLink", "aws:apigatewayv2/vpcLink:VpcLink")
    lbs = ("aws:lb/loadBalancer:LoadBalancer",)
    for link in g.of_type("aws:apigateway/vpcLink:VpcLink"):
        for arn in [link.inputs.get("targetArn"), *(link.inputs.get("targetArns") or [])]:
            g.flow(link, g.find(arn, *lbs))
    listeners = g.of_type("aws:lb/listener:Listener")
    for integration in g.of_type(
        "aws:apigateway/integration:Integration", "aws:apigatewayv2/integration:Integration"
    ):
        api = g.find(integration.inputs.get("restApi") or integration.inputs.get("apiId"), *apis)
        uri = integration.inputs.get("uri") or integration.inputs.get("integrationUri") or ""
        link = g.find(integration.inputs.get("connectionId"), *links)
        listener = next((x for x in listeners if x.outputs.get("arn") == uri), None)
        lb = g.find(integration.inputs.get("integrationTarget"), *lbs) or g.find(
            listener.inputs.get("loadBalancerArn") if listener else uri, *lbs
        )
        if link is not None:
            g.flow(api, link)
            g.flow(link, lb)
        else:
            g.flow(api, lb)
            g.flow(api, g.find(uri, *apis))
        g.flow(api, g.find(uri.split("/invocations")[0].split("functions/")[-1],
                           "aws:lambda/function:Function"))  # fmt: skip
    for authorizer in g.of_type(
        "aws:apigatewayv2/authorizer:Authorizer", "aws:apigateway/authorizer:Authorizer"
    ):
        api = g.find(authorizer.inputs.get("apiId") or authorizer.inputs.get("restApi"), *apis)
        uri = authorizer.inputs.get("authorizerUri") or ""
        function = g.find(uri.split("/invocations")[0].split("functions/")[-1],
                          "aws:lambda/function:Function")  # fmt: skip
        g.flow(api, function, "authorizer", "dashed")


def _edge_flows(g: _Graph) -> None:
    origins_of = ("aws:s3/bucket:Bucket", "aws:apigateway/restApi:RestApi",
                  "aws:lb/loadBalancer:LoadBalancer", "aws:apigatewayv2/api:Api")  # fmt: skip
    for cdn in g.of_type("aws:cloudfront/distribution:Distribution"):
        for origin in cdn.inputs.get("origins") or []:
            domain = origin.get("domainName")
            g.flow(cdn, g.find(domain, *origins_of) or g.find(f"https://{domain}", *origins_of))
    for queue in g.of_type("aws:sqs/queue:Queue"):
        try:
            redrive = json.loads(queue.inputs.get("redrivePolicy") or "{}")
        except ValueError:
            continue
        g.flow(queue, g.find(redrive.get("deadLetterTargetArn"), "aws:sqs/queue:Queue"),
               "dead letters", "dashed")  # fmt: skip


def architecture(run: ProgramRun) -> _Graph:
    """The run's meaningful resources and every flow the rules above find."""
    g = _Graph(run)
    for rule in (_load_balancer_flows, _service_flows, _network_flows, _api_flows, _edge_flows):
        rule(g)
    return g


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(g: _Graph, node) -> str:
    stack = g.stack_of(node)
    name = node.name.removeprefix(stack + "-") if node.name != stack else node.name
    role = ROLES[node.type]
    if node.type == "aws:lb/loadBalancer:LoadBalancer":
        kind = node.inputs.get("loadBalancerType", "application")
        role = {"application": "ALB", "network": "NLB"}.get(kind, kind) + (
            " (internal)" if node.inputs.get("internal") else " (internet-facing)"
        )
    elif node.type == "aws:ecs/service:Service":
        providers = [s.get("capacityProvider", "") for s in
                     node.inputs.get("capacityProviderStrategies") or []]  # fmt: skip
        launch = "Fargate Spot" if "FARGATE_SPOT" in providers else (
            "Fargate" if "FARGATE" in providers or not providers else "EC2 GPU")  # fmt: skip
        role = f"ECS service ({launch})"
    elif node.type == "aws:apigatewayv2/api:Api":
        role = f"API Gateway {node.inputs.get('protocolType', 'HTTP')} API"
    return f"{name}\\n{role}"


def to_dot(run: ProgramRun) -> str:
    """The architecture as a DOT digraph: a cluster per stack, the data flows as edges."""
    g = architecture(run)
    ids = {n.urn: n.name if [m.name for m in g.nodes].count(n.name) == 1 else
           f"{n.name}:{n.type}" for n in g.nodes}  # fmt: skip
    lines = [
        f"digraph {_quote('mlplatform-' + run.stack)} {{",
        '  graph [rankdir=LR, fontname="Helvetica", fontsize=12, compound=true, nodesep=0.25,'
        ' ranksep=0.9, newrank=true, label="mlplatform-' + run.stack + ": offline plan,"
        ' data flows", labelloc=t];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f6f8fa", fontname="Helvetica",'
        " fontsize=9];",
        '  edge [color="#57606a", arrowsize=0.6, fontname="Helvetica", fontsize=8];',
    ]
    stacks: dict[str, list] = {}
    for node in g.nodes:
        stacks.setdefault(g.stack_of(node), []).append(node)
    for index, stack in enumerate(sorted(stacks)):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f'    label={_quote(stack)}; style="rounded"; color="#8c959f";')
        for node in sorted(stacks[stack], key=lambda n: (n.type, n.name)):
            fill = _DATA_FILL if node.type in DATA_TYPES else _FILL.get(node.type, "#f6f8fa")
            shape = ", shape=cylinder" if node.type in DATA_TYPES[:3] else ""
            attributes = f'label="{_label(g, node)}", fillcolor="{fill}"{shape}'
            lines.append(f"    {_quote(ids[node.urn])} [{attributes}];")
        lines.append("  }")
    ordered = sorted(g.edges.items(), key=lambda item: (ids[item[0][0]], ids[item[0][1]]))
    for (source, target), edge in ordered:
        attributes = []
        if edge["labels"]:
            attributes.append(f"label={_quote(' '.join(sorted(edge['labels'])))}")
        if edge["style"]:
            attributes.append(f"style={edge['style']}")
        if edge["both"]:
            attributes.append("dir=both")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"  {_quote(ids[source])} -> {_quote(ids[target])}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


NO_DOT_NOTE = (
    "pictures not drawn: Graphviz `dot` is not installed"
    " (apt-get install graphviz, or run ./tasks plan, which installs it)"
)


def write(run: ProgramRun, directory: Path) -> tuple[list[Path], str]:
    """Write ``plan-<stack>.dot``, and ``.svg`` and ``.png`` when Graphviz is installed.

    Returns the paths written and, when ``dot`` is missing, the one-line note saying so.
    """
    directory.mkdir(parents=True, exist_ok=True)
    dot_path = directory / f"plan-{run.stack}.dot"
    dot_path.write_text(to_dot(run))
    written = [dot_path]
    dot = shutil.which("dot")
    if not dot:
        return written, NO_DOT_NOTE
    for fmt in ("svg", "png"):
        path = dot_path.with_suffix("." + fmt)
        done = subprocess.run(
            [dot, f"-T{fmt}", str(dot_path), "-o", str(path)],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[0]
            return written, f"pictures not drawn: {dot} -T{fmt} failed: {reason}"
        written.append(path)
    return written, ""
