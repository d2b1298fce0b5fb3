"""Mocks for the Pulumi engine that record every resource and answer like AWS would.

The recording monitor keeps, for each registered resource, its type, name, inputs (with
which input paths were secret), parent and options. The mocks return realistic outputs
(ARNs, IDs, URLs, DNS names) per AWS type and the typed outputs of awsx components, whose
children are never registered under mocks. An invoke they do not know fails the program:
a silent ``{}`` would let a test pass over a lookup that returns nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
from pulumi.runtime import mocks, rpc

from preflight.model import at_path

ACCOUNT_ID = "123456789012"
SECRET_PLACEHOLDER = "offline-secret-value"


class UnknownInvokeError(Exception):
    """The program called a data source the mocks do not model."""


@dataclass
class RecordedResource:
    """One resource registration, as the engine saw it."""

    type: str
    name: str
    urn: str
    id: str
    inputs: dict[str, Any]
    """Inputs with secrets unwrapped; see :attr:`secret_paths`."""
    secret_paths: frozenset[str]
    """Dotted paths of inputs that were secret."""
    outputs: dict[str, Any]
    parent: str
    """URN of the parent ('' for the stack itself)."""
    custom: bool
    remote: bool
    """True for multi-language components (awsx), whose children are not registered."""
    options: dict[str, Any] = field(default_factory=dict)

    def get(self, path: str, default: Any = None) -> Any:
        """An input by dotted path, e.g. ``"imageScanningConfiguration.scanOnPush"``."""
        return at_path(self.inputs, path, default)


def unwrap_secrets(value: Any, path: str = "", found: set[str] | None = None) -> Any:
    """``value`` with secret markers removed; secret paths are added to ``found``."""
    if rpc.is_rpc_secret(value):
        if found is not None:
            found.add(path)
        return unwrap_secrets(rpc.unwrap_rpc_secret(value), path, found)
    if isinstance(value, dict):
        return {k: unwrap_secrets(v, f"{path}.{k}".lstrip("."), found) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v, f"{path}.{i}".lstrip("."), found) for i, v in enumerate(value)]
    # A Lambda function's code: recorded as the engine sends it ({"assets": {name: {"path":
    # ...}}}), so a plan's inputs stay plain JSON.
    if isinstance(value, pulumi.AssetArchive):
        return {"assets": {k: unwrap_secrets(v, f"{path}.{k}", found)
                           for k, v in value.assets.items()}}  # fmt: skip
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        return {"path": str(value.path)}
    return value


def _short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _resource_ref(urn: str, resource_id: str) -> dict[str, Any]:
    return {rpc._special_sig_key: rpc._special_resource_sig, "urn": urn, "id": resource_id}


class RecordingMonitor(mocks.MockMonitor):
    """A mock monitor that records each registration with its parent and options."""

    def __init__(self, platform_mocks: PlatformMocks):
        super().__init__(platform_mocks)
        platform_mocks.monitor = self
        self.recorded: list[RecordedResource] = []

    def RegisterResource(self, request):  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        found: set[str] = set()
        inputs = unwrap_secrets(rpc.deserialize_properties(request.object), found=found)
        registration = self.resources[response.urn]
        self.recorded.append(
            RecordedResource(
                type=request.type,
                name=request.name,
                urn=response.urn,
                id=registration.id or "",
                inputs=inputs,
                secret_paths=frozenset(found),
                outputs=unwrap_secrets(dict(registration.state)),
                parent=request.parent,
                custom=bool(request.custom),
                remote=bool(request.remote),
                options={
                    "protect": bool(request.protect),
                    "retain_on_delete": bool(request.retainOnDelete),
                    "delete_before_replace": bool(request.deleteBeforeReplace),
                    "ignore_changes": list(request.ignoreChanges),
                    "replace_on_changes": list(request.replaceOnChanges),
                    "additional_secret_outputs": list(request.additionalSecretOutputs),
                    "depends_on": list(request.dependencies),
                    "aliases": len(request.aliases),
                    "provider": request.provider,
                },
            )
        )
        return response


def _managed_secret(region: str, resource_id: str) -> list[dict[str, str]]:
    """``masterUserSecrets`` of a database whose password RDS manages (rds!db-<uuid>)."""
    h = _short_hash(resource_id, length=32)
    name = f"rds!db-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return [
        {
            "secretArn": f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{name}-AbCdEf",
            "kmsKeyId": f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/aws-secretsmanager",
            "secretStatus": "active",
        }
    ]


class PlatformMocks(mocks.Mocks):
    """Outputs per resource type and answers per invoke, as AWS would give them."""

    def __init__(self, region: str = "us-east-1"):
        self.region = region
        self.monitor: RecordingMonitor | None = None
        self.provider_regions: dict[str, str] = {}
        """Explicit providers' IDs -> their region (CloudFront's us-east-1 one)."""

    # --- resources --------------------------------------------------------------

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict]:
        if args.typ == "awsx:ec2:Vpc":
            return f"{args.name}-component", self._awsx_vpc(args)
        state = dict(args.inputs)
        resource_id = self._physical_id(args)
        if args.typ == "pulumi:providers:aws":
            self.provider_regions[resource_id] = args.inputs.get("region") or self.region
        handler = {
            "aws:cloudwatch/logGroup:LogGroup": self._log_group,
            "aws:iam/role:Role": self._role,
            "aws:iam/policy:Policy": self._policy,
            "aws:ecr/repository:Repository": self._repository,
            "aws:ec2/vpcEndpoint:VpcEndpoint": self._vpc_endpoint,
            "docker:index/image:Image": self._docker_image,
            "aws:s3/bucket:Bucket": self._bucket,
            "aws:s3/bucketV2:BucketV2": self._bucket,
            "aws:sqs/queue:Queue": self._queue,
            "aws:lb/loadBalancer:LoadBalancer": self._load_balancer,
            "aws:rds/instance:Instance": self._db_instance,
            "aws:rds/cluster:Cluster": self._db_cluster,
            "aws:rds/clusterInstance:ClusterInstance": self._db_cluster_instance,
            "aws:ecs/cluster:Cluster": self._ecs_cluster,
            "aws:ecs/service:Service": self._ecs_service,
            "aws:ecs/taskDefinition:TaskDefinition": self._task_definition,
            "aws:sns/topic:Topic": self._topic,
            "aws:kms/key:Key": self._kms_key,
            "aws:secretsmanager/secret:Secret": self._secret,
            "aws:secretsmanager/secretVersion:SecretVersion": self._secret_version_resource,
            "aws:lambda/function:Function": self._function,
            "aws:elasticache/replicationGroup:ReplicationGroup": self._replication_group,
            "aws:iam/user:User": self._iam_named("user"),
            "aws:iam/group:Group": self._iam_named("group"),
            "aws:iam/accessKey:AccessKey": self._access_key,
            "random:index/randomPassword:RandomPassword": self._random_password,
            "aws:lb/targetGroup:TargetGroup": self._target_group,
            "aws:lb/listener:Listener": self._lb_child("listener"),
            "aws:lb/listenerRule:ListenerRule": self._lb_child("listener-rule"),
            "aws:ec2/launchTemplate:LaunchTemplate": self._launch_template,
            "aws:autoscaling/group:Group": self._autoscaling_group,
            "aws:ecs/capacityProvider:CapacityProvider": self._capacity_provider,
            "aws:iam/instanceProfile:InstanceProfile": self._iam_named("instance-profile"),
            "aws:ssm/parameter:Parameter": self._ssm_parameter_resource,
            "aws:dynamodb/table:Table": self._table,
            "aws:apigateway/restApi:RestApi": self._rest_api,
            "aws:apigateway/resource:Resource": self._apigw_id,
            "aws:apigateway/vpcLink:VpcLink": self._apigw_id,
            "aws:apigateway/deployment:Deployment": self._apigw_id,
            "aws:apigateway/stage:Stage": self._rest_stage,
            "aws:apigatewayv2/api:Api": self._v2_api,
            "aws:apigatewayv2/integration:Integration": self._apigw_id,
            "aws:apigatewayv2/stage:Stage": self._websocket_stage,
            "aws:cloudfront/distribution:Distribution": self._distribution,
            "aws:servicequotas/serviceQuota:ServiceQuota": self._service_quota,
            "aws:cognito/userPool:UserPool": self._user_pool,
            "aws:cognito/userPoolClient:UserPoolClient": self._user_pool_client,
            "aws:wafv2/webAcl:WebAcl": self._web_acl,
            "aws:budgets/budget:Budget": self._budget,
            "aws:costexplorer/anomalyMonitor:AnomalyMonitor": self._cost_explorer,
            "aws:costexplorer/anomalySubscription:AnomalySubscription": self._cost_explorer,
            "aws:acm/certificate:Certificate": self._certificate,
            "aws:acm/certificateValidation:CertificateValidation": self._certificate_validation,
            "aws:route53/record:Record": self._record,
            "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": self._uuid_id,
        }.get(args.typ)
        if args.typ.startswith("aws:"):
            state.setdefault("arn", self._arn(args, resource_id))
            state.setdefault("tagsAll", state.get("tags", {}))
        if handler is not None:
            state.update(handler(args, resource_id))
        return resource_id, state

    def _physical_id(self, args: mocks.MockResourceArgs) -> str:
        prefixes = {
            "aws:ec2/securityGroup:SecurityGroup": "sg-",
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg-",
            "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce-",
            "aws:ec2/flowLog:FlowLog": "fl-",
            "aws:ec2/subnet:Subnet": "subnet-",
            "aws:ec2/vpc:Vpc": "vpc-",
            "aws:ec2/routeTable:RouteTable": "rtb-",
        }
        if args.typ in prefixes:
            return prefixes[args.typ] + _short_hash(args.typ, args.name, length=17)
        if args.typ in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            # A bucket's ID is its name; with a prefix AWS appends a 26-character suffix.
            if args.inputs.get("bucketPrefix"):
                return args.inputs["bucketPrefix"] + _short_hash(args.name, length=26)
            if args.inputs.get("bucket"):
                return args.inputs["bucket"]
        if args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            return "lt-" + _short_hash(args.name, length=17)
        if args.typ == "aws:iam/accessKey:AccessKey":
            return "AKIA" + _short_hash(args.name, length=16).upper()
        if args.typ == "aws:cognito/userPool:UserPool":  # <region>_<9 characters>
            return f"{self.region}_{_short_hash(args.name, length=9)}"
        if args.typ == "aws:cognito/userPoolDomain:UserPoolDomain":  # the domain prefix
            return str(args.inputs.get("domain") or args.name)
        if args.typ == "aws:cognito/userPoolClient:UserPoolClient":  # 26 characters
            return _short_hash(args.typ, args.name, length=26)
        if args.typ == "aws:servicequotas/serviceQuota:ServiceQuota":  # the provider's ID
            return f"{args.inputs.get('serviceCode')}/{args.inputs.get('quotaCode')}"
        name = (
            args.inputs.get("name")
            or args.inputs.get("identifier")
            or args.inputs.get("clusterIdentifier")
        )
        if isinstance(name, str) and name:
            return name
        return f"{args.name}-{_short_hash(args.typ, args.name, length=7)}"

    def _region_of(self, args: mocks.MockResourceArgs) -> str:
        """The region of the resource's provider (``<urn>::<id>``), else the stack's."""
        provider_id = (args.provider or "").rsplit("::", 1)[-1]
        return self.provider_regions.get(provider_id, self.region)

    def _arn(self, args: mocks.MockResourceArgs, resource_id: str) -> str:
        module, kind = args.typ.split(":")[1].split("/")
        region = self._region_of(args)
        return f"arn:aws:{module}:{region}:{ACCOUNT_ID}:{kind.lower()}/{resource_id}"

    def _log_group(self, args, resource_id):
        region = self._region_of(args)
        return {
            "name": resource_id,
            "arn": f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{resource_id}",
        }

    @staticmethod
    def _uuid(*parts: str) -> str:
        h = _short_hash(*parts, length=32)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _uuid_id(self, args, resource_id):
        return {"id": self._uuid(args.typ, args.name), "etag": _short_hash(args.name).upper()}

    def _budget(self, args, resource_id):
        """Budgets are global: ``arn:aws:budgets::<account>:budget/<name>``; the provider's
        ID is ``<account>:<name>``."""
        name = args.inputs.get("name") or resource_id
        return {
            "id": f"{ACCOUNT_ID}:{name}",
            "arn": f"arn:aws:budgets::{ACCOUNT_ID}:budget/{name}",
            "accountId": ACCOUNT_ID,
        }

    def _cost_explorer(self, args, resource_id):
        """Cost Explorer's ARNs have no region: ``arn:aws:ce::<account>:anomalymonitor/<uuid>``
        (``anomalysubscription`` likewise); the ARN is the provider's ID."""
        kind = "anomalymonitor" if "Monitor" in args.typ else "anomalysubscription"
        arn = f"arn:aws:ce::{ACCOUNT_ID}:{kind}/{self._uuid(args.typ, args.name)}"
        return {"id": arn, "arn": arn, "accountId": ACCOUNT_ID}

    def _web_acl(self, args, resource_id):
        scope = "global" if args.inputs.get("scope") == "CLOUDFRONT" else "regional"
        acl_id = self._uuid(args.typ, args.name)
        region = self._region_of(args)
        return {
            "id": acl_id,
            "arn": f"arn:aws:wafv2:{region}:{ACCOUNT_ID}:{scope}/webacl/{resource_id}/{acl_id}",
            "capacity": 1000,
            "lockToken": self._uuid("lock", args.name),
        }

    def _certificate(self, args, resource_id):
        """A requested public certificate: one DNS validation option per domain name."""
        region = self._region_of(args)
        cert_id = self._uuid(args.typ, args.name)
        sans = args.inputs.get("subjectAlternativeNames") or []
        domains = [args.inputs.get("domainName", ""), *sans]
        return {
            "id": f"arn:aws:acm:{region}:{ACCOUNT_ID}:certificate/{cert_id}",
            "arn": f"arn:aws:acm:{region}:{ACCOUNT_ID}:certificate/{cert_id}",
            "status": "PENDING_VALIDATION",
            "domainValidationOptions": [
                {
                    "domainName": domain,
                    "resourceRecordName": f"_{_short_hash(domain, length=32)}.{domain}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{_short_hash(domain, 'v', length=32)}"
                    ".acm-validations.aws.",
                }
                for domain in domains
            ],
        }

    def _certificate_validation(self, args, resource_id):
        return {"certificateArn": args.inputs.get("certificateArn", "")}

    def _record(self, args, resource_id):
        name = str(args.inputs.get("name", "")).rstrip(".")
        return {"fqdn": name, "id": f"{args.inputs.get('zoneId')}_{name}_{args.inputs.get('type')}"}

    def _role(self, args, resource_id):
        return {
            "name": resource_id,
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{resource_id}",
            "uniqueId": "AROA" + _short_hash(resource_id, length=16).upper(),
        }

    def _policy(self, args, resource_id):
        return {"arn": f"arn:aws:iam::{ACCOUNT_ID}:policy/{resource_id}"}

    def _repository(self, args, resource_id):
        return {
            "name": resource_id,
            "registryId": ACCOUNT_ID,
            "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{self.region}.amazonaws.com/{resource_id}",
            "arn": f"arn:aws:ecr:{self.region}:{ACCOUNT_ID}:repository/{resource_id}",
        }

    def _docker_image(self, args, resource_id):
        image_name = args.inputs.get("imageName", "")
        repository = (
            image_name.rsplit(":", 1)[0] if ":" in image_name.split("/")[-1] else image_name
        )
        digest = hashlib.sha256(image_name.encode()).hexdigest()
        return {
            "imageName": image_name,
            "baseImageName": image_name,
            "repoDigest": f"{repository}@sha256:{digest}",
            "registryServer": image_name.split("/")[0],
        }

    def _bucket(self, args, resource_id):
        bucket = resource_id
        return {
            "bucket": bucket,
            "arn": f"arn:aws:s3:::{bucket}",
            "bucketDomainName": f"{bucket}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{bucket}.s3.{self.region}.amazonaws.com",
        }

    def _queue(self, args, resource_id):
        return {
            "name": resource_id,
            "arn": f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{resource_id}",
            "url": f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT_ID}/{resource_id}",
        }

    def _load_balancer(self, args, resource_id):
        name = resource_id[:32]
        suffix = f"app/{name}/{_short_hash(resource_id, length=16)}"
        return {
            "name": name,
            "arn": f"arn:aws:elasticloadbalancing:{self.region}:{ACCOUNT_ID}:loadbalancer/{suffix}",
            "arnSuffix": suffix,
            "dnsName": f"{name}-{_short_hash(resource_id)}.{self.region}.elb.amazonaws.com",
            "zoneId": "Z35SXDOTRQ7X7K",
        }

    def _db_cluster(self, args, resource_id):
        h = _short_hash(resource_id, length=12)
        out: dict[str, Any] = {
            "clusterIdentifier": resource_id,
            "endpoint": f"{resource_id}.cluster-{h}.{self.region}.rds.amazonaws.com",
            "readerEndpoint": f"{resource_id}.cluster-ro-{h}.{self.region}.rds.amazonaws.com",
            "port": int(args.inputs.get("port", 5432)),
            "arn": f"arn:aws:rds:{self.region}:{ACCOUNT_ID}:cluster:{resource_id}",
            "engineVersionActual": args.inputs.get("engineVersion"),
        }
        if args.inputs.get("manageMasterUserPassword"):
            out["masterUserSecrets"] = _managed_secret(self.region, resource_id)
        return out

    def _db_cluster_instance(self, args, resource_id):
        h = _short_hash(resource_id, length=12)
        return {
            "identifier": resource_id,
            "endpoint": f"{resource_id}.{h}.{self.region}.rds.amazonaws.com",
            "arn": f"arn:aws:rds:{self.region}:{ACCOUNT_ID}:db:{resource_id}",
        }

    def _db_instance(self, args, resource_id):
        address = (
            f"{resource_id}.{_short_hash(resource_id, length=12)}.{self.region}.rds.amazonaws.com"
        )
        port = int(args.inputs.get("port", 5432))
        out: dict[str, Any] = {
            "identifier": resource_id,
            "address": address,
            "port": port,
            "endpoint": f"{address}:{port}",
            "arn": f"arn:aws:rds:{self.region}:{ACCOUNT_ID}:db:{resource_id}",
        }
        if args.inputs.get("manageMasterUserPassword"):
            out["masterUserSecrets"] = _managed_secret(self.region, resource_id)
        return out

    def _ecs_cluster(self, args, resource_id):
        return {
            "name": resource_id,
            "arn": f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:cluster/{resource_id}",
        }

    def _ecs_service(self, args, resource_id):
        cluster = str(args.inputs.get("cluster", "")).rsplit("/", 1)[-1]
        return {
            "name": resource_id,
            "arn": f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:service/{cluster}/{resource_id}",
        }

    def _task_definition(self, args, resource_id):
        family = args.inputs.get("family", resource_id)
        return {
            "revision": 1,
            "arn": f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:task-definition/{family}:1",
            "arnWithoutRevision": (
                f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:task-definition/{family}"
            ),
        }

    def _topic(self, args, resource_id):
        return {"name": resource_id, "arn": f"arn:aws:sns:{self.region}:{ACCOUNT_ID}:{resource_id}"}

    def _kms_key(self, args, resource_id):
        h = _short_hash(args.name, length=32)
        key_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        region = self._region_of(args)
        return {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key_id}"}

    def _secret(self, args, resource_id):
        arn = f"arn:aws:secretsmanager:{self.region}:{ACCOUNT_ID}:secret:{resource_id}-AbCdEf"
        return {"arn": arn}

    def _secret_version_resource(self, args, resource_id):
        # PutSecretValue makes a new version, with a new id, for each new value.
        value = str(args.inputs.get("secretString", ""))
        version_id = self._uuid(args.typ, args.name, value)
        return {"versionId": version_id, "id": f"{args.inputs.get('secretId', '')}|{version_id}"}

    def _user_pool(self, args, resource_id):
        return {
            "arn": f"arn:aws:cognito-idp:{self.region}:{ACCOUNT_ID}:userpool/{resource_id}",
            "endpoint": f"cognito-idp.{self.region}.amazonaws.com/{resource_id}",
        }

    def _user_pool_client(self, args, resource_id):
        return {"clientSecret": SECRET_PLACEHOLDER}

    def _function(self, args, resource_id):
        arn = f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{resource_id}"
        invoke = (
            f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/{arn}/invocations"
        )
        return {"arn": arn, "qualifiedArn": f"{arn}:$LATEST", "invokeArn": invoke}

    def _replication_group(self, args, resource_id):
        group_id = args.inputs.get("replicationGroupId", resource_id)
        host = f"master.{group_id}.{_short_hash(group_id, length=6)}.use1.cache.amazonaws.com"
        return {
            "arn": f"arn:aws:elasticache:{self.region}:{ACCOUNT_ID}:replicationgroup:{group_id}",
            "primaryEndpointAddress": host,
        }

    @staticmethod
    def _iam_named(kind: str):
        def handler(args, resource_id):
            return {"name": resource_id, "arn": f"arn:aws:iam::{ACCOUNT_ID}:{kind}/{resource_id}"}

        return handler

    def _ssm_parameter_resource(self, args, resource_id):
        """``arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>``
        (IAM service authorization reference, AWS Systems Manager: the ``parameter``
        resource type's ARN ends in ``${ParameterNameWithoutLeadingSlash}``)."""
        name = str(args.inputs.get("name") or resource_id)
        region = self._region_of(args)
        return {
            "name": name,
            "arn": f"arn:aws:ssm:{region}:{ACCOUNT_ID}:parameter/{name.lstrip('/')}",
        }

    def _access_key(self, args, resource_id):
        return {"secret": SECRET_PLACEHOLDER, "status": "Active"}

    def _random_password(self, args, resource_id):
        return {"result": SECRET_PLACEHOLDER}

    def _target_group(self, args, resource_id):
        name = str(args.inputs.get("name") or resource_id)[:32]
        suffix = f"targetgroup/{name}/{_short_hash(args.name, length=16)}"
        return {
            "name": name,
            "arn": f"arn:aws:elasticloadbalancing:{self.region}:{ACCOUNT_ID}:{suffix}",
            "arnSuffix": suffix,
        }

    def _lb_child(self, kind: str):
        def handler(args, resource_id):
            arn = (
                f"arn:aws:elasticloadbalancing:{self.region}:{ACCOUNT_ID}:{kind}/app/"
                f"{_short_hash(args.name, length=16)}"
            )
            return {"arn": arn}

        return handler

    def _launch_template(self, args, resource_id):
        template_id = "lt-" + _short_hash(args.name, length=17)
        arn = f"arn:aws:ec2:{self.region}:{ACCOUNT_ID}:launch-template/{template_id}"
        return {"latestVersion": 1, "defaultVersion": 1, "arn": arn}

    def _autoscaling_group(self, args, resource_id):
        name = str(args.inputs.get("namePrefix", "")) + _short_hash(args.name, length=26)
        return {
            "name": name,
            "arn": f"arn:aws:autoscaling:{self.region}:{ACCOUNT_ID}:autoScalingGroup:"
            f"{_short_hash(name, length=8)}:autoScalingGroupName/{name}",
        }

    def _table(self, args, resource_id):
        arn = f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{resource_id}"
        out = {"name": resource_id, "arn": arn}
        if args.inputs.get("streamEnabled"):
            out["streamArn"] = f"{arn}/stream/2026-01-01T00:00:00.000"
        return out

    def _rest_api(self, args, resource_id):
        api_id = _short_hash(args.name, length=10)
        return {
            "id": api_id,
            "name": args.inputs.get("name", resource_id),
            "rootResourceId": _short_hash(args.name, "root", length=10),
            "executionArn": f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{api_id}",
        }

    def _apigw_id(self, args, resource_id):
        return {"id": _short_hash(args.typ, args.name, length=10)}

    def _rest_stage(self, args, resource_id):
        api, stage = args.inputs.get("restApi", ""), args.inputs.get("stageName", "")
        return {"invokeUrl": f"https://{api}.execute-api.{self.region}.amazonaws.com/{stage}"}

    def _v2_api(self, args, resource_id):
        # GetApi's ApiEndpoint: wss:// for a WebSocket API, https:// for an HTTP API.
        api_id = _short_hash(args.name, length=10)
        scheme = "https" if args.inputs.get("protocolType") == "HTTP" else "wss"
        return {
            "id": api_id,
            "apiEndpoint": f"{scheme}://{api_id}.execute-api.{self.region}.amazonaws.com",
            "executionArn": f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{api_id}",
        }

    def _websocket_stage(self, args, resource_id):
        api, stage = args.inputs.get("apiId", ""), args.inputs.get("name", "")
        if stage == "$default":  # an HTTP API's stage at the API's root
            return {"invokeUrl": f"https://{api}.execute-api.{self.region}.amazonaws.com/"}
        return {"invokeUrl": f"wss://{api}.execute-api.{self.region}.amazonaws.com/{stage}"}

    def _distribution(self, args, resource_id):
        distribution_id = "E" + _short_hash(args.name, length=13).upper()
        return {
            "domainName": f"d{_short_hash(args.name, length=13)}.cloudfront.net",
            "arn": f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{distribution_id}",
            "hostedZoneId": "Z2FDTNDATAQYW2",
        }

    def _capacity_provider(self, args, resource_id):
        return {
            "name": resource_id,
            "arn": f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:capacity-provider/{resource_id}",
        }

    def _service_quota(self, args, resource_id):
        quota = {
            k: v for k, v in self._quota(args.inputs).items() if k not in ("id", "globalQuota")
        }
        value = float(args.inputs.get("value", 0))
        # Above the account's value the provider submits an increase request, which waits
        # for AWS (PENDING); at the value it submits nothing.
        request = _short_hash(resource_id, length=32) if value > quota["value"] else ""
        return {
            **quota,
            "value": value,
            "requestId": request,
            "requestStatus": "PENDING" if request else "",
        }

    def _vpc_endpoint(self, args, resource_id):
        service = args.inputs.get("serviceName", "")
        out: dict[str, Any] = {"state": "available", "prefixListId": "pl-" + _short_hash(service)}
        if args.inputs.get("vpcEndpointType") == "Interface":
            out["dnsEntries"] = [
                {"dnsName": f"{resource_id}.{service.split('.', 3)[-1]}.vpce.amazonaws.com"}
            ]
        return out

    def _awsx_vpc(self, args: mocks.MockResourceArgs) -> dict[str, Any]:
        """The typed outputs of ``awsx:ec2:Vpc``; its children exist only as references."""
        azs = int(args.inputs.get("numberOfAvailabilityZones", 2))
        strategy = args.inputs.get("natGateways", {}).get("strategy", "OnePerAz")
        nat_count = {"None": 0, "Single": 1}.get(strategy, azs)
        vpc_id = "vpc-" + _short_hash(args.name, length=17)
        public = [f"subnet-pub{i}{_short_hash(args.name, str(i), length=11)}" for i in range(azs)]
        private = [f"subnet-prv{i}{_short_hash(args.name, str(i), length=11)}" for i in range(azs)]
        tables = [self._child_ref(args.name, "aws:ec2/routeTable:RouteTable", f"rt-{i}", "rtb-")
                  for i in range(2 * azs)]  # fmt: skip
        gateways = [self._child_ref(args.name, "aws:ec2/natGateway:NatGateway", f"nat-{i}", "nat-")
                    for i in range(nat_count)]  # fmt: skip
        return {
            **args.inputs,
            "vpcId": vpc_id,
            "publicSubnetIds": public,
            "privateSubnetIds": private,
            "isolatedSubnetIds": [],
            "routeTables": tables,
            "natGateways": gateways,
        }

    def _child_ref(self, parent: str, typ: str, suffix: str, id_prefix: str) -> dict[str, Any]:
        """A reference to an awsx child: the engine can resolve it, the plan does not list it."""
        assert self.monitor is not None
        urn = f"urn:pulumi:offline::mlplatform::awsx:ec2:Vpc${typ}::{parent}-{suffix}"
        resource_id = id_prefix + _short_hash(parent, suffix, length=17)
        self.monitor.resources[urn] = mocks.MockMonitor.ResourceRegistration(
            urn, resource_id, {"id": resource_id}
        )
        return _resource_ref(urn, resource_id)

    # --- invokes ----------------------------------------------------------------

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list | None]:
        answers = {
            "aws:index/getCallerIdentity:getCallerIdentity": self._caller_identity,
            "aws:index/getRegion:getRegion": self._region,
            "aws:index/getPartition:getPartition": self._partition,
            "aws:index/getAvailabilityZones:getAvailabilityZones": self._availability_zones,
            "aws:iam/getPolicyDocument:getPolicyDocument": self._policy_document,
            "aws:ecr/getAuthorizationToken:getAuthorizationToken": self._ecr_token,
            "aws:ssm/getParameter:getParameter": self._ssm_parameter,
            "aws:elb/getServiceAccount:getServiceAccount": self._elb_service_account,
            "aws:servicequotas/getServiceQuota:getServiceQuota": self._quota,
            "aws:secretsmanager/getSecretVersion:getSecretVersion": self._secret_version,
        }
        if args.token not in answers:
            raise UnknownInvokeError(
                f"the offline mocks do not model the invoke {args.token!r}; "
                "add an answer to offline/mocks.py"
            )
        return answers[args.token](args.args), []

    def _caller_identity(self, _: dict) -> dict:
        return {
            "accountId": ACCOUNT_ID,
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/offline",
            "userId": "AIDAOFFLINE",
            "id": ACCOUNT_ID,
        }

    def _region(self, _: dict) -> dict:
        return {"name": self.region, "region": self.region, "id": self.region}

    def _partition(self, _: dict) -> dict:
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}

    def _availability_zones(self, _: dict) -> dict:
        names = [f"{self.region}{z}" for z in "abcdef"]
        return {"names": names, "zoneIds": [f"use1-az{i}" for i in range(1, 7)], "id": self.region}

    def _ecr_token(self, args: dict) -> dict:
        registry = args.get("registryId", ACCOUNT_ID)
        return {
            "authorizationToken": SECRET_PLACEHOLDER,
            "userName": "AWS",
            "password": SECRET_PLACEHOLDER,
            "proxyEndpoint": f"https://{registry}.dkr.ecr.{self.region}.amazonaws.com",
            "expiresAt": "2099-01-01T00:00:00Z",
            "id": registry,
        }

    # Public SSM parameters the program reads, with a value of the form AWS publishes.
    SSM_PARAMETERS: ClassVar[dict[str, str]] = {
        "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id": (
            "ami-0a1b2c3d4e5f60718"
        ),
    }

    def _ssm_parameter(self, args: dict) -> dict:
        name = args.get("name", "")
        if name not in self.SSM_PARAMETERS:
            raise UnknownInvokeError(f"the offline mocks have no SSM parameter {name!r}")
        value = self.SSM_PARAMETERS[name]
        arn = f"arn:aws:ssm:{self.region}::parameter{name}"
        return {"name": name, "value": value, "insecureValue": value, "type": "String",
                "version": 1, "arn": arn, "id": name}  # fmt: skip

    # The account is a new one: its quotas hold AWS's defaults (list-aws-default-service-quotas,
    # as recorded in gruntwork-io/terraform-aws-utilities docs/quotas.md at 04f5883).
    QUOTA_DEFAULTS: ClassVar[dict[str, float]] = {"ec2": 0.0, "fargate": 6.0}
    QUOTA_SERVICES: ClassVar[dict[str, str]] = {
        "ec2": "Amazon Elastic Compute Cloud (Amazon EC2)",
        "fargate": "AWS Fargate",
    }

    def _quota(self, args: dict) -> dict:
        """A quota as GetServiceQuota (else GetAWSDefaultServiceQuota) describes it."""
        # Imported here: only a program that requests quotas has loaded the module.
        from components.lib.quotas import QUOTAS

        service, code = args.get("serviceCode", ""), args.get("quotaCode", "")
        known = {(q.service_code, q.code): q for q in QUOTAS}
        if (service, code) not in known:
            raise UnknownInvokeError(f"the offline mocks have no service quota {service}/{code}")
        default = self.QUOTA_DEFAULTS[service]
        arn = f"arn:aws:servicequotas:{self.region}:{ACCOUNT_ID}:{service}/{code}"
        return {"adjustable": True, "arn": arn, "defaultValue": default, "globalQuota": False,
                "id": arn, "quotaCode": code, "quotaName": known[(service, code)].name,
                "region": self.region, "serviceCode": service,
                "serviceName": self.QUOTA_SERVICES[service], "usageMetrics": [],
                "value": default}  # fmt: skip

    def _secret_version(self, args: dict) -> dict:
        """The current version of a secret the operator created (the program only reads it):
        its value is the placeholder, as for every secret the mocks answer."""
        secret_id = args.get("secretId", "")
        if not secret_id:
            raise UnknownInvokeError("getSecretVersion without a secretId")
        arn = secret_id
        if not secret_id.startswith("arn:"):
            arn = f"arn:aws:secretsmanager:{self.region}:{ACCOUNT_ID}:secret:{secret_id}-AbCdEf"
        stage = args.get("versionStage") or "AWSCURRENT"
        h = _short_hash(arn, length=32)
        return {"arn": arn, "id": f"{arn}|{stage}", "secretId": secret_id,
                "secretString": SECRET_PLACEHOLDER, "secretBinary": "",
                "versionId": f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}",
                "versionStages": [stage], "createdDate": "2026-01-01T00:00:00Z"}  # fmt: skip

    def _elb_service_account(self, args: dict) -> dict:
        # The Elastic Load Balancing account of us-east-1 (per-region, published by AWS).
        account = "127311923021"
        return {"id": account, "arn": f"arn:aws:iam::{account}:root"}

    def _policy_document(self, args: dict) -> dict:
        document = render_policy_document(args)
        return {"json": document, "minifiedJson": document, "id": _short_hash(document)}


def render_policy_document(args: dict) -> str:
    """IAM policy JSON from ``aws.iam.get_policy_document`` arguments, as AWS would see it."""

    def one_or_many(values: list[str]) -> str | list[str]:
        return values[0] if len(values) == 1 else list(values)

    statements = []
    for s in args.get("statements", []):
        out: dict[str, Any] = {}
        if s.get("sid"):
            out["Sid"] = s["sid"]
        out["Effect"] = s.get("effect", "Allow")
        for key, name in (("actions", "Action"), ("notActions", "NotAction"),
                          ("resources", "Resource"), ("notResources", "NotResource")):  # fmt: skip
            if s.get(key):
                out[name] = one_or_many(s[key])
        for key, name in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            if s.get(key):
                principal: dict[str, Any] = {}
                for p in s[key]:
                    principal[p["type"]] = one_or_many(p["identifiers"])
                out[name] = "*" if principal == {"*": "*"} else principal
        if s.get("conditions"):
            condition: dict[str, dict[str, Any]] = {}
            for c in s["conditions"]:
                condition.setdefault(c["test"], {})[c["variable"]] = one_or_many(c["values"])
            out["Condition"] = condition
        statements.append(out)
    return json.dumps({"Version": args.get("version", "2012-10-17"), "Statement": statements})
