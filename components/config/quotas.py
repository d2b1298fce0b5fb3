"""The ``quotas`` section: whether the program asks Service Quotas to raise the vCPU quotas
the stacks draw on (what they draw is computed in ``components/lib/quotas.py``).

Read by ``components/blocks/quotas_requests.py``; one switch, so no checks between keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config.fields import setting


@dataclass(frozen=True)
class QuotaSettings:
    """The Service Quotas the stacks' vCPUs draw on (computed in ``components/lib/quotas.py``)."""

    request: bool = setting(
        False,
        "Request from Service Quotas each EC2 GPU and Fargate vCPU quota the stacks can use "
        "at their maximum, where the account's value is lower (it never lowers one).",
    )
