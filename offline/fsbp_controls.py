"""The FSBP controls (ids and titles from AWS's Security Hub controls reference) as rules.

Each rule receives one captured resource and the whole :class:`offline.fsbp.Program` and
returns what fails it, or None. Titles are AWS's own; where a control only applies to some
resources of a type (an ALB, not an NLB), ``applies`` says which. Sources, per service:
https://docs.aws.amazon.com/securityhub/latest/userguide/<service>-controls.html
(acm, apigateway, autoscaling, cloudfront, cognito, dynamodb, ec2, ecr, ecs, elasticache,
elb, iam, kms, lambda, rds, s3, secretsmanager, sns, sqs, waf).
"""

from __future__ import annotations

from offline.fsbp import Program, _containers, _listed, _policy, control
from offline.mocks import ACCOUNT_ID

S3 = "aws:s3/bucket:Bucket"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
REST_STAGE = "aws:apigateway/stage:Stage"
WS_STAGE = "aws:apigatewayv2/stage:Stage"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
DB = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
POLICIES = ("aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy")
HIGH_RISK_PORTS = (20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333,
                   5000, 5432, 5500, 5601, 8080, 8088, 8888, 9200, 9300)  # fmt: skip
"""EC2.19's list of high-risk ports (AWS's control description)."""
SUPPORTED_RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13", "nodejs20.x",
                      "nodejs22.x", "java17", "java21", "provided.al2023", "ruby3.3")  # fmt: skip


def _is_alb(r) -> bool:
    return r.get("loadBalancerType", "application") == "application"


def _of_lb(p: Program, lb, type_=LISTENER) -> list:
    return p.pointing_at(lb, type_, "loadBalancerArn")


# --- ACM --------------------------------------------------------------------------------


@control("ACM.1", "Imported and ACM-issued certificates should be renewed after a specified "
         "time period", "aws:acm/certificate:Certificate")  # fmt: skip
def _acm_1(r, p):
    method = r.get("validationMethod")
    return None if method == "DNS" else f"validationMethod={method!r} (only DNS renews itself)"


@control("ACM.2", "RSA certificates managed by ACM should use a key length of at least 2,048 bits",
         "aws:acm/certificate:Certificate")  # fmt: skip
def _acm_2(r, p):
    algorithm = r.get("keyAlgorithm", "RSA_2048")
    return "keyAlgorithm=RSA_1024" if algorithm == "RSA_1024" else None


# --- API Gateway ------------------------------------------------------------------------


def _method_settings(p: Program, stage) -> list:
    return [m for m in p.of("aws:apigateway/methodSettings:MethodSettings")
            if m.get("restApi") == stage.get("restApi")
            and m.get("stageName") == stage.get("stageName")]  # fmt: skip


@control("APIGateway.1", "API Gateway REST and WebSocket API execution logging should be enabled",
         REST_STAGE, WS_STAGE)  # fmt: skip
def _apigateway_1(r, p):
    if r.type == WS_STAGE:
        level = r.get("defaultRouteSettings.loggingLevel")
    else:
        levels = [m.get("settings.loggingLevel") for m in _method_settings(p, r)]
        level = next((v for v in levels if v), None)
    return None if level in ("ERROR", "INFO") else f"loggingLevel={level!r}"


@control("APIGateway.2", "API Gateway REST API stages should be configured to use SSL "
         "certificates for backend authentication", REST_STAGE)  # fmt: skip
def _apigateway_2(r, p):
    return None if r.get("clientCertificateId") else "no clientCertificateId"


@control("APIGateway.3", "API Gateway REST API stages should have AWS X-Ray tracing enabled",
         REST_STAGE)  # fmt: skip
def _apigateway_3(r, p):
    return None if r.get("xrayTracingEnabled") else "xrayTracingEnabled is not true"


def _associated(p: Program, r) -> bool:
    arn = r.outputs.get("arn", "")
    for a in p.of(ASSOCIATION):
        target = str(a.get("resourceArn", ""))
        if target == arn or (r.type == REST_STAGE and target.endswith(
                f"/restapis/{r.get('restApi')}/stages/{r.get('stageName')}")):  # fmt: skip
            return True
    return False


@control("APIGateway.4", "API Gateway should be associated with a WAF Web ACL", REST_STAGE)
def _apigateway_4(r, p):
    return None if _associated(p, r) else "no aws.wafv2.WebAclAssociation for the stage"


@control("APIGateway.5", "API Gateway REST API cache data should be encrypted at rest",
         REST_STAGE, applies=lambda r: bool(r.get("cacheClusterEnabled")))  # fmt: skip
def _apigateway_5(r, p):
    settings = [m.get("settings", {}) for m in _method_settings(p, r)]
    clear = [s for s in settings if s.get("cachingEnabled") and not s.get("cacheDataEncrypted")]
    return "cacheDataEncrypted is not true" if clear else None


@control("APIGateway.8", "API Gateway routes should specify an authorization type",
         "aws:apigatewayv2/route:Route")  # fmt: skip
def _apigateway_8(r, p):
    kind = r.get("authorizationType", "NONE")
    return f"authorizationType={kind} on {r.get('routeKey')}" if kind == "NONE" else None


@control("APIGateway.9", "Access logging should be configured for API Gateway V2 Stages", WS_STAGE)
def _apigateway_9(r, p):
    return None if r.get("accessLogSettings.destinationArn") else "no accessLogSettings"


# --- Auto Scaling -----------------------------------------------------------------------


@control("AutoScaling.2", "Amazon EC2 Auto Scaling group should cover multiple Availability Zones",
         "aws:autoscaling/group:Group")  # fmt: skip
def _autoscaling_2(r, p):
    subnets = _listed(r.get("vpcZoneIdentifiers")) or _listed(r.get("availabilityZones"))
    return None if len(subnets) >= 2 else f"{len(subnets)} subnet(s)"


@control("AutoScaling.6", "Auto Scaling groups should use multiple instance types in multiple "
         "Availability Zones", "aws:autoscaling/group:Group")  # fmt: skip
def _autoscaling_6(r, p):
    overrides = _listed(r.get("mixedInstancesPolicy.launchTemplate.overrides"))
    types = {o.get("instanceType") for o in overrides} - {None}
    return None if len(types) >= 2 else f"{len(types)} instance type(s) in mixedInstancesPolicy"


@control("AutoScaling.9", "Amazon EC2 Auto Scaling groups should use Amazon EC2 launch templates",
         "aws:autoscaling/group:Group")  # fmt: skip
def _autoscaling_9(r, p):
    spec = r.get("mixedInstancesPolicy.launchTemplate.launchTemplateSpecification")
    return None if r.get("launchTemplate") or spec else "no launch template"


# --- CloudFront -------------------------------------------------------------------------


def _behaviours(r) -> list:
    return [r.get("defaultCacheBehavior") or {}, *_listed(r.get("orderedCacheBehaviors"))]


def _s3_origins(r) -> list:
    return [o for o in _listed(r.get("origins")) if not o.get("customOriginConfig")]


@control("CloudFront.1", "CloudFront distributions should have a default root object configured",
         DISTRIBUTION, applies=lambda r: bool(_s3_origins(r)))  # fmt: skip
def _cloudfront_1(r, p):
    return None if r.get("defaultRootObject") else "no defaultRootObject"


@control("CloudFront.3", "CloudFront distributions should require encryption in transit",
         DISTRIBUTION)  # fmt: skip
def _cloudfront_3(r, p):
    open_ = [b.get("pathPattern", "default") for b in _behaviours(r)
             if b.get("viewerProtocolPolicy") == "allow-all"]  # fmt: skip
    return f"viewerProtocolPolicy=allow-all on {open_}" if open_ else None


@control("CloudFront.4", "CloudFront distributions should have origin failover configured",
         DISTRIBUTION)  # fmt: skip
def _cloudfront_4(r, p):
    return None if r.get("originGroups") else "no originGroups"


@control("CloudFront.5", "CloudFront distributions should have logging enabled", DISTRIBUTION)
def _cloudfront_5(r, p):
    """Standard logging v1 (``loggingConfig``) or v2 (a log delivery source for the
    distribution); Security Hub's Config rule reads v1 only, so v2 alone may still fail there."""
    arn = r.outputs.get("arn")
    sources = [s for s in p.of("aws:cloudwatch/logDeliverySource:LogDeliverySource")
               if s.get("resourceArn") == arn]  # fmt: skip
    return None if r.get("loggingConfig") or sources else "no loggingConfig, no log delivery"


@control("CloudFront.6", "CloudFront distributions should have WAF enabled", DISTRIBUTION)
def _cloudfront_6(r, p):
    return None if r.get("webAclId") else "no webAclId"


@control("CloudFront.7", "CloudFront distributions should use custom SSL/TLS certificates",
         DISTRIBUTION)  # fmt: skip
def _cloudfront_7(r, p):
    cert = r.get("viewerCertificate") or {}
    custom = cert.get("acmCertificateArn") or cert.get("iamCertificateId")
    return None if custom else "viewerCertificate.cloudfrontDefaultCertificate"


@control("CloudFront.8", "CloudFront distributions should use SNI to serve HTTPS requests",
         DISTRIBUTION,
         applies=lambda r: bool(r.get("viewerCertificate.acmCertificateArn")))  # fmt: skip
def _cloudfront_8(r, p):
    method = r.get("viewerCertificate.sslSupportMethod")
    return None if method == "sni-only" else f"sslSupportMethod={method!r}"


def _custom_origins(r) -> list:
    return [o for o in _listed(r.get("origins")) if o.get("customOriginConfig")]


@control("CloudFront.9", "CloudFront distributions should encrypt traffic to custom origins",
         DISTRIBUTION, applies=lambda r: bool(_custom_origins(r)))  # fmt: skip
def _cloudfront_9(r, p):
    policies = {o["customOriginConfig"].get("originProtocolPolicy") for o in _custom_origins(r)}
    return None if policies <= {"https-only"} else f"originProtocolPolicy {sorted(policies)}"


@control("CloudFront.10", "CloudFront distributions should not use deprecated SSL protocols "
         "between edge locations and custom origins", DISTRIBUTION,
         applies=lambda r: bool(_custom_origins(r)))  # fmt: skip
def _cloudfront_10(r, p):
    protocols = {x for o in _custom_origins(r)
                 for x in _listed(o["customOriginConfig"].get("originSslProtocols"))}  # fmt: skip
    return "originSslProtocols include SSLv3" if "SSLv3" in protocols else None


@control("CloudFront.12", "CloudFront distributions should not point to non-existent S3 origins",
         DISTRIBUTION, applies=lambda r: bool(_s3_origins(r)))  # fmt: skip
def _cloudfront_12(r, p):
    domains = {b.outputs.get("bucketRegionalDomainName") for b in p.of(S3)}
    missing = [o.get("domainName") for o in _s3_origins(r) if o.get("domainName") not in domains]
    return f"S3 origin not created by the stack: {missing}" if missing else None


@control("CloudFront.13", "CloudFront distributions should use origin access control",
         DISTRIBUTION, applies=lambda r: bool(_s3_origins(r)))  # fmt: skip
def _cloudfront_13(r, p):
    bare = [o.get("originId") for o in _s3_origins(r) if not o.get("originAccessControlId")]
    return f"no originAccessControlId on {bare}" if bare else None


# --- Cognito, DynamoDB ------------------------------------------------------------------


@control("Cognito.1", "Cognito user pools should have threat protection activated with full "
         "function enforcement mode for standard authentication",
         "aws:cognito/userPool:UserPool")  # fmt: skip
def _cognito_1(r, p):
    mode = r.get("userPoolAddOns.advancedSecurityMode")
    return None if mode == "ENFORCED" else f"advancedSecurityMode={mode!r}"


@control("DynamoDB.1", "DynamoDB tables should automatically scale capacity with demand",
         "aws:dynamodb/table:Table")  # fmt: skip
def _dynamodb_1(r, p):
    on_demand = r.get("billingMode") == "PAY_PER_REQUEST"
    scaled = any(t.get("resourceId") == f"table/{r.id}"
                 for t in p.of("aws:appautoscaling/target:Target"))  # fmt: skip
    return None if on_demand or scaled else "provisioned capacity without auto scaling"


@control("DynamoDB.2", "DynamoDB tables should have point-in-time recovery enabled",
         "aws:dynamodb/table:Table")  # fmt: skip
def _dynamodb_2(r, p):
    return None if r.get("pointInTimeRecovery.enabled") else "pointInTimeRecovery disabled"


@control("DynamoDB.6", "DynamoDB tables should have deletion protection enabled",
         "aws:dynamodb/table:Table")  # fmt: skip
def _dynamodb_6(r, p):
    return None if r.get("deletionProtectionEnabled") else "deletionProtectionEnabled is not true"


# --- EC2 --------------------------------------------------------------------------------


def _vpc_id(r) -> str | None:
    return r.outputs.get("vpcId") if r.type == "awsx:ec2:Vpc" else r.id


@control("EC2.2", "VPC default security groups should not allow inbound or outbound traffic",
         "awsx:ec2:Vpc")  # fmt: skip
def _ec2_2(r, p):
    default = [g for g in p.of("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
               if g.get("vpcId") == _vpc_id(r)]  # fmt: skip
    if not default:
        return "default security group not adopted (AWS's default allows traffic within it)"
    rules = [x for g in default for x in _listed(g.get("ingress")) + _listed(g.get("egress"))]
    return f"{len(rules)} rule(s) on the default security group" if rules else None


@control("EC2.3", "Attached Amazon EBS volumes should be encrypted at-rest", TEMPLATE)
def _ec2_3(r, p):
    clear = [m.get("deviceName") for m in _listed(r.get("blockDeviceMappings"))
             if m.get("ebs") and str(m["ebs"].get("encrypted")).lower() != "true"]  # fmt: skip
    return f"unencrypted EBS on {clear}" if clear else None


@control("EC2.6", "VPC flow logging should be enabled in all VPCs", "awsx:ec2:Vpc")
def _ec2_6(r, p):
    logs = [f for f in p.of("aws:ec2/flowLog:FlowLog") if f.get("vpcId") == _vpc_id(r)]
    kinds = {f.get("trafficType") for f in logs}
    return None if kinds & {"ALL", "REJECT"} else "no flow log of ALL or REJECT traffic"


@control("EC2.8", "EC2 instances should use Instance Metadata Service Version 2 (IMDSv2)",
         TEMPLATE)  # fmt: skip
def _ec2_8(r, p):
    tokens = r.get("metadataOptions.httpTokens")
    return None if tokens == "required" else f"metadataOptions.httpTokens={tokens!r}"


def _public_ip(r) -> bool:
    return any(str(n.get("associatePublicIpAddress")).lower() == "true"
               for n in _listed(r.get("networkInterfaces")))  # fmt: skip


@control("EC2.9", "Amazon EC2 instances should not have a public IPv4 address", TEMPLATE)
def _ec2_9(r, p):
    return "associatePublicIpAddress=true" if _public_ip(r) else None


@control("EC2.10", "Amazon EC2 should be configured to use VPC endpoints that are created for "
         "the Amazon EC2 service", "awsx:ec2:Vpc")  # fmt: skip
def _ec2_10(r, p):
    found = [e for e in p.of("aws:ec2/vpcEndpoint:VpcEndpoint")
             if str(e.get("serviceName", "")).endswith(".ec2")]  # fmt: skip
    return None if found else "no com.amazonaws.<region>.ec2 interface endpoint"


@control("EC2.15", "Amazon EC2 subnets should not automatically assign public IP addresses",
         "awsx:ec2:Vpc")  # fmt: skip
def _ec2_15(r, p):
    """awsx creates each ``Public`` subnet of ``subnetSpecs`` with ``mapPublicIpOnLaunch``
    (pulumi/pulumi-awsx ``awsx/ec2/vpc.ts``: ``spec.type.toLowerCase() === "public"``)."""
    public = [s.get("name") for s in _listed(r.get("subnetSpecs")) if s.get("type") == "Public"]
    return f"public subnets {public} map public IPs on launch (awsx)" if public else None


@control("EC2.17", "Amazon EC2 instances should not use multiple ENIs", TEMPLATE)
def _ec2_17(r, p):
    count = len(_listed(r.get("networkInterfaces")))
    return f"{count} network interfaces" if count > 1 else None


def _open_ingress(p: Program, sg) -> list[tuple[int, int, str]]:
    """(from, to, cidr) of each rule that admits 0.0.0.0/0 or ::/0 into ``sg``."""
    rules = [(x.get("fromPort", 0), x.get("toPort", 65535), c)
             for x in _listed(sg.get("ingress"))
             for c in _listed(x.get("cidrBlocks")) + _listed(x.get("ipv6CidrBlocks"))]  # fmt: skip
    for x in p.pointing_at(sg, INGRESS, "securityGroupId"):
        for cidr in (x.get("cidrIpv4"), x.get("cidrIpv6")):
            if cidr:
                rules.append((x.get("fromPort", 0), x.get("toPort", 65535), cidr))
    if any(x.get("ipProtocol") == "-1" for x in p.pointing_at(sg, INGRESS, "securityGroupId")):
        rules = [(0, 65535, c) for _, _, c in rules]
    return [(int(a), int(b), c) for a, b, c in rules if c in ("0.0.0.0/0", "::/0")]


@control("EC2.18", "Security groups should only allow unrestricted incoming traffic for "
         "authorized ports", SG)  # fmt: skip
def _ec2_18(r, p):
    bad = [(a, b) for a, b, _ in _open_ingress(p, r) if not (a == b and a in (80, 443))]
    return f"open to the internet on ports {bad}" if bad else None


@control("EC2.19", "Security groups should not allow unrestricted access to ports with high risk",
         SG)  # fmt: skip
def _ec2_19(r, p):
    bad = sorted({port for a, b, _ in _open_ingress(p, r) for port in HIGH_RISK_PORTS
                  if a <= port <= b})  # fmt: skip
    return f"high-risk ports open to the internet: {bad}" if bad else None


@control("EC2.25", "Amazon EC2 launch templates should not assign public IPs to network "
         "interfaces", TEMPLATE)  # fmt: skip
def _ec2_25(r, p):
    return "associatePublicIpAddress=true" if _public_ip(r) else None


@control("EC2.53", "EC2 security groups should not allow ingress from 0.0.0.0/0 to remote server "
         "administration ports", SG)  # fmt: skip
def _ec2_53(r, p):
    bad = [(a, b) for a, b, c in _open_ingress(p, r)
           if c == "0.0.0.0/0" and (a <= 22 <= b or a <= 3389 <= b)]  # fmt: skip
    return f"22/3389 open to 0.0.0.0/0: {bad}" if bad else None


@control("EC2.54", "EC2 security groups should not allow ingress from ::/0 to remote server "
         "administration ports", SG)  # fmt: skip
def _ec2_54(r, p):
    bad = [(a, b) for a, b, c in _open_ingress(p, r)
           if c == "::/0" and (a <= 22 <= b or a <= 3389 <= b)]  # fmt: skip
    return f"22/3389 open to ::/0: {bad}" if bad else None


# --- ECR, ECS ---------------------------------------------------------------------------


@control("ECR.1", "ECR private repositories should have image scanning configured",
         "aws:ecr/repository:Repository")  # fmt: skip
def _ecr_1(r, p):
    return None if r.get("imageScanningConfiguration.scanOnPush") else "scanOnPush is not true"


@control("ECR.2", "ECR private repositories should have tag immutability configured",
         "aws:ecr/repository:Repository")  # fmt: skip
def _ecr_2(r, p):
    mode = r.get("imageTagMutability", "MUTABLE")
    return None if mode.startswith("IMMUTABLE") else f"imageTagMutability={mode}"


@control("ECR.3", "ECR repositories should have at least one lifecycle policy configured",
         "aws:ecr/repository:Repository")  # fmt: skip
def _ecr_3(r, p):
    found = p.pointing_at(r, "aws:ecr/lifecyclePolicy:LifecyclePolicy", "repository")
    return None if found else "no aws.ecr.LifecyclePolicy"


@control("ECS.2", "ECS services should not have public IP addresses assigned to them "
         "automatically", SERVICE)  # fmt: skip
def _ecs_2(r, p):
    public = r.get("networkConfiguration.assignPublicIp")
    return "networkConfiguration.assignPublicIp=true" if public else None


@control("ECS.3", "ECS task definitions should not share the host's process namespace", TASK)
def _ecs_3(r, p):
    return "pidMode=host" if r.get("pidMode") == "host" else None


@control("ECS.4", "ECS containers should run as non-privileged", TASK)
def _ecs_4(r, p):
    bad = [c.get("name") for c in _containers(r) if c.get("privileged")]
    return f"privileged containers {bad}" if bad else None


@control("ECS.5", "ECS containers should be limited to read-only access to root filesystems",
         TASK)  # fmt: skip
def _ecs_5(r, p):
    bad = [c.get("name") for c in _containers(r) if not c.get("readonlyRootFilesystem")]
    return f"writable root filesystem in {bad}" if bad else None


@control("ECS.8", "Secrets should not be passed as container environment variables", TASK)
def _ecs_8(r, p):
    keys = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ECS_ENGINE_AUTH_DATA"}
    bad = [e.get("name") for c in _containers(r) for e in c.get("environment", [])
           if e.get("name") in keys]  # fmt: skip
    return f"credentials in environment: {bad}" if bad else None


@control("ECS.9", "ECS task definitions should have a logging configuration", TASK)
def _ecs_9(r, p):
    bad = [c.get("name") for c in _containers(r)
           if not (c.get("logConfiguration") or {}).get("logDriver")]  # fmt: skip
    return f"no logConfiguration in {bad}" if bad else None


@control("ECS.10", "ECS Fargate services should run on the latest Fargate platform version",
         SERVICE, applies=lambda r: r.get("launchType") == "FARGATE"
         or any(s.get("capacityProvider", "").startswith("FARGATE")
                for s in _listed(r.get("capacityProviderStrategies"))))  # fmt: skip
def _ecs_10(r, p):
    version = r.get("platformVersion", "LATEST")
    return None if version == "LATEST" else f"platformVersion={version}"


@control("ECS.12", "ECS clusters should use Container Insights", "aws:ecs/cluster:Cluster")
def _ecs_12(r, p):
    on = [s for s in _listed(r.get("settings"))
          if s.get("name") == "containerInsights"
          and s.get("value") in ("enabled", "enhanced")]  # fmt: skip
    return None if on else "containerInsights not enabled"


# --- ElastiCache ------------------------------------------------------------------------


@control("ElastiCache.1", "ElastiCache (Redis OSS) clusters should have automatic backups enabled",
         REDIS)  # fmt: skip
def _elasticache_1(r, p):
    days = r.get("snapshotRetentionLimit", 0)
    return None if days and days >= 1 else f"snapshotRetentionLimit={days}"


@control("ElastiCache.2", "ElastiCache clusters should have automatic minor version upgrades "
         "enabled", REDIS)  # fmt: skip
def _elasticache_2(r, p):
    return None if r.get("autoMinorVersionUpgrade", True) else "autoMinorVersionUpgrade=false"


@control("ElastiCache.3", "ElastiCache replication groups should have automatic failover enabled",
         REDIS)  # fmt: skip
def _elasticache_3(r, p):
    return None if r.get("automaticFailoverEnabled") else "automaticFailoverEnabled is not true"


@control("ElastiCache.4", "ElastiCache replication groups should be encrypted at rest", REDIS)
def _elasticache_4(r, p):
    return None if r.get("atRestEncryptionEnabled") else "atRestEncryptionEnabled is not true"


@control("ElastiCache.5", "ElastiCache replication groups should be encrypted in transit", REDIS)
def _elasticache_5(r, p):
    return None if r.get("transitEncryptionEnabled") else "transitEncryptionEnabled is not true"


@control("ElastiCache.6", "ElastiCache (Redis OSS) replication groups of earlier versions should "
         "have Redis OSS AUTH enabled", REDIS,
         applies=lambda r: str(r.get("engineVersion", "7")).split(".")[0] < "6")  # fmt: skip
def _elasticache_6(r, p):
    return None if r.get("authToken") or r.get("userGroupIds") else "no AUTH token or user group"


@control("ElastiCache.7", "ElastiCache clusters should not use the default subnet group", REDIS)
def _elasticache_7(r, p):
    group = r.get("subnetGroupName", "default")
    return "default subnet group" if group in (None, "default") else None


# --- Elastic Load Balancing -------------------------------------------------------------


@control("ELB.1", "Application Load Balancer should be configured to redirect all HTTP requests "
         "to HTTPS", LB, applies=_is_alb)  # fmt: skip
def _elb_1(r, p):
    plain = [x for x in _of_lb(p, r) if x.get("protocol", "HTTP") == "HTTP"]
    bad = [x.name for x in plain if not any(
        a.get("type") == "redirect" and (a.get("redirect") or {}).get("protocol") == "HTTPS"
        for a in _listed(x.get("defaultActions")))]  # fmt: skip
    return f"HTTP listeners without an HTTPS redirect: {bad}" if bad else None


@control("ELB.4", "Application Load Balancer should be configured to drop invalid http headers",
         LB, applies=_is_alb)  # fmt: skip
def _elb_4(r, p):
    return None if r.get("dropInvalidHeaderFields") else "dropInvalidHeaderFields is not true"


@control("ELB.5", "Application and Classic Load Balancers logging should be enabled", LB,
         applies=_is_alb)  # fmt: skip
def _elb_5(r, p):
    return None if r.get("accessLogs.enabled") else "accessLogs not enabled"


@control("ELB.6", "Application, Gateway, and Network Load Balancers should have deletion "
         "protection enabled", LB)  # fmt: skip
def _elb_6(r, p):
    return None if r.get("enableDeletionProtection") else "enableDeletionProtection is not true"


@control("ELB.12", "Application Load Balancer should be configured with defensive or strictest "
         "desync mitigation mode", LB, applies=_is_alb)  # fmt: skip
def _elb_12(r, p):
    mode = r.get("desyncMitigationMode", "defensive")
    return None if mode in ("defensive", "strictest") else f"desyncMitigationMode={mode}"


@control("ELB.13", "Application, Network and Gateway Load Balancers should span multiple "
         "Availability Zones", LB)  # fmt: skip
def _elb_13(r, p):
    subnets = _listed(r.get("subnets")) or _listed(r.get("subnetMappings"))
    return None if len(subnets) >= 2 else f"{len(subnets)} subnet(s)"


# --- IAM, KMS ---------------------------------------------------------------------------


def _statements(p: Program, *types: str):
    for r in p.of(*types):
        for s in _policy(r.get("policy")):
            if s.get("Effect") == "Allow":
                yield r, s


def _inline(r):
    """Statements of a role's inline policies and of a role policy."""
    if r.type == "aws:iam/role:Role":
        return [s for x in _listed(r.get("inlinePolicies")) for s in _policy(x.get("policy"))]
    return _policy(r.get("policy"))


@control("IAM.1", 'IAM policies should not allow full "*" administrative privileges',
         "aws:iam/policy:Policy")  # fmt: skip
def _iam_1(r, p):
    full = [s for s in _policy(r.get("policy")) if s.get("Effect") == "Allow"
            and "*" in _listed(s.get("Action")) and "*" in _listed(s.get("Resource"))]  # fmt: skip
    return "Allow * on *" if full else None


@control("IAM.21", "IAM customer managed policies that you create should not allow wildcard "
         "actions for services", "aws:iam/policy:Policy")  # fmt: skip
def _iam_21(r, p):
    wild = sorted({a for s in _policy(r.get("policy")) if s.get("Effect") == "Allow"
                   for a in _listed(s.get("Action")) if a == "*" or a.endswith(":*")})  # fmt: skip
    return f"wildcard actions {wild}" if wild else None


def _decrypt_everywhere(statements) -> bool:
    for s in statements:
        actions = _listed(s.get("Action"))
        decrypt = any(a in ("*", "kms:*", "kms:Decrypt", "kms:ReEncryptFrom") for a in actions)
        if s.get("Effect") == "Allow" and decrypt and "*" in _listed(s.get("Resource")):
            return True
    return False


@control("KMS.1", "IAM customer managed policies should not allow decryption actions on all KMS "
         "keys", "aws:iam/policy:Policy")  # fmt: skip
def _kms_1(r, p):
    return "kms:Decrypt on Resource *" if _decrypt_everywhere(_policy(r.get("policy"))) else None


@control("KMS.2", "IAM principals should not have IAM inline policies that allow decryption "
         "actions on all KMS keys", "aws:iam/rolePolicy:RolePolicy",
         "aws:iam/role:Role")  # fmt: skip
def _kms_2(r, p):
    return "kms:Decrypt on Resource *" if _decrypt_everywhere(_inline(r)) else None


@control("KMS.4", "AWS KMS key rotation should be enabled", "aws:kms/key:Key",
         applies=lambda r: r.get("customerMasterKeySpec",
         "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT")  # fmt: skip
def _kms_4(r, p):
    return None if r.get("enableKeyRotation") else "enableKeyRotation is not true"


# --- Lambda -----------------------------------------------------------------------------


@control("Lambda.1", "Lambda function policies should prohibit public access",
         "aws:lambda/permission:Permission")  # fmt: skip
def _lambda_1(r, p):
    public = r.get("principal") == "*" and not (r.get("sourceArn") or r.get("sourceAccount"))
    return "principal * without sourceArn or sourceAccount" if public else None


@control("Lambda.2", "Lambda functions should use supported runtimes",
         "aws:lambda/function:Function",
         applies=lambda r: r.get("packageType") != "Image")  # fmt: skip
def _lambda_2(r, p):
    runtime = r.get("runtime")
    return None if runtime in SUPPORTED_RUNTIMES else f"runtime={runtime!r}"


@control("Lambda.5", "VPC Lambda functions should operate in multiple Availability Zones",
         "aws:lambda/function:Function", applies=lambda r: bool(r.get("vpcConfig")))  # fmt: skip
def _lambda_5(r, p):
    subnets = _listed(r.get("vpcConfig.subnetIds"))
    return None if len(subnets) >= 2 else f"{len(subnets)} subnet(s)"


# --- RDS --------------------------------------------------------------------------------


def _cluster_members(p: Program, cluster) -> list:
    return [i for i in p.of(CLUSTER_INSTANCE)
            if i.get("clusterIdentifier") == cluster.get("clusterIdentifier")]  # fmt: skip


@control("RDS.2", "RDS DB Instances should prohibit public access, as determined by the "
         "PubliclyAccessible AWS Configuration", DB, CLUSTER_INSTANCE)  # fmt: skip
def _rds_2(r, p):
    return "publiclyAccessible=true" if r.get("publiclyAccessible") else None


@control("RDS.3", "RDS DB instances should have encryption at-rest enabled", DB)
def _rds_3(r, p):
    return None if r.get("storageEncrypted") else "storageEncrypted is not true"


@control("RDS.5", "RDS DB instances should be configured with multiple Availability Zones", DB)
def _rds_5(r, p):
    return None if r.get("multiAz") else "multiAz is not true"


@control("RDS.6", "Enhanced monitoring should be configured for RDS DB instances", DB,
         CLUSTER_INSTANCE)  # fmt: skip
def _rds_6(r, p):
    interval = r.get("monitoringInterval", 0)
    return None if interval else "monitoringInterval=0"


@control("RDS.7", "RDS clusters should have deletion protection enabled", CLUSTER)
def _rds_7(r, p):
    return None if r.get("deletionProtection") else "deletionProtection is not true"


@control("RDS.8", "RDS DB instances should have deletion protection enabled", DB)
def _rds_8(r, p):
    return None if r.get("deletionProtection") else "deletionProtection is not true"


@control("RDS.9", "RDS DB instances should publish logs to CloudWatch Logs", DB, CLUSTER)
def _rds_9(r, p):
    exports = _listed(r.get("enabledCloudwatchLogsExports"))
    return None if exports else "no enabledCloudwatchLogsExports"


@control("RDS.10", "IAM authentication should be configured for RDS instances", DB)
def _rds_10(r, p):
    return None if r.get("iamDatabaseAuthenticationEnabled") else "IAM authentication off"


@control("RDS.11", "RDS instances should have automatic backups enabled", DB)
def _rds_11(r, p):
    days = r.get("backupRetentionPeriod", 1)
    return None if days >= 7 else f"backupRetentionPeriod={days} (< 7)"


@control("RDS.12", "IAM authentication should be configured for RDS clusters", CLUSTER)
def _rds_12(r, p):
    return None if r.get("iamDatabaseAuthenticationEnabled") else "IAM authentication off"


@control("RDS.13", "RDS automatic minor version upgrades should be enabled", DB)
def _rds_13(r, p):
    return None if r.get("autoMinorVersionUpgrade", True) else "autoMinorVersionUpgrade=false"


@control("RDS.15", "RDS DB clusters should be configured for multiple Availability Zones",
         CLUSTER)  # fmt: skip
def _rds_15(r, p):
    members = _cluster_members(p, r)
    return None if len(members) >= 2 else f"{len(members)} cluster instance(s)"


@control("RDS.16", "RDS DB clusters should be configured to copy tags to snapshots", CLUSTER)
def _rds_16(r, p):
    return None if r.get("copyTagsToSnapshot") else "copyTagsToSnapshot is not true"


@control("RDS.17", "RDS DB instances should be configured to copy tags to snapshots", DB)
def _rds_17(r, p):
    return None if r.get("copyTagsToSnapshot") else "copyTagsToSnapshot is not true"


@control("RDS.18", "RDS instances should be deployed in a VPC", DB, CLUSTER)
def _rds_18(r, p):
    return None if r.get("dbSubnetGroupName") else "no dbSubnetGroupName"


@control("RDS.23", "RDS instances should not use a database engine default port", DB, CLUSTER)
def _rds_23(r, p):
    default = {"postgres": 5432, "aurora-postgresql": 5432, "mysql": 3306, "aurora-mysql": 3306}
    port = int(r.get("port") or default.get(r.get("engine"), 0))
    return f"port={port} (the engine's default)" if port == default.get(r.get("engine")) else None


@control("RDS.24", "RDS Database clusters should use a custom administrator username", CLUSTER)
def _rds_24(r, p):
    user = r.get("masterUsername")
    return f"masterUsername={user}" if user in ("admin", "postgres", "root") else None


@control("RDS.25", "RDS database instances should use a custom administrator username", DB)
def _rds_25(r, p):
    user = r.get("username")
    return f"username={user}" if user in ("admin", "postgres", "root") else None


@control("RDS.27", "RDS DB clusters should be encrypted at rest", CLUSTER)
def _rds_27(r, p):
    return None if r.get("storageEncrypted") else "storageEncrypted is not true"


@control("RDS.35", "RDS DB clusters should have automatic minor version upgrade enabled", CLUSTER)
def _rds_35(r, p):
    off = [i.name for i in _cluster_members(p, r) if not i.get("autoMinorVersionUpgrade", True)]
    return f"autoMinorVersionUpgrade=false on {off}" if off else None


@control("RDS.36", "RDS for PostgreSQL DB instances should publish logs to CloudWatch Logs", DB,
         applies=lambda r: r.get("engine") == "postgres")  # fmt: skip
def _rds_36(r, p):
    exports = _listed(r.get("enabledCloudwatchLogsExports"))
    return None if "postgresql" in exports else "postgresql log not exported"


@control("RDS.37", "Aurora PostgreSQL DB clusters should publish logs to CloudWatch Logs",
         CLUSTER, applies=lambda r: r.get("engine") == "aurora-postgresql")  # fmt: skip
def _rds_37(r, p):
    exports = _listed(r.get("enabledCloudwatchLogsExports"))
    return None if "postgresql" in exports else "postgresql log not exported"


# --- S3 ---------------------------------------------------------------------------------


def _bucket_part(p: Program, bucket, type_: str) -> list:
    return p.pointing_at(bucket, type_, "bucket")


def _blocks_public(p: Program, bucket) -> bool:
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    blocks = _bucket_part(p, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    return any(all(b.get(k) for k in keys) for b in blocks)


def _bucket_statements(p: Program, bucket) -> list:
    parts = _bucket_part(p, bucket, "aws:s3/bucketPolicy:BucketPolicy")
    return [s for x in parts for s in _policy(x.get("policy"))]


def _public_grants(p: Program, bucket, actions: tuple[str, ...]) -> list:
    found = []
    for s in _bucket_statements(p, bucket):
        principal = s.get("Principal")
        public = principal == "*" or (isinstance(principal, dict) and "*" in _listed(
            principal.get("AWS")))  # fmt: skip
        granted = [a for a in _listed(s.get("Action")) if a in ("*", "s3:*") or a in actions]
        if s.get("Effect") == "Allow" and public and granted and not s.get("Condition"):
            found.append(granted)
    return found


@control("S3.2", "S3 general purpose buckets should block public read access", S3)
def _s3_2(r, p):
    read = _public_grants(p, r, ("s3:GetObject", "s3:ListBucket"))
    public = read and not _blocks_public(p, r)
    return f"public read in the bucket policy: {read}" if public else None


@control("S3.3", "S3 general purpose buckets should block public write access", S3)
def _s3_3(r, p):
    write = _public_grants(p, r, ("s3:PutObject", "s3:DeleteObject"))
    public = write and not _blocks_public(p, r)
    return f"public write in the bucket policy: {write}" if public else None


@control("S3.5", "S3 general purpose buckets should require requests to use SSL", S3)
def _s3_5(r, p):
    for s in _bucket_statements(p, r):
        secure = (s.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")
        if s.get("Effect") == "Deny" and str(secure).lower() == "false":
            return None
    return "no Deny of aws:SecureTransport=false in the bucket policy"


@control("S3.6", "S3 general purpose bucket policies should restrict access to other AWS "
         "accounts", S3)  # fmt: skip
def _s3_6(r, p):
    denied = {"s3:*", "s3:DeleteBucketPolicy", "s3:PutBucketAcl", "s3:PutBucketPolicy",
              "s3:PutEncryptionConfiguration", "s3:PutObjectAcl"}  # fmt: skip
    for s in _bucket_statements(p, r):
        principal = s.get("Principal")
        accounts = _listed(principal.get("AWS")) if isinstance(principal, dict) else []
        foreign = [a for a in accounts if ACCOUNT_ID not in str(a)]
        actions = set(_listed(s.get("Action"))) & denied
        if s.get("Effect") == "Allow" and foreign and actions:
            return f"{sorted(actions)} granted to {foreign}"
    return None


@control("S3.8", "S3 general purpose buckets should block public access", S3)
def _s3_8(r, p):
    return None if _blocks_public(p, r) else "no public access block with all four settings"


@control("S3.9", "S3 general purpose buckets should have server access logging enabled", S3)
def _s3_9(r, p):
    logging = _bucket_part(p, r, "aws:s3/bucketLogging:BucketLogging")
    return None if logging or r.get("loggings") else "no aws.s3.BucketLogging"


@control("S3.12", "ACLs should not be used to manage user access to S3 general purpose buckets",
         S3)  # fmt: skip
def _s3_12(r, p):
    owners = _bucket_part(p, r, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    enforced = any(o.get("rule.objectOwnership") == "BucketOwnerEnforced" for o in owners)
    return None if enforced else "object ownership is not BucketOwnerEnforced (ACLs enabled)"


# --- Secrets Manager, SNS, SQS, WAF -----------------------------------------------------


def _rotations(p: Program, secret) -> list:
    return p.pointing_at(secret, ROTATION, "secretId")


@control("SecretsManager.1", "Secrets Manager secrets should have automatic rotation enabled",
         SECRET)  # fmt: skip
def _secretsmanager_1(r, p):
    return None if _rotations(p, r) else "no aws.secretsmanager.SecretRotation"


@control("SecretsManager.4", "Secrets Manager secrets should be rotated within a specified number "
         "of days", SECRET)  # fmt: skip
def _secretsmanager_4(r, p):
    days = [x.get("rotationRules.automaticallyAfterDays") for x in _rotations(p, r)]
    scheduled = [x for x in _rotations(p, r) if x.get("rotationRules.scheduleExpression")]
    if scheduled or any(d and d <= 90 for d in days):
        return None
    return "not rotated within 90 days" if days else "never rotated"


@control("SNS.1", "SNS topics should be encrypted at-rest using AWS KMS", "aws:sns/topic:Topic")
def _sns_1(r, p):
    return None if r.get("kmsMasterKeyId") else "no kmsMasterKeyId"


@control("SQS.1", "Amazon SQS queues should be encrypted at rest", "aws:sqs/queue:Queue")
def _sqs_1(r, p):
    encrypted = r.get("sqsManagedSseEnabled") or r.get("kmsMasterKeyId")
    return None if encrypted else "neither sqsManagedSseEnabled nor kmsMasterKeyId"


@control("WAF.10", "AWS WAF web ACLs should have at least one rule or rule group",
         "aws:wafv2/webAcl:WebAcl")  # fmt: skip
def _waf_10(r, p):
    return None if _listed(r.get("rules")) else "no rules"
