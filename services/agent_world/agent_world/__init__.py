"""The agent world service: one image, three roles picked by ``SERVICE_ROLE``.

``world-management`` (worlds, world objects, snapshots), ``agent-runtime`` (agents, memory
streams, events, the WebSocket integration) and ``llm-integration`` (completions behind a
pluggable provider). ``agent_world.app.create_app(settings)`` builds the app for a role;
``python -m agent_world`` (the image's entry point) serves it with JSON logs on ``PORT``.
``agent_world.schema`` holds the DynamoDB key schema the infrastructure creates. See README.md.
"""
