"""Alembic environment: runs on the connection the store hands over, or on the configured URL."""

from alembic import context
from sqlalchemy import create_engine

from pipelines.storage.models import Base
from pipelines.storage.search import include_name

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=include_name,  # the search index is the migration's, not the models'
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url")).connect() as conn:
        _run(conn)
