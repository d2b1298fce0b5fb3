"""Listener rule priorities on the inference load balancer, which dev shares between
stacks: one definition, read by the components that add rules and by the config check.

A listener's rules must differ in priority (ELB refuses a taken one: ``PriorityInUse``).
The agent world's header rules come first (a path rule of another stack, ``/health``,
must not take a request API Gateway sent it); the inference services' path rules take
10, 20, ...; the data platform's rules come after them. Pure: no resources.
"""

from __future__ import annotations

AGENT_WORLD_FIRST = 1
"""The agent world's rules take 1, 2, 3 (one per service) in shared-ALB mode."""
MLFLOW = 100
MLFLOW_API = 95
"""With single sign-on, MLflow's REST paths (``/mlflow/api/*``...) forward without the
sign-in; this rule must come before MLflow's catch-all (100), which signs the user in."""
API = 110
INFERENCE_STEP = 10


def inference(index: int) -> int:
    """The priority of the ``index``-th inference service's rule."""
    return INFERENCE_STEP * (index + 1)


MAX_INFERENCE_SERVICES_BEFORE_DATA_PLATFORM = (min(MLFLOW, MLFLOW_API) - 1) // INFERENCE_STEP
"""Inference services whose rules fit below the data platform's on a shared listener (9)."""
