"""The Secrets Manager rotation function of every secret the stacks create.

One code package, deployed as one Lambda function per rotated secret (each with a role that
may touch only that secret and what its kind updates). ``handler.lambda_handler`` runs the
four steps Secrets Manager calls (``createSecret``, ``setSecret``, ``testSecret``,
``finishSecret``: "Lambda rotation functions", Secrets Manager user guide, and AWS's
rotation template ``SecretsManagerRotationTemplate``) for the kind the function's
``ROTATION_KIND`` names (``kinds``): a random value, an API Gateway API key, the MLflow
admin password, or a Redis AUTH token. The steps themselves (``steps``) are the template's:
each is idempotent, and a failure leaves AWSCURRENT where it was.
"""
