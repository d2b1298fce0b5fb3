"""The agent world WebSocket API's ``$connect`` REQUEST authorizer (a Lambda function).

``handler.lambda_handler`` allows a connection whose ``x-api-key`` header is one of the API
key secret's AWSCURRENT, AWSPREVIOUS or AWSPENDING values (``service_common.secret_keys``,
the same ring the HTTP services use, so a rotation refuses no client) and denies every
other. In shared-ALB mode it also returns the REST API's bridge key (the bridge key
secret's AWSCURRENT) in the authorizer context, which the WebSocket integrations send on as
``x-api-key``: the key lives only in Secrets Manager, not in the stage's variables.
"""
