"""Pure code: no resources, no Pulumi runtime needed (CIDR arithmetic, Fargate sizes,
instance types, queue scaling, build contexts, IAM statement constructors, physical names,
listener rule priorities, vCPU quotas). A lib module imports only other lib modules, the
``preflight`` package's pure rules, and (``agent_world_schema``) the agent world
service's standard-library-only table schema, its one definition; settings appear only
as type hints. Anything may import lib."""
