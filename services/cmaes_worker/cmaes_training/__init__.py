"""Distributed CMA-ES training: the SQS worker and the coordinator that drives it.

Modules: ``protocol`` (task and result messages), ``evaluators`` (the pluggable objective),
``state_pools`` (S3 state pools cached on scratch), ``queues`` (SQS calls), ``worker`` (the
container's entry point), ``coordinator`` (the CLI that runs the optimisation) and
``checkpoints`` (JSON checkpoints on a local directory or S3).
"""
