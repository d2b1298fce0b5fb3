"""Pulumi components of the ML platform and the pure helpers they share.

Components (one per module) create resources; helper modules (``settings``, ``cidr``,
``fargate``, ``instance_types``, ``tags``, ``build_context``) create none and are tested
without the Pulumi runtime.
"""
