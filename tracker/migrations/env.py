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
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch migrations copy and drop tables; with foreign keys enforced, dropping a table
        # others point at fails. The pragma must be set outside a transaction, so on the
        # DBAPI connection before SQLAlchemy begins one; it is restored below.
        connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left dangling references: {broken[:5]}")
    connection.commit()
    if sqlite:
        connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
