"""The resources the offline runner captured, written as a Terraform plan (JSON) for Checkov.

pulumi-aws is generated from the Terraform AWS provider, so each ``aws:`` resource is a
Terraform resource under another spelling: the type token's module and resource in
snake_case (``aws:s3/bucket:Bucket`` -> ``aws_s3_bucket``) with the exceptions in
:data:`TYPE_EXCEPTIONS` (the provider's own ``bridge-metadata.json`` names them), and each
camelCase input in snake_case, a list the bridge pluralised back to Terraform's singular
block name (``rules`` -> ``rule``) unless Terraform's name is plural itself
(:data:`PLURAL_BLOCKS`).

Checkov's ``terraform_plan`` framework reads ``planned_values`` (one ``values`` map per
resource) and joins resources into a graph only through reference strings
(``aws_s3_bucket.data.id``) that its plan parser takes from ``configuration`` expressions'
``references`` for attributes whose value is unknown in the plan. So an input equal to
another captured resource's ID or ARN (exactly, as when the program passes ``bucket.id``)
is written as Terraform writes an unknown, referenced value: left out of ``values`` and
``after``, marked in ``after_unknown``, with the reference in ``configuration``. That is
what lets Checkov see a bucket's separate versioning or public-access-block resource, a
log group's KMS key or a WAF association.

The VPC itself is created by awsx at deploy (its children are not registered under
mocks); it is written as the one ``aws_vpc`` awsx creates, from the component's inputs and
the mock's outputs, so checks over the VPC (flow logs, default security group) can run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from offline.mocks import RecordedResource

PROVIDER = "registry.terraform.io/hashicorp/aws"

TYPE_EXCEPTIONS = {
    "aws:apigateway/response:Response": "aws_api_gateway_gateway_response",
    "aws:lb/loadBalancer:LoadBalancer": "aws_lb",
    "aws:rds/instance:Instance": "aws_db_instance",
    "aws:rds/subnetGroup:SubnetGroup": "aws_db_subnet_group",
    "aws:rds/parameterGroup:ParameterGroup": "aws_db_parameter_group",
    "aws:rds/optionGroup:OptionGroup": "aws_db_option_group",
    "aws:rds/snapshot:Snapshot": "aws_db_snapshot",
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": "aws_sqs_queue_redrive_allow_policy",
    "aws:sqs/redrivePolicy:RedrivePolicy": "aws_sqs_queue_redrive_policy",
    "aws:rds/clusterSnapshot:ClusterSnapshot": "aws_db_cluster_snapshot",
    "aws:rds/eventSubscription:EventSubscription": "aws_db_event_subscription",
    "aws:rds/proxy:Proxy": "aws_db_proxy",
    "aws:rds/roleAssociation:RoleAssociation": "aws_db_instance_role_association",
    "aws:cfg/rule:Rule": "aws_config_config_rule",
    "aws:cloudtrail/trail:Trail": "aws_cloudtrail",
    "aws:ec2/dedicatedHost:DedicatedHost": "aws_ec2_host",
    "aws:ec2/securityGroupAssociation:SecurityGroupAssociation":
        "aws_vpc_endpoint_security_group_association",
    "aws:s3/bucketObjectv2:BucketObjectv2": "aws_s3_object",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig":
        "aws_s3_bucket_replication_configuration",
    "aws:s3/inventory:Inventory": "aws_s3_bucket_inventory",
}  # fmt: skip
"""Tokens whose Terraform type is not module + resource in snake_case (from pulumi-aws's
``provider/cmd/pulumi-resource-aws/bridge-metadata.json``, ``renames.resources``)."""

EC2_PREFIXED = frozenset(
    {"availabilityZoneGroup", "capacityReservation", "carrierGateway", "fleet",
     "localGatewayRoute", "localGatewayRouteTableVpcAssociation", "managedPrefixList",
     "managedPrefixListEntry", "networkInsightsAnalysis", "networkInsightsPath",
     "serialConsoleAccess", "subnetCidrReservation", "tag", "trafficMirrorFilter",
     "trafficMirrorFilterRule", "trafficMirrorSession", "trafficMirrorTarget"}
)  # fmt: skip
"""ec2 resources whose Terraform type keeps the ``ec2_`` prefix (``aws_ec2_fleet``)."""

MODULE_PREFIX = {"apigateway": "api_gateway", "ec2": "", "cfg": "config"}
"""Terraform's prefix per pulumi-aws module where it differs (ec2's resources have none:
``aws_security_group``, ``aws_vpc_endpoint``, ``aws_flow_log``, ``aws_launch_template``)."""

PROPERTY_RENAMES = {
    "aws:apigateway/": {"restApi": "rest_api_id", "deployment": "deployment_id"},
    "aws:apigateway/vpcLink:VpcLink": {"targetArn": "target_arns"},
    "aws:autoscaling/group:Group": {"vpcZoneIdentifiers": "vpc_zone_identifier"},
}
"""Inputs pulumi-aws renamed beyond case and plural (keyed by token or token prefix)."""

LIST_ATTRIBUTES = frozenset({"target_arns"})
"""Terraform lists whose one item pulumi-aws takes as a plain value (``targetArn``)."""

PLURAL_BLOCKS = frozenset(
    {
        "ingress",
        "egress",
        "networkInterfaces",
        "blockDeviceMappings",
        "tagSpecifications",
        "placementConstraints",
        "apiStages",
        "routeSettings",
        "items",
        "elasticGpuSpecifications",
        "metrics",
        "dimensions",
    }
)
"""Lists of objects whose Terraform block name is plural already (not singularised)."""

MAP_KEYS = frozenset(
    {
        "tags",
        "tagsAll",
        "requestParameters",
        "requestTemplates",
        "responseParameters",
        "responseTemplates",
        "requestModels",
        "triggers",
        "dimensions",
        "variables",
        "stageVariables",
    }
)
"""Inputs that are Terraform maps: their keys are data, kept as written, not blocks."""

REFERENCE_OUTPUTS = ("arn", "bucket", "keyId", "name", "arnSuffix", "url", "executionArn")
"""Outputs besides the ID that other resources take as input (matched exactly)."""

ATTRIBUTE_TYPES = {"connection_id": "vpc_link", "key_id": "api_key", "usage_plan_id": "usage_plan"}
"""The type an ID attribute refers to where the attribute's name does not say it."""

NOT_REFERENCES = frozenset({"name", "namePrefix", "description", "comment", "family", "identifier"})
"""Inputs that name the resource itself, never another one."""

ALIAS_TARGETS = {
    "aws:lb/loadBalancer:LoadBalancer": ("dnsName", "dns_name"),
    "aws:cloudfront/distribution:Distribution": ("domainName", "domain_name"),
}
"""Endpoints a Route 53 alias record points at: the output that is the alias's ``name``, and
its Terraform attribute (``alias { name = aws_lb.x.dns_name }``)."""


def snake(name: str) -> str:
    """``cidrIpv4`` -> ``cidr_ipv4``, ``serverlessv2Scaling`` -> ``serverlessv2_scaling``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def singular(name: str) -> str:
    """Terraform's block name for a list pulumi-aws pluralised (``globalSecondaryIndexes``)."""
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("xes", "ches", "shes", "sses", "aliases")):
        return name[:-2]
    return name[:-1] if name.endswith("s") else name


def terraform_type(token: str) -> str | None:
    """The Terraform resource type of a pulumi-aws type token; None for anything else."""
    if token in TYPE_EXCEPTIONS:
        return TYPE_EXCEPTIONS[token]
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != "aws" or "/" not in parts[1]:
        return None
    module, resource = parts[1].split("/")
    if module == "s3" and resource.endswith("V2"):  # pulumi-aws 6's names, aliases in 7
        resource = resource[:-2]
    prefix = "ec2" if resource in EC2_PREFIXED else MODULE_PREFIX.get(module, module)
    return "_".join(p for p in ("aws", prefix, snake(resource)) if p)


def _renames(token: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, table in PROPERTY_RENAMES.items():
        if token == key or (key.endswith("/") and token.startswith(key)):
            found.update(table)
    return found


def attribute_name(token: str, key: str, value: Any) -> str:
    """The Terraform attribute for the Pulumi input ``key`` of a ``token`` resource."""
    renamed = _renames(token).get(key)
    if renamed:
        return renamed
    blocks = isinstance(value, list) and any(isinstance(v, dict) for v in value)
    if blocks and key not in PLURAL_BLOCKS:
        return snake(singular(key))
    return snake(key)


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def terraform_values(token: str, inputs: dict[str, Any], nested: bool = False) -> dict[str, Any]:
    """``inputs`` in Terraform's names; an object input becomes a one-element block list."""
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        name = attribute_name("" if nested else token, key, value)
        if key in MAP_KEYS and isinstance(value, dict):
            out[name] = {k: _number(v) for k, v in value.items()}
        elif isinstance(value, dict):
            out[name] = [terraform_values(token, value, nested=True)]
        elif isinstance(value, list):
            out[name] = [
                terraform_values(token, v, nested=True) if isinstance(v, dict) else _number(v)
                for v in value
            ]
        elif name in LIST_ATTRIBUTES:  # a list pulumi-aws flattened to its one item
            out[name] = [_number(value)]
        else:
            out[name] = _number(value)
    return out


class _Addresses:
    """Terraform addresses of the captured resources, and which values point at which."""

    def __init__(self, resources: Iterable[RecordedResource]):
        self.address: dict[str, str] = {}
        self.targets: dict[str, list[tuple[str, str]]] = {}
        self.stage_arns: dict[str, str] = {}
        self.stages: dict[tuple[Any, Any], str] = {}
        self.alias_targets: dict[str, tuple[str, str]] = {}
        taken: set[str] = set()
        for r in resources:
            tf_type = terraform_type(r.type)
            if r.type == "awsx:ec2:Vpc":
                tf_type = "aws_vpc"
            elif tf_type is None or not r.custom:
                continue
            base = f"{tf_type}.{re.sub(r'[^A-Za-z0-9_-]', '_', r.name)}"
            address, n = base, 1
            while address in taken:
                n += 1
                address = f"{base}_{n}"
            taken.add(address)
            self.address[r.urn] = address
            self._index(address, "id", r.outputs.get("vpcId") if tf_type == "aws_vpc" else r.id)
            if r.type == "aws:apigateway/stage:Stage":  # its ARN as a program writes it out
                suffix = f"/restapis/{r.get('restApi')}/stages/{r.get('stageName')}"
                self.stage_arns[suffix] = address
                self.stages[(r.get("restApi"), r.get("stageName"))] = address
            if r.type in ALIAS_TARGETS:
                output, attr = ALIAS_TARGETS[r.type]
                if isinstance(r.outputs.get(output), str):
                    self.alias_targets[r.outputs[output]] = (address, attr)
            for attr in REFERENCE_OUTPUTS:
                self._index(address, snake(attr), r.outputs.get(attr))

    def _index(self, address: str, attr: str, value: Any) -> None:
        if isinstance(value, str) and len(value) >= 6:
            self.targets.setdefault(value, []).append((address, attr))

    def reference(self, value: Any, attribute: str, own: str) -> list[str] | None:
        """Terraform's ``references`` for a value equal to another resource's ID or ARN."""
        candidates = (
            [t for t in self.targets.get(value, []) if t[0] != own]
            if isinstance(value, str)
            else []
        )
        if len(candidates) > 1:  # same physical name: keep those whose type the key names
            word = ATTRIBUTE_TYPES.get(attribute)
            named = [t for t in candidates if (word or _type_word(t[0])) in attribute
                     and (word is None or _type_word(t[0]) == word)]  # fmt: skip
            candidates = named or candidates[:1]
        if not candidates and isinstance(value, str) and "/restapis/" in value:
            stage = self.stage_arns.get("/restapis/" + value.split("/restapis/", 1)[1])
            candidates = [(stage, "arn")] if stage and stage != own else []
        if not candidates:
            return None
        address, attr = candidates[0]
        return [f"{address}.{attr}", address]


def _type_word(address: str) -> str:
    """``aws_api_gateway_rest_api.x`` -> ``rest_api``: what an attribute naming it contains."""
    tf_type = address.split(".")[0]
    for prefix in ("aws_api_gateway_", "aws_apigatewayv2_", "aws_"):
        if tf_type.startswith(prefix):
            return tf_type[len(prefix) :]
    return tf_type


def _split_references(
    values: dict[str, Any], addresses: _Addresses, own: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(known values, configuration expressions, after_unknown) of one block."""
    known: dict[str, Any] = {}
    expressions: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for key, value in values.items():
        if key in NOT_REFERENCES or key in ("tags", "tags_all"):
            known[key] = value
            continue
        items = value if isinstance(value, list) else [value]
        refs = [addresses.reference(v, key, own) for v in items if not isinstance(v, dict)]
        if refs and any(refs):
            expressions[key] = {"references": [x for ref in refs if ref for x in ref]}
            unknown[key] = True
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            split = [_split_references(v, addresses, own) for v in value]
            known[key] = [s[0] for s in split]
            if any(s[1] for s in split):
                expressions[key] = [s[1] for s in split]
                unknown[key] = [s[2] for s in split]
            continue
        known[key] = value
    return known, expressions, unknown


def _refer(
    known: dict[str, Any], expressions: dict[str, Any], unknown: dict[str, Any],
    key: str, address: str, attr: str,
) -> None:  # fmt: skip
    """``key`` of one block becomes Terraform's unknown value referring to ``address.attr``."""
    known.pop(key, None)
    expressions[key] = {"references": [f"{address}.{attr}", address]}
    unknown[key] = True


def _named_references(
    r: RecordedResource,
    addresses: _Addresses,
    split: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
) -> None:
    """References to attributes that are names, not IDs or ARNs, where the program passes
    the other resource's attribute (so they are matched on more than the value alone).

    - A REST stage's method settings name the stage by ``stage_name``, which the program
      passes as ``stage.stage_name``: it refers to the stage whose REST API and stage name
      are the settings' own (Checkov's CKV2_AWS_4 joins the two through it).
    - A Route 53 alias record's ``alias.name`` is the DNS name of the load balancer or
      distribution it points at (``load_balancer.dns_name``, ``distribution.domain_name``):
      it refers to the endpoint with exactly that name (CKV2_AWS_23).
    """
    known, expressions, unknown = split
    if r.type == "aws:apigateway/methodSettings:MethodSettings":
        stage = addresses.stages.get((r.get("restApi"), r.get("stageName")))
        if stage is not None and "stage_name" in known:
            _refer(known, expressions, unknown, "stage_name", stage, "stage_name")
    elif r.type == "aws:route53/record:Record" and isinstance(known.get("alias"), list):
        blocks = known["alias"]
        block_expressions = expressions.get("alias") or [{} for _ in blocks]
        block_unknown = unknown.get("alias") or [{} for _ in blocks]
        for block, block_expr, block_unk in zip(
            blocks, block_expressions, block_unknown, strict=True
        ):
            target = addresses.alias_targets.get(block.get("name"))
            if target is not None:
                _refer(block, block_expr, block_unk, "name", *target)
        if any(block_expressions):
            expressions["alias"] = block_expressions
            unknown["alias"] = block_unknown


def _vpc_of_awsx(resource: RecordedResource) -> dict[str, Any] | None:
    if not resource.outputs.get("vpcId"):
        return None
    return {
        "cidr_block": resource.inputs.get("cidrBlock"),
        "enable_dns_hostnames": resource.inputs.get("enableDnsHostnames", False),
        "enable_dns_support": resource.inputs.get("enableDnsSupport", True),
        "tags": resource.inputs.get("tags", {}),
    }


def plan(resources: list[RecordedResource]) -> dict[str, Any]:
    """A Terraform plan (format 1.2) creating every captured ``aws:`` resource."""
    addresses = _Addresses(resources)
    planned: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    configuration: list[dict[str, Any]] = []
    for r in resources:
        own = addresses.address.get(r.urn)
        if own is None:
            continue
        awsx = r.type == "awsx:ec2:Vpc"
        values = _vpc_of_awsx(r) if awsx else terraform_values(r.type, r.inputs)
        if values is None:
            continue
        known, expressions, unknown = _split_references(values, addresses, own)
        _named_references(r, addresses, (known, expressions, unknown))
        tf_type, name = own.split(".", 1)
        common = {"address": own, "mode": "managed", "type": tf_type, "name": name}
        planned.append({**common, "provider_name": PROVIDER, "schema_version": 0, "values": known})
        changes.append(
            {
                **common,
                "provider_name": PROVIDER,
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": known,
                    "after_unknown": unknown,
                },
            }
        )
        configuration.append({**common, "provider_config_key": "aws", "expressions": expressions})
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.0",
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": {"aws": {"name": "aws", "full_name": PROVIDER}},
            "root_module": {"resources": configuration},
        },
    }


def write(resources: list[RecordedResource], path: Path) -> Path:
    """Write :func:`plan` of ``resources`` to ``path`` (JSON) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan(resources), indent=1, sort_keys=True, default=str))
    return path
