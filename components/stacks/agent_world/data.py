"""AgentWorldData: the agent world's state - tables, buckets, cache - under one KMS key.

The six tables of seed 004 and the WebSocket registry (issue 15) - their keys, indexes,
TTL, stream and the access pattern each serves - are defined once, in the service that queries them
(``services/agent_world/agent_world/schema.py``, read here through
:mod:`components.lib.agent_world_schema`); this component creates exactly those, adding
what only the infrastructure decides: on-demand billing, point-in-time recovery, the key,
deletion protection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.blocks.bucket import SecureBucket, SecureBucketArgs
from components.config.settings import Settings
from components.lib import names
from components.lib.agent_world_schema import TABLES
from components.lib.policies import account_administers_key
from components.parts import security_groups
from components.parts.secrets import secret_with_value
from components.stacks.common import StackCommon


@dataclass(frozen=True)
class AgentWorldDataArgs:
    """Inputs of :class:`AgentWorldData`."""

    common: StackCommon
    """Name prefix, tags, and deletion protection (tables' deletion protection and
    ``protect``, buckets kept, the Redis token's recovery window, Redis snapshots kept
    7 days and changes deferred to the maintenance window). Required."""
    private_subnet_ids: pulumi.Input[Sequence[str]]
    """Subnets of the cache (never public). Required."""
    vpc_id: pulumi.Input[str]
    """The VPC of the cache. Required."""
    redis: bool = True
    """Create the Redis replication group. Default true."""
    redis_node_type: str = "cache.t4g.small"
    """ElastiCache node type. Default ``cache.t4g.small``."""
    redis_multi_az: bool = True
    """A replica in another AZ with automatic failover. Default true."""
    snapshot_glacier_days: int = 30
    """Days before archived snapshots move to Glacier Flexible Retrieval. Default 30."""

    @classmethod
    def from_settings(cls, settings: Settings, network, audit=None) -> AgentWorldDataArgs:
        a = settings.agent_world
        return cls(
            common=StackCommon.from_settings(settings, "agent_world", audit),
            private_subnet_ids=network.private_subnet_ids,
            vpc_id=network.vpc_id,
            redis=a.redis,
            redis_node_type=a.redis_node_type,
            redis_multi_az=a.redis_multi_az,
            snapshot_glacier_days=a.snapshot_glacier_days,
        )


class AgentWorldData(pulumi.ComponentResource):
    """The agent world's storage, all encrypted with one customer-managed key.

    Creates a KMS key with rotation (its log groups use the platform's logs key,
    ``StackCommon.log_key_arn``); the seven tables of the schema's ``TABLES`` - on-demand,
    point-in-time recovery, SSE with that key, deletion protection and ``protect`` in prod; the
    snapshot archive bucket (moved to Glacier) and the static assets bucket; and, unless
    ``redis`` is off, a Redis replication group with in-transit and at-rest encryption
    (that key), its AUTH token generated into Secrets Manager (that key), one node in dev
    and a replica with automatic failover in prod, in the private subnets behind a
    security group that admits nothing until a client is added with
    :meth:`allow_redis_from`.
    """

    TYPE = "mlplatform:agentworld:AgentWorldData"

    key: aws.kms.Key
    tables: dict[str, aws.dynamodb.Table]
    """Table per ``stem`` of the schema's ``TABLES`` (``worlds``, ``memory-streams``...)."""
    snapshots: SecureBucket
    assets: SecureBucket
    redis: aws.elasticache.ReplicationGroup | None
    """The cache; None when ``redis`` is off (as are the two below)."""
    redis_security_group: aws.ec2.SecurityGroup | None
    redis_auth_secret: aws.secretsmanager.Secret | None

    def __init__(
        self, name: str, args: AgentWorldDataArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(self.TYPE, name, None, opts)
        self._name = name
        child = pulumi.ResourceOptions(parent=self)
        self.key = self._key(name, args, child)
        self.tables = self._tables(name, args)
        self._buckets(name, args, child)
        self.redis = self.redis_security_group = self.redis_auth_secret = None
        if args.redis:
            self._redis(name, args, child)

        self.register_outputs(
            {"table_names": {k: t.name for k, t in self.tables.items()}, "key_arn": self.key.arn}
        )

    def _key(self, name: str, args: AgentWorldDataArgs, child) -> aws.kms.Key:
        """The stack's key (rotated); the stack's log groups use the platform's logs key."""
        prefix = args.common.name_prefix
        identity = aws.get_caller_identity_output()
        partition = aws.get_partition_output().partition
        account = identity.account_id
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{prefix} agent world: tables, cache and secrets",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=aws.iam.get_policy_document_output(
                statements=[account_administers_key(partition, account)]
            ).json,
            tags=dict(args.common.tags),
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{prefix}-agent-world",
            target_key_id=key.key_id,
            opts=child,
        )
        return key

    def _tables(self, name: str, args: AgentWorldDataArgs) -> dict[str, aws.dynamodb.Table]:
        """The schema's tables, by stem: on-demand, PITR, the key; protected in prod."""
        keep = pulumi.ResourceOptions(parent=self, protect=args.common.deletion_protection)
        prefix = args.common.name_prefix
        tables = {}
        for spec in TABLES:
            tables[spec.stem] = aws.dynamodb.Table(
                f"{name}-{spec.stem}",
                name=f"{prefix}-{spec.stem}",
                billing_mode="PAY_PER_REQUEST",
                hash_key=spec.hash_key,
                range_key=spec.range_key,
                attributes=[{"name": n, "type": t} for n, t in spec.attribute_types.items()],
                global_secondary_indexes=[
                    {
                        "name": index.name,
                        "hash_key": index.hash_key,
                        "range_key": index.range_key,
                        "projection_type": "ALL",
                    }
                    for index in spec.indexes
                ],
                point_in_time_recovery={"enabled": True},
                server_side_encryption={"enabled": True, "kms_key_arn": self.key.arn},
                deletion_protection_enabled=args.common.deletion_protection,
                ttl=(
                    {"attribute_name": spec.ttl_attribute, "enabled": True}
                    if spec.ttl_attribute
                    else None
                ),
                stream_enabled=spec.stream,
                stream_view_type="NEW_IMAGE" if spec.stream else None,
                tags=dict(args.common.tags),
                opts=keep,
            )
        return tables

    def _buckets(self, name: str, args: AgentWorldDataArgs, child) -> None:
        """The snapshot archive (to Glacier) and the static assets (SSE-S3)."""
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        self.snapshots = SecureBucket(
            f"{name}-snapshots",
            SecureBucketArgs(
                bucket_prefix=f"{prefix}-world-snapshots-",
                retain=args.common.deletion_protection,
                lifecycle_rules=[
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id="archive-to-glacier",
                        status="Enabled",
                        filter={"prefix": "snapshots/"},
                        transitions=[
                            {"days": args.snapshot_glacier_days, "storage_class": "GLACIER"}
                        ],
                    )
                ],
                access_log_bucket=args.common.access_log_bucket,
                tags=tags,
            ),
            opts=child,
        )
        # SSE-S3: CloudFront's origin access control reads it without a key grant.
        self.assets = SecureBucket(
            f"{name}-assets",
            SecureBucketArgs(
                bucket_prefix=f"{prefix}-world-assets-",
                retain=args.common.deletion_protection,
                sse_algorithm="AES256",
                # The policy names the CloudFront distribution, created after the bucket.
                defer_policy=True,
                access_log_bucket=args.common.access_log_bucket,
                tags=tags,
            ),
            opts=child,
        )

    def _redis(self, name: str, args: AgentWorldDataArgs, child) -> None:
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        self.redis_security_group = aws.ec2.SecurityGroup(
            f"{name}-redis-sg",
            vpc_id=args.vpc_id,
            description="Agent world Redis: TLS on 6379 from its services only",
            tags={**tags, "Name": f"{prefix}-agent-world-redis"},
            opts=child,
        )
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-redis-subnets",
            name=f"{prefix}-agent-world-redis",
            description="Private subnets of the agent world Redis",
            subnet_ids=args.private_subnet_ids,
            tags=tags,
            opts=child,
        )
        token = random.RandomPassword(f"{name}-redis-token", length=48, special=False, opts=child)
        self.redis_auth_secret = secret_with_value(
            f"{name}-redis-token-secret",
            value_name=f"{name}-redis-token-value",
            name=f"{prefix}/agent-world/redis-auth-token",
            description="AUTH token of the agent world Redis",
            value=token.result,
            kms_key_id=self.key.arn,
            recovery_window_in_days=args.common.secret_recovery_days,
            tags=tags,
            opts=child,
        )
        nodes = 2 if args.redis_multi_az else 1
        self.redis = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            replication_group_id=names.replication_group(prefix, "world"),
            description="Agent world cache",
            engine="redis",
            engine_version="7.1",
            node_type=args.redis_node_type,
            num_cache_clusters=nodes,
            automatic_failover_enabled=args.redis_multi_az,
            multi_az_enabled=args.redis_multi_az,
            port=6379,
            subnet_group_name=subnets.name,
            security_group_ids=[self.redis_security_group.id],
            at_rest_encryption_enabled=True,
            kms_key_id=self.key.arn,
            transit_encryption_enabled=True,
            auth_token=token.result,
            auto_minor_version_upgrade=True,
            snapshot_retention_limit=7 if args.common.deletion_protection else 1,
            apply_immediately=not args.common.deletion_protection,
            tags=tags,
            opts=child,
        )

    def allow_redis_from(self, role: str, client: aws.ec2.SecurityGroup) -> None:
        """Admit ``client`` to Redis on 6379 (and let it out to Redis); nothing without Redis."""
        if self.redis_security_group is None:
            return
        child = pulumi.ResourceOptions(parent=self)
        security_groups.ingress_from(
            f"{self._name}-redis-from-{role}",
            group_id=self.redis_security_group.id,
            source_id=client.id,
            ports=6379,
            description=f"Redis from {role}",
            opts=child,
        )
        security_groups.egress_to(
            f"{self._name}-{role}-to-redis",
            group_id=client.id,
            target_id=self.redis_security_group.id,
            ports=6379,
            description="To the agent world Redis",
            opts=child,
        )
