"""The ML platform's Pulumi components, one folder per kind of module:

- ``stacks/``: the five top-level ComponentResources (network, training, inference, data
  platform, agent world), each switchable per environment; imported by ``__main__.py``.
- ``blocks/``: reusable ComponentResources a stack composes (bucket, images, load balancer,
  GPU capacity, alarm topic, quota requests); imported by stacks and ``__main__.py``.
- ``parts/``: functions that create resources under their caller's parent (ECS task roles
  and logs, scaling policies, security group rules); imported by stacks and blocks.
- ``lib/``: pure code, no resources (CIDR arithmetic, Fargate sizes, instance types, queue
  scaling, build contexts, IAM statements, names, rule priorities, quotas); importable by
  anything, tested without the Pulumi runtime.
- ``config/``: the stack configuration, read once and checked before any resource exists.

Imports point one way: lib imports only lib; config imports lib; parts import lib;
blocks import parts, lib and config; stacks import blocks, parts, lib and config.
"""
