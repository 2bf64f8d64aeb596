"""Alembic environment for the gallery store, run programmatically by facegate.

:func:`facegate.store.migrate.upgrade` passes an open SQLAlchemy connection in
``config.attributes["connection"]``; no alembic.ini is involved.
"""

from __future__ import annotations

from alembic import context

from facegate.store.schema import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("facegate migrations run through facegate.store.migrate.upgrade")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
