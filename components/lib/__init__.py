"""Pure code: no resources, no Pulumi runtime needed (CIDR arithmetic, Fargate sizes,
instance types, queue scaling, build contexts, IAM statement constructors, physical names,
listener rule priorities, vCPU quotas). A lib module imports only other lib modules (and
``preflight``'s pure rules); anything may import it."""
