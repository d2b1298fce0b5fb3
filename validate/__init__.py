"""Post-deploy validation: ``./tasks validate STACK [--outputs FILE]`` (``python -m validate``).

Reads a deployed stack's outputs and checks, as the Hokusai seed's ``validate.sh`` did, that
what they name answers: the HTTP endpoints' health and the MLflow UI, each bucket, the
database, every ECS service steady at its desired count, the queues and the dead-letter
queues' depth. One line per check, a summary, exit 1 on any failure, 2 on bad usage.

Unlike ``offline/`` this talks to the deployed stack (AWS with the caller's own credentials
through boto3's normal chain, and the endpoints over HTTPS); nothing here creates, changes
or deletes anything. Modules: ``outputs`` (where the outputs come from), ``probe`` (one HTTP GET),
``checks`` (what is checked and how each passes or fails), ``__main__`` (the command line).
Nothing in ``components/`` may import this package; it imports only ``components.lib``
(pure facts shared with the program) and ``offline.runner.stack_config``.
"""
