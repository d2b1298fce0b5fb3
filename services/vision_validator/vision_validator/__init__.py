"""The vision validator: ``POST /validate`` checks one step's part against its artefacts.

``vision_validator.app`` builds the FastAPI application (``create_app``) and, for
``uvicorn vision_validator.app:app``, a module-level ``app`` made from the environment the
first time it is asked for. ``python -m vision_validator`` (the image's entry point) does the
same with JSON logs and ``PORT``. See README.md.
"""
