"""The MLflow tracking server's entry point: ``python -m mlflow_entrypoint``.

It reads the task's environment (``settings``), prepares what MLflow's basic-auth app needs
(``auth``: its database and ini file), builds the ``mlflow server`` command and environment
(``command``) and replaces itself with that command. See README.md for the variables.

Named ``mlflow_entrypoint``, not ``mlflow``: it sits beside the ``mlflow`` package it starts.
"""
