"""Values checked against the AWS API models that botocore ships.

Each mapped property is sent by the provider to one API member; that member's shape in
botocore's service model (``botocore/data/<service>/<version>/service-2.json``) says what
the service accepts: a string's ``pattern``, ``min`` and ``max`` length, an ``enum``, a
number's range, a list's length. Structures sent as JSON text (an ECS task definition's
``containerDefinitions``) are walked member by member against their shape.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Any

from preflight.model import ERROR, Context, Finding, Resource

# type token -> (botocore service, operation, {property path: input member path}).
# A path part "[]" walks a list's items; a member path may be dotted into a structure.
FIELDS: dict[str, tuple[str, str, dict[str, str]]] = {
    "aws:lb/loadBalancer:LoadBalancer": ("elbv2", "CreateLoadBalancer", {
        "loadBalancerType": "Type", "ipAddressType": "IpAddressType"}),
    "aws:lb/targetGroup:TargetGroup": ("elbv2", "CreateTargetGroup", {
        "port": "Port", "protocol": "Protocol", "targetType": "TargetType",
        "healthCheck.enabled": "HealthCheckEnabled",
        "healthCheck.path": "HealthCheckPath", "healthCheck.protocol": "HealthCheckProtocol",
        "healthCheck.interval": "HealthCheckIntervalSeconds",
        "healthCheck.timeout": "HealthCheckTimeoutSeconds",
        "healthCheck.healthyThreshold": "HealthyThresholdCount",
        "healthCheck.unhealthyThreshold": "UnhealthyThresholdCount"}),
    "aws:lb/listener:Listener": ("elbv2", "CreateListener", {
        "port": "Port", "protocol": "Protocol", "sslPolicy": "SslPolicy"}),
    "aws:lb/listenerRule:ListenerRule": ("elbv2", "CreateRule", {
        "priority": "Priority", "actions[].type": "Actions[].Type",
        "actions[].order": "Actions[].Order",
        "conditions[].pathPattern.values": "Conditions[].PathPatternConfig.Values",
        "actions[].authenticateOidc.issuer": "Actions[].AuthenticateOidcConfig.Issuer",
        "actions[].authenticateOidc.clientId": "Actions[].AuthenticateOidcConfig.ClientId",
        "actions[].authenticateOidc.scope": "Actions[].AuthenticateOidcConfig.Scope",
        "actions[].authenticateOidc.sessionTimeout":
        "Actions[].AuthenticateOidcConfig.SessionTimeout",
        "actions[].authenticateOidc.onUnauthenticatedRequest":
        "Actions[].AuthenticateOidcConfig.OnUnauthenticatedRequest",
        "actions[].authenticateCognito.userPoolArn":
        "Actions[].AuthenticateCognitoConfig.UserPoolArn",
        "actions[].authenticateCognito.userPoolClientId":
        "Actions[].AuthenticateCognitoConfig.UserPoolClientId",
        "actions[].authenticateCognito.userPoolDomain":
        "Actions[].AuthenticateCognitoConfig.UserPoolDomain",
        "actions[].authenticateCognito.scope": "Actions[].AuthenticateCognitoConfig.Scope",
        "actions[].authenticateCognito.sessionTimeout":
        "Actions[].AuthenticateCognitoConfig.SessionTimeout",
        "actions[].authenticateCognito.onUnauthenticatedRequest":
        "Actions[].AuthenticateCognitoConfig.OnUnauthenticatedRequest"}),
    "aws:cognito/userPool:UserPool": ("cognito-idp", "CreateUserPool", {
        "name": "PoolName", "mfaConfiguration": "MfaConfiguration",
        "deletionProtection": "DeletionProtection", "userPoolTier": "UserPoolTier",
        "usernameAttributes[]": "UsernameAttributes[]",
        "autoVerifiedAttributes[]": "AutoVerifiedAttributes[]",
        "passwordPolicy.minimumLength": "Policies.PasswordPolicy.MinimumLength",
        "passwordPolicy.temporaryPasswordValidityDays":
        "Policies.PasswordPolicy.TemporaryPasswordValidityDays",
        "userPoolAddOns.advancedSecurityMode": "UserPoolAddOns.AdvancedSecurityMode",
        "accountRecoverySetting.recoveryMechanisms[].name":
        "AccountRecoverySetting.RecoveryMechanisms[].Name",
        "accountRecoverySetting.recoveryMechanisms[].priority":
        "AccountRecoverySetting.RecoveryMechanisms[].Priority"}),
    "aws:cognito/userPoolDomain:UserPoolDomain": ("cognito-idp", "CreateUserPoolDomain", {
        "domain": "Domain", "managedLoginVersion": "ManagedLoginVersion"}),
    "aws:cognito/userPoolClient:UserPoolClient": ("cognito-idp", "CreateUserPoolClient", {
        "name": "ClientName", "allowedOauthFlows[]": "AllowedOAuthFlows[]",
        "allowedOauthScopes[]": "AllowedOAuthScopes[]", "callbackUrls[]": "CallbackURLs[]",
        "supportedIdentityProviders[]": "SupportedIdentityProviders[]",
        "explicitAuthFlows[]": "ExplicitAuthFlows[]",
        "preventUserExistenceErrors": "PreventUserExistenceErrors"}),
    "aws:ecs/service:Service": ("ecs", "CreateService", {
        "launchType": "launchType", "schedulingStrategy": "schedulingStrategy",
        "propagateTags": "propagateTags", "availabilityZoneRebalancing":
        "availabilityZoneRebalancing"}),
    "aws:ecs/taskDefinition:TaskDefinition": ("ecs", "RegisterTaskDefinition", {
        "family": "family", "networkMode": "networkMode", "pidMode": "pidMode",
        "ipcMode": "ipcMode", "containerDefinitions": "containerDefinitions",
        "requiresCompatibilities[]": "requiresCompatibilities[]",
        "runtimePlatform.cpuArchitecture": "runtimePlatform.cpuArchitecture",
        "runtimePlatform.operatingSystemFamily": "runtimePlatform.operatingSystemFamily"}),
    "aws:cloudwatch/logGroup:LogGroup": ("logs", "CreateLogGroup", {
        "name": "logGroupName", "kmsKeyId": "kmsKeyId", "logGroupClass": "logGroupClass"}),
    "aws:iam/role:Role": ("iam", "CreateRole", {
        "name": "RoleName", "path": "Path", "description": "Description",
        "maxSessionDuration": "MaxSessionDuration",
        "assumeRolePolicy": "AssumeRolePolicyDocument"}),
    "aws:iam/rolePolicy:RolePolicy": ("iam", "PutRolePolicy", {
        "name": "PolicyName", "policy": "PolicyDocument"}),
    "aws:iam/policy:Policy": ("iam", "CreatePolicy", {
        "name": "PolicyName", "path": "Path", "description": "Description",
        "policy": "PolicyDocument"}),
    "aws:iam/instanceProfile:InstanceProfile": ("iam", "CreateInstanceProfile", {
        "name": "InstanceProfileName", "path": "Path"}),
    "aws:kms/key:Key": ("kms", "CreateKey", {
        "description": "Description", "policy": "Policy", "keyUsage": "KeyUsage",
        "customerMasterKeySpec": "KeySpec"}),
    "aws:kms/alias:Alias": ("kms", "CreateAlias", {"name": "AliasName"}),
    "aws:budgets/budget:Budget": ("budgets", "CreateBudget", {
        "name": "Budget.BudgetName", "budgetType": "Budget.BudgetType",
        "timeUnit": "Budget.TimeUnit", "limitAmount": "Budget.BudgetLimit.Amount",
        "limitUnit": "Budget.BudgetLimit.Unit",
        "notifications[].notificationType":
            "NotificationsWithSubscribers[].Notification.NotificationType",
        "notifications[].comparisonOperator":
            "NotificationsWithSubscribers[].Notification.ComparisonOperator",
        "notifications[].threshold": "NotificationsWithSubscribers[].Notification.Threshold",
        "notifications[].thresholdType":
            "NotificationsWithSubscribers[].Notification.ThresholdType"}),
    "aws:costexplorer/anomalyMonitor:AnomalyMonitor": ("ce", "CreateAnomalyMonitor", {
        "name": "AnomalyMonitor.MonitorName", "monitorType": "AnomalyMonitor.MonitorType",
        "monitorDimension": "AnomalyMonitor.MonitorDimension"}),
    "aws:costexplorer/anomalySubscription:AnomalySubscription": (
        "ce", "CreateAnomalySubscription", {
            "name": "AnomalySubscription.SubscriptionName",
            "frequency": "AnomalySubscription.Frequency",
            "subscribers[].type": "AnomalySubscription.Subscribers[].Type",
            "subscribers[].address": "AnomalySubscription.Subscribers[].Address"}),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch", "PutMetricAlarm", {
        "name": "AlarmName", "alarmDescription": "AlarmDescription",
        "comparisonOperator": "ComparisonOperator", "statistic": "Statistic",
        "namespace": "Namespace", "metricName": "MetricName", "period": "Period",
        "evaluationPeriods": "EvaluationPeriods", "datapointsToAlarm": "DatapointsToAlarm",
        "treatMissingData": "TreatMissingData", "alarmActions": "AlarmActions",
        "okActions": "OKActions", "insufficientDataActions": "InsufficientDataActions",
        "unit": "Unit"}),
    "aws:secretsmanager/secret:Secret": ("secretsmanager", "CreateSecret", {
        "name": "Name", "description": "Description", "kmsKeyId": "KmsKeyId"}),
    "aws:ecr/repository:Repository": ("ecr", "CreateRepository", {
        "name": "repositoryName", "imageTagMutability": "imageTagMutability"}),
    "aws:dynamodb/table:Table": ("dynamodb", "CreateTable", {
        "name": "TableName", "billingMode": "BillingMode", "tableClass": "TableClass",
        "attributes[].name": "AttributeDefinitions[].AttributeName",
        "attributes[].type": "AttributeDefinitions[].AttributeType",
        "streamViewType": "StreamSpecification.StreamViewType",
        "globalSecondaryIndexes[].name": "GlobalSecondaryIndexes[].IndexName",
        "globalSecondaryIndexes[].projectionType":
        "GlobalSecondaryIndexes[].Projection.ProjectionType"}),
    "aws:apigatewayv2/api:Api": ("apigatewayv2", "CreateApi", {
        "protocolType": "ProtocolType", "ipAddressType": "IpAddressType"}),
    "aws:apigatewayv2/integration:Integration": ("apigatewayv2", "CreateIntegration", {
        "integrationType": "IntegrationType", "connectionType": "ConnectionType",
        "passthroughBehavior": "PassthroughBehavior",
        "contentHandlingStrategy": "ContentHandlingStrategy",
        "timeoutMilliseconds": "TimeoutInMillis"}),
    "aws:apigatewayv2/route:Route": ("apigatewayv2", "CreateRoute", {
        "authorizationType": "AuthorizationType"}),
    "aws:apigatewayv2/authorizer:Authorizer": ("apigatewayv2", "CreateAuthorizer", {
        "name": "Name", "authorizerType": "AuthorizerType",
        "identitySources[]": "IdentitySource[]",
        "authorizerResultTtlInSeconds": "AuthorizerResultTtlInSeconds",
        "authorizerUri": "AuthorizerUri"}),
    "aws:lambda/function:Function": ("lambda", "CreateFunction", {
        "name": "FunctionName", "runtime": "Runtime", "handler": "Handler", "role": "Role",
        "description": "Description", "timeout": "Timeout", "memorySize": "MemorySize",
        "architectures[]": "Architectures[]", "tracingConfig.mode": "TracingConfig.Mode",
        "loggingConfig.logFormat": "LoggingConfig.LogFormat",
        "loggingConfig.logGroup": "LoggingConfig.LogGroup",
        "packageType": "PackageType", "imageConfig.entryPoints": "ImageConfig.EntryPoint",
        "imageConfig.commands": "ImageConfig.Command",
        "imageConfig.workingDirectory": "ImageConfig.WorkingDirectory"}),
    "aws:lambda/permission:Permission": ("lambda", "AddPermission", {
        "function": "FunctionName", "action": "Action", "principal": "Principal",
        "sourceAccount": "SourceAccount", "sourceArn": "SourceArn"}),
    "aws:secretsmanager/secretRotation:SecretRotation": ("secretsmanager", "RotateSecret", {
        "secretId": "SecretId", "rotationLambdaArn": "RotationLambdaARN",
        "rotationRules.automaticallyAfterDays": "RotationRules.AutomaticallyAfterDays"}),
    "aws:apigateway/restApi:RestApi": ("apigateway", "CreateRestApi", {
        "apiKeySource": "apiKeySource"}),
    "aws:apigateway/stage:Stage": ("apigateway", "CreateStage", {
        "cacheClusterSize": "cacheClusterSize"}),
    "aws:apigatewayv2/stage:Stage": ("apigatewayv2", "CreateStage", {
        "name": "StageName",
        "defaultRouteSettings.loggingLevel": "DefaultRouteSettings.LoggingLevel"}),
    "aws:s3/bucketLogging:BucketLogging": ("s3", "PutBucketLogging", {
        "targetObjectKeyFormat.partitionedPrefix.partitionDateSource":
        "BucketLoggingStatus.LoggingEnabled.TargetObjectKeyFormat.PartitionedPrefix."
        "PartitionDateSource"}),
    "aws:appautoscaling/policy:Policy": ("application-autoscaling", "PutScalingPolicy", {
        "name": "PolicyName", "policyType": "PolicyType", "serviceNamespace":
        "ServiceNamespace", "scalableDimension": "ScalableDimension",
        "resourceId": "ResourceId"}),
    "aws:appautoscaling/target:Target": ("application-autoscaling", "RegisterScalableTarget", {
        "serviceNamespace": "ServiceNamespace", "scalableDimension": "ScalableDimension",
        "resourceId": "ResourceId"}),
    "aws:appautoscaling/scheduledAction:ScheduledAction": (
        "application-autoscaling", "PutScheduledAction", {
            "name": "ScheduledActionName", "serviceNamespace": "ServiceNamespace",
            "scalableDimension": "ScalableDimension", "resourceId": "ResourceId",
            "schedule": "Schedule", "timezone": "Timezone"}),
    "aws:autoscaling/group:Group": ("autoscaling", "CreateAutoScalingGroup", {
        "name": "AutoScalingGroupName",
        "initialLifecycleHooks[].name": "LifecycleHookSpecificationList[].LifecycleHookName"}),
    "aws:ssm/parameter:Parameter": ("ssm", "PutParameter", {
        "name": "Name", "type": "Type", "tier": "Tier", "description": "Description"}),
    "aws:ec2/launchTemplate:LaunchTemplate": ("ec2", "CreateLaunchTemplate", {
        "metadataOptions.httpTokens": "LaunchTemplateData.MetadataOptions.HttpTokens",
        "metadataOptions.httpEndpoint": "LaunchTemplateData.MetadataOptions.HttpEndpoint",
        "metadataOptions.httpPutResponseHopLimit":
        "LaunchTemplateData.MetadataOptions.HttpPutResponseHopLimit",
        "blockDeviceMappings[].ebs.volumeType":
        "LaunchTemplateData.BlockDeviceMappings[].Ebs.VolumeType"}),
    "aws:cloudfront/distribution:Distribution": ("cloudfront", "CreateDistribution", {
        "priceClass": "DistributionConfig.PriceClass",
        "httpVersion": "DistributionConfig.HttpVersion",
        "viewerCertificate.minimumProtocolVersion":
        "DistributionConfig.ViewerCertificate.MinimumProtocolVersion",
        "viewerCertificate.sslSupportMethod":
        "DistributionConfig.ViewerCertificate.SSLSupportMethod",
        "defaultCacheBehavior.viewerProtocolPolicy":
        "DistributionConfig.DefaultCacheBehavior.ViewerProtocolPolicy",
        "orderedCacheBehaviors[].viewerProtocolPolicy":
        "DistributionConfig.CacheBehaviors.Items[].ViewerProtocolPolicy",
        "webAclId": "DistributionConfig.WebACLId"}),
    "aws:cloudfront/originAccessControl:OriginAccessControl": (
        "cloudfront", "CreateOriginAccessControl", {
            "originAccessControlOriginType":
            "OriginAccessControlConfig.OriginAccessControlOriginType",
            "signingBehavior": "OriginAccessControlConfig.SigningBehavior",
            "signingProtocol": "OriginAccessControlConfig.SigningProtocol"}),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "elasticache", "CreateReplicationGroup", {
            "networkType": "NetworkType", "ipDiscovery": "IpDiscovery",
            "transitEncryptionMode": "TransitEncryptionMode", "clusterMode": "ClusterMode"}),
    "aws:wafv2/webAcl:WebAcl": ("wafv2", "CreateWebACL", {
        "name": "Name", "scope": "Scope", "description": "Description",
        "visibilityConfig.metricName": "VisibilityConfig.MetricName",
        "rules[].name": "Rules[].Name", "rules[].priority": "Rules[].Priority",
        "rules[].visibilityConfig.metricName": "Rules[].VisibilityConfig.MetricName",
        "rules[].statement.rateBasedStatement.limit":
        "Rules[].Statement.RateBasedStatement.Limit",
        "rules[].statement.rateBasedStatement.aggregateKeyType":
        "Rules[].Statement.RateBasedStatement.AggregateKeyType",
        "rules[].statement.managedRuleGroupStatement.name":
        "Rules[].Statement.ManagedRuleGroupStatement.Name",
        "rules[].statement.managedRuleGroupStatement.vendorName":
        "Rules[].Statement.ManagedRuleGroupStatement.VendorName",
        "rules[].statement.managedRuleGroupStatement.ruleActionOverrides[].name":
        "Rules[].Statement.ManagedRuleGroupStatement.RuleActionOverrides[].Name"}),
    "aws:wafv2/ipSet:IpSet": ("wafv2", "CreateIPSet", {
        "name": "Name", "scope": "Scope", "description": "Description",
        "ipAddressVersion": "IPAddressVersion", "addresses": "Addresses"}),
    "aws:wafv2/webAclAssociation:WebAclAssociation": ("wafv2", "AssociateWebACL", {
        "resourceArn": "ResourceArn", "webAclArn": "WebACLArn"}),
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": (
        "wafv2", "PutLoggingConfiguration", {
            "resourceArn": "LoggingConfiguration.ResourceArn",
            "logDestinationConfigs": "LoggingConfiguration.LogDestinationConfigs"}),
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": ("logs", "PutResourcePolicy", {
        "policyName": "policyName", "policyDocument": "policyDocument"}),
    "aws:acm/certificate:Certificate": ("acm", "RequestCertificate", {
        "domainName": "DomainName", "validationMethod": "ValidationMethod",
        "keyAlgorithm": "KeyAlgorithm",
        "subjectAlternativeNames": "SubjectAlternativeNames"}),
    "aws:route53/record:Record": ("route53", "ChangeResourceRecordSets", {
        "zoneId": "HostedZoneId",
        "name": "ChangeBatch.Changes[].ResourceRecordSet.Name",
        "type": "ChangeBatch.Changes[].ResourceRecordSet.Type",
        "ttl": "ChangeBatch.Changes[].ResourceRecordSet.TTL"}),
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": (
        "cloudfront", "CreateResponseHeadersPolicy", {
            "name": "ResponseHeadersPolicyConfig.Name",
            "securityHeadersConfig.frameOptions.frameOption":
            "ResponseHeadersPolicyConfig.SecurityHeadersConfig.FrameOptions.FrameOption",
            "securityHeadersConfig.referrerPolicy.referrerPolicy":
            "ResponseHeadersPolicyConfig.SecurityHeadersConfig.ReferrerPolicy.ReferrerPolicy",
            "securityHeadersConfig.strictTransportSecurity.accessControlMaxAgeSec":
            "ResponseHeadersPolicyConfig.SecurityHeadersConfig.StrictTransportSecurity"
            ".AccessControlMaxAgeSec"}),
}  # fmt: skip


@functools.cache
def _model(service: str):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def _source(service: str, operation: str, member: str) -> str:
    version = _model(service).api_version
    return f"botocore {service}/{version} {operation}: {member}"


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    """The model's (Java-flavoured) pattern for Python's ``re``; None if it cannot be read
    as intended (then the value is not judged by it)."""
    text = pattern.replace(r"\p{Print}", r"[\x20-\x7e]")
    if r"\p{" in text or r"\uD800" in text.upper():
        return None
    try:
        return re.compile(text)
    except re.error:
        return None


def _member_shape(service: str, operation: str, member_path: str):
    shape = _model(service).operation_model(operation).input_shape
    for part in member_path.split("."):
        name = part.removesuffix("[]")
        shape = shape.members.get(name)
        if shape is None:
            return None
        if part.endswith("[]"):
            shape = shape.member
    return shape


def _walk(props: Any, path: str) -> Iterator[tuple[str, Any]]:
    head, dot, rest = path.partition(".")
    listed = head.endswith("[]")
    key = head.removesuffix("[]")
    if not isinstance(props, dict) or key not in props or props[key] is None:
        return
    value = props[key]
    if listed:
        for i, item in enumerate(value if isinstance(value, list) else []):
            if not dot:
                yield f"{key}.{i}", item
            else:
                yield from ((f"{key}.{i}.{p}", v) for p, v in _walk(item, rest))
    elif not dot:
        yield key, value
    else:
        yield from ((f"{key}.{p}", v) for p, v in _walk(value, rest))


def judge(shape, value: Any, where: str) -> Iterator[tuple[str, Any, str]]:
    """(where, value, what the shape accepts) for each part of ``value`` it refuses."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "string":
        if not isinstance(value, str):
            return
        if shape.enum and value not in shape.enum:
            yield where, value, "one of " + ", ".join(shape.enum)
            return
        if "min" in meta and len(value) < meta["min"]:
            yield where, value, f"at least {meta['min']} characters"
        if "max" in meta and len(value) > meta["max"]:
            yield where, value, f"at most {meta['max']} characters (got {len(value)})"
        pattern = meta.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(value):
            yield where, value, f"matching the pattern {pattern}"
    elif kind in ("integer", "long", "double", "float"):
        number = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return
        if not isinstance(number, (int, float)) or isinstance(number, bool):
            return
        if "min" in meta and number < meta["min"]:
            yield where, value, f"at least {meta['min']}"
        if "max" in meta and number > meta["max"]:
            yield where, value, f"at most {meta['max']}"
    elif kind == "list":
        if not isinstance(value, list):
            return
        if "max" in meta and len(value) > meta["max"]:
            yield where, value, f"at most {meta['max']} items"
        if "min" in meta and len(value) < meta["min"]:
            yield where, value, f"at least {meta['min']} items"
        for i, item in enumerate(value):
            yield from judge(shape.member, item, f"{where}.{i}")
    elif kind == "structure":
        if not isinstance(value, dict):
            return
        for name, item in value.items():
            member = shape.members.get(name)
            if member is None:
                yield f"{where}.{name}", item, f"a member of {shape.name}: no such member"
            elif item is not None:
                yield from judge(member, item, f"{where}.{name}")
        for name in shape.required_members:
            if name not in value:
                yield f"{where}.{name}", None, f"required by {shape.name}"


def check_resource(r: Resource) -> Iterator[Finding]:
    mapping = FIELDS.get(r.type)
    if mapping is None:
        return
    service, operation, fields = mapping
    for prop, member in fields.items():
        shape = _member_shape(service, operation, member)
        if shape is None:
            raise KeyError(f"{service} {operation} has no member {member} (FIELDS is stale)")
        for where, value in _walk(r.props, prop):
            if isinstance(value, str) and shape.type_name == "list":
                try:  # sent as JSON text (containerDefinitions)
                    value = json.loads(value)
                except ValueError:
                    continue
            for at, bad, accepted in judge(shape, value, where):
                yield Finding(
                    "api-model/" + ("enum" if accepted.startswith("one of") else "shape"),
                    ERROR, r.name, r.type, at, bad, f"expected {accepted}",
                    _source(service, operation, member),
                )  # fmt: skip


def check(resources: list[Resource], context: Context) -> Iterator[Finding]:
    for r in resources:
        yield from check_resource(r)
