"""Alembic's environment for the results database: migrations run on the connection store.migrate passes in."""

from alembic import context

from genai_bench.database.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
