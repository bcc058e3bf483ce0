"""The migrated schema is the models' schema: a model change without its migration fails here."""
from __future__ import annotations

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import meetings
from meetings.db import create_engine, upgrade_schema
from meetings.models import Base

# every table module of the domain (meetings/models.py, meetings/*_models.py), as env.py imports them
for _module in pkgutil.iter_modules(meetings.__path__):
    if _module.name.endswith("models"):
        importlib.import_module(f"meetings.{_module.name}")


async def test_migrations_produce_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade_schema(engine)
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert differences == []
