"""QuotaRequests: Service Quotas increase requests for the vCPUs the stacks can use."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config.settings import Settings
from components.lib import quotas
from components.lib.quotas import Quota


@dataclass(frozen=True)
class QuotaRequestsArgs:
    """Inputs of :class:`QuotaRequests`."""

    needed: tuple[tuple[Quota, int], ...]
    """(quota, vCPUs) to hold at least; a plain value, since it decides which requests
    exist. Required."""

    @classmethod
    def from_settings(cls, s: Settings) -> QuotaRequestsArgs:
        """Every quota the enabled stacks need above 0 vCPUs, at their maximum."""
        return cls(needed=tuple(quotas.requested(s).items()))


class QuotaRequests(pulumi.ComponentResource):
    """One ``aws.servicequotas.ServiceQuota`` per quota the stacks need.

    Each reads the account's current value (the applied value, else AWS's default) and
    asks for the larger of it and the need, so the provider submits an increase request
    only where the account has less, and an account that already has more is left alone
    (a lower value would fail: see :func:`components.lib.quotas.desired_value`). AWS approves a
    request, sometimes after days and a support case; the instances and tasks cannot start
    beyond the quota until then. Deleting the resource (``quotas.request`` off) leaves the
    quota as it is: the provider's delete does nothing.
    """

    TYPE = "mlplatform:quotas:QuotaRequests"

    requests: dict[str, aws.servicequotas.ServiceQuota]
    """The request per quota code."""

    def __init__(
        self, name: str, args: QuotaRequestsArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(self.TYPE, name, None, opts)
        self.requests = {}
        for quota, needed in args.needed:
            current = aws.servicequotas.get_service_quota_output(
                service_code=quota.service_code,
                quota_code=quota.code,
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            # The child's name holds the quota code: fixed for good, one per quota.
            self.requests[quota.code] = aws.servicequotas.ServiceQuota(
                f"{name}-{quota.code.lower()}",
                service_code=quota.service_code,
                quota_code=quota.code,
                value=current.value.apply(lambda v, n=needed: quotas.desired_value(v, n)),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({code: r.value for code, r in self.requests.items()})
