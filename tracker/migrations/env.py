"""Alembic environment: the engine comes from tracker.db (config.attributes['engine'])."""

from alembic import context

from tracker.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # `alembic` command line: use the configured URL
    from tracker.db import make_engine
    from tracker.settings import Settings

    engine = make_engine(config.get_main_option("sqlalchemy.url") or Settings().database_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
