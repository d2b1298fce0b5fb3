"""The AI inference service: ``POST /move`` picks a move for a player of a game in progress.

``ai_inference.app`` builds the FastAPI application (``create_app``) and, for ``uvicorn
ai_inference.app:app``, a module-level ``app`` made from the environment the first time it
is asked for. ``python -m ai_inference`` (the image's entry point) does the same with JSON
logs and ``PORT``. See README.md.
"""
