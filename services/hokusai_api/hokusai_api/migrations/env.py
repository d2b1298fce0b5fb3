"""Alembic's environment: migrations run on the connection ``hokusai_api.db.migrate`` passes
in ``config.attributes`` (inside its transaction, which holds the advisory lock), never on a
URL of their own; there is no ``alembic.ini`` and no offline mode."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run the migrations through hokusai_api.db.migrate (it passes the connection)"
    )
context.configure(connection=connection, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
